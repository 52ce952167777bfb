//! Outbound webhooks against a local receiver: Standard-Webhooks signatures
//! checked with the secret shown once, event selection, retries with
//! backoff, turning a persistently failing endpoint off with an email,
//! manual redelivery, and no deliveries into Kapu's own network.

use crate::support;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use support::merchant::merchant_with_shop;
use support::{Options, TestApp, order_no, read_outbox, sandbox_fields};

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    /// Statuses to answer, in order; 200 once they run out.
    script: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> (Self, String) {
        let r = Receiver { got: Arc::default(), script: Arc::new(Mutex::new(script.iter().rev().copied().collect())) };
        let state = r.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    state.got.lock().expect("got").push((headers, body));
                    let code = state.script.lock().expect("script").pop().unwrap_or(200);
                    StatusCode::from_u16(code).expect("status")
                }
            }),
        );
        let url = support::fakes::serve(app).await;
        (r, format!("{url}/hook"))
    }

    fn bodies(&self) -> Vec<Value> {
        self.got.lock().expect("got").iter().map(|(_, b)| serde_json::from_str(b).expect("json")).collect()
    }

    fn count(&self) -> usize {
        self.got.lock().expect("got").len()
    }
}

fn verify(secret: &str, headers: &HeaderMap, body: &str) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("whsec_")).expect("base64");
    let id = headers["webhook-id"].to_str().expect("id");
    let ts = headers["webhook-timestamp"].to_str().expect("ts");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    headers["webhook-signature"].to_str().expect("sig").split(' ').any(|s| s == expected)
}

async fn add_endpoint(
    b: &mut support::merchant::Browser,
    slug: &str,
    url: &str,
    events: &[&str],
) -> support::merchant::Page {
    let mut fields = vec![("url", url)];
    fields.extend(events.iter().map(|e| ("event", *e)));
    b.post(&format!("/shops/{slug}/webhooks"), &fields).await
}

/// The secret as the browser shows it (the page HTML-escapes `/`, `+`, `=`).
fn secret_in(html: &str) -> String {
    let at = html.find("id=\"webhook-secret\">").expect("secret shown") + "id=\"webhook-secret\">".len();
    html[at..at + html[at..].find('<').expect("end")]
        .replace("&#x2f;", "/")
        .replace("&#x2b;", "+")
        .replace("&#x3d;", "=")
        .replace("&#43;", "+")
        .replace("&#61;", "=")
}

async fn pay(app: &TestApp, slug: &str, tenant: &str, product: &str) -> String {
    let (status, order) = app
        .order(slug, json!({"product_id": product, "quantity": 1, "email": "buyer@example.com", "channel": "sandbox"}))
        .await;
    assert_eq!(status, 201, "{order}");
    let no = order_no(&order).to_string();
    let payment = app.payment_of(tenant, &no).await;
    let fields = sandbox_fields(&app.keys_of(slug).await, &payment.id, "paid", payment.amount_minor, "CNY");
    assert_eq!(app.notify(slug, &payment.id, &fields).await.0, 200);
    no
}

#[tokio::test]
async fn signed_events_reach_the_merchant_and_only_the_chosen_ones() {
    let app = TestApp::spawn().await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "hooks").await;
    let tenant = app.tenant_id("hooks").await;
    let product = app.add_product(&tenant, "Card", 1000, 3).await;
    let (all, all_url) = Receiver::start(&[]).await;
    let (paid_only, paid_url) = Receiver::start(&[]).await;

    let p = add_endpoint(
        &mut b,
        "hooks",
        &all_url,
        &["order.created", "order.paid", "order.delivered", "order.needs_attention", "product.low_stock"],
    )
    .await;
    p.expect(200);
    let secret = secret_in(&p.body);
    assert!(secret.starts_with("whsec_"));
    add_endpoint(&mut b, "hooks", &paid_url, &["order.paid"]).await.expect(200);
    // Shown once: not on the page afterwards, not stored in clear.
    assert!(!b.get("/shops/hooks/webhooks").await.body.contains(&secret));

    let no = pay(&app, "hooks", &tenant, &product).await;
    assert!(app.eventually(10, || async { all.count() >= 4 && paid_only.count() >= 1 }).await, "{:?}", all.bodies());
    let types: Vec<String> = all.bodies().iter().map(|v| v["type"].as_str().expect("type").to_string()).collect();
    for t in ["order.created", "order.paid", "order.delivered", "product.low_stock"] {
        assert!(types.contains(&t.to_string()), "{t}: {types:?}");
    }
    assert_eq!(paid_only.bodies().iter().map(|v| v["type"].clone()).collect::<Vec<_>>(), vec![json!("order.paid")]);
    for (headers, body) in all.got.lock().expect("got").iter() {
        assert!(verify(&secret, headers, body), "signature of {body}");
        assert!(headers["webhook-id"].to_str().expect("id").starts_with("msg_"));
        // The wrong secret does not verify; neither does a changed body.
        assert!(!verify("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", headers, body));
        assert!(!verify(&secret, headers, &format!("{body} ")));
    }
    let delivered = all.bodies().into_iter().find(|v| v["type"] == "order.delivered").expect("delivered");
    assert_eq!(delivered["data"]["order_no"], no);
    assert_eq!(delivered["data"]["amount"], "10.00");
    let low = all.bodies().into_iter().find(|v| v["type"] == "product.low_stock").expect("low stock");
    assert_eq!(low["data"]["available"], 2);
    // Keys never travel in webhooks.
    let order_id = app.order_row(&tenant, &no).await.id;
    let keys = kapu_core::store::card_keys::sold_keys_of_order_for_tenant(
        app.db.reader(),
        &app.keys_of("hooks").await,
        &tenant,
        &order_id,
    )
    .await
    .expect("keys");
    assert_eq!(keys.len(), 1);
    for k in keys {
        assert!(!all.got.lock().expect("got").iter().any(|(_, b)| b.contains(&k)));
    }
    let log = b.get("/shops/hooks/webhooks").await;
    assert!(
        log.body.contains("order.delivered") && log.body.contains(">Delivered<") && log.body.contains(">200"),
        "{}",
        log.body
    );
    app.stop().await;
}

#[tokio::test]
async fn failing_endpoints_are_retried_then_turned_off_and_redelivery_works() {
    let app = TestApp::spawn_with(Options { webhook_retry_secs: "0,0".into(), ..Default::default() }).await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "flaky").await;
    let tenant = app.tenant_id("flaky").await;
    let product = app.add_product(&tenant, "Card", 1000, 10).await;
    // One failure, then fine: delivered on the second attempt.
    let (once, once_url) = Receiver::start(&[503]).await;
    add_endpoint(&mut b, "flaky", &once_url, &["order.created"]).await.expect(200);
    // Always failing: three attempts (two retries), then turned off.
    let (down, down_url) = Receiver::start(&[500, 500, 500]).await;
    add_endpoint(&mut b, "flaky", &down_url, &["order.created"]).await.expect(200);

    let (status, _) = app
        .order(
            "flaky",
            json!({"product_id": product, "quantity": 1, "email": "buyer@example.com", "channel": "sandbox"}),
        )
        .await;
    assert_eq!(status, 201);
    assert!(
        app.eventually(10, || async { once.count() == 2 && down.count() == 3 }).await,
        "{} {}",
        once.count(),
        down.count()
    );
    assert!(
        app.eventually(10, || async {
            read_outbox(&app.outbox()).iter().any(|(to, s, _)| to == "owner@example.com" && s.contains("turned off"))
        })
        .await,
        "owner emailed"
    );
    let page = b.get("/shops/flaky/webhooks").await;
    assert!(page.body.contains("Turned off after 3 failed attempts"), "{}", page.body);
    assert!(page.body.contains(">Failed<") && page.body.contains("500"));
    let audit: Vec<String> = app.audit_of(Some(&tenant)).await.into_iter().map(|e| e.action).collect();
    assert!(audit.contains(&"webhook.disable".to_string()) && audit.contains(&"webhook.create".to_string()));
    // Nothing more is sent to a turned-off endpoint.
    app.order("flaky", json!({"product_id": product, "quantity": 1, "email": "b2@example.com", "channel": "sandbox"}))
        .await;
    assert!(app.jobs_settled(10).await);
    assert_eq!(down.count(), 3);

    // The merchant fixes it, turns it on and redelivers the failed event.
    let endpoint =
        page.body.split("data-endpoint=\"").nth(2).expect("second endpoint").split('"').next().expect("id").to_string();
    b.post(&format!("/shops/flaky/webhooks/{endpoint}/toggle"), &[("enabled", "true")]).await.expect(303);
    let failed = page
        .body
        .split("data-delivery=\"")
        .skip(1)
        .find(|row| row.contains(">Failed<"))
        .and_then(|row| row.split('"').next())
        .expect("failed delivery")
        .to_string();
    b.post(&format!("/shops/flaky/webhooks/deliveries/{failed}/redeliver"), &[]).await.expect(303);
    assert!(app.eventually(10, || async { down.count() == 4 }).await);
    let (headers, _) = down.got.lock().expect("got").last().cloned().expect("last");
    let (first, _) = down.got.lock().expect("got").first().cloned().expect("first");
    assert_eq!(headers["webhook-id"], first["webhook-id"], "a redelivery keeps its message id");
    assert_eq!(b.post("/shops/flaky/webhooks/deliveries/nope/redeliver", &[]).await.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn endpoint_urls_are_checked_and_never_reach_kapus_own_network() {
    let app = TestApp::spawn_with(Options { allow_private_gateways: false, ..Default::default() }).await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "ssrf").await;
    let tenant = app.tenant_id("ssrf").await;
    let product = app.add_product(&tenant, "Card", 1000, 5).await;
    let (inside, inside_url) = Receiver::start(&[]).await;
    for bad in ["not a url", "ftp://example.com/hook", &inside_url, "https://user:pw@example.com/hook"] {
        let p = add_endpoint(&mut b, "ssrf", bad, &["order.created"]).await;
        assert_eq!(p.status, 422, "{bad}: {}", p.body);
    }
    assert_eq!(add_endpoint(&mut b, "ssrf", "https://example.com/hook", &[]).await.status, 422, "no event chosen");
    // Loopback and private addresses are refused, however they are written.
    let port = inside_url.rsplit(':').next().and_then(|p| p.split('/').next()).expect("port");
    for inside_host in [
        format!("https://127.0.0.1:{port}/hook"),
        "https://localhost/hook".into(),
        "https://10.0.0.8/hook".into(),
        "https://[::1]/hook".into(),
        "https://169.254.169.254/latest".into(),
    ] {
        let p = add_endpoint(&mut b, "ssrf", &inside_host, &["order.created"]).await;
        assert_eq!(p.status, 422, "{inside_host}");
        assert!(p.body.contains("must be a public internet address"), "{}", p.body);
    }
    let (status, _) = app
        .order(
            "ssrf",
            json!({"product_id": product, "quantity": 1, "email": "buyer@example.com", "channel": "sandbox"}),
        )
        .await;
    assert_eq!(status, 201);
    assert!(app.jobs_settled(10).await);
    assert_eq!(inside.count(), 0);
    app.stop().await;
}

/// An endpoint that never answers in time; keeps when each request arrived.
#[derive(Clone, Default)]
struct Hanging {
    arrivals: Arc<Mutex<Vec<std::time::Instant>>>,
}

impl Hanging {
    async fn start() -> (Self, String) {
        let h = Hanging::default();
        let state = h.clone();
        let app = Router::new().route(
            "/hook",
            post(move || {
                let state = state.clone();
                async move {
                    state.arrivals.lock().expect("arrivals").push(std::time::Instant::now());
                    tokio::time::sleep(std::time::Duration::from_secs(600)).await;
                    StatusCode::OK
                }
            }),
        );
        let url = support::fakes::serve(app).await;
        (h, format!("{url}/hook"))
    }

    fn count(&self) -> usize {
        self.arrivals.lock().expect("arrivals").len()
    }

    /// The most requests that arrived within `window` of one another.
    fn most_within(&self, window: std::time::Duration) -> usize {
        let a = self.arrivals.lock().expect("arrivals").clone();
        (0..a.len()).map(|i| a[i..].iter().take_while(|t| t.duration_since(a[i]) < window).count()).max().unwrap_or(0)
    }
}

#[tokio::test]
async fn a_shop_whose_endpoint_hangs_delays_no_other_shops_expiry_email_or_webhook() {
    use std::time::{Duration, Instant};
    // Every webhook call waits out the provider timeout (1.5 s here); no retries.
    let app =
        TestApp::spawn_with(Options { order_ttl_secs: 3, webhook_retry_secs: String::new(), ..Default::default() })
            .await;
    let mut slow = merchant_with_shop(&app, "slow@example.com", "slowhook").await;
    let slow_tenant = app.tenant_id("slowhook").await;
    let (hanging, hanging_url) = Hanging::start().await;
    add_endpoint(&mut slow, "slowhook", &hanging_url, &["order.created"]).await.expect(200);
    for i in 0..50 {
        kapu_core::store::webhooks::emit_event_for_tenant(
            app.db.writer(),
            &slow_tenant,
            "order.created",
            json!({ "n": i }),
            chrono::Utc::now(),
        )
        .await
        .expect("emit");
    }
    assert!(app.eventually(5, || async { hanging.count() > 0 }).await, "the worker is on the slow shop's jobs");

    // Another shop, with an endpoint that answers at once.
    let mut quick = merchant_with_shop(&app, "quick@example.com", "quickhook").await;
    let quick_tenant = app.tenant_id("quickhook").await;
    let product = app.add_product(&quick_tenant, "Card", 1000, 5).await;
    let (receiver, receiver_url) = Receiver::start(&[]).await;
    add_endpoint(&mut quick, "quickhook", &receiver_url, &["order.created"]).await.expect(200);

    // Its webhook arrives within a second of the order.
    let placed = Instant::now();
    let (status, unpaid) = app
        .order(
            "quickhook",
            json!({"product_id": product, "quantity": 1, "email": "late@example.com", "channel": "sandbox"}),
        )
        .await;
    assert_eq!(status, 201, "{unpaid}");
    assert!(app.eventually(5, || async { receiver.count() == 1 }).await);
    let webhook_after = placed.elapsed();

    // Its delivery email goes out within a second of the payment.
    let paid_at = Instant::now();
    pay(&app, "quickhook", &quick_tenant, &product).await;
    assert!(
        app.eventually(5, || async { read_outbox(&app.outbox()).iter().any(|(to, _, _)| to == "buyer@example.com") })
            .await
    );
    let email_after = paid_at.elapsed();

    // Its unpaid order expires within a second of its time (3 s).
    let unpaid_no = order_no(&unpaid).to_string();
    assert!(
        app.eventually(10, || async { app.order_row(&quick_tenant, &unpaid_no).await.status == "expired" }).await,
        "the unpaid order expired"
    );
    let expiry_after = placed.elapsed();

    assert!(webhook_after < Duration::from_secs(1), "webhook took {webhook_after:?}");
    assert!(email_after < Duration::from_secs(1), "delivery email took {email_after:?}");
    assert!(expiry_after < Duration::from_secs(4), "expiry took {expiry_after:?} for a 3 s order");
    // Meanwhile the slow shop held no more than its share of the webhook
    // lane: two calls at a time, each waiting out the 1.5 s timeout.
    assert_eq!(hanging.most_within(Duration::from_secs(1)), 2, "calls to the slow shop's endpoint at once");
    assert!(hanging.count() < 50, "its backlog is still being worked through, two at a time");
    app.stop().await;
}

#[tokio::test]
async fn redelivery_is_queued_once_and_limited_and_endpoints_per_shop_are_capped() {
    use kapu_core::entities::jobs;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    // Each call to the hanging endpoint takes 5 s: long enough for the clicks below.
    let app = TestApp::spawn_with(Options {
        webhook_retry_secs: String::new(),
        channel_timeout_ms: 5_000,
        ..Default::default()
    })
    .await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "redo").await;
    let tenant = app.tenant_id("redo").await;
    let product = app.add_product(&tenant, "Card", 1000, 5).await;
    let (hanging, hanging_url) = Hanging::start().await;
    add_endpoint(&mut b, "redo", &hanging_url, &["order.created"]).await.expect(200);
    app.order("redo", json!({"product_id": product, "quantity": 1, "email": "b@example.com", "channel": "sandbox"}))
        .await;
    // One attempt, timed out: failed.
    assert!(app.jobs_settled(10).await);
    let page = b.get("/shops/redo/webhooks").await;
    assert!(page.body.contains(">Failed<"), "{}", page.body);
    let delivery = page
        .body
        .split("data-delivery=\"")
        .nth(1)
        .and_then(|row| row.split('"').next())
        .expect("delivery row")
        .to_string();
    let webhook_jobs = || async {
        jobs::Entity::find()
            .filter(jobs::Column::Kind.eq("deliver_webhook"))
            .count(app.db.reader())
            .await
            .expect("count")
    };
    assert_eq!(webhook_jobs().await, 1);

    // The last failure turned the endpoint off: the merchant turns it back on.
    let endpoint =
        page.body.split("data-endpoint=\"").nth(1).and_then(|row| row.split('"').next()).expect("endpoint").to_string();
    b.post(&format!("/shops/redo/webhooks/{endpoint}/toggle"), &[("enabled", "true")]).await.expect(303);
    // Twenty clicks while the attempt is pending or in flight: one more attempt.
    let path = format!("/shops/redo/webhooks/deliveries/{delivery}/redeliver");
    let first = b.post(&path, &[]).await;
    assert_eq!(first.status, 303);
    assert!(first.location.as_deref().unwrap_or_default().contains("m=redelivering"), "{:?}", first.location);
    for _ in 0..19 {
        let again = b.post(&path, &[]).await;
        assert_eq!(again.status, 303);
        let to = again.location.as_deref().unwrap_or_default();
        assert!(to.contains("m=already-queued"), "{to}");
    }
    let shown = b.get("/shops/redo/webhooks?m=already-queued").await;
    assert!(shown.body.contains("already queued"), "{}", shown.body);
    assert_eq!(webhook_jobs().await, 2, "one job per redelivery, not per click");
    // The shop's allowance (20 at once) is spent: the next click waits.
    let refused = b.post(&path, &[]).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(app.jobs_settled(10).await);
    assert_eq!(hanging.count(), 2);

    // Ten endpoints at most.
    for _ in 1..10 {
        add_endpoint(&mut b, "redo", &hanging_url, &["order.paid"]).await.expect(200);
    }
    let eleventh = add_endpoint(&mut b, "redo", &hanging_url, &["order.paid"]).await;
    assert_eq!(eleventh.status, 422);
    assert!(eleventh.body.contains("at most 10 webhook endpoints"), "{}", eleventh.body);
    app.stop().await;
}
