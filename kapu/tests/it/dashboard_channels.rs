//! The merchant's payment-channel page: credentials saved sealed and never
//! shown back, blank secrets kept, precise errors, owner only; channel health
//! and the reconciliation log shown; the storefront uses what was saved.

use crate::support;

use kapu_core::entities::channel_configs;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use support::TestApp;
use support::fakes::epay::FakeEpay;
use support::fakes::epusdt::FakeEpusdt;
use support::merchant::{create_product, merchant_with_shop, verified_merchant};

#[tokio::test]
async fn the_owner_sets_up_channels_and_buyers_pay_through_them() {
    let app = TestApp::spawn().await;
    let epay = FakeEpay::start("4242", "the-merchant-secret-key").await;
    let usdt = FakeEpusdt::start("usdt-api-token").await;
    let mut owner = merchant_with_shop(&app, "chan@example.com", "chanshop").await;
    let page = owner.get("/shops/chanshop/channels").await;
    page.expect(200);
    assert!(page.body.contains("epay") && page.body.contains("WeChat Pay") && !page.body.contains("微信支付"));

    // A bad gateway address is refused with the field named, and nothing is saved.
    let p = owner
        .post(
            "/shops/chanshop/channels/epay",
            &[
                ("enabled", "on"),
                ("priority", "1"),
                ("gateway", "pay.example.com"),
                ("pid", "4242"),
                ("key", "k"),
                ("method_alipay", "on"),
            ],
        )
        .await;
    p.expect(422);
    assert!(p.body.contains("gateway must be an http(s) address"), "{}", p.body);
    let p = owner
        .post(
            "/shops/chanshop/channels/epay",
            &[("enabled", "on"), ("priority", "1"), ("gateway", &epay.url), ("pid", "4242"), ("method_alipay", "on")],
        )
        .await;
    p.expect(422);
    assert!(p.body.contains("key is required"));

    owner
        .post(
            "/shops/chanshop/channels/epay",
            &[
                ("enabled", "on"),
                ("priority", "1"),
                ("gateway", &epay.url),
                ("pid", "4242"),
                ("key", "the-merchant-secret-key"),
                ("method_alipay", "on"),
                ("method_wxpay", "on"),
                ("mode", "mapi"),
            ],
        )
        .await
        .expect(303);
    owner
        .post(
            "/shops/chanshop/channels/epusdt",
            &[("enabled", "on"), ("priority", "2"), ("gateway", &usdt.url), ("token", "usdt-api-token")],
        )
        .await
        .expect(303);

    // Sealed at rest; never shown back; a blank key keeps the saved one.
    let tenant = app.tenant_id("chanshop").await;
    let row = channel_configs::Entity::find()
        .filter(channel_configs::Column::TenantId.eq(&tenant))
        .filter(channel_configs::Column::Channel.eq("epay"))
        .one(app.db.reader())
        .await
        .expect("query")
        .expect("saved");
    let sealed = row.credentials_ciphertext.expect("sealed");
    assert!(!String::from_utf8_lossy(&sealed).contains("the-merchant-secret-key"));
    let page = owner.get("/shops/chanshop/channels").await;
    assert!(!page.body.contains("the-merchant-secret-key") && !page.body.contains("usdt-api-token"));
    assert!(page.body.contains(epay.url.trim_start_matches("http://")), "non-secret fields are shown back");
    owner
        .post(
            "/shops/chanshop/channels/epay",
            &[
                ("enabled", "on"),
                ("priority", "1"),
                ("gateway", &epay.url),
                ("pid", "4242"),
                ("key", ""),
                ("method_alipay", "on"),
                ("mode", "mapi"),
            ],
        )
        .await
        .expect(303);

    // Staff may not see or change channels.
    let staff = verified_merchant(&app, "chanstaff@example.com").await;
    owner.post("/shops/chanshop/team", &[("email", "chanstaff@example.com")]).await.expect(303);
    staff.get("/shops/chanshop/channels").await.expect(403);

    // A USD shop cannot go live on CNY-only channels; priced in CNY it can.
    app.set_tenant("chanshop", kapu_core::entities::tenants::Column::Currency, "USD").await;
    let p = owner.post("/shops/chanshop/mode", &[("mode", "live")]).await;
    p.expect(400);
    assert!(p.body.contains("take CNY only"), "{}", p.body);
    app.set_tenant("chanshop", kapu_core::entities::tenants::Column::Currency, "CNY").await;

    // Go live: buyers see Alipay and USDT (wxpay was unticked), pay through epay with the kept key.
    owner.post("/shops/chanshop/mode", &[("mode", "live")]).await.expect(303);
    let product = create_product(&mut owner, "chanshop", "Game card", "10").await;
    owner.import_keys(&format!("/shops/chanshop/products/{product}/keys"), "GC-1\nGC-2\n", None, "newline").await;
    assert!(app.eventually(20, || async { app.stock("chanshop", &product).await == 2 }).await);
    let product_page = app.shop_url("chanshop", &format!("/products/{product}"));
    let html = app.client.get(&product_page).send().await.expect("page").text().await.expect("html");
    assert!(
        html.contains("value=\"alipay\"") && html.contains("value=\"usdt\"") && !html.contains("value=\"wxpay\""),
        "{html}"
    );
    // The storefront caches what a shop offers; turning USDT off reaches the product page at once.
    owner
        .post("/shops/chanshop/channels/epusdt", &[("priority", "2"), ("gateway", &usdt.url), ("token", "")])
        .await
        .expect(303);
    let html = app.client.get(&product_page).send().await.expect("page").text().await.expect("html");
    assert!(html.contains("value=\"alipay\"") && !html.contains("value=\"usdt\""), "{html}");
    let (status, order) = app
        .order("chanshop", json!({"product_id": product, "quantity": 1, "email": "b@example.com", "channel": "alipay"}))
        .await;
    assert_eq!(status, 201, "{order}");
    let p = app.payments_of(&tenant, order["order_no"].as_str().expect("no")).await.remove(0);
    let (code, _) = epay.pay(&p.id).await.expect("notified");
    assert_eq!(code, 200);

    // Health is shown.
    let page = owner.get("/shops/chanshop/channels").await;
    assert!(page.body.contains("Success 100.0%"), "{}", page.body);
    app.stop().await;
}
