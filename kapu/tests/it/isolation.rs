//! The tenant comes from the host; nothing of one shop is visible on another.

use crate::support;

use serde_json::json;
use support::TestApp;

#[tokio::test]
async fn an_order_of_one_shop_is_not_found_on_another_shops_host() {
    let app = TestApp::spawn().await;
    let (_, other_product) = app.create_shop("other", "test", 5).await;
    let (status, order) =
        app.order("demo", json!({"product_id": "win11-pro", "quantity": 1, "email": "i@example.com"})).await;
    assert_eq!(status, 201);
    let (no, token) = (order["order_no"].as_str().expect("no"), order["token"].as_str().expect("t"));

    let (status, body) = app.order_view("other", no, token).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "order_not_found");
    let page = app.client.get(app.shop_url("other", &format!("/orders/{no}?token={token}"))).send().await.expect("get");
    assert_eq!(page.status().as_u16(), 404);

    // Products are per shop, both ways.
    let (status, body) =
        app.order("other", json!({"product_id": "win11-pro", "quantity": 1, "email": "i@example.com"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("product_not_found")));
    let (status, _) =
        app.order("demo", json!({"product_id": other_product, "quantity": 1, "email": "i@example.com"})).await;
    assert_eq!(status, 404);
    let (_, list) = app.get_json(&app.shop_url("other", "/api/v1/products")).await;
    assert_eq!(list["products"].as_array().expect("list").len(), 1);

    // Hosts are matched case-insensitively, port ignored.
    let (status, _) = app.get_json(&format!("http://DEMO.LocalHost:{}/api/v1/products", app.addr.port())).await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn unknown_hosts_and_suspended_shops_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get_json(&app.shop_url("nosuchshop", "/api/v1/products")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("shop_not_found")));
    let page =
        app.client.get(app.shop_url("nosuchshop", "/")).header("accept-language", "en").send().await.expect("get");
    assert_eq!(page.status().as_u16(), 404);
    assert!(page.text().await.expect("html").contains("No shop at this address"));

    app.create_shop("paused", "test", 1).await;
    app.set_tenant("paused", kapu_core::entities::tenants::Column::Status, "suspended").await;
    let (status, body) = app.get_json(&app.shop_url("paused", "/api/v1/products")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("shop_closed")));
    let page = app.client.get(app.shop_url("paused", "/")).send().await.expect("get");
    assert_eq!(page.status().as_u16(), 503);
    assert!(page.text().await.expect("html").contains("暂时关闭"));

    // Health checks answer on every host, before tenant resolution.
    for host in ["nosuchshop", "demo", "paused"] {
        let r = app.client.get(app.shop_url(host, "/healthz")).send().await.expect("healthz");
        assert_eq!(r.status().as_u16(), 200);
        let r = app.client.get(app.shop_url(host, "/readyz")).send().await.expect("readyz");
        assert_eq!(r.status().as_u16(), 200);
        let body: serde_json::Value = r.json().await.expect("json");
        assert_eq!(body["database"], "ok");
    }
    app.stop().await;
}
