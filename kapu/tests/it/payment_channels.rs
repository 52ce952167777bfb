//! Real channels against local fake providers: epay and epusdt happy paths,
//! forgeries and replays, duplicate notifications, failover with circuit
//! breakers, all channels down, and reconciliation of lost notifications.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use kapu_core::entities::{payment_checks, payments};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use support::fakes::epay::FakeEpay;
use support::fakes::epusdt::FakeEpusdt;
use support::{Options, TestApp, order_no, place_order, status_of};

/// A live shop with epay first and epusdt second; returns (tenant, product).
async fn live_shop(app: &TestApp, slug: &str, epay: &FakeEpay, usdt: &FakeEpusdt) -> (String, String) {
    let (tenant, product) = app.create_shop(slug, "live", 50).await;
    app.configure_channel(&tenant, "epay", 1, true, &epay.credentials()).await;
    app.configure_channel(&tenant, "epusdt", 2, true, &usdt.credentials()).await;
    (tenant, product)
}

/// Reconciliation log lines of a shop with `outcome`.
async fn checks_of(app: &TestApp, tenant: &str, outcome: &str) -> usize {
    payment_checks::Entity::find()
        .filter(payment_checks::Column::TenantId.eq(tenant))
        .filter(payment_checks::Column::Outcome.eq(outcome))
        .all(app.db.reader())
        .await
        .expect("checks")
        .len()
}

fn no_and_token(order: &Value) -> (String, String) {
    (order_no(order).into(), order["token"].as_str().expect("token").into())
}

#[tokio::test]
async fn epay_happy_path_confirms_with_the_gateway_before_delivering() {
    let app = TestApp::spawn().await;
    let (epay, usdt) = (FakeEpay::start("1001", "epay-merchant-key").await, FakeEpusdt::start("usdt-token").await);
    let (tenant, product) = live_shop(&app, "ep", &epay, &usdt).await;

    // The product page offers the methods of both channels, not the sandbox (live shop).
    let page = app.client.get(app.shop_url("ep", &format!("/products/{product}"))).send().await.expect("page");
    let html = page.text().await.expect("html");
    assert!(html.contains("value=\"alipay\"") && html.contains("value=\"usdt\""), "{html}");
    assert!(!html.contains("value=\"sandbox\""));

    let (status, order) = place_order(&app, "ep", &product, Some("alipay")).await;
    assert_eq!(status, 201, "{order}");
    assert!(order["pay_url"].as_str().expect("pay_url").starts_with("https://fake-epay.invalid/pay/"));
    let (no, _) = no_and_token(&order);
    let attempts = app.payments_of(&tenant, &no).await;
    assert_eq!(attempts.len(), 1);
    let p = &attempts[0];
    assert_eq!((p.channel.as_str(), p.status.as_str(), p.calls), ("epay", "created", 1));
    let at_gateway = epay.order(&p.id).expect("gateway knows the attempt");
    assert_eq!(at_gateway.params["money"], "10.00");
    assert_eq!(at_gateway.params["type"], "alipay");
    assert!(at_gateway.params["notify_url"].ends_with(&format!("/api/v1/payments/{}/notify", p.id)));

    let queries_before = epay.inner.query_calls.load(std::sync::atomic::Ordering::SeqCst);
    let (code, ack) = epay.pay(&p.id).await.expect("notified");
    assert_eq!((code, ack.as_str()), (200, "success"));
    assert!(
        epay.inner.query_calls.load(std::sync::atomic::Ordering::SeqCst) > queries_before,
        "the gateway was asked before the order was marked paid"
    );
    assert_eq!(status_of(&app, "ep", &order).await, "delivered");
    let paid = &app.payments_of(&tenant, &no).await[0];
    assert_eq!(paid.status, "succeeded");
    assert_eq!(paid.provider_ref.as_deref(), Some(at_gateway.trade_no.as_str()));
    app.stop().await;
}

#[tokio::test]
async fn epay_forgeries_and_replays_are_rejected_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (epay, usdt) = (FakeEpay::start("1001", "epay-merchant-key").await, FakeEpusdt::start("usdt-token").await);
    let (tenant, product) = live_shop(&app, "forge", &epay, &usdt).await;
    let (_, a) = place_order(&app, "forge", &product, Some("alipay")).await;
    let (_, b) = place_order(&app, "forge", &product, Some("wxpay")).await;
    let pa = app.payments_of(&tenant, &no_and_token(&a).0).await.remove(0);
    let pb = app.payments_of(&tenant, &no_and_token(&b).0).await.remove(0);
    let valid = epay.notification(&pa.id, "epay-merchant-key");

    let mut cases: Vec<(&str, BTreeMap<String, String>)> = Vec::new();
    cases.push(("wrong key", epay.notification(&pa.id, "a-guessed-key")));
    let mut tampered = valid.clone();
    tampered.insert("money".into(), "0.01".into());
    cases.push(("amount changed after signing", tampered));
    let mut unsigned = valid.clone();
    unsigned.remove("sign");
    cases.push(("no signature", unsigned));
    let mut empty_sign = valid.clone();
    empty_sign.insert("sign".into(), String::new());
    cases.push(("empty signature", empty_sign));
    let mut other_pid = valid.clone();
    other_pid.insert("pid".into(), "2002".into());
    cases.push(("another merchant's pid, signed with the leaked key", epay.resign(other_pid)));
    for money in ["10.01", "9.99", "0", "0.00", "-10.00", "10.001", "1e1", "[10.00]", "{\"a\":1}"] {
        let mut m = valid.clone();
        m.insert("money".into(), money.into());
        cases.push(("amount off, re-signed with the leaked key", epay.resign(m)));
    }
    let mut pending = valid.clone();
    pending.insert("trade_status".into(), "WAIT_BUYER_PAY".into());
    cases.push(("not a success status", epay.resign(pending)));
    // Signed with the leaked key, but the gateway has no payment: a forgery.
    cases.push(("leaked key, order unpaid at the gateway", valid.clone()));

    for (what, fields) in &cases {
        let (code, body) = epay.send(&pa.id, fields).await;
        assert_eq!(code, 400, "{what}: {body}");
        assert!(body.contains("notification_rejected"), "{what}: {body}");
    }
    // Order A's valid notification replayed onto order B's URL.
    let notify_b = app.shop_url("forge", &format!("/api/v1/payments/{}/notify", pb.id));
    let r = app.client.get(&notify_b).query(&valid).send().await.expect("replay");
    assert_eq!(r.status().as_u16(), 400, "replay onto another order");
    // A field given twice (an array in PHP terms).
    let r =
        app.client.get(format!("{notify_b}?money=10.00&money=0.01&pid=1001")).send().await.expect("duplicate fields");
    assert_eq!(r.status().as_u16(), 400);
    // A notification for this shop's payment sent to another shop's host.
    app.create_shop("other", "live", 1).await;
    let r = app
        .client
        .get(app.shop_url("other", &format!("/api/v1/payments/{}/notify", pa.id)))
        .query(&valid)
        .send()
        .await
        .expect("cross-tenant");
    assert_eq!(r.status().as_u16(), 404);

    // An attempt whose channel Kapu does not know (say, a channel removed from the code).
    kapu_core::entities::payments::Entity::update_many()
        .col_expr(kapu_core::entities::payments::Column::Channel, sea_orm::sea_query::Expr::value("bogus"))
        .filter(kapu_core::entities::payments::Column::Id.eq(&pb.id))
        .exec(app.db.writer())
        .await
        .expect("update");
    let r =
        app.client.get(&notify_b).query(&epay.notification(&pa.id, "epay-merchant-key")).send().await.expect("unknown");
    assert_eq!(r.status().as_u16(), 400, "unknown channel");
    kapu_core::entities::payments::Entity::update_many()
        .col_expr(kapu_core::entities::payments::Column::Channel, sea_orm::sea_query::Expr::value("epay"))
        .filter(kapu_core::entities::payments::Column::Id.eq(&pb.id))
        .exec(app.db.writer())
        .await
        .expect("update");

    for o in [&a, &b] {
        assert_eq!(status_of(&app, "forge", o).await, "pending");
    }
    assert_eq!(app.count_keys(&tenant, "sold").await, 0);
    let attempts = app.payments_of(&tenant, &no_and_token(&a).0).await;
    assert_eq!(attempts[0].status, "created");

    // The real payment still goes through afterwards.
    let (code, ack) = epay.pay(&pa.id).await.expect("notified");
    assert_eq!((code, ack.as_str()), (200, "success"));
    assert_eq!(status_of(&app, "forge", &a).await, "delivered");
    // …and its notification replayed onto B (now that A's transaction is paid) is still refused.
    let r = app.client.get(&notify_b).query(&valid).send().await.expect("replay");
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(status_of(&app, "forge", &b).await, "pending");
    app.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_copies_of_one_notification_deliver_once() {
    let app = TestApp::spawn().await;
    let (epay, usdt) = (FakeEpay::start("1001", "k-dup").await, FakeEpusdt::start("t-dup").await);
    let (tenant, product) = live_shop(&app, "dup", &epay, &usdt).await;
    let (_, order) = place_order(&app, "dup", &product, None).await;
    let p = app.payments_of(&tenant, &no_and_token(&order).0).await.remove(0);
    epay.faults().set(|f| f.drop_notifications = true);
    assert!(epay.pay(&p.id).await.is_none());
    let fields = epay.notification(&p.id, "k-dup");
    let sends = (0..20).map(|_| epay.send(&p.id, &fields));
    let answers = futures::future::join_all(sends).await;
    for (code, body) in &answers {
        assert_eq!((*code, body.as_str()), (200, "success"));
    }
    assert_eq!(status_of(&app, "dup", &order).await, "delivered");
    assert_eq!(app.count_keys(&tenant, "sold").await, 1);
    let emails = kapu_core::entities::jobs::Entity::find()
        .filter(kapu_core::entities::jobs::Column::TenantId.eq(&tenant))
        .filter(kapu_core::entities::jobs::Column::Kind.eq("send_delivery_email"))
        .all(app.db.reader())
        .await
        .expect("jobs");
    assert_eq!(emails.len(), 1, "one delivery email");
    app.stop().await;
}

#[tokio::test]
async fn epusdt_pays_and_rejects_forged_notifications() {
    let app = TestApp::spawn().await;
    let (epay, usdt) = (FakeEpay::start("1001", "k").await, FakeEpusdt::start("usdt-secret").await);
    let (tenant, product) = live_shop(&app, "usdt", &epay, &usdt).await;
    let (status, order) = place_order(&app, "usdt", &product, Some("usdt")).await;
    assert_eq!(status, 201, "{order}");
    assert!(order["pay_url"].as_str().expect("url").starts_with("https://fake-epusdt.invalid/pay/checkout-counter/"));
    let p = app.payments_of(&tenant, &no_and_token(&order).0).await.remove(0);
    assert_eq!(p.channel, "epusdt");
    let trade = usdt.trade_for(&p.id).expect("trade");
    assert_eq!(trade.amount, "10", "CNY amount sent as the number that was signed");
    assert_eq!(p.provider_ref.as_deref(), Some(trade.trade_id.as_str()));

    let valid = usdt.notification(&p.id, 2, "usdt-secret");
    let mut cases: Vec<(&str, Value)> = vec![
        ("wrong token", usdt.notification(&p.id, 2, "guess")),
        ("waiting, not paid", usdt.notification(&p.id, 1, "usdt-secret")),
        ("expired", usdt.notification(&p.id, 3, "usdt-secret")),
    ];
    for amount in [json!(10.01), json!(9.99), json!(0), json!(-10), json!([10]), json!({"v": 10})] {
        let mut v = valid.clone();
        v["amount"] = amount;
        cases.push(("amount off, re-signed", usdt.signed(v, "usdt-secret")));
    }
    let mut other_trade = valid.clone();
    other_trade["trade_id"] = json!("T-someone-else");
    cases.push(("another trade", usdt.signed(other_trade, "usdt-secret")));
    let mut tampered = valid.clone();
    tampered["amount"] = json!(0.01);
    cases.push(("tampered after signing", tampered));
    for (what, body) in &cases {
        let (code, text) = usdt.send(&p.id, body).await;
        assert_eq!(code, 400, "{what}: {text}");
    }
    assert_eq!(status_of(&app, "usdt", &order).await, "pending");

    let (code, ack) = usdt.pay(&p.id).await.expect("notified");
    assert_eq!((code, ack.as_str()), (200, "ok"));
    assert_eq!(status_of(&app, "usdt", &order).await, "delivered");
    app.stop().await;
}

#[tokio::test]
async fn a_lost_notification_is_found_by_reconciliation() {
    let app = TestApp::spawn().await;
    let (epay, usdt) = (FakeEpay::start("1001", "k-rec").await, FakeEpusdt::start("t-rec").await);
    let (tenant, product) = live_shop(&app, "rec", &epay, &usdt).await;
    epay.faults().set(|f| f.drop_notifications = true);
    usdt.faults().set(|f| f.drop_notifications = true);
    let (_, by_epay) = place_order(&app, "rec", &product, Some("alipay")).await;
    let (_, by_usdt) = place_order(&app, "rec", &product, Some("usdt")).await;
    let (_, unpaid) = place_order(&app, "rec", &product, Some("alipay")).await;
    for o in [&by_epay, &by_usdt] {
        let p = app.payments_of(&tenant, &no_and_token(o).0).await.remove(0);
        let sent = if p.channel == "epay" { epay.pay(&p.id).await } else { usdt.pay(&p.id).await };
        assert!(sent.is_none(), "the notification is dropped");
    }
    let delivered = app
        .eventually(15, || async {
            status_of(&app, "rec", &by_epay).await == "delivered"
                && status_of(&app, "rec", &by_usdt).await == "delivered"
        })
        .await;
    assert!(delivered, "reconciliation delivered both orders");
    assert_eq!(status_of(&app, "rec", &unpaid).await, "pending");
    // The log line is written just after the delivery commits.
    let logged = app.eventually(10, || async { checks_of(&app, &tenant, "delivered").await == 2 }).await;
    assert!(logged, "both deliveries are in the reconciliation log");
    let unpaid_no = no_and_token(&unpaid).0;
    let asked = app.eventually(10, || async { app.payments_of(&tenant, &unpaid_no).await[0].checks >= 1 }).await;
    assert!(asked, "the unpaid attempt is asked about too");
    let unpaid_attempt = app.payments_of(&tenant, &unpaid_no).await.remove(0);
    assert_eq!(unpaid_attempt.status, "created", "and still waits while its order does");
    app.stop().await;
}

#[tokio::test]
async fn primary_down_fails_over_opens_the_breaker_and_recovers() {
    let opts = Options {
        breaker_failures: 2,
        breaker_cooldown_secs: 5,
        metrics_token: Some("scrape-token".into()),
        ..Options::default()
    };
    let app = TestApp::spawn_with(opts).await;
    let (epay, usdt) = (FakeEpay::start("1001", "k-fo").await, FakeEpusdt::start("t-fo").await);
    let (tenant, product) = live_shop(&app, "fo", &epay, &usdt).await;
    epay.faults().set(|f| f.create_status = Some(503));

    // Two orders: epay is tried (with one retry each), fails, and epusdt takes the payment.
    for _ in 0..2 {
        let (status, order) = place_order(&app, "fo", &product, None).await;
        assert_eq!(status, 201, "{order}");
        let attempts = app.payments_of(&tenant, &no_and_token(&order).0).await;
        let summary: Vec<_> = attempts.iter().map(|p| (p.channel.as_str(), p.status.as_str(), p.calls)).collect();
        assert_eq!(summary, vec![("epay", "failed", 2), ("epusdt", "created", 1)]);
        assert!(attempts[0].error.as_deref().unwrap_or_default().contains("503"), "{:?}", attempts[0].error);
        let (code, _) = usdt.pay(&attempts[1].id).await.expect("notified");
        assert_eq!(code, 200);
        assert_eq!(status_of(&app, "fo", &order).await, "delivered");
    }
    assert_eq!(epay.inner.create_calls.load(std::sync::atomic::Ordering::SeqCst), 4);

    // The breaker is open: the next order goes straight to epusdt, epay is not called.
    let (_, order) = place_order(&app, "fo", &product, None).await;
    let attempts = app.payments_of(&tenant, &no_and_token(&order).0).await;
    assert_eq!(attempts.iter().map(|p| p.channel.as_str()).collect::<Vec<_>>(), vec!["epusdt"]);
    assert_eq!(epay.inner.create_calls.load(std::sync::atomic::Ordering::SeqCst), 4);
    let health = app.state.health.view(&tenant, "epay").await;
    assert_eq!(health.state.as_str(), "open");
    // …and exported as metrics, to a scraper with the token only.
    let metrics = app.url("/internal/metrics");
    assert_eq!(app.client.get(&metrics).send().await.expect("get").status().as_u16(), 401);
    let text =
        app.client.get(&metrics).bearer_auth("scrape-token").send().await.expect("get").text().await.expect("text");
    // Fleet-wide figures: open breakers counted per channel, calls per channel, no shop label.
    assert!(text.contains("kapu_channel_breakers_open{channel=\"epay\"} 1"), "{text}");
    assert!(text.contains("kapu_channel_calls_total{channel=\"epusdt\",outcome=\"success\"} 3"), "{text}");
    assert!(text.contains("kapu_channel_calls_total{channel=\"epay\",outcome=\"failure\"} 2"), "{text}");
    assert!(!text.contains(&tenant), "no shop in a label");

    // The gateway recovers; after the cool-down one trial goes through and closes the breaker.
    epay.faults().set(|f| f.create_status = None);
    let cooled =
        app.eventually(15, || async { app.state.health.view(&tenant, "epay").await.state.as_str() == "half_open" });
    assert!(cooled.await, "the breaker lets a trial through after its cool-down");
    let (_, order) = place_order(&app, "fo", &product, None).await;
    let attempts = app.payments_of(&tenant, &no_and_token(&order).0).await;
    assert_eq!(attempts.iter().map(|p| p.channel.as_str()).collect::<Vec<_>>(), vec!["epay"]);
    assert_eq!(app.state.health.view(&tenant, "epay").await.state.as_str(), "closed");
    app.stop().await;
}

#[tokio::test]
async fn a_slow_primary_times_out_and_the_secondary_takes_the_payment() {
    let opts = Options { channel_timeout_ms: 300, channel_retries: 0, ..Options::default() };
    let app = TestApp::spawn_with(opts).await;
    let (epay, usdt) = (FakeEpay::start("1001", "k-slow").await, FakeEpusdt::start("t-slow").await);
    let (tenant, product) = live_shop(&app, "slow", &epay, &usdt).await;
    epay.faults().set(|f| f.create_delay = Some(Duration::from_secs(3)));
    let (status, order) = place_order(&app, "slow", &product, None).await;
    assert_eq!(status, 201, "{order}");
    let attempts = app.payments_of(&tenant, &no_and_token(&order).0).await;
    assert_eq!(attempts[0].channel, "epay");
    assert_eq!(attempts[0].status, "failed");
    assert!(
        attempts[0].error.as_deref().unwrap_or_default().contains("timed out")
            || attempts[0].error.as_deref().unwrap_or_default().contains("no answer"),
        "{:?}",
        attempts[0].error
    );
    assert_eq!(attempts[1].channel, "epusdt");
    app.stop().await;
}

#[tokio::test]
async fn all_channels_down_gives_a_clear_error_and_releases_the_order() {
    let app = TestApp::spawn().await;
    let (epay, usdt) = (FakeEpay::start("1001", "k-down").await, FakeEpusdt::start("t-down").await);
    let (tenant, product) = live_shop(&app, "down", &epay, &usdt).await;
    epay.faults().set(|f| f.create_status = Some(502));
    usdt.faults().set(|f| f.create_status = Some(500));
    let stock_before = app.stock("down", &product).await;
    let r = app
        .client
        .post(app.shop_url("down", "/api/v1/orders"))
        .header("accept-language", "zh-CN")
        .json(&json!({"product_id": product, "quantity": 1, "email": "buyer@example.com"}))
        .send()
        .await
        .expect("order");
    assert_eq!(r.status().as_u16(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "payment_channels_unavailable");
    assert_eq!(body["error"]["message"], "支付通道暂时不可用，请稍后重试或更换支付方式。");
    assert_eq!(app.stock("down", &product).await, stock_before, "nothing stays reserved");
    assert_eq!(app.count_keys(&tenant, "reserved").await, 0);

    // A method nobody offers is a different, precise error.
    let (status, body) = place_order(&app, "down", &product, Some("qqpay")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "channel_not_offered");
    app.stop().await;
}

#[tokio::test]
async fn reconciliation_takes_one_last_look_after_expiry_then_stops() {
    let app = TestApp::spawn_with(Options { order_ttl_secs: 2, ..Options::default() }).await;
    let (epay, usdt) = (FakeEpay::start("1001", "k-last").await, FakeEpusdt::start("t-last").await);
    let (tenant, product) = live_shop(&app, "last", &epay, &usdt).await;
    let (_, order) = place_order(&app, "last", &product, Some("alipay")).await;
    let (no, _) = no_and_token(&order);
    let closed = app.eventually(20, || async { app.payments_of(&tenant, &no).await[0].status == "failed" }).await;
    assert!(closed, "the attempt stops waiting after the order expired");
    let p = app.payments_of(&tenant, &no).await.remove(0);
    assert!(p.error.as_deref().unwrap_or_default().contains("still unpaid"), "{:?}", p.error);
    assert!(
        p.checked_at.expect("checked") >= app.order_row(&tenant, &no).await.expires_at,
        "the last look came after expiry"
    );
    assert!(app.eventually(10, || async { checks_of(&app, &tenant, "unpaid").await == 1 }).await, "one 'unpaid' line");
    // However long ago its last check was, a closed attempt is not asked about again.
    let checks = p.checks;
    payments::Entity::update_many()
        .col_expr(payments::Column::CheckedAt, Expr::value(chrono::Utc::now() - chrono::Duration::hours(1)))
        .filter(payments::Column::Id.eq(&p.id))
        .exec(app.db.writer())
        .await
        .expect("age the last check");
    kapu_runtime::payments::reconcile::reconcile_due(&app.state).await.expect("sweep");
    assert_eq!(app.payments_of(&tenant, &no).await[0].checks, checks, "no more checks");

    // The buyer pays anyway, later: the notification still delivers (stock remains).
    let (code, _) = epay.pay(&p.id).await.expect("notified");
    assert_eq!(code, 200);
    assert_eq!(status_of(&app, "last", &order).await, "delivered");
    app.stop().await;
}

#[tokio::test]
async fn a_merchant_gateway_inside_the_platform_network_is_never_called() {
    // Production setting: merchant-chosen gateways must be public addresses.
    let app = TestApp::spawn_with(Options { allow_private_gateways: false, ..Options::default() }).await;
    let (epay, usdt) = (FakeEpay::start("1001", "k-ssrf").await, FakeEpusdt::start("t-ssrf").await);
    let (_, product) = live_shop(&app, "ssrf", &epay, &usdt).await;
    let (status, body) = place_order(&app, "ssrf", &product, None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(epay.inner.create_calls.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing was sent to 127.0.0.1");
    assert_eq!(usdt.inner.create_calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    app.stop().await;
}
