//! The Alipay channel (RSA2) against a local fake gateway: precreate QR,
//! notification forgeries, reconciliation with `alipay.trade.query`.

use crate::support;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use support::fakes::alipay::{FakeAlipay, test_keys};
use support::{Options, TestApp, order_no, placed, status_of};

async fn setup(slug: &str) -> (TestApp, FakeAlipay, String, String) {
    let fake = FakeAlipay::start("2021000117650001").await;
    let app = TestApp::spawn_with(Options { alipay_gateway: Some(fake.gateway.clone()), ..Options::default() }).await;
    let (tenant, product) = app.create_shop(slug, "live", 20).await;
    app.configure_channel(&tenant, "alipay", 1, true, &fake.credentials()).await;
    (app, fake, tenant, product)
}

#[tokio::test]
async fn alipay_precreate_shows_a_qr_code_and_a_signed_notification_delivers() {
    let (app, fake, tenant, product) = setup("ali").await;
    let order = placed(&app, "ali", &product, "alipay").await;
    let p = app.payments_of(&tenant, order_no(&order)).await.remove(0);
    let pay_url = order["pay_url"].as_str().expect("pay_url");
    let token = order["token"].as_str().expect("token");
    assert!(pay_url.ends_with(&format!("/pay/qr/{}?token={token}", p.id)), "{pay_url}");
    // The payment id alone opens nothing.
    let bare = app.client.get(pay_url.split('?').next().expect("path")).send().await.expect("qr page");
    assert_eq!(bare.status().as_u16(), 404);
    assert!(!bare.text().await.expect("html").contains(token));
    assert_eq!(p.qr_payload.as_deref(), Some(format!("https://qr.alipay.com/bax0{}", p.id).as_str()));
    assert_eq!(fake.trade(&p.id).expect("trade").total_amount, "10.00");

    let page = app.client.get(pay_url).send().await.expect("qr page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("data:image/svg+xml;base64,"), "the QR code is drawn");

    let (code, ack) = fake.pay(&p.id).await.expect("notified");
    assert_eq!((code, ack.as_str()), (200, "success"));
    assert_eq!(status_of(&app, "ali", &order).await, "delivered");
    app.stop().await;
}

#[tokio::test]
async fn alipay_forged_notifications_are_rejected() {
    let (app, fake, tenant, product) = setup("aliforge").await;
    let a = placed(&app, "aliforge", &product, "alipay").await;
    let b = placed(&app, "aliforge", &product, "alipay").await;
    let pa = app.payments_of(&tenant, order_no(&a)).await.remove(0);
    let pb = app.payments_of(&tenant, order_no(&b)).await.remove(0);
    let alipay_key = fake.inner.alipay_private.clone();
    let attacker = test_keys().2.clone();
    let valid = fake.notification(&pa.id, &alipay_key);
    let with = |k: &str, v: &str| {
        let mut f = valid.clone();
        f.insert(k.into(), v.into());
        f
    };

    let mut cases: Vec<(&str, BTreeMap<String, String>)> = vec![
        ("signed by someone else's key", fake.notification(&pa.id, &attacker)),
        ("amount changed after signing", with("total_amount", "0.01")),
        ("not signed", {
            let mut f = valid.clone();
            f.remove("sign");
            f
        }),
        ("empty signature", with("sign", "")),
        ("another app's notification", fake.sign_fields(with("app_id", "2021000000000000"), &alipay_key)),
        ("waiting for payment", fake.sign_fields(with("trade_status", "WAIT_BUYER_PAY"), &alipay_key)),
        ("closed", fake.sign_fields(with("trade_status", "TRADE_CLOSED"), &alipay_key)),
    ];
    for amount in ["10.01", "9.99", "0.00", "-10.00", "[\"10.00\"]", ""] {
        cases.push(("amount off", fake.sign_fields(with("total_amount", amount), &alipay_key)));
    }
    for (what, fields) in &cases {
        let (code, body) = fake.send(&pa.id, fields).await;
        assert_eq!(code, 400, "{what}: {body}");
    }
    // A's genuine notification replayed onto B's notify URL.
    let url_b = app.shop_url("aliforge", &format!("/api/v1/payments/{}/notify", pb.id));
    let r = app.client.post(&url_b).form(&valid).send().await.expect("replay");
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(status_of(&app, "aliforge", &a).await, "pending");
    assert_eq!(status_of(&app, "aliforge", &b).await, "pending");
    assert_eq!(app.count_keys(&tenant, "sold").await, 0);

    // The genuine one delivers; replaying it onto B afterwards still does not.
    let (code, _) = fake.send(&pa.id, &valid).await;
    assert_eq!(code, 200);
    let r = app.client.post(&url_b).form(&valid).send().await.expect("replay");
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(status_of(&app, "aliforge", &a).await, "delivered");
    assert_eq!(status_of(&app, "aliforge", &b).await, "pending");
    app.stop().await;
}

#[tokio::test]
async fn alipay_lost_notification_is_reconciled_with_trade_query() {
    let (app, fake, tenant, product) = setup("alirec").await;
    fake.faults().set(|f| f.drop_notifications = true);
    let order = placed(&app, "alirec", &product, "alipay").await;
    let p = app.payments_of(&tenant, order_no(&order)).await.remove(0);
    assert!(fake.pay(&p.id).await.is_none());
    let delivered = app.eventually(15, || async { status_of(&app, "alirec", &order).await == "delivered" }).await;
    assert!(delivered, "trade query found the payment");
    let paid = app.payments_of(&tenant, order_no(&order)).await.remove(0);
    assert_eq!(paid.provider_ref, fake.trade(&p.id).map(|t| t.trade_no));
    app.stop().await;
}

#[tokio::test]
async fn alipay_refusing_our_signature_is_a_refusal_not_an_outage() {
    let (app, fake, tenant, product) = setup("alibad").await;
    // The merchant pasted a private key that is not the one registered with Alipay.
    let wrong = {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let mut c: Value = serde_json::from_str(&fake.credentials()).expect("json");
        c["private_key"] = json!(test_keys().2.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string());
        c.to_string()
    };
    app.configure_channel(&tenant, "alipay", 1, true, &wrong).await;
    let (status, body) = app
        .order("alibad", json!({"product_id": product, "quantity": 1, "email": "a@example.com", "channel": "alipay"}))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "payment_channels_unavailable");
    let health = app.state.health.view(&tenant, "alipay").await;
    assert_eq!(health.state.as_str(), "closed", "a refusal does not open the breaker");
    assert!(health.last_error.expect("kept").0.contains("isv.invalid-signature"));
    app.stop().await;
}

#[tokio::test]
async fn a_late_payment_for_a_sold_out_product_is_refunded_in_one_click() {
    let fake = FakeAlipay::start("2021000117650002").await;
    let opts = Options { alipay_gateway: Some(fake.gateway.clone()), order_ttl_secs: 2, ..Options::default() };
    let app = TestApp::spawn_with(opts).await;
    let mut owner = support::merchant::merchant_with_shop(&app, "late@example.com", "alilate").await;
    let tenant = app.tenant_id("alilate").await;
    app.configure_channel(&tenant, "alipay", 1, true, &fake.credentials()).await;
    let product = app.add_product(&tenant, "Last key", 1000, 1).await;

    // A reserves the only key, expires unpaid; B buys it; then A's buyer pays anyway.
    let a = placed(&app, "alilate", &product, "alipay").await;
    let pa = app.payments_of(&tenant, order_no(&a)).await.remove(0);
    assert!(app.eventually(15, || async { status_of(&app, "alilate", &a).await == "expired" }).await);
    let b = placed(&app, "alilate", &product, "alipay").await;
    let pb = app.payments_of(&tenant, order_no(&b)).await.remove(0);
    fake.pay(&pb.id).await.expect("notified");
    assert_eq!(status_of(&app, "alilate", &b).await, "delivered");
    let (code, ack) = fake.pay(&pa.id).await.expect("notified");
    assert_eq!((code, ack.as_str()), (200, "success"), "the late payment is acknowledged, not lost");
    assert_eq!(status_of(&app, "alilate", &a).await, "needs_attention");

    // The owner sees a refund button on the order and uses it.
    let a_no = order_no(&a);
    let page = owner.get(&format!("/shops/alilate/orders/{a_no}")).await;
    let refund_path = format!("/shops/alilate/orders/{a_no}/payments/{}/refund", pa.id);
    assert!(
        page.body.contains(&refund_path.replace('/', "&#x2f;")) || page.body.contains(&refund_path),
        "{}",
        page.body
    );
    owner.post(&refund_path, &[]).await.expect(303);
    assert!(fake.trade(&pa.id).expect("trade").refunded, "refunded at Alipay");
    assert_eq!(status_of(&app, "alilate", &a).await, "refunded");
    let again = owner.post(&refund_path, &[]).await;
    again.expect(400);
    // A repeated notification for the refunded attempt changes nothing.
    let (code, _) = fake.send(&pa.id, &fake.notification(&pa.id, &fake.inner.alipay_private.clone())).await;
    assert_eq!(code, 200);
    assert_eq!(status_of(&app, "alilate", &a).await, "refunded");
    app.stop().await;
}
