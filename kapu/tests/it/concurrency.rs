//! No key sold twice: 200 buyers race for 50 keys, then every payment
//! notification arrives five times at once.

use crate::support;

use std::collections::{HashMap, HashSet};

use futures::future::join_all;
use kapu_core::entities::{card_keys, jobs};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use support::{TestApp, sandbox_fields};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_orders_for_fifty_keys_then_five_fold_notifications() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant_id("demo").await;
    let product = app.add_product(&tenant, "Contended", 500, 50).await;

    let attempts = (0..200).map(|i| {
        let body = json!({"product_id": product, "quantity": 1, "email": format!("buyer{i}@example.com")});
        let app = &app;
        async move { app.order("demo", body).await }
    });
    let results = join_all(attempts).await;
    let created: Vec<_> = results.iter().filter(|(s, _)| *s == 201).map(|(_, b)| b.clone()).collect();
    let refused: Vec<_> = results.iter().filter(|(s, _)| *s == 409).collect();
    let other: Vec<_> = results.iter().filter(|(s, _)| *s != 201 && *s != 409).collect();
    assert!(other.is_empty(), "unexpected responses: {other:?}");
    assert_eq!(created.len(), 50);
    assert_eq!(refused.len(), 150);
    assert!(refused.iter().all(|(_, b)| b["error"]["code"] == "out_of_stock"));

    // Each reserved key belongs to exactly one order and each order holds one key.
    let keys = card_keys::Entity::find()
        .filter(card_keys::Column::TenantId.eq(&tenant))
        .filter(card_keys::Column::ProductId.eq(&product))
        .all(app.db.reader())
        .await
        .expect("keys");
    assert!(keys.iter().all(|k| k.status == "reserved"));
    let per_order: HashMap<_, usize> = keys.iter().fold(HashMap::new(), |mut m, k| {
        *m.entry(k.order_id.clone().expect("order")).or_default() += 1;
        m
    });
    assert_eq!(per_order.len(), 50);
    assert!(per_order.values().all(|n| *n == 1));

    // Pay all 50, each notification sent 5 times concurrently.
    let tk = app.master.tenant(&tenant);
    let mut sends = Vec::new();
    for order in &created {
        let payment = app.payment_of(&tenant, order["order_no"].as_str().expect("no")).await;
        let fields = sandbox_fields(&tk, &payment.id, "paid", payment.amount_minor, &payment.currency);
        for _ in 0..5 {
            let (app, pid, fields) = (&app, payment.id.clone(), fields.clone());
            sends.push(async move { app.notify("demo", &pid, &fields).await });
        }
    }
    let acks = join_all(sends).await;
    assert!(acks.iter().all(|(s, body)| *s == 200 && body == "success"), "{acks:?}");

    let mut seen_keys = HashSet::new();
    for order in &created {
        let (_, view) =
            app.order_view("demo", order["order_no"].as_str().expect("no"), order["token"].as_str().expect("t")).await;
        assert_eq!(view["status"], "delivered");
        let keys = view["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 1);
        assert!(seen_keys.insert(keys[0].as_str().expect("key").to_string()), "a key was delivered twice");
    }
    assert_eq!(seen_keys.len(), 50);
    assert_eq!(count_sold_for(&app, &tenant, &product).await, 50);

    // One delivery email job per order, not one per notification.
    let email_jobs = jobs::Entity::find()
        .filter(jobs::Column::Kind.eq("send_delivery_email"))
        .count(app.db.reader())
        .await
        .expect("count");
    assert_eq!(email_jobs, 50);
    app.stop().await;
}

async fn count_sold_for(app: &TestApp, tenant: &str, product: &str) -> u64 {
    card_keys::Entity::find()
        .filter(card_keys::Column::TenantId.eq(tenant))
        .filter(card_keys::Column::ProductId.eq(product))
        .filter(card_keys::Column::Status.eq("sold"))
        .count(app.db.reader())
        .await
        .expect("count")
}
