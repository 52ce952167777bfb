//! The sandbox only works for shops in test mode.

use crate::support;

use kapu_core::entities::tenants;
use serde_json::json;
use support::{TestApp, sandbox_fields};

#[tokio::test]
async fn the_sandbox_refuses_payments_for_a_shop_in_live_mode() {
    let app = TestApp::spawn().await;
    let (tenant, product) = app.create_shop("golive", "test", 5).await;
    let (status, order) =
        app.order("golive", json!({"product_id": product, "quantity": 1, "email": "l@example.com"})).await;
    assert_eq!(status, 201);
    assert_eq!(order["test_mode"], true);
    let (no, token) = (order["order_no"].as_str().expect("no"), order["token"].as_str().expect("t"));
    let pay_url = order["pay_url"].as_str().expect("pay_url").to_string();
    let payment = app.payment_of(&tenant, no).await;

    // The merchant goes live (the sandbox is its only channel); the tenant cache is invalidated.
    app.set_tenant("golive", tenants::Column::Mode, "live").await;
    let (_, list) = app.get_json(&app.shop_url("golive", "/api/v1/products")).await;
    assert_eq!(list["test_mode"], false);

    // The sandbox page and its form refuse, and nothing changes.
    let page = app.client.get(&pay_url).send().await.expect("get");
    assert_eq!(page.status().as_u16(), 403);
    let r = app.client.post(&pay_url).form(&[("outcome", "paid")]).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 403);
    let signed = sandbox_fields(&app.master.tenant(&tenant), &payment.id, "paid", payment.amount_minor, "CNY");
    let (status, body) = app.notify("golive", &payment.id, &signed).await;
    assert_eq!(status, 403, "{body}");
    let (_, view) = app.order_view("golive", no, token).await;
    assert_eq!(view["status"], "pending");
    assert_eq!(app.count_keys(&tenant, "sold").await, 0);

    // New orders cannot pick the sandbox either: the shop has no live channel.
    let (status, body) =
        app.order("golive", json!({"product_id": product, "quantity": 1, "email": "l@example.com"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("no_payment_channel")));
    app.stop().await;
}

#[tokio::test]
async fn a_shop_in_test_mode_opens_only_with_its_preview_link_until_opened_to_everyone() {
    use support::merchant::verified_merchant;
    let app = TestApp::spawn().await;
    let mut b = verified_merchant(&app, "owner@example.com").await;
    b.post("/shops", &[("name", "Quiet"), ("slug", "quiet")]).await.expect(303);
    let tenant = app.tenant_id("quiet").await;
    let product = app.add_product(&tenant, "Real key", 1000, 3).await;
    let get = |url: String, cookie: Option<String>| {
        let mut r = app.client.get(url).header("accept-language", "en");
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        async move { r.send().await.expect("get") }
    };

    // Anyone else: a clear page, no catalog, no checkout, not indexed.
    let home = get(app.shop_url("quiet", "/"), None).await;
    assert_eq!(home.status().as_u16(), 403);
    assert_eq!(home.headers()["x-robots-tag"], "noindex, nofollow");
    let text = home.text().await.expect("html");
    assert!(text.contains("not open yet") && !text.contains("Real key"), "{text}");
    let api = get(app.shop_url("quiet", "/api/v1/products"), None).await;
    assert_eq!(api.status().as_u16(), 403);
    let body: serde_json::Value = api.json().await.expect("json");
    assert_eq!(body["error"]["code"], "shop_not_open_yet");
    let (status, _) = app.order("quiet", json!({"product_id": product, "quantity": 1, "email": "x@example.com"})).await;
    assert_eq!(status, 403);
    assert_eq!(app.count_keys(&tenant, "available").await, 3, "nothing reserved");

    // The merchant's preview link: a cookie for the shop's host, then the shop.
    let settings = b.get("/shops/quiet/settings").await;
    let link = settings.body.split("id=\"preview-url\"").next().expect("before");
    let link = link.rsplit("value=\"").next().expect("value").split('"').next().expect("link");
    let link = link.replace("&#x2f;", "/").replace("&#x3d;", "=").replace("&amp;", "&");
    assert!(link.contains("?preview="), "{link}");
    let entered = get(link.clone(), None).await;
    assert_eq!(entered.status().as_u16(), 303);
    assert_eq!(entered.headers()["location"], "/", "the token leaves the address bar");
    let cookie = entered.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_string();
    let home = get(app.shop_url("quiet", "/"), Some(cookie.clone())).await;
    assert_eq!(home.status().as_u16(), 200);
    assert!(home.text().await.expect("html").contains("Real key"));
    let r = app
        .client
        .post(app.shop_url("quiet", "/api/v1/orders"))
        .header("cookie", &cookie)
        .json(&json!({"product_id": product, "quantity": 1, "email": "tester@example.com"}))
        .send()
        .await
        .expect("order");
    assert_eq!(r.status().as_u16(), 201, "the merchant's tester buys");
    // A made-up token opens nothing.
    let forged = get(app.shop_url("quiet", "/?preview=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), None).await;
    assert_eq!(forged.status().as_u16(), 403);

    // Revoked: the old cookie and link stop working; the page shows a new one.
    b.post("/shops/quiet/preview/revoke", &[]).await.expect(303);
    assert_eq!(get(app.shop_url("quiet", "/"), Some(cookie)).await.status().as_u16(), 403);
    assert_eq!(get(link.clone(), None).await.status().as_u16(), 403);
    assert!(!b.get("/shops/quiet/settings").await.body.contains(link.split("preview=").nth(1).expect("token")));

    // Opened to everyone, deliberately: served, still not indexed.
    b.post("/shops/quiet/visibility", &[("public", "true")]).await.expect(303);
    let home = get(app.shop_url("quiet", "/"), None).await;
    assert_eq!(home.status().as_u16(), 200);
    assert_eq!(home.headers()["x-robots-tag"], "noindex, nofollow");
    let actions: Vec<String> = app.audit_of(Some(&tenant)).await.into_iter().map(|e| e.action).collect();
    assert!(
        actions.contains(&"shop.preview_revoke".to_string()) && actions.contains(&"shop.test_visibility".to_string())
    );
    // The demo shop is open to everyone from the start.
    assert_eq!(get(app.shop_url("demo", "/"), None).await.status().as_u16(), 200);
    app.stop().await;
}
