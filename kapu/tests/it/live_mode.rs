//! The sandbox only works for shops in test mode.

use crate::support;

use kapu_core::entities::tenants;
use serde_json::json;
use support::{TestApp, sandbox_fields};

#[tokio::test]
async fn the_sandbox_refuses_payments_for_a_shop_in_live_mode() {
    let app = TestApp::spawn().await;
    let (tenant, product) = app.create_shop("golive", "test", 5).await;
    let (status, order) =
        app.order("golive", json!({"product_id": product, "quantity": 1, "email": "l@example.com"})).await;
    assert_eq!(status, 201);
    assert_eq!(order["test_mode"], true);
    let (no, token) = (order["order_no"].as_str().expect("no"), order["token"].as_str().expect("t"));
    let pay_url = order["pay_url"].as_str().expect("pay_url").to_string();
    let payment = app.payment_of(&tenant, no).await;

    // The merchant goes live (the sandbox is its only channel); the tenant cache is invalidated.
    app.set_tenant("golive", tenants::Column::Mode, "live").await;
    let (_, list) = app.get_json(&app.shop_url("golive", "/api/v1/products")).await;
    assert_eq!(list["test_mode"], false);

    // The sandbox page and its form refuse, and nothing changes.
    let page = app.client.get(&pay_url).send().await.expect("get");
    assert_eq!(page.status().as_u16(), 403);
    let r = app.client.post(&pay_url).form(&[("outcome", "paid")]).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 403);
    let signed = sandbox_fields(&app.master.tenant(&tenant), &payment.id, "paid", payment.amount_minor, "CNY");
    let (status, body) = app.notify("golive", &payment.id, &signed).await;
    assert_eq!(status, 403, "{body}");
    let (_, view) = app.order_view("golive", no, token).await;
    assert_eq!(view["status"], "pending");
    assert_eq!(app.count_keys(&tenant, "sold").await, 0);

    // New orders cannot pick the sandbox either: the shop has no live channel.
    let (status, body) =
        app.order("golive", json!({"product_id": product, "quantity": 1, "email": "l@example.com"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("no_payment_channel")));
    app.stop().await;
}
