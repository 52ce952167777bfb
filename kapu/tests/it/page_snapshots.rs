//! Snapshots of what buyers see: every storefront page in zh-CN and en, with
//! ids, tokens, keys, times and asset hashes redacted.

use crate::support;

use serde_json::json;
use support::TestApp;

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"/assets/classic\.[0-9a-f]+\.(css|js)", "/assets/classic.[hash].$1"),
        (r"token(=|%3D)[A-Za-z0-9_-]{32}", "token=[token]"),
        (r"DEMO-[A-Z0-9]+-\d{5}-[0-9A-F]{8}", "[key]"),
        (r"\b\d{18}\b", "[order_no]"),
        (r"\b[0-9a-f]{32}\b", "[id]"),
        (r"\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|\+00:00)", "[time]"),
        (r"localhost:\d+", "localhost:[port]"),
    ]
}

async fn page(app: &TestApp, url: &str, lang: &str) -> String {
    let r = app.client.get(url).header("accept-language", lang).send().await.expect("get");
    format!("status: {}\n{}", r.status().as_u16(), r.text().await.expect("html"))
}

#[tokio::test]
async fn storefront_pages_in_both_languages() {
    let app = TestApp::spawn().await;
    let (_, pending) =
        app.order("demo", json!({"product_id": "win11-pro", "quantity": 1, "email": "s@example.com"})).await;
    let (_, paid) =
        app.order("demo", json!({"product_id": "office-2021", "quantity": 2, "email": "s@example.com"})).await;
    let paid_pay = paid["pay_url"].as_str().expect("pay").to_string();
    let r = app.client.post(&paid_pay).form(&[("outcome", "paid")]).send().await.expect("pay");
    assert_eq!(r.status().as_u16(), 303);
    let order_url = |o: &serde_json::Value| {
        app.url(&format!("/orders/{}?token={}", o["order_no"].as_str().expect("no"), o["token"].as_str().expect("t")))
    };
    let pages = [
        ("home", app.url("/")),
        ("product", app.url("/products/win11-pro")),
        ("product_sold_out", app.url("/products/netease-100")),
        ("lookup", app.url("/lookup")),
        ("order_pending", order_url(&pending)),
        ("order_delivered", order_url(&paid)),
        ("sandbox_pay", pending["pay_url"].as_str().expect("pay").to_string()),
        ("not_found", app.url("/no-such-page")),
        ("shop_not_found", app.shop_url("nosuchshop", "/")),
    ];
    for lang in ["zh-CN", "en"] {
        for (name, url) in &pages {
            let html = page(&app, url, lang).await;
            insta::with_settings!({ filters => filters(), prepend_module_to_snapshot => false }, {
                insta::assert_snapshot!(format!("{name}.{lang}"), html);
            });
        }
    }
    app.stop().await;
}
