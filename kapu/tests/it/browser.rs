//! A buyer in a real browser (headless Chromium from the OS, driven through
//! chromedriver) on a phone-sized screen: opens the demo shop, buys a key
//! through the checkout form and the sandbox page, reads it off the order
//! page, in Chinese and in English; no page scrolls sideways at 360 px.
//!
//! Needs `chromium` and `chromedriver` on PATH. Without them the test says so
//! and passes, unless `KAPU_REQUIRE_BROWSER=1` or `CI=true` (as in `.ci/run`).

use crate::support;

use fantoccini::{Client, Locator};
use support::TestApp;
use support::chromium::{browser_available, open_browser, start_driver};

/// Fails when the current page is wider than the 360 px viewport.
async fn assert_no_horizontal_scroll(c: &Client, what: &str) {
    let v =
        c.execute("return [document.documentElement.scrollWidth, window.innerWidth];", vec![]).await.expect("measure");
    let (scroll, inner) = (v[0].as_i64().expect("scrollWidth"), v[1].as_i64().expect("innerWidth"));
    assert!(inner <= 400, "viewport is phone-sized ({inner})");
    assert!(scroll <= inner, "{what} scrolls sideways: {scroll} > {inner}");
}

/// Buys one Windows key through the pages; returns the key shown on the order page.
async fn buy_through_pages(app: &TestApp, c: &Client, pay_label: &str, email: &str) -> (String, String) {
    c.goto(&format!("http://demo.localhost:{}/", app.addr.port())).await.expect("open shop");
    assert_no_horizontal_scroll(c, "home").await;
    // The test banner and the header are one compact line each on a phone.
    let v = c
        .execute(
            "return [document.querySelector('.test-banner').getBoundingClientRect().height, document.querySelector('header.top').getBoundingClientRect().height, window.innerHeight];",
            vec![],
        )
        .await
        .expect("measure");
    let (banner, header, screen) =
        (v[0].as_f64().expect("banner"), v[1].as_f64().expect("header"), v[2].as_f64().expect("screen"));
    assert!(banner <= 24.0 && header <= 44.0, "banner {banner} px, header {header} px");
    assert!((banner + header) / screen < 0.12, "{banner} + {header} of {screen} px");
    c.find(Locator::Css("a[href='/products/win11-pro']")).await.expect("product link").click().await.expect("click");
    let email_input = c.wait().for_element(Locator::Css("input[name=email]")).await.expect("checkout form");
    assert_no_horizontal_scroll(c, "product page").await;
    // The total is shown before buying, and follows the quantity with the
    // wholesale tier (5 or more: 35.90 each), then back to one key.
    let total = || async {
        c.find(Locator::Css("#order-total .total-amount")).await.expect("total").text().await.expect("text")
    };
    assert_eq!(total().await, "39.90");
    let qty = c.find(Locator::Css("form.checkout input[name=quantity]")).await.expect("quantity");
    qty.clear().await.expect("clear");
    qty.send_keys("5").await.expect("type");
    assert_eq!(total().await, "179.50", "5 × 35.90");
    qty.clear().await.expect("clear");
    qty.send_keys("1").await.expect("type");
    assert_eq!(total().await, "39.90");
    // A coupon, once the field is left, is checked with the shop and taken off the total.
    let coupon = c.find(Locator::Css("form.checkout input[name=coupon]")).await.expect("coupon field");
    // A full-size field like the others, not a tiny unstyled box.
    let v = c
        .execute(
            "var r = document.querySelector('form.checkout input[name=coupon]').getBoundingClientRect(), e = document.querySelector('form.checkout input[name=email]').getBoundingClientRect(); return [r.height, r.width, e.width];",
            vec![],
        )
        .await
        .expect("measure");
    let (h, w, email_w) = (v[0].as_f64().expect("h"), v[1].as_f64().expect("w"), v[2].as_f64().expect("ew"));
    assert!(h >= 40.0 && (w - email_w).abs() < 1.0, "coupon field {w}×{h}, email field {email_w} wide");
    coupon.send_keys("SAVE10\u{E004}").await.expect("type and leave");
    let mut discounted = String::new();
    for _ in 0..50 {
        discounted = total().await;
        if discounted == "35.91" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(discounted, "35.91", "39.90 less 10 %");
    email_input.send_keys(email).await.expect("type");
    c.find(Locator::Css("form.checkout button[type=submit]")).await.expect("buy").click().await.expect("buy");
    // The sandbox page: TEST MODE, then "pay".
    let pay = c.wait().for_element(Locator::Css("button[value=paid]")).await.expect("pay button");
    let body = c.find(Locator::Css("body")).await.expect("body").text().await.expect("text");
    assert!(body.contains("TEST MODE"), "sandbox page is marked: {body}");
    assert_no_horizontal_scroll(c, "sandbox page").await;
    assert_eq!(pay.text().await.expect("label"), pay_label);
    pay.click().await.expect("pay");
    // The order page shows the key.
    let key = c.wait().for_element(Locator::Css("code.key")).await.expect("key shown").text().await.expect("key");
    assert_no_horizontal_scroll(c, "order page").await;
    let url = c.current_url().await.expect("url");
    (key, url.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_buys_a_key_in_a_real_browser_in_both_languages_at_phone_width() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn().await;
    let driver = start_driver().await;
    app.add_percent_coupon("demo", "SAVE10", 10).await;

    for (lang, pay_label, email, status_text) in [
        ("zh-CN", "模拟支付成功", "zh-buyer@example.com", "已发货"),
        ("en-US", "Simulate a successful payment", "en-buyer@example.com", "Delivered"),
    ] {
        let c = open_browser(&driver, lang, true).await;
        let (key, url) = buy_through_pages(&app, &c, pay_label, email).await;
        assert!(key.starts_with("DEMO-WIN11-"), "{key}");
        let page = c.find(Locator::Css("body")).await.expect("body").text().await.expect("text");
        assert!(page.contains(status_text), "{lang}: {page}");
        // The same key through the API, with the token from the page's URL.
        let url = url::Url::parse(&url).expect("url");
        let order_no = url.path().trim_start_matches("/orders/").to_string();
        let token = url.query_pairs().find(|(k, _)| k == "token").map(|(_, v)| v.to_string()).expect("token");
        let (_, view) = app.order_view("demo", &order_no, &token).await;
        assert_eq!(view["keys"][0], key.as_str());
        // A screenshot of the delivered order page, for people to look at.
        let png = c.screenshot().await.expect("screenshot");
        std::fs::write(std::env::temp_dir().join(format!("kapu-order-{lang}.png")), png).expect("write screenshot");
        c.close().await.expect("close");
    }

    // The language switch is a link that sets a cookie and comes back.
    let c = open_browser(&driver, "zh-CN", true).await;
    c.goto(&format!("http://demo.localhost:{}/lookup", app.addr.port())).await.expect("open");
    assert_eq!(c.find(Locator::Css("h1")).await.expect("h1").text().await.expect("text"), "查询订单");
    c.find(Locator::Css("a.lang-switch")).await.expect("switch").click().await.expect("click");
    let h1 = c.wait().for_element(Locator::XPath("//h1[text()='Find my order']")).await;
    assert!(h1.is_ok(), "page is in English after the switch");
    assert_eq!(c.current_url().await.expect("url").path(), "/lookup");
    c.close().await.expect("close");
    app.stop().await;
}
