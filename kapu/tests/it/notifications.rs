//! Forged or mismatched payment notifications change nothing.

use crate::support;

use serde_json::json;
use support::{TestApp, sandbox_fields};

async fn pending_order(app: &TestApp, slug: &str, product: &str) -> (String, String) {
    let (status, order) =
        app.order(slug, json!({"product_id": product, "quantity": 1, "email": "n@example.com"})).await;
    assert_eq!(status, 201, "{order}");
    (order["order_no"].as_str().expect("no").into(), order["token"].as_str().expect("t").into())
}

async fn assert_unchanged(app: &TestApp, slug: &str, tenant: &str, order_no: &str, token: &str) {
    let (_, view) = app.order_view(slug, order_no, token).await;
    assert_eq!(view["status"], "pending");
    assert_eq!(app.payment_of(tenant, order_no).await.status, "created");
    assert_eq!(app.count_keys(tenant, "sold").await, 0);
}

#[tokio::test]
async fn forged_mismatched_and_cross_tenant_notifications_change_nothing() {
    let app = TestApp::spawn().await;
    let demo = app.tenant_id("demo").await;
    let (other, other_product) = app.create_shop("other", "test", 5).await;
    let (order_no, token) = pending_order(&app, "demo", "win11-pro").await;
    let payment = app.payment_of(&demo, &order_no).await;
    let demo_keys = app.master.tenant(&demo);

    // Bad signature.
    let mut forged = sandbox_fields(&demo_keys, &payment.id, "paid", payment.amount_minor, "CNY");
    for (k, v) in forged.iter_mut() {
        if k == "sign" {
            *v = "0".repeat(64);
        }
    }
    let (status, body) = app.notify("demo", &payment.id, &forged).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("notification_rejected"));
    assert_unchanged(&app, "demo", &demo, &order_no, &token).await;

    // Correctly signed, but for a different amount.
    let cheap = sandbox_fields(&demo_keys, &payment.id, "paid", 1, "CNY");
    let (status, _) = app.notify("demo", &payment.id, &cheap).await;
    assert_eq!(status, 400);
    let wrong_currency = sandbox_fields(&demo_keys, &payment.id, "paid", payment.amount_minor, "USD");
    let (status, _) = app.notify("demo", &payment.id, &wrong_currency).await;
    assert_eq!(status, 400);
    assert_unchanged(&app, "demo", &demo, &order_no, &token).await;

    // Signed with another tenant's key.
    let other_keys = app.master.tenant(&other);
    let foreign = sandbox_fields(&other_keys, &payment.id, "paid", payment.amount_minor, "CNY");
    let (status, _) = app.notify("demo", &payment.id, &foreign).await;
    assert_eq!(status, 400);
    assert_unchanged(&app, "demo", &demo, &order_no, &token).await;

    // A valid notification for one payment sent to the URL of another.
    let (order2, token2) = pending_order(&app, "demo", "office-2021").await;
    let payment2 = app.payment_of(&demo, &order2).await;
    let (status, _) = app
        .notify("demo", &payment2.id, &sandbox_fields(&demo_keys, &payment.id, "paid", payment.amount_minor, "CNY"))
        .await;
    assert_eq!(status, 400);
    assert_unchanged(&app, "demo", &demo, &order_no, &token).await;
    assert_unchanged(&app, "demo", &demo, &order2, &token2).await;

    // Naming another tenant's payment on this tenant's host: not found, nothing changes.
    let (other_no, other_token) = pending_order(&app, "other", &other_product).await;
    let other_payment = app.payment_of(&other, &other_no).await;
    let signed_by_other = sandbox_fields(&other_keys, &other_payment.id, "paid", other_payment.amount_minor, "CNY");
    let (status, body) = app.notify("demo", &other_payment.id, &signed_by_other).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("payment_not_found"));
    assert_unchanged(&app, "other", &other, &other_no, &other_token).await;

    // Garbage bodies are rejected too.
    let (status, _) = app.notify("demo", &payment.id, &[("hello".into(), "world".into())]).await;
    assert_eq!(status, 400);

    // And the genuine notification still works afterwards.
    let genuine = sandbox_fields(&demo_keys, &payment.id, "paid", payment.amount_minor, "CNY");
    assert_eq!(app.notify("demo", &payment.id, &genuine).await, (200, "success".into()));
    let (_, view) = app.order_view("demo", &order_no, &token).await;
    assert_eq!(view["status"], "delivered");
    app.stop().await;
}
