//! The catalog from the dashboard: products, categories, card-key imports
//! (edge cases and 100,000 keys), export and deletion, and what buyers see.

use crate::support;

use std::time::Instant;

use serde_json::Value;
use support::TestApp;
use support::merchant::{Browser, create_product, merchant_with_shop};

async fn storefront_products(app: &TestApp, slug: &str) -> Vec<Value> {
    let (status, list) = app.get_json(&app.shop_url(slug, "/api/v1/products")).await;
    assert_eq!(status, 200, "{list}");
    list["products"].as_array().cloned().unwrap_or_default()
}

/// Waits for an import to finish; returns its progress JSON.
async fn finished_import(b: &Browser, location: &str) -> Value {
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let p = b.get(&format!("{location}.json")).await;
        assert_eq!(p.status, 200, "{}", p.body);
        let v: Value = serde_json::from_str(&p.body).expect("json");
        if v["status"] != "running" {
            return v;
        }
        assert!(Instant::now() < deadline, "import did not finish: {v}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn products_are_created_edited_hidden_and_seen_by_buyers_at_once() {
    let app = TestApp::spawn().await;
    let mut b = merchant_with_shop(&app, "cat@example.com", "catalog").await;

    // Bad input: every problem named, nothing created.
    let p = b
        .post(
            "/shops/catalog/products/new",
            &[
                ("name", ""),
                ("price", "9.999"),
                ("min_qty", "5"),
                ("max_qty", "2"),
                ("tiers", "10=99"),
                ("sort_order", "0"),
                ("low_stock_threshold", "5"),
            ],
        )
        .await;
    p.expect(422);
    for needle in ["1–200 characters", "like 9.90", "Min per order cannot exceed", "below the base price"] {
        assert!(p.body.contains(needle), "missing {needle:?}");
    }
    assert!(storefront_products(&app, "catalog").await.is_empty());

    b.post("/shops/catalog/categories", &[("name", "游戏点卡"), ("sort_order", "1")]).await.expect(303);
    let products = b.get("/shops/catalog/products").await;
    let cat_id = {
        let at = products.body.find("/categories/").expect("category link");
        products.body[at + "/categories/".len()..].split('/').next().expect("id").to_string()
    };
    let id = create_product(&mut b, "catalog", "Steam 充值卡 <50>", "48.50").await;
    let listed = storefront_products(&app, "catalog").await;
    assert_eq!(listed.len(), 1, "visible on the storefront immediately");
    assert_eq!(listed[0]["name"], "Steam 充值卡 <50>");
    assert_eq!(listed[0]["stock"], 0);

    // Edit: category, Markdown description, tiers.
    b.post(
        &format!("/shops/catalog/products/{id}"),
        &[
            ("name", "Steam 充值卡 50"),
            ("category_id", &cat_id),
            ("price", "48.50"),
            ("description", "**即时到账**\n\n<script>alert(1)</script>"),
            ("tiers", "10=45.00\n50=43"),
            ("min_qty", "1"),
            ("max_qty", "100"),
            ("sort_order", "2"),
            ("low_stock_threshold", "3"),
            ("visible", "1"),
        ],
    )
    .await
    .expect(303);
    let page = app.client.get(app.shop_url("catalog", &format!("/products/{id}"))).send().await.expect("page");
    let html = page.text().await.expect("html");
    assert!(html.contains("<strong>即时到账</strong>"), "markdown rendered");
    assert!(!html.contains("<script>alert(1)</script>"), "script removed");
    assert!(html.contains("45.00"), "tier shown");
    let edit = b.get(&format!("/shops/catalog/products/{id}")).await;
    assert!(edit.body.contains("10=45.00\n50=43.00"), "tiers round-trip");

    // Hide: gone from the storefront at once.
    b.post(
        &format!("/shops/catalog/products/{id}"),
        &[
            ("name", "Steam 充值卡 50"),
            ("price", "48.50"),
            ("min_qty", "1"),
            ("max_qty", "100"),
            ("sort_order", "2"),
            ("low_stock_threshold", "3"),
        ],
    )
    .await
    .expect(303);
    assert!(storefront_products(&app, "catalog").await.is_empty());
    let r = app.client.get(app.shop_url("catalog", &format!("/products/{id}"))).send().await.expect("page");
    assert_eq!(r.status().as_u16(), 404);

    // Deleting the category keeps the product.
    b.post(&format!("/shops/catalog/categories/{cat_id}/delete"), &[]).await.expect(303);
    b.get(&format!("/shops/catalog/products/{id}")).await.expect(200);
}

#[tokio::test]
async fn key_import_trims_dedupes_and_reports_each_problem_line() {
    let app = TestApp::spawn().await;
    let mut b = merchant_with_shop(&app, "keys@example.com", "keys").await;
    let id = create_product(&mut b, "keys", "Game Key", "10").await;
    let path = format!("/shops/keys/products/{id}/keys");

    // BOM, CRLF, blanks, spaces, a duplicate within the paste, a control character, an overlong key.
    let long = "L".repeat(1025);
    let text = format!("\u{feff}AAAA-1111\r\n\r\n  BBBB-2222  \r\nAAAA-1111\r\nBAD\u{7}KEY\r\n{long}\r\nCCCC-3333");
    let p = b.import_keys(&path, &text, None, "newline").await;
    p.expect(303);
    let loc = p.location.clone().expect("import page");
    let v = finished_import(&b, &loc).await;
    assert_eq!(v["status"], "done", "{v}");
    assert_eq!((v["total"].as_i64(), v["imported"].as_i64()), (Some(6), Some(3)), "{v}");
    assert_eq!((v["duplicate"].as_i64(), v["invalid"].as_i64()), (Some(1), Some(2)), "{v}");
    let page = b.get(&loc).await;
    page.expect(200);
    for needle in ["Repeats an earlier line", "Contains control characters", "Too long"] {
        assert!(page.body.contains(needle), "{needle}");
    }
    assert!(page.body.contains("<td class=\"num\">4</td>"), "the duplicate is line 4");
    // Each problem line in line order with its text (a long one cut, control characters shown as �).
    let at = |needle: &str| page.body.find(needle).unwrap_or_else(|| panic!("{needle} in {}", page.body));
    assert!(at("<code>AAAA-1111</code>") < at("<code>BAD\u{fffd}KEY</code>"), "line 4 before line 5");
    assert!(at("<code>BAD\u{fffd}KEY</code>") < at("(1025 chars)"), "line 5 before line 6");
    assert!(page.body.contains(&format!("<code>{}…{} (1025 chars)</code>", "L".repeat(24), "L".repeat(8))));
    assert!(page.body.contains("Blank lines skipped: <strong id=\"import-blank\">1</strong>"), "{}", page.body);

    // Again, as an uploaded CSV with a delimiter: existing keys are skipped, new ones added.
    let file = b"AAAA-1111,DDDD-4444\nEEEE-5555".to_vec();
    let p = b.import_keys(&path, "", Some(("keys.csv", file)), "comma").await;
    let v = finished_import(&b, &p.location.clone().expect("loc")).await;
    assert_eq!((v["imported"].as_i64(), v["duplicate"].as_i64()), (Some(2), Some(1)), "{v}");
    assert_eq!(app.stock("keys", &id).await, 5);

    // The list never shows a whole key.
    let keys_page = b.get(&path).await;
    assert!(!keys_page.body.contains("AAAA-1111") && !keys_page.body.contains("DDDD-4444"));
    assert!(keys_page.body.contains("AA*****11"), "masked keys listed");

    // Refusals change nothing.
    let p = b.import_keys(&path, " \r\n \n", None, "newline").await;
    p.expect(422);
    assert!(p.body.contains("No keys found"));
    let p = b.import_keys(&path, "", Some(("gbk.txt", vec![0xc4, 0xe3, 0xba, 0xc3, b'\n'])), "newline").await;
    p.expect(422);
    assert!(p.body.contains("not UTF-8"));
    let p = b.import_keys(&path, "X", None, "bogus").await;
    p.expect(422);
    assert_eq!(app.stock("keys", &id).await, 5);

    // The owner exports exactly the unsold keys; then deletes them.
    let export = b.get(&format!("{path}/export")).await;
    export.expect(200);
    let mut got: Vec<&str> = export.body.lines().collect();
    got.sort();
    assert_eq!(got, ["AAAA-1111", "BBBB-2222", "CCCC-3333", "DDDD-4444", "EEEE-5555"]);
    b.post(&format!("{path}/delete-unsold"), &[]).await.expect(303);
    assert_eq!(app.stock("keys", &id).await, 0);
    assert_eq!(storefront_products(&app, "keys").await[0]["stock"], 0);
}

#[tokio::test]
async fn importing_100k_keys_finishes_in_seconds_while_the_storefront_keeps_answering() {
    let app = TestApp::spawn().await;
    let mut b = merchant_with_shop(&app, "bulk@example.com", "bulk").await;
    // The free plan holds 5,000 keys in stock; a shop importing 100k is on Pro.
    app.set_plan("bulk", "pro").await;
    let id = create_product(&mut b, "bulk", "Bulk Key", "1.00").await;
    let mut text = String::with_capacity(100_000 * 24);
    for i in 0..100_000 {
        text.push_str(&format!("BULK-{i:08}-XYZ\r\n"));
    }
    let started = Instant::now();
    let p = b.import_keys(&format!("/shops/bulk/products/{id}/keys"), &text, None, "newline").await;
    p.expect(303);
    let loc = p.location.clone().expect("loc");
    // While it runs, buyers still get pages.
    let mut storefront_ok = 0;
    let v = loop {
        let r = app.client.get(app.shop_url("bulk", "/")).send().await.expect("storefront");
        if r.status().as_u16() == 200 {
            storefront_ok += 1;
        }
        let v: Value = serde_json::from_str(&b.get(&format!("{loc}.json")).await.body).expect("json");
        if v["status"] != "running" {
            break v;
        }
        assert!(v["processed"].as_i64() <= v["total"].as_i64());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let took = started.elapsed();
    println!("imported 100,000 keys in {took:?} ({storefront_ok} storefront pages served meanwhile)");
    assert_eq!(v["status"], "done", "{v}");
    assert_eq!(v["imported"].as_i64(), Some(100_000), "{v}");
    assert!(storefront_ok >= 1);
    // The storefront hears of the last chunk through the bus (its cache lives 2 s at most).
    assert!(app.eventually(5, || async { app.stock("bulk", &id).await == 100_000 }).await);
}

#[tokio::test]
async fn a_product_with_orders_cannot_be_deleted_but_can_be_hidden() {
    let app = TestApp::spawn().await;
    let mut b = merchant_with_shop(&app, "del@example.com", "delshop").await;
    let id = create_product(&mut b, "delshop", "Sold Once", "5").await;
    let p = b.import_keys(&format!("/shops/delshop/products/{id}/keys"), "K-1\nK-2", None, "newline").await;
    finished_import(&b, &p.location.clone().expect("loc")).await;
    let (status, order) =
        app.order("delshop", serde_json::json!({"product_id": id, "quantity": 1, "email": "b@example.com"})).await;
    assert_eq!(status, 201, "{order}");
    let p = b.post(&format!("/shops/delshop/products/{id}/delete"), &[]).await;
    p.expect(409);
    assert!(p.body.contains("cannot be deleted"));
    b.get(&format!("/shops/delshop/products/{id}")).await.expect(200);
    // Without orders it goes, with its keys.
    let other = create_product(&mut b, "delshop", "Never Sold", "5").await;
    b.post(&format!("/shops/delshop/products/{other}/delete"), &[]).await.expect(303);
    b.get(&format!("/shops/delshop/products/{other}")).await.expect(404);
}

#[tokio::test]
async fn products_get_readable_addresses_and_old_links_keep_working() {
    let app = TestApp::spawn().await;
    let mut b = merchant_with_shop(&app, "slugs@example.com", "slugs").await;
    let first = create_product(&mut b, "slugs", "Steam Wallet 50 (CN)", "48.50").await;
    // Made from the name; the same name again gets a numbered one.
    let second = create_product(&mut b, "slugs", "Steam Wallet 50 (CN)", "48.50").await;
    let p = b.import_keys(&format!("/shops/slugs/products/{first}/keys"), "SLUG-KEY-1", None, "newline").await;
    finished_import(&b, &p.location.clone().expect("import page")).await;
    let home = app.client.get(app.shop_url("slugs", "/")).send().await.expect("home").text().await.expect("html");
    assert!(home.contains("href=\"/products/steam-wallet-50-cn\""), "{home}");
    assert!(home.contains("href=\"/products/steam-wallet-50-cn-2\""), "{home}");
    // The address, and the id as before, both open the product.
    for path in ["/products/steam-wallet-50-cn".to_string(), format!("/products/{first}")] {
        let r = app.client.get(app.shop_url("slugs", &path)).send().await.expect("page");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let html = r.text().await.expect("html");
        assert!(html.contains(&format!("name=\"product_id\" value=\"{first}\"")), "checkout keeps the id: {path}");
    }
    // A typed address: checked, unique within the shop.
    let edit = |slug: &'static str| {
        vec![
            ("name", "Steam Wallet 50 (CN)"),
            ("slug", slug),
            ("price", "48.50"),
            ("min_qty", "1"),
            ("max_qty", "10"),
            ("sort_order", "0"),
            ("low_stock_threshold", "5"),
            ("visible", "1"),
        ]
    };
    let p = b.post(&format!("/shops/slugs/products/{second}"), &edit("Bad Address!")).await;
    p.expect(422);
    assert!(p.body.contains("lowercase letters, digits or hyphens"), "{}", p.body);
    let p = b.post(&format!("/shops/slugs/products/{second}"), &edit("steam-wallet-50-cn")).await;
    p.expect(422);
    assert!(p.body.contains("Another product of this shop uses this address"), "{}", p.body);
    b.post(&format!("/shops/slugs/products/{second}"), &edit("steam-50")).await.expect(303);
    assert_eq!(
        app.client.get(app.shop_url("slugs", "/products/steam-50")).send().await.expect("page").status().as_u16(),
        200
    );
    assert_eq!(
        app.client
            .get(app.shop_url("slugs", "/products/steam-wallet-50-cn-2"))
            .send()
            .await
            .expect("page")
            .status()
            .as_u16(),
        404,
        "the address it gave up is free again"
    );
    // Another shop's product is not found by this shop's address.
    assert_eq!(app.client.get(app.url("/products/steam-50")).send().await.expect("page").status().as_u16(), 404);
    app.stop().await;
}
