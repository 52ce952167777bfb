//! Supply in a real browser (headless Chromium): a merchant finds a
//! supplier's product in the supply catalog, adds it to their shop at their
//! own price, and a buyer buys it on that shop and receives the supplier's
//! key. Saves a screenshot of the supply catalog to `docs/supply.png` when
//! `KAPU_SCREENSHOT=1`.

use crate::support;

use chrono::Utc;
use fantoccini::Locator;
use kapu_core::store::supply::{Audience, ListingTerms, save_listing_for_supplier};
use support::TestApp;
use support::chromium::{body_text, browser_available, click, fill, open_browser, start_driver};
use support::merchant::merchant_with_shop;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_adds_a_suppliers_product_and_a_buyer_buys_it_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn().await;
    let (supplier, product) = app.create_shop("wholesale-keys", "test", 3).await;
    let terms = ListingTerms {
        wholesale_minor: 700,
        min_resale_minor: Some(800),
        audience: Audience::Any,
        allowed_shops: Vec::new(),
        per_order_cap: None,
        daily_cap: None,
        exact_stock: true,
        open: true,
    };
    save_listing_for_supplier(app.db.writer(), &supplier, &product, &terms, Utc::now()).await.expect("listing");
    // The reseller's account and shop exist; the rest happens in the browser.
    merchant_with_shop(&app, "corner@example.com", "corner").await;

    let driver = start_driver().await;
    let c = open_browser(&driver, "zh-CN", false).await;
    let port = app.addr.port();
    let platform = format!("http://localhost:{port}");
    c.goto(&format!("{platform}/login")).await.expect("login");
    fill(&c, "input[name=email]", "corner@example.com").await;
    fill(&c, "input[name=password]", "correct horse battery").await;
    click(&c, "form button[type=submit]").await;
    c.wait().for_element(Locator::Css("main")).await.expect("signed in");

    // The supply menu shows the supplier's product with its exact stock.
    c.goto(&format!("{platform}/shops/corner")).await.expect("dashboard");
    click(&c, "nav a[href='/shops/corner/supply']").await;
    c.wait().for_element(Locator::Id("supply-catalog")).await.expect("catalog");
    let catalog = body_text(&c).await;
    assert!(catalog.contains("Test product") && catalog.contains("Shop wholesale-keys"), "{catalog}");
    assert!(catalog.contains("7.00 CNY") && catalog.contains("8.00"), "wholesale and lowest price: {catalog}");
    if std::env::var("KAPU_SCREENSHOT").is_ok_and(|v| v == "1") {
        c.set_window_size(1280, 1000).await.expect("size");
        let png = c.screenshot().await.expect("screenshot");
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/supply.png"), png).expect("write screenshot");
    }
    // Too cheap first: the refusal names the lowest price.
    fill(&c, "#supply-catalog input[name=name]", "角落月卡 Corner Monthly").await;
    fill(&c, "#supply-catalog input[name=price]", "7.50").await;
    click(&c, "#supply-catalog form button[type=submit]").await;
    c.wait().for_element(Locator::Css(".notice.error")).await.expect("refused");
    assert!(body_text(&c).await.contains("不能低于"));
    fill(&c, "#supply-catalog input[name=name]", "角落月卡 Corner Monthly").await;
    fill(&c, "#supply-catalog input[name=price]", "9.90").await;
    click(&c, "#supply-catalog form button[type=submit]").await;
    c.wait().for_element(Locator::Id("resale-margin")).await.expect("the product page");
    let page = body_text(&c).await;
    assert!(page.contains("2.90 CNY"), "the margin per key: {page}");

    // A buyer on the reseller's shop gets one of the supplier's keys.
    c.goto(&format!("http://corner.localhost:{port}/")).await.expect("storefront");
    let home = body_text(&c).await;
    assert!(home.contains("角落月卡"), "{home}");
    click(&c, "a[href^='/products/']").await;
    fill(&c, "input[name=email]", "buyer@example.com").await;
    click(&c, "form.checkout button[type=submit]").await;
    click(&c, "button[value=paid]").await;
    let key = c.wait().for_element(Locator::Css("code.key")).await.expect("key").text().await.expect("text");
    assert!(key.starts_with(&format!("KEY-{}", &product[20..])), "the supplier's key: {key}");

    // The ledger shows what the shop owes its supplier.
    c.goto(&format!("{platform}/shops/corner/supply/ledger")).await.expect("ledger");
    let ledger = body_text(&c).await;
    assert!(ledger.contains("Shop wholesale-keys") && ledger.contains("7.00 CNY"), "{ledger}");
    c.close().await.expect("close");
    app.stop().await;
}
