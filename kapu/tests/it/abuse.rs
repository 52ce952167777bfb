//! Abuse basics: per-(shop, client) rate limit and a cap on unpaid orders.

use crate::support;

use serde_json::json;
use support::{Options, TestApp};

#[tokio::test]
async fn unpaid_orders_are_capped_per_client_ip() {
    let app = TestApp::spawn_with(Options { max_unpaid_orders: 3, ..Options::default() }).await;
    for i in 0..3 {
        let (status, _) = app
            .order(
                "demo",
                json!({"product_id": "video-vip-month", "quantity": 1, "email": format!("u{i}@example.com")}),
            )
            .await;
        assert_eq!(status, 201);
    }
    let r = app
        .client
        .post(app.url("/api/v1/orders"))
        .header("accept-language", "en")
        .json(&json!({"product_id": "video-vip-month", "quantity": 1, "email": "u9@example.com"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 429);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "too_many_unpaid_orders");
    assert!(body["error"]["message"].as_str().expect("msg").contains("3 unpaid orders"));
    // Refused orders reserve nothing: 3 keys held, not 4.
    assert_eq!(app.stock("demo", "video-vip-month").await, 20_000 - 3);
    app.stop().await;
}

#[tokio::test]
async fn unpaid_orders_are_capped_per_email_across_client_ips() {
    // Behind a trusted proxy, each request comes from its own client IP.
    let app = TestApp::spawn_with(Options {
        max_unpaid_orders: 2,
        trusted_proxies: "127.0.0.1/32".into(),
        ..Options::default()
    })
    .await;
    let send = |ip: &'static str, email: &'static str| {
        app.client
            .post(app.url("/api/v1/orders"))
            .header("x-forwarded-for", ip)
            .json(&json!({"product_id": "video-vip-month", "quantity": 1, "email": email}))
            .send()
    };
    assert_eq!(send("203.0.113.1", "same@example.com").await.expect("send").status().as_u16(), 201);
    assert_eq!(send("203.0.113.2", "same@example.com").await.expect("send").status().as_u16(), 201);
    let third = send("203.0.113.3", "same@example.com").await.expect("send");
    assert_eq!(third.status().as_u16(), 429);
    // A different buyer from yet another IP is not affected.
    assert_eq!(send("203.0.113.4", "other@example.com").await.expect("send").status().as_u16(), 201);
    // The orders recorded the forwarded client IPs.
    let tenant = app.tenant_id("demo").await;
    use kapu_core::entities::orders;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let ips: Vec<String> = orders::Entity::find()
        .filter(orders::Column::TenantId.eq(&tenant))
        .all(app.db.reader())
        .await
        .expect("orders")
        .into_iter()
        .map(|o| o.client_ip)
        .collect();
    assert!(ips.contains(&"203.0.113.4".to_string()), "{ips:?}");
    app.stop().await;
}

#[tokio::test]
async fn one_client_flooding_one_shop_is_rate_limited_while_other_shops_are_served() {
    let app =
        TestApp::spawn_with(Options { rate_limit_per_second: 1, rate_limit_burst: 5, ..Options::default() }).await;
    app.create_shop("calm", "test", 1).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(app.client.get(app.url("/api/v1/products")).send().await.expect("get"));
    }
    let limited = statuses.iter().filter(|r| r.status().as_u16() == 429).count();
    assert!(limited >= 2, "expected the burst of 5 to run out, got {limited} refusals");
    let last = statuses.pop().expect("last");
    assert!(last.headers().contains_key("retry-after"));
    let body: serde_json::Value = last.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another shop, same client: served.
    let (status, _) = app.get_json(&app.shop_url("calm", "/api/v1/products")).await;
    assert_eq!(status, 200);
    app.stop().await;
}
