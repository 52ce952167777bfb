//! Money first under pressure: while a flood of page views from many
//! addresses holds a shop at its plan's cap, buyers still buy, pay and open
//! their keys, every payment notification is accepted, the flood is refused
//! cheaply, and other shops do not notice.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use sea_orm::EntityTrait;
use serde_json::{Value, json};
use support::{Options, TestApp, sandbox_fields};

const PRODUCT: &str = "video-vip-month";

/// Places an order on the demo shop from `ip` (behind the trusted proxy).
async fn order_from(app: &TestApp, ip: &str, email: &str) -> (u16, Value) {
    let r = app
        .client
        .post(app.url("/api/v1/orders"))
        .header("x-forwarded-for", ip)
        .json(&json!({"product_id": PRODUCT, "quantity": 1, "email": email}))
        .send()
        .await
        .expect("send");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_shop_keeps_selling_and_accepts_every_payment_notification() {
    let app = TestApp::spawn_with(Options {
        plan_rps_caps: true,
        trusted_proxies: "127.0.0.1/32".into(),
        ..Options::default()
    })
    .await;
    // The demo shop is on the free plan: 50 requests a second for the whole shop.
    let plan = kapu_core::entities::plans::Entity::find_by_id("free").one(app.db.reader()).await.expect("db");
    assert_eq!(plan.expect("free plan").storefront_rps, Some(50));
    app.create_shop("calm", "test", 5).await;
    let demo = app.tenant_id("demo").await;
    let keys = app.keys_of("demo").await;

    // Orders placed before the promotion, to be paid while it runs.
    let mut waiting = Vec::new();
    for i in 0..5 {
        let (status, order) =
            order_from(&app, &format!("198.51.100.{}", 10 + i), &format!("early{i}@example.com")).await;
        assert_eq!(status, 201, "{order}");
        waiting.push(order);
    }

    // The flood: eight clients, each request from another address, browsing as fast as they can.
    let stop = Arc::new(AtomicBool::new(false));
    let flood_started = std::time::Instant::now();
    let (served, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut flood = Vec::new();
    for worker in 0..8u32 {
        let (client, url, stop, served, refused) =
            (app.client.clone(), app.url("/"), stop.clone(), served.clone(), refused.clone());
        flood.push(tokio::spawn(async move {
            let mut n = 0u32;
            let mut refusal = None;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let ip = format!("10.{}.{}.{}", worker, (n / 250) % 250, n % 250 + 1);
                let sent = std::time::Instant::now();
                let Ok(r) = client.get(&url).header("x-forwarded-for", ip).send().await else { continue };
                if r.status().as_u16() == 429 {
                    refused.fetch_add(1, Ordering::Relaxed);
                    let retry_after = r.headers().get("retry-after").is_some();
                    refusal = Some((retry_after, r.text().await.unwrap_or_default(), sent.elapsed()));
                } else {
                    served.fetch_add(1, Ordering::Relaxed);
                }
            }
            refusal
        }));
    }
    let saturated = app.eventually(10, || async { refused.load(Ordering::Relaxed) >= 20 }).await;
    assert!(saturated, "the flood reached the shop's cap");

    // Every notification sent during the flood is accepted and delivers.
    for order in &waiting {
        let no = order["order_no"].as_str().expect("no");
        let payment = app.payment_of(&demo, no).await;
        let fields = sandbox_fields(&keys, &payment.id, "paid", payment.amount_minor, "CNY");
        let (status, body) = app.notify("demo", &payment.id, &fields).await;
        assert_eq!(status, 200, "notification of {no} during the flood: {body}");
        assert_eq!(app.order_row(&demo, no).await.status, "delivered");
    }

    // A buyer from another address buys five times in a row: order, pay, keys on the order page.
    for i in 0..5 {
        let (status, order) = order_from(&app, "203.0.113.77", &format!("buyer{i}@example.com")).await;
        assert_eq!(status, 201, "purchase {i} during the flood: {order}");
        let pay_url = order["pay_url"].as_str().expect("pay_url");
        let paid = app
            .client
            .post(pay_url)
            .header("x-forwarded-for", "203.0.113.77")
            .form(&[("outcome", "paid")])
            .send()
            .await
            .expect("pay");
        assert_eq!(paid.status().as_u16(), 303, "payment {i} during the flood");
        let (no, token) = (order["order_no"].as_str().expect("no"), order["token"].as_str().expect("token"));
        let page = app
            .client
            .get(app.url(&format!("/orders/{no}?token={token}")))
            .header("x-forwarded-for", "203.0.113.77")
            .header("accept-language", "en")
            .send()
            .await
            .expect("order page");
        assert_eq!(page.status().as_u16(), 200, "order page {i} during the flood");
        let html = page.text().await.expect("html");
        let key = app.order_row(&demo, no).await;
        assert_eq!(key.status, "delivered");
        assert!(html.contains("DEMO-VIDEO-"), "the key is on the order page: {html}");
    }

    // Another shop on the same process is served as usual.
    for _ in 0..10 {
        assert_eq!(app.get_json(&app.shop_url("calm", "/api/v1/products")).await.0, 200);
    }

    stop.store(true, Ordering::Relaxed);
    let mut refusals = Vec::new();
    for f in flood {
        refusals.extend(f.await.expect("flood task"));
    }
    let flood_secs = flood_started.elapsed().as_secs_f64();
    let (served, refused) = (served.load(Ordering::Relaxed), refused.load(Ordering::Relaxed));
    // The cap held: at most 50 a second (plus the one-second burst) were served.
    assert!((served as f64) <= 50.0 * flood_secs + 50.0, "{served} served in {flood_secs:.1} s; {refused} refused");
    // Refusals are held half a second before they are sent (so the flood
    // slows to that pace per connection) and cheap: a small page that says
    // when to come back, not a themed one.
    let (retry_after, body, took) = refusals.pop().expect("a refusal");
    assert!(took >= std::time::Duration::from_millis(450), "a refusal took only {took:?}");
    assert!(retry_after, "429 carries Retry-After");
    assert!(body.len() < 1_024, "{} bytes: {body}", body.len());
    assert!(body.contains("请求过于频繁"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_provider_retrying_from_one_address_is_never_refused_by_the_per_client_limit() {
    // One request a second per client, with a burst of two.
    let app =
        TestApp::spawn_with(Options { rate_limit_per_second: 1, rate_limit_burst: 2, ..Options::default() }).await;
    let demo = app.tenant_id("demo").await;
    let (status, order) =
        app.order("demo", json!({"product_id": PRODUCT, "quantity": 1, "email": "r@example.com"})).await;
    assert_eq!(status, 201, "{order}");
    let no = order["order_no"].as_str().expect("no");
    // Browsing from the same address is limited by now…
    let mut browsing = Vec::new();
    for _ in 0..4 {
        browsing.push(app.get_json(&app.url("/api/v1/products")).await.0);
    }
    assert!(browsing.contains(&429), "{browsing:?}");
    // …but the provider's notification, retried ten times, is answered every time, and delivers once.
    let payment = app.payment_of(&demo, no).await;
    let fields = sandbox_fields(&app.keys_of("demo").await, &payment.id, "paid", payment.amount_minor, "CNY");
    for attempt in 0..10 {
        let (status, body) = app.notify("demo", &payment.id, &fields).await;
        assert_eq!(status, 200, "attempt {attempt}: {body}");
    }
    assert_eq!(app.order_row(&demo, no).await.status, "delivered");
    assert_eq!(app.count_keys(&demo, "sold").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_at_its_share_waits_in_its_own_queue_while_other_shops_are_served() {
    use std::time::{Duration, Instant};
    use support::fakes::epay::FakeEpay;
    // One browsing or checkout request of a shop at a time; the next waits
    // at most 400 ms for its turn.
    let opts =
        Options { shop_share: Some((1, 400)), channel_timeout_ms: 10_000, channel_retries: 0, ..Options::default() };
    let app = TestApp::spawn_with(opts).await;
    let epay = FakeEpay::start("1001", "k-share").await;
    let (busy, product) = app.create_shop("busy", "live", 5).await;
    app.configure_channel(&busy, "epay", 1, true, &epay.credentials()).await;
    let (status, first) = support::place_order(&app, "busy", &product, None).await;
    assert_eq!(status, 201, "{first}");
    epay.faults().set(|f| f.create_delay = Some(Duration::from_secs(3)));

    // A checkout whose provider takes 3 s holds the busy shop's one turn…
    let slow = support::place_order(&app, "busy", &product, None);
    let meanwhile = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        // …so the shop's next page view waits its turn, then is refused
        // with the small 429 and Retry-After…
        let started = Instant::now();
        let r = app.client.get(app.shop_url("busy", "/api/v1/products")).send().await.expect("get");
        let waited = started.elapsed();
        assert_eq!(r.status().as_u16(), 429);
        assert!(r.headers().contains_key("retry-after"));
        assert!(waited >= Duration::from_millis(350), "it waited for a turn first: {waited:?}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        // …while another shop is served at once.
        let started = Instant::now();
        let (status, _) = app.get_json(&app.shop_url("demo", "/api/v1/products")).await;
        assert_eq!(status, 200);
        assert!(started.elapsed() < Duration::from_millis(300), "{:?}", started.elapsed());
        // A buyer's own order is outside the share: served at once too.
        let started = Instant::now();
        let (no, token) = (support::order_no(&first), first["token"].as_str().expect("token"));
        let (status, _) = app.order_view("busy", no, token).await;
        assert_eq!(status, 200);
        assert!(started.elapsed() < Duration::from_millis(300), "{:?}", started.elapsed());
    };
    let ((status, order), ()) = tokio::join!(slow, meanwhile);
    assert_eq!(status, 201, "the slow checkout itself completes: {order}");
    // Its turn given back, the busy shop serves again.
    let (status, _) = app.get_json(&app.shop_url("busy", "/api/v1/products")).await;
    assert_eq!(status, 200);
    app.stop().await;
}
