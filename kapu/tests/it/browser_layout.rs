//! Dashboard forms that line up, measured in a real browser (headless
//! Chromium, desktop width): on Payments every checkbox sits on the line of
//! its label and channels not set up take one line each, so the page is no
//! longer 4,000 px tall; on Theme each radio sits beside its preview and the
//! accent colour is a swatch you can see. Screenshots go to `docs/` when
//! `KAPU_SCREENSHOT=1`.

use crate::support;

use fantoccini::{Client, Locator};
use support::TestApp;
use support::chromium::{browser_available, click, fill, open_browser, start_driver};
use support::merchant::merchant_with_shop;

async fn numbers(c: &Client, script: &str) -> Vec<f64> {
    let v = c.execute(script, vec![]).await.expect("measure");
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

async fn screenshot(c: &Client, name: &str) {
    if std::env::var("KAPU_SCREENSHOT").is_ok_and(|v| v == "1") {
        c.set_window_size(1280, 1000).await.expect("size");
        let png = c.screenshot().await.expect("screenshot");
        std::fs::write(format!("{}/../docs/{name}.png", env!("CARGO_MANIFEST_DIR")), png).expect("write screenshot");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_and_theme_forms_line_up_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn().await;
    merchant_with_shop(&app, "layout@example.com", "layout").await;
    let driver = start_driver().await;
    let c = open_browser(&driver, "zh-CN", false).await;
    let platform = format!("http://localhost:{}", app.addr.port());
    c.goto(&format!("{platform}/login")).await.expect("login");
    fill(&c, "input[name=email]", "layout@example.com").await;
    fill(&c, "input[name=password]", "correct horse battery").await;
    click(&c, "form button[type=submit]").await;
    c.wait().for_element(Locator::Css("main")).await.expect("signed in");

    // Payments: one line per channel not set up; every checkbox beside its words.
    c.goto(&format!("{platform}/shops/layout/channels")).await.expect("channels");
    c.wait().for_element(Locator::Css("#channel-sandbox")).await.expect("page");
    let height = numbers(&c, "return [document.documentElement.scrollHeight];").await[0];
    assert!(height < 2500.0, "the Payments page is {height} px tall");
    let tall = numbers(
        &c,
        "return Array.from(document.querySelectorAll('label')).filter(l => l.querySelector(':scope > input[type=checkbox]') && l.offsetParent).map(l => l.getBoundingClientRect().height);",
    )
    .await;
    assert!(!tall.is_empty(), "visible checkboxes to measure");
    assert!(tall.iter().all(|h| *h <= 32.0), "a checkbox label takes more than one line: {tall:?}");
    screenshot(&c, "dashboard-payments").await;
    // Setting one up opens its form in place.
    click(&c, "#channel-alipay summary").await;
    let opened =
        numbers(&c, "return [document.querySelector('#channel-alipay form').getBoundingClientRect().height];").await;
    assert!(opened[0] > 100.0, "the form opened: {opened:?}");

    // Theme: each radio beside its preview, the theme's name (not its id) over the settings, a visible swatch.
    c.goto(&format!("{platform}/shops/layout/theme")).await.expect("theme");
    c.wait().for_element(Locator::Css("#theme-form")).await.expect("page");
    let gaps = numbers(
        &c,
        "return Array.from(document.querySelectorAll('label.theme-choice')).flatMap(l => { const r = l.querySelector('input').getBoundingClientRect(), i = l.querySelector('img').getBoundingClientRect(); return [i.left - r.right, Math.abs(i.top - r.top)]; });",
    )
    .await;
    assert_eq!(gaps.len(), 4, "two themes: {gaps:?}");
    for pair in gaps.chunks(2) {
        assert!((0.0..=20.0).contains(&pair[0]) && pair[1] <= 12.0, "radio beside its preview: {gaps:?}");
    }
    let body = c.find(Locator::Css("body")).await.expect("body").text().await.expect("text");
    assert!(body.contains("「经典") || body.contains("「Classic"), "the theme's title over its settings: {body}");
    assert!(!body.contains("「classic」"), "{body}");
    assert!(body.contains("为手机设计的卡片列表") && !body.contains("Mobile-first card list"), "one language: {body}");
    screenshot(&c, "dashboard-theme").await;
    // Grid has a colour setting: its swatch is big enough to see.
    click(&c, "label.theme-choice input[value=grid]").await;
    click(&c, "#theme-form button[type=submit]").await;
    c.wait().for_element(Locator::Css("input[type=color]")).await.expect("grid's settings");
    let swatch = numbers(
        &c,
        "const r = document.querySelector('input[type=color]').getBoundingClientRect(); return [r.width, r.height];",
    )
    .await;
    assert!(swatch[0] >= 40.0 && swatch[1] >= 30.0, "accent swatch {swatch:?}");
    c.close().await.expect("close");
    app.stop().await;
}
