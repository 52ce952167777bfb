//! The WeChat Pay v3 channel against a local fake: Native QR, encrypted and
//! signed notifications (and every way to forge one), order query.

use crate::support;

use serde_json::{Value, json};
use support::fakes::alipay::test_keys;
use support::fakes::wechat::{APIV3_KEY, FakeWechat};
use support::{Options, TestApp, order_no, placed, status_of};

/// Notification headers as (name, value) pairs.
type Headers = Vec<(String, String)>;

/// A shop whose only channel is the fake provider; `opts` adds to its app.
async fn setup(slug: &str, opts: Options) -> (TestApp, FakeWechat, String, String) {
    let fake = FakeWechat::start("1900009191", "wxd678efh567hg6787").await;
    let app = TestApp::spawn_with(Options { wechatpay_base: Some(fake.base.clone()), ..opts }).await;
    let (tenant, product) = app.create_shop(slug, "live", 20).await;
    app.configure_channel(&tenant, "wechat", 1, true, &fake.credentials()).await;
    (app, fake, tenant, product)
}

#[tokio::test]
async fn wechat_native_pays_through_an_encrypted_signed_notification() {
    let (app, fake, tenant, product) = setup("wx", Options::default()).await;
    let order = placed(&app, "wx", &product, "wxpay").await;
    let p = app.payments_of(&tenant, order_no(&order)).await.remove(0);
    assert!(p.qr_payload.as_deref().expect("qr").starts_with("weixin://wxpay/bizpayurl?pr="));
    assert_eq!(fake.order(&p.id).expect("order").total, 1000, "amount in fen");
    let (code, _) = fake.pay(&p.id).await.expect("notified");
    assert_eq!(code, 200);
    assert_eq!(status_of(&app, "wx", &order).await, "delivered");
    let paid = app.payments_of(&tenant, order_no(&order)).await.remove(0);
    assert_eq!(paid.provider_ref, fake.order(&p.id).map(|o| o.transaction_id));
    app.stop().await;
}

#[tokio::test]
async fn wechat_forged_notifications_are_rejected() {
    // A is paid at the provider from the start: reconciliation asking about it
    // would rightly deliver it while the forgeries are being refused, so it
    // waits an hour here; this test is about notifications alone.
    let (app, fake, tenant, product) = setup("wxforge", Options { reconcile_secs: 3_600, ..Options::default() }).await;
    let a = placed(&app, "wxforge", &product, "wxpay").await;
    let b = placed(&app, "wxforge", &product, "wxpay").await;
    let pa = app.payments_of(&tenant, order_no(&a)).await.remove(0);
    let pb = app.payments_of(&tenant, order_no(&b)).await.remove(0);
    fake.inner.orders.lock().expect("orders").get_mut(&pa.id).expect("order").paid = true;
    let platform = fake.inner.platform_private.clone();
    let now = chrono::Utc::now().timestamp();
    let tx = fake.transaction(&pa.id);
    let with = |path: &[&str], v: Value| {
        let mut t = tx.clone();
        let mut node = &mut t;
        for p in &path[..path.len() - 1] {
            node = &mut node[*p];
        }
        node[path[path.len() - 1]] = v;
        t
    };

    let mut cases: Vec<(&str, Headers, String)> = Vec::new();
    let (h, body) = fake.notification(&tx, APIV3_KEY, &test_keys().2, now);
    cases.push(("signed by another key", h, body));
    let (h, body) = fake.notification(&tx, APIV3_KEY, &platform, now);
    cases.push(("body changed after signing", h.clone(), body.replace("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESS ")));
    let mut wrong_serial = h.clone();
    wrong_serial[3].1 = "PUB_KEY_ID_OTHER".into();
    cases.push(("unknown key serial", wrong_serial, body.clone()));
    cases.push(("no signature headers", Vec::new(), body.clone()));
    let (h, body) = fake.notification(&tx, APIV3_KEY, &platform, now - 600);
    cases.push(("ten minutes old (replayed)", h, body));
    let (h, body) = fake.notification(&tx, "ThisIsSomeoneElsesApiV3Key012345", &platform, now);
    cases.push(("encrypted with another APIv3 key", h, body));
    for (what, t) in [
        ("another merchant", with(&["mchid"], json!("1900000000"))),
        ("another app", with(&["appid"], json!("wx0000000000000000"))),
        ("not paid", with(&["trade_state"], json!("NOTPAY"))),
        ("one fen short", with(&["amount", "total"], json!(999))),
        ("one fen over", with(&["amount", "total"], json!(1001))),
        ("zero", with(&["amount", "total"], json!(0))),
        ("negative", with(&["amount", "total"], json!(-1000))),
        ("amount as a string", with(&["amount", "total"], json!("1000"))),
        ("amount as an array", with(&["amount", "total"], json!([1000]))),
        ("another currency", with(&["amount", "currency"], json!("USD"))),
        ("another order", with(&["out_trade_no"], json!(pb.id))),
    ] {
        let (h, body) = fake.notification(&t, APIV3_KEY, &platform, now);
        cases.push((what, h, body));
    }
    for (what, headers, body) in cases {
        let (code, text) = fake.send(&pa.id, &headers, body).await;
        assert_eq!(code, 400, "{what}: {text}");
    }
    // A's genuine notification sent to B's URL.
    let (h, body) = fake.notification(&tx, APIV3_KEY, &platform, now);
    let mut rb =
        app.client.post(app.shop_url("wxforge", &format!("/api/v1/payments/{}/notify", pb.id))).body(body.clone());
    for (k, v) in &h {
        rb = rb.header(k, v);
    }
    assert_eq!(rb.send().await.expect("send").status().as_u16(), 400);
    assert_eq!(status_of(&app, "wxforge", &a).await, "pending");
    assert_eq!(status_of(&app, "wxforge", &b).await, "pending");

    let (code, _) = fake.send(&pa.id, &h, body).await;
    assert_eq!(code, 200, "the genuine notification still works");
    assert_eq!(status_of(&app, "wxforge", &a).await, "delivered");
    app.stop().await;
}

#[tokio::test]
async fn wechat_lost_notification_is_reconciled_with_order_query() {
    let (app, fake, tenant, product) = setup("wxrec", Options::default()).await;
    fake.faults().set(|f| f.drop_notifications = true);
    let order = placed(&app, "wxrec", &product, "wxpay").await;
    let p = app.payments_of(&tenant, order_no(&order)).await.remove(0);
    assert!(fake.pay(&p.id).await.is_none());
    assert!(app.eventually(15, || async { status_of(&app, "wxrec", &order).await == "delivered" }).await);
    app.stop().await;
}
