//! An operator in a real browser (headless Chromium): signs in to `/ops`
//! with a password and a TOTP code, finds a shop, suspends it with a reason
//! (the storefront then shows "temporarily closed" in the same browser),
//! and resumes it.
//!
//! Needs `chromium` and `chromedriver` (see `support::chromium`).

use crate::support;

use fantoccini::{Client, Locator};
use support::TestApp;
use support::chromium::{browser_available, click, fill, open_browser, start_driver};
use support::operator::{create_operator, totp_code};

/// Waits until the page's text contains `needle`; returns the text.
async fn wait_for_text(c: &Client, needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(body) = c.find(Locator::Css("body")).await
            && let Ok(t) = body.text().await
        {
            if t.contains(needle) {
                return t;
            }
            last = t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("page never showed {needle:?}; last text: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_suspends_and_resumes_a_shop_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn().await;
    let (tenant, _product) = app.create_shop("moonlight", "test", 3).await;
    let login = create_operator(&app, "ops@kapu.example").await;
    let driver = start_driver().await;
    let c = open_browser(&driver, "zh-CN", false).await;
    let port = app.addr.port();
    let platform = format!("http://localhost:{port}");
    let shop = format!("http://moonlight.localhost:{port}/");

    // Without a session the console is not there.
    c.goto(&format!("{platform}/ops/tenants")).await.expect("tenants");
    wait_for_text(&c, "页面不存在").await;

    c.goto(&format!("{platform}/ops/login")).await.expect("login");
    fill(&c, "#ops-login input[name=email]", &login.email).await;
    fill(&c, "#ops-login input[name=password]", &login.password).await;
    fill(&c, "#ops-login input[name=code]", &totp_code(&login.secret_b32, 0)).await;
    click(&c, "#ops-login button[type=submit]").await;
    wait_for_text(&c, "平台概览 Platform overview").await;

    click(&c, "nav a[href='/ops/tenants']").await;
    fill(&c, "#tenant-search input[name=q]", "moonl").await;
    click(&c, "#tenant-search button").await;
    click(&c, "tr[data-slug=moonlight] a").await;
    wait_for_text(&c, "Shop moonlight").await;

    // The button alone is not enough: the browser asks for the reason first.
    fill(&c, "#status-reason", "phishing reports from buyers").await;
    click(&c, "#suspend").await;
    let text = wait_for_text(&c, "Shop suspended").await;
    assert!(text.contains("phishing reports from buyers"), "{text}");

    c.goto(&shop).await.expect("storefront");
    wait_for_text(&c, "本店暂时关闭").await;

    c.goto(&format!("{platform}/ops/tenants/{tenant}")).await.expect("tenant");
    fill(&c, "#status-reason", "reports were false").await;
    click(&c, "#resume").await;
    wait_for_text(&c, "Shop resumed").await;
    c.goto(&shop).await.expect("storefront");
    wait_for_text(&c, "Test product").await;

    let actions: Vec<String> = app.audit_of(Some(&tenant)).await.into_iter().map(|e| e.action).collect();
    assert_eq!(actions, vec!["tenant.suspend".to_string(), "tenant.resume".to_string()]);
    c.close().await.expect("close");
    app.stop().await;
}
