//! The whole path a buyer takes, over HTTP on loopback.

use crate::support;

use serde_json::json;
use support::{TestApp, read_outbox};

#[tokio::test]
async fn buyer_orders_pays_in_the_sandbox_and_gets_keys_by_api_and_email() {
    let app = TestApp::spawn().await;

    let (status, list) = app.get_json(&app.url("/api/v1/products")).await;
    assert_eq!(status, 200);
    assert_eq!(list["test_mode"], true);
    let steam = list["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["id"] == "steam-wallet-50")
        .expect("demo product");
    assert_eq!(steam["stock"], 3);
    assert_eq!(steam["price"], "48.50");
    assert_eq!(steam["price_minor"], 4850);

    let (status, order) =
        app.order("demo", json!({"product_id": "steam-wallet-50", "quantity": 2, "email": "buyer@example.com"})).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "pending");
    assert_eq!(order["amount"], "97.00");
    assert_eq!(order["amount_minor"], 9700);
    assert_eq!(order["currency"], "CNY");
    let pay_url = order["pay_url"].as_str().expect("pay_url");
    assert!(pay_url.starts_with(&app.url("/pay/sandbox/")), "{pay_url}");
    assert!(chrono::DateTime::parse_from_rfc3339(order["expires_at"].as_str().expect("expires_at")).is_ok());
    let (order_no, token) = (order["order_no"].as_str().expect("no"), order["token"].as_str().expect("token"));
    // Reserved keys leave the stock.
    assert_eq!(app.stock("demo", "steam-wallet-50").await, 1);

    // The sandbox page is marked TEST MODE.
    let page = app.client.get(pay_url).send().await.expect("get").text().await.expect("html");
    assert!(page.contains("TEST MODE"));
    // It opens with the order's token only: the payment id alone, or with
    // another token, neither shows the page (nor the token) nor pays.
    let bare = pay_url.split('?').next().expect("path").to_string();
    for url in [bare.clone(), format!("{bare}?token=0000"), format!("{bare}?token=")] {
        let r = app.client.get(&url).send().await.expect("get");
        assert_eq!(r.status().as_u16(), 404, "{url}");
        assert!(!r.text().await.expect("html").contains(token));
        let r = app.client.post(&url).form(&[("outcome", "paid")]).send().await.expect("post");
        assert_eq!(r.status().as_u16(), 404, "{url}");
    }
    let (_, view) = app.order_view("demo", order_no, token).await;
    assert_eq!(view["status"], "pending", "nothing was paid without the token");

    // Pending: no keys yet.
    let (_, view) = app.order_view("demo", order_no, token).await;
    assert_eq!(view["status"], "pending");
    assert!(view.get("keys").is_none());

    // Pay: 303 to the order page, and by then the order is delivered.
    let resp = app.client.post(pay_url).form(&[("outcome", "paid")]).send().await.expect("pay");
    assert_eq!(resp.status().as_u16(), 303);
    let location = resp.headers()["location"].to_str().expect("location").to_string();
    assert_eq!(location, format!("/orders/{order_no}?token={token}"));
    let (status, view) = app.order_view("demo", order_no, token).await;
    assert_eq!(status, 200);
    assert_eq!(view["status"], "delivered");
    let keys: Vec<String> = serde_json::from_value(view["keys"].clone()).expect("keys");
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.starts_with("DEMO-STEAM-")));
    assert_ne!(keys[0], keys[1]);

    // The HTML order page shows the keys.
    let html = app.client.get(app.url(&location)).send().await.expect("get");
    assert_eq!(html.headers()["referrer-policy"], "no-referrer");
    let html = html.text().await.expect("html");
    assert!(keys.iter().all(|k| html.contains(k.as_str())));

    // Paying again changes nothing.
    let again = app.client.post(pay_url).form(&[("outcome", "paid")]).send().await.expect("pay");
    assert_eq!(again.status().as_u16(), 303);
    let (_, view2) = app.order_view("demo", order_no, token).await;
    assert_eq!(view2["keys"], view["keys"]);

    // The email arrives in the outbox with the keys.
    let outbox = app.outbox();
    assert!(app.eventually(5, || async { !read_outbox(&outbox).is_empty() }).await, "no email in the outbox");
    let mails = read_outbox(&outbox);
    assert_eq!(mails.len(), 1, "exactly one delivery email");
    let (to, subject, body) = &mails[0];
    assert_eq!(to, "buyer@example.com");
    assert!(subject.contains(order_no), "{subject}");
    assert!(keys.iter().all(|k| body.contains(k.as_str())), "{body}");
    // Written for an email: it opens by saying the order is delivered, not
    // with the web page's "…also emailed to you".
    assert!(body.trim_start().starts_with("您的订单已发货"), "{body}");
    assert!(!body.contains("已发送到您的邮箱"), "{body}");
    // Chinese lines take full-width punctuation.
    assert!(body.contains(&format!("订单号：{order_no}")) && body.contains("金额："), "{body}");
    assert!(!body.contains("订单号:") && !body.contains("金额:"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_failed_sandbox_payment_leaves_the_order_pending_and_a_retry_delivers() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant_id("demo").await;
    let (_, order) =
        app.order("demo", json!({"product_id": "win11-pro", "quantity": 1, "email": "b@example.com"})).await;
    let pay_url = order["pay_url"].as_str().expect("pay_url");
    let (order_no, token) = (order["order_no"].as_str().expect("no"), order["token"].as_str().expect("token"));

    let r = app.client.post(pay_url).form(&[("outcome", "failed")]).send().await.expect("fail");
    assert_eq!(r.status().as_u16(), 303);
    let (_, view) = app.order_view("demo", order_no, token).await;
    assert_eq!(view["status"], "pending");
    assert_eq!(app.payment_of(&tenant, order_no).await.status, "failed");
    // The order page says the attempt failed and offers to pay again, in the buyer's language.
    let page = |lang: &'static str| {
        let (app, url) = (&app, app.url(&format!("/orders/{order_no}?token={token}")));
        async move {
            let r = app.client.get(url).header("accept-language", lang).send().await.expect("order page");
            r.text().await.expect("html")
        }
    };
    let zh = page("zh-CN").await;
    assert!(
        zh.contains("class=\"notice pay-failed\"") && zh.contains("上次付款未成功") && zh.contains("重新付款"),
        "{zh}"
    );
    assert!(page("en").await.contains("Your last payment did not go through"));

    // A form without a valid outcome is refused and changes nothing.
    let r = app.client.post(pay_url).form(&[("outcome", "maybe")]).send().await.expect("bad");
    assert_eq!(r.status().as_u16(), 400);

    // The failed attempt can still be paid (the buyer retried at the provider).
    let r = app.client.post(pay_url).form(&[("outcome", "paid")]).send().await.expect("pay");
    assert_eq!(r.status().as_u16(), 303);
    let (_, view) = app.order_view("demo", order_no, token).await;
    assert_eq!(view["status"], "delivered");
    assert!(!page("en").await.contains("pay-failed"), "a delivered order has no failed-payment notice");
    app.stop().await;
}

#[tokio::test]
async fn wrong_or_missing_tokens_look_exactly_like_missing_orders() {
    let app = TestApp::spawn().await;
    let (_, order) =
        app.order("demo", json!({"product_id": "win11-pro", "quantity": 1, "email": "c@example.com"})).await;
    let order_no = order["order_no"].as_str().expect("no");
    let missing = app.get_json(&app.url("/api/v1/orders/20260101123")).await;
    for url in [
        app.url(&format!("/api/v1/orders/{order_no}")),
        app.url(&format!("/api/v1/orders/{order_no}?token=")),
        app.url(&format!("/api/v1/orders/{order_no}?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
        app.url("/api/v1/orders/20260101123?token=x"),
    ] {
        let (status, body) = app.get_json(&url).await;
        assert_eq!(status, 404, "{url}");
        assert_eq!(body["error"]["code"], "order_not_found");
        assert_eq!(body, missing.1);
    }
    app.stop().await;
}
