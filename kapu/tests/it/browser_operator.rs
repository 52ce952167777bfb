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

/// Signs in on the console's login page the browser is on.
async fn sign_in(c: &Client, login: &support::operator::OperatorLogin) {
    fill(c, "#ops-login input[name=email]", &login.email).await;
    fill(c, "#ops-login input[name=password]", &login.password).await;
    fill(c, "#ops-login input[name=code]", &totp_code(&login.secret_b32, 0)).await;
    click(c, "#ops-login button[type=submit]").await;
    wait_for_text(c, "平台概览 Platform overview").await;
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
    sign_in(&c, &login).await;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_opens_and_resolves_an_incident_and_the_status_page_shows_it_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn().await;
    let login = create_operator(&app, "status-ops@kapu.example").await;
    let driver = start_driver().await;
    let c = open_browser(&driver, "zh-CN", false).await;
    let platform = format!("http://localhost:{}", app.addr.port());

    c.goto(&format!("{platform}/ops/login")).await.expect("login");
    sign_in(&c, &login).await;

    click(&c, "nav a[href='/ops/status']").await;
    wait_for_text(&c, "发布事件或计划维护").await;
    // Publishing without a component is refused, with the reason, and keeps what was typed.
    fill(&c, "#new-incident input[name=title_zh]", "支付宝回调延迟").await;
    fill(&c, "#new-incident input[name=title_en]", "Alipay callbacks delayed").await;
    fill(&c, "#new-incident textarea[name=body_zh]", "支付宝通知延迟到达，订单稍后自动发货。").await;
    fill(&c, "#new-incident textarea[name=body_en]", "Alipay notifications arrive late; orders deliver shortly.").await;
    click(&c, "#new-incident button[type=submit]").await;
    wait_for_text(&c, "Choose the affected components").await;
    click(&c, "#new-incident input[name='component.channel:alipay']").await;
    click(&c, "#new-incident button[type=submit]").await;
    wait_for_text(&c, "已保存").await;

    // The public page, in the same browser.
    c.goto(&format!("{platform}/status")).await.expect("status");
    let text = wait_for_text(&c, "Alipay callbacks delayed").await;
    assert!(text.contains("进行中的事件 Current incidents"), "{text}");
    assert!(text.contains("部分系统性能下降"), "the overall state follows the incident: {text}");
    let pill = c
        .find(Locator::Css("li[data-component='channel:alipay']"))
        .await
        .expect("alipay row")
        .attr("data-status")
        .await
        .expect("attr");
    assert_eq!(pill.as_deref(), Some("degraded"));

    // Resolved from the console: the page moves it to the history.
    c.goto(&format!("{platform}/ops/status")).await.expect("console");
    let form = "section.incident form.update-incident";
    c.find(Locator::Css(&format!("{form} select[name=state] option[value=resolved]")))
        .await
        .expect("option")
        .click()
        .await
        .expect("select");
    fill(&c, &format!("{form} textarea[name=body_zh]"), "已恢复正常。").await;
    fill(&c, &format!("{form} textarea[name=body_en]"), "Back to normal.").await;
    click(&c, &format!("{form} button[type=submit]")).await;
    wait_for_text(&c, "已保存").await;
    c.goto(&format!("{platform}/status")).await.expect("status");
    let text = wait_for_text(&c, "Back to normal.").await;
    assert!(!text.contains("进行中的事件"), "{text}");
    assert!(text.contains("近期事件 Past incidents") && text.contains("已解决 Resolved"), "{text}");
    assert!(text.contains("支付宝 Alipay") && text.contains("暂无数据 No data"), "component names and states: {text}");
    let actions: Vec<String> =
        app.audit_of(None).await.into_iter().map(|e| e.action).filter(|a| a.starts_with("status.")).collect();
    assert_eq!(actions, vec!["status.incident.open".to_string(), "status.incident.update".to_string()]);
    c.close().await.expect("close");
}
