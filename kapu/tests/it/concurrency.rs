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
    // Each buyer from an address of their own (through the trusted proxy), so
    // that the checkouts really run at once: from one address they would
    // queue behind that address's unpaid-order lock.
    let app =
        TestApp::spawn_with(support::Options { trusted_proxies: "127.0.0.1/32".into(), ..Default::default() }).await;
    let tenant = app.tenant_id("demo").await;
    let product = app.add_product(&tenant, "Contended", 500, 50).await;

    let results = race_orders(&app, &product, 200, 200).await;
    let created = sold_out_race(&results, 50, 150);

    // Each reserved key belongs to exactly one order and each order holds one key.
    let keys = keys_of_product(&app, &tenant, &product).await;
    assert!(keys.iter().all(|k| k.status == "reserved"));
    assert_one_key_per_order(&keys, 50);

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
    app.count_keys_of(tenant, product, "sold").await
}

/// Holds the first available key of `product` locked in a transaction of its
/// own, as a checkout still in flight does, while a buyer orders `quantity`;
/// returns the buyer's answer once `finish` has ended that transaction.
async fn order_while_key_is_held(
    app: &TestApp,
    tenant: &str,
    product: &str,
    quantity: u32,
    finish: &str,
) -> (u16, serde_json::Value) {
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    let backend = app.db.backend();
    let holder = app.db.writer().begin().await.expect("begin");
    let held = holder
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            "SELECT id FROM card_keys WHERE tenant_id = $1 AND product_id = $2 AND status = 'available' \
             ORDER BY id LIMIT 1 FOR UPDATE",
            [tenant.into(), product.into()],
        ))
        .await
        .expect("lock the key");
    assert_eq!(held.len(), 1);
    let buyer = {
        let (client, url) = (app.client.clone(), app.shop_url("held", "/api/v1/orders"));
        let body = json!({"product_id": product, "quantity": quantity, "email": "patient@example.com"});
        tokio::spawn(async move {
            let r = client.post(url).header("accept-language", "en").json(&body).send().await.expect("send");
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap_or_default())
        })
    };
    // Until the buyer's checkout is waiting for the held key (rather than answering at once).
    let waiting = app
        .eventually(10, || async {
            let row = app
                .db
                .reader()
                .query_one_raw(Statement::from_string(
                    backend,
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                ))
                .await
                .expect("pg_stat_activity")
                .expect("row");
            row.try_get::<i64>("", "n").expect("n") > 0 || buyer.is_finished()
        })
        .await;
    assert!(waiting && !buyer.is_finished(), "the checkout waits for a key that may come back");
    holder.execute_raw(Statement::from_string(backend, finish.to_string())).await.expect("finish");
    holder.commit().await.expect("end the holder's transaction");
    buyer.await.expect("buyer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_held_by_a_checkout_that_gives_it_back_is_sold_not_refused() {
    let app = TestApp::spawn().await;
    if app.db.engine() != kapu_core::db::Engine::Postgres {
        // SQLite runs one write transaction at a time: no checkout ever sees a key another holds.
        eprintln!("PostgreSQL only: keys held by concurrent checkouts do not exist on SQLite");
        return;
    }
    let (tenant, product) = app.create_shop("held", "test", 1).await;
    // The other checkout gives the key back (it failed, e.g. its coupon was used up): the buyer gets it.
    let (status, order) = order_while_key_is_held(&app, &tenant, &product, 1, "SELECT 1").await;
    assert_eq!(status, 201, "no false 'sold out' while the last key was only held: {order}");
    // The same for an order of three when one of the three is held (the keys
    // already picked are given back while it waits).
    let three = app.add_product(&tenant, "Three left", 1000, 3).await;
    let (status, order3) = order_while_key_is_held(&app, &tenant, &three, 3, "SELECT 1").await;
    assert_eq!(status, 201, "{order3}");
    // The other checkout takes the key: only then is it sold out.
    let other = app.add_product(&tenant, "Last one", 1000, 1).await;
    let take = format!(
        "UPDATE card_keys SET status = 'reserved', order_id = (SELECT id FROM orders WHERE order_no = '{}') \
         WHERE product_id = '{other}'",
        order["order_no"].as_str().expect("order_no")
    );
    let (status, refused) = order_while_key_is_held(&app, &tenant, &other, 1, &take).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("out_of_stock")), "{refused}");
    assert_eq!(app.count_keys(&tenant, "available").await, 0);
    app.stop().await;
}

/// Checks a race for too few keys: only 201s and 409 `out_of_stock`, in
/// these numbers; returns the created orders.
fn sold_out_race(results: &[(u16, serde_json::Value)], created: usize, refused: usize) -> Vec<serde_json::Value> {
    let other: Vec<_> = results.iter().filter(|(s, _)| *s != 201 && *s != 409).take(3).collect();
    assert!(other.is_empty(), "unexpected responses: {other:?}");
    let made: Vec<_> = results.iter().filter(|(s, _)| *s == 201).map(|(_, b)| b.clone()).collect();
    let refusals: Vec<_> = results.iter().filter(|(s, _)| *s == 409).collect();
    assert_eq!((made.len(), refusals.len()), (created, refused));
    assert!(refusals.iter().all(|(_, b)| b["error"]["code"] == "out_of_stock"), "{:?}", refusals.first());
    made
}

async fn keys_of_product(app: &TestApp, tenant: &str, product: &str) -> Vec<card_keys::Model> {
    card_keys::Entity::find()
        .filter(card_keys::Column::TenantId.eq(tenant))
        .filter(card_keys::Column::ProductId.eq(product))
        .all(app.db.reader())
        .await
        .expect("keys")
}

/// Every key belongs to an order, `orders` orders in all, each holding exactly one.
fn assert_one_key_per_order(keys: &[card_keys::Model], orders: usize) {
    let per_order: HashMap<_, usize> = keys.iter().fold(HashMap::new(), |mut m, k| {
        *m.entry(k.order_id.clone().expect("held by an order")).or_default() += 1;
        m
    });
    assert_eq!(per_order.len(), orders, "no key in two orders");
    assert!(per_order.values().all(|n| *n == 1), "no order holds two keys");
}

/// Places `n` orders of one key each for `product` on the demo shop, at most
/// `in_flight` at a time, each from its own client address (through the
/// trusted proxy) and email; returns (status, body) per order.
async fn race_orders(app: &TestApp, product: &str, n: usize, in_flight: usize) -> Vec<(u16, serde_json::Value)> {
    use futures::stream::{self, StreamExt};
    stream::iter(0..n)
        .map(|i| {
            let body = json!({"product_id": product, "quantity": 1, "email": format!("racer{i}@example.com")});
            let request = app
                .client
                .post(app.shop_url("demo", "/api/v1/orders"))
                .header("x-forwarded-for", format!("10.7.{}.{}", i / 250, i % 250 + 1))
                .json(&body);
            async move {
                let r = request.send().await.expect("send");
                (r.status().as_u16(), r.json().await.unwrap_or_default())
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_concurrent_orders_for_a_thousand_keys_sell_each_key_once_and_refuse_only_when_gone() {
    let app =
        TestApp::spawn_with(support::Options { trusted_proxies: "127.0.0.1/32".into(), ..Default::default() }).await;
    let tenant = app.tenant_id("demo").await;
    // Enough keys for the allocator to spread checkouts over lanes.
    let product = app.add_product(&tenant, "Promotion", 500, 1000).await;
    let results = race_orders(&app, &product, 2000, 200).await;
    sold_out_race(&results, 1000, 1000);
    assert_eq!(app.count_keys_of(&tenant, &product, "available").await, 0, "every key went to an order");
    assert_one_key_per_order(&keys_of_product(&app, &tenant, &product).await, 1000);

    // No false "sold out" while keys remain: as many concurrent buyers as
    // keys all get one, although every checkout in flight holds keys locked.
    let exact = app.add_product(&tenant, "Exactly enough", 500, 600).await;
    let results = race_orders(&app, &exact, 600, 200).await;
    let refused: Vec<_> = results.iter().filter(|(s, _)| *s != 201).take(3).collect();
    assert!(refused.is_empty(), "a buyer was refused while keys remained: {refused:?}");
    assert_eq!(app.count_keys_of(&tenant, &exact, "available").await, 0);
    app.stop().await;
}
