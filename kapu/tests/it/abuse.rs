//! Abuse basics: per-(shop, client) rate limit and a cap on unpaid orders.

use crate::support;

use serde_json::json;
use support::{Options, TestApp};

/// POSTs an order for one demo key as if from `ip` (behind the trusted proxy); returns the status.
async fn order_from(app: &TestApp, ip: &str, email: &str) -> u16 {
    app.client
        .post(app.url("/api/v1/orders"))
        .header("x-forwarded-for", ip)
        .json(&json!({"product_id": "video-vip-month", "quantity": 1, "email": email}))
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

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
async fn an_ipv6_client_is_capped_by_its_64_not_by_each_address() {
    let app = TestApp::spawn_with(Options {
        max_unpaid_orders: 2,
        trusted_proxies: "127.0.0.1/32".into(),
        ..Options::default()
    })
    .await;
    // One subscriber's /64 has 2^64 addresses: a new one per order changes nothing.
    assert_eq!(order_from(&app, "2001:db8:1:2::1", "a@example.com").await, 201);
    assert_eq!(order_from(&app, "2001:db8:1:2::2", "b@example.com").await, 201);
    assert_eq!(order_from(&app, "2001:db8:1:2:ffff::3", "c@example.com").await, 429);
    // The next /64 is another client.
    assert_eq!(order_from(&app, "2001:db8:1:3::1", "d@example.com").await, 201);
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
    assert_eq!(order_from(&app, "203.0.113.1", "same@example.com").await, 201);
    assert_eq!(order_from(&app, "203.0.113.2", "same@example.com").await, 201);
    assert_eq!(order_from(&app, "203.0.113.3", "same@example.com").await, 429);
    // A different buyer from yet another IP is not affected.
    assert_eq!(order_from(&app, "203.0.113.4", "other@example.com").await, 201);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unpaid_order_cap_is_exact_under_fifty_concurrent_requests() {
    let app = TestApp::spawn_with(Options {
        max_unpaid_orders: 5,
        trusted_proxies: "127.0.0.1/32".into(),
        ..Options::default()
    })
    .await;
    let fire = |ip: String, email: String| {
        let (client, url) = (app.client.clone(), app.url("/api/v1/orders"));
        tokio::spawn(async move {
            let body = json!({"product_id": "video-vip-month", "quantity": 1, "email": email});
            client.post(url).header("x-forwarded-for", ip).json(&body).send().await.expect("send").status().as_u16()
        })
    };
    // One client address, fifty buyers' emails, all at once; then one email from fifty addresses.
    let by_ip: Vec<_> = (0..50).map(|i| fire("203.0.113.9".into(), format!("ip{i}@example.com"))).collect();
    let by_email: Vec<_> = (0..50).map(|i| fire(format!("198.51.100.{}", i + 1), "same@example.com".into())).collect();
    for (what, tasks) in [("one address", by_ip), ("one email", by_email)] {
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.expect("task"));
        }
        let placed = statuses.iter().filter(|s| **s == 201).count();
        let capped = statuses.iter().filter(|s| **s == 429).count();
        assert_eq!((placed, capped), (5, 45), "{what}: {statuses:?}");
    }
    // Ten orders hold ten keys, no more.
    assert_eq!(app.stock("demo", "video-vip-month").await, 20_000 - 10);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coupons_usage_limit_is_exact_under_fifty_concurrent_orders() {
    use kapu_core::store::coupons::{NewCoupon, create_coupon_for_tenant, list_coupons_for_tenant};
    let app = TestApp::spawn_with(Options { trusted_proxies: "127.0.0.1/32".into(), ..Options::default() }).await;
    let demo = app.tenant_id("demo").await;
    let coupon = NewCoupon {
        code: "FIVE".into(),
        kind: "percent",
        value: 10,
        product_id: None,
        usage_limit: Some(5),
        expires_at: None,
    };
    create_coupon_for_tenant(app.db.writer(), &demo, &coupon).await.expect("coupon");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (client, url) = (app.client.clone(), app.url("/api/v1/orders"));
            tokio::spawn(async move {
                let body = json!({"product_id": "video-vip-month", "quantity": 1, "email": format!("c{i}@example.com"), "coupon": "five"});
                let r = client.post(url).header("x-forwarded-for", format!("192.0.2.{}", i + 1)).json(&body).send();
                let r = r.await.expect("send");
                (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap_or_default())
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("task"));
    }
    let placed = results.iter().filter(|(s, _)| *s == 201).count();
    let used_up = results.iter().filter(|(s, b)| *s == 422 && b["error"]["code"] == "coupon_used_up").count();
    assert_eq!((placed, used_up), (5, 45), "{results:?}");
    let coupons = list_coupons_for_tenant(app.db.reader(), &demo).await.expect("coupons");
    assert_eq!(coupons[0].used_count, 5);
    assert_eq!(app.stock("demo", "video-vip-month").await, 20_000 - 5, "refused orders reserve nothing");
    app.stop().await;
}

#[tokio::test]
async fn a_buyer_over_the_unpaid_cap_is_refused_before_a_lookup_password_is_hashed() {
    let app = TestApp::spawn_with(Options { max_unpaid_orders: 1, ..Options::default() }).await;
    let body =
        json!({"product_id": "win11-pro", "quantity": 1, "email": "pw@example.com", "lookup_password": "s3cret-pass"});
    let before = kapu_core::passwords::hashes_made();
    let (status, order) = app.order("demo", body.clone()).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(kapu_core::passwords::hashes_made(), before + 1, "the first order's password is hashed");
    // The same buyer again, over the cap of one unpaid order: refused, and
    // the 19 MiB hash is never made.
    for _ in 0..5 {
        let (status, refused) = app.order("demo", body.clone()).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (429, Some("too_many_unpaid_orders")), "{refused}");
    }
    assert_eq!(kapu_core::passwords::hashes_made(), before + 1, "no hash for a refused order");
    app.stop().await;
}

/// Reads from `stream` until the server closes it (or `within` passes);
/// returns how long the server took to close it, if it did.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: std::time::Duration) -> Option<std::time::Duration> {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(within.saturating_sub(started.elapsed()), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_or_idles_is_disconnected() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn_with(Options { header_read_timeout_ms: Some(700), ..Options::default() }).await;
    // Headers started and never finished (a slowloris client).
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: demo.localhost\r\nX-Slow: 1\r\n").await.expect("write");
    let closed = closed_within(&mut slow, Duration::from_secs(5)).await;
    assert!(closed.is_some_and(|t| t >= Duration::from_millis(500)), "closed after the deadline: {closed:?}");
    // A connection that never sends anything.
    let mut silent = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await.is_some(), "a silent connection is closed");
    // A kept-alive connection left idle after a request is closed too; the request itself is answered.
    let mut idle = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: demo.localhost\r\n\r\n").await.expect("write");
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)).await.is_some(),
        "an idle keep-alive connection is closed"
    );
    // A body that stops arriving: the request fails and the connection closes.
    let mut stalled = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    stalled
        .write_all(b"POST /api/v1/orders HTTP/1.1\r\nHost: demo.localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"product_id\":")
        .await
        .expect("write");
    let closed = closed_within(&mut stalled, Duration::from_secs(5)).await;
    assert!(closed.is_some_and(|t| t >= Duration::from_millis(500)), "a stalled body is cut off: {closed:?}");
    // Ordinary requests are unaffected, with bodies too.
    let r = app.client.get(app.url("/")).send().await.expect("home");
    assert_eq!(r.status().as_u16(), 200);
    let (status, _) =
        app.order("demo", json!({"product_id": "video-vip-month", "quantity": 1, "email": "ok@example.com"})).await;
    assert_eq!(status, 201);
    app.stop().await;
}

#[tokio::test]
async fn links_in_a_buyers_email_ignore_the_port_a_client_put_in_host() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant_id("demo").await;
    // The shop is named by the host; the port is the client's invention.
    let r = app
        .client
        .post(app.shop_url("demo", "/api/v1/orders"))
        .header(reqwest::header::HOST, "demo.localhost:6666")
        .json(&json!({"product_id": "video-vip-month", "quantity": 1, "email": "forged@example.com", "channel": "sandbox"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 201);
    let order: serde_json::Value = r.json().await.expect("json");
    let no = support::order_no(&order).to_string();
    let payment = app.payment_of(&tenant, &no).await;
    let fields = support::sandbox_fields(&app.keys_of("demo").await, &payment.id, "paid", payment.amount_minor, "CNY");
    assert_eq!(app.notify("demo", &payment.id, &fields).await.0, 200);
    assert!(
        app.eventually(10, || async {
            support::read_outbox(&app.outbox()).iter().any(|(to, _, _)| to == "forged@example.com")
        })
        .await
    );
    let (_, _, body) = support::read_outbox(&app.outbox())
        .into_iter()
        .find(|(to, _, _)| to == "forged@example.com")
        .expect("delivery email");
    let port = app.addr.port();
    assert!(body.contains(&format!("http://demo.localhost:{port}/orders/{no}?token=")), "{body}");
    assert!(!body.contains(":6666"), "{body}");
    // The shop's name speaks through the platform's sender, visibly.
    let senders = support::senders_in_outbox(&app.outbox(), "forged@example.com");
    assert_eq!(senders, vec![("卡铺演示店 Kapu Demo via Kapu".to_string(), "no-reply@kapu.localhost".to_string())]);
    app.stop().await;
}
