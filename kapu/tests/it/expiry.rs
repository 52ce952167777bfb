//! Unpaid orders expire and release their keys; a late payment delivers while
//! stock remains, otherwise the order is flagged `needs_attention`.

use crate::support;

use serde_json::json;
use support::{Options, TestApp, read_outbox, sandbox_fields};

#[tokio::test]
async fn expiry_releases_keys_and_late_payments_deliver_or_need_attention() {
    // Orders live three seconds: the steps that must happen while an order is
    // still pending (a stock check, a rival's reservation meeting a late
    // payment) take a few requests, which a loaded machine can stretch.
    let app = TestApp::spawn_with(Options { order_ttl_secs: 3, ..Options::default() }).await;
    let demo = app.tenant_id("demo").await;
    let tk = app.master.tenant(&demo);

    // Reserve the whole stock (3 keys), then let the order expire.
    let (status, order) =
        app.order("demo", json!({"product_id": "steam-wallet-50", "quantity": 3, "email": "late@example.com"})).await;
    assert_eq!(status, 201);
    let (no, token) =
        (order["order_no"].as_str().expect("no").to_string(), order["token"].as_str().expect("t").to_string());
    assert_eq!(app.stock("demo", "steam-wallet-50").await, 0);
    let expired =
        app.eventually(10, || async { app.order_view("demo", &no, &token).await.1["status"] == "expired" }).await;
    assert!(expired, "order did not expire");
    assert_eq!(app.stock("demo", "steam-wallet-50").await, 3, "expiry released the keys");
    let (_, view) = app.order_view("demo", &no, &token).await;
    assert!(view["status_message"].as_str().expect("msg").contains("过期"));

    // A late payment while stock remains: delivered.
    let payment = app.payment_of(&demo, &no).await;
    let paid = sandbox_fields(&tk, &payment.id, "paid", payment.amount_minor, "CNY");
    assert_eq!(app.notify("demo", &payment.id, &paid).await.0, 200);
    let (_, view) = app.order_view("demo", &no, &token).await;
    assert_eq!(view["status"], "delivered");
    assert_eq!(view["keys"].as_array().expect("keys").len(), 3);
    assert_eq!(app.stock("demo", "steam-wallet-50").await, 0);

    // Another order expires; meanwhile someone else buys the stock; then it is paid late.
    let (status, late) =
        app.order("demo", json!({"product_id": "office-2021", "quantity": 10, "email": "x@example.com"})).await;
    assert_eq!(status, 201, "{late}");
    let (late_no, late_token) =
        (late["order_no"].as_str().expect("no").to_string(), late["token"].as_str().expect("t").to_string());
    assert!(
        app.eventually(10, || async { app.order_view("demo", &late_no, &late_token).await.1["status"] == "expired" })
            .await
    );
    let (status, rival) =
        app.order("demo", json!({"product_id": "office-2021", "quantity": 5, "email": "y@example.com"})).await;
    assert_eq!(status, 201, "{rival}");
    let late_payment = app.payment_of(&demo, &late_no).await;
    let paid = sandbox_fields(&tk, &late_payment.id, "paid", late_payment.amount_minor, "CNY");
    assert_eq!(app.notify("demo", &late_payment.id, &paid).await.0, 200);
    let (_, view) = app.order_view("demo", &late_no, &late_token).await;
    assert_eq!(view["status"], "needs_attention");
    assert!(view.get("keys").is_none());
    let msg = view["status_message"].as_str().expect("message");
    assert!(msg.contains("退款"), "tells the buyer what happens next: {msg}");
    // The rival's reservation is untouched, and the payment is on record.
    assert_eq!(app.payment_of(&demo, &late_no).await.status, "succeeded");
    let rival_row = app.order_row(&demo, rival["order_no"].as_str().expect("no")).await;
    assert_eq!(rival_row.status, "pending");
    // The buyer is told by email too.
    let outbox = app.outbox();
    assert!(
        app.eventually(5, || async { read_outbox(&outbox).iter().any(|(to, ..)| to == "x@example.com") }).await,
        "needs-attention email not sent"
    );
    app.stop().await;
}
