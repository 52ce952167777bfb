//! A merchant restyles the shop in a real browser (headless Chromium):
//! signs in, picks the Grid theme on the Theme page, and the storefront
//! shows product tiles laid out in columns; then a broken template edit is
//! refused with its line number and the shop stays as it was.
//!
//! Needs `chromium` and `chromedriver` (see `support::chromium`).

use crate::support;

use fantoccini::{Client, Locator};
use support::TestApp;
use support::chromium::{body_text, browser_available, click, fill, open_browser, start_driver};
use support::merchant::merchant_with_shop;

async fn wait_for_text(c: &Client, needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = body_text(c).await;
        if last.contains(needle) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("page never showed {needle:?}; last text: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_switches_the_shop_to_grid_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn().await;
    merchant_with_shop(&app, "owner@example.com", "looks").await;
    let tenant = app.tenant_id("looks").await;
    for name in ["Alpha card", "Beta card", "Gamma card"] {
        app.add_product(&tenant, name, 1000, 2).await;
    }
    let driver = start_driver().await;
    let c = open_browser(&driver, "en", false).await;
    let port = app.addr.port();
    let platform = format!("http://localhost:{port}");
    let shop = format!("http://looks.localhost:{port}/");

    c.goto(&format!("{platform}/login")).await.expect("login");
    fill(&c, "input[name=email]", "owner@example.com").await;
    fill(&c, "input[name=password]", "correct horse battery").await;
    click(&c, "form button[type=submit]").await;
    wait_for_text(&c, "Shop looks").await;

    c.goto(&format!("{platform}/shops/looks/theme")).await.expect("theme page");
    click(&c, "#theme-form input[name=theme][value=grid]").await;
    click(&c, "#theme-form button[type=submit]").await;
    wait_for_text(&c, "Saved").await;

    c.goto(&shop).await.expect("storefront");
    wait_for_text(&c, "Gamma card").await;
    let tiles = c.find_all(Locator::Css("ul.tiles li.tile")).await.expect("tiles");
    assert_eq!(tiles.len(), 3);
    // The grid stylesheet is applied: tiles sit side by side, not stacked.
    let (x0, y0, _, _) = tiles[0].rectangle().await.expect("rect");
    let (x1, y1, _, _) = tiles[1].rectangle().await.expect("rect");
    assert!((y0 - y1).abs() < 1.0 && x1 > x0, "tiles in a row: ({x0},{y0}) ({x1},{y1})");

    c.goto(&format!("{platform}/shops/looks/theme/templates/home.html")).await.expect("editor");
    fill(&c, "#source", "{% extends \"base.html\" %}\n{% block main %}\n{% for %}\n{% endblock %}").await;
    click(&c, "#template-form button[value=save]").await;
    let text = wait_for_text(&c, "Not saved").await;
    assert!(text.contains("line 3"), "{text}");
    c.goto(&shop).await.expect("storefront");
    wait_for_text(&c, "Alpha card").await;
    assert_eq!(c.find_all(Locator::Css("ul.tiles li.tile")).await.expect("tiles").len(), 3);
    c.close().await.expect("close");
    app.stop().await;
}
