//! Snapshots of what merchants see, in English and in Chinese: the dashboard's main pages for a shop
//! with a hostile name, a product, keys and one paid order, with ids, tokens,
//! dates, ports and asset hashes redacted.

use crate::support;

use support::TestApp;
use support::merchant::{create_product, merchant_with_shop};

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"/static/admin\.[0-9a-f]+\.(css|js)", "/static/admin.[hash].$1"),
        (r#"name="csrf" value="[0-9a-f]{64}""#, r#"name="csrf" value="[csrf]""#),
        (r"\b\d{18}\b", "[order_no]"),
        (r"\b[0-9a-f]{32}\b", "[id]"),
        (r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?", "[date]"),
        (r"<svg class=.chart.[\s\S]*?</svg>", "[chart]"),
        (r"\*{4,}[0-9]{2}", "****[..]"),
        (r"localhost:\d+", "localhost:[port]"),
    ]
}

#[tokio::test]
async fn dashboard_pages() {
    let app = TestApp::spawn().await;
    let mut b = merchant_with_shop(&app, "snap@example.com", "snapshop").await;
    b.post(
        "/shops/snapshop/settings",
        &[
            ("name", "<script>alert('shop')</script>"),
            ("announcement", ""),
            ("support_contact", ""),
            ("default_locale", "zh-CN"),
            ("order_ttl_minutes", "15"),
        ],
    )
    .await
    .expect(303);
    let id = create_product(&mut b, "snapshop", "Key <b>bold</b>", "9.90").await;
    let p =
        b.import_keys(&format!("/shops/snapshop/products/{id}/keys"), "SNAP-0001\nSNAP-0002\n", None, "newline").await;
    let loc = p.location.clone().expect("loc");
    assert!(
        app.eventually(20, || {
            let (b, loc) = (&b, loc.clone());
            async move { b.get(&format!("{loc}.json")).await.body.contains("\"done\"") }
        })
        .await
    );
    let (_, o) =
        app.order("snapshop", serde_json::json!({"product_id": id, "quantity": 1, "email": "buyer@example.com"})).await;
    let order_no = o["order_no"].as_str().expect("no").to_string();
    let pages = [
        ("shops", "/shops".to_string()),
        ("dashboard", "/shops/snapshop".to_string()),
        ("products", "/shops/snapshop/products".to_string()),
        ("orders", "/shops/snapshop/orders".to_string()),
        ("order", format!("/shops/snapshop/orders/{order_no}")),
        ("settings", "/shops/snapshop/settings".to_string()),
    ];
    // Each page in each language: English (`dashboard_{name}`) and Chinese (`…_zh`).
    for (lang, suffix) in [("en", ""), ("zh-CN", "_zh")] {
        for (name, path) in &pages {
            let resp = b.client.get(app.platform_url(path)).header("accept-language", lang).send().await.expect("get");
            assert_eq!(resp.status().as_u16(), 200, "{path}");
            let body = resp.text().await.expect("html");
            assert!(!body.contains("<script>alert"), "{name}: hostile name escaped");
            assert!(!body.contains("<b>bold</b>"), "{name}: hostile product escaped");
            insta::with_settings!({ filters => filters(), prepend_module_to_snapshot => false }, {
                insta::assert_snapshot!(format!("dashboard_{name}{suffix}"), body);
            });
        }
    }
    app.stop().await;
}
