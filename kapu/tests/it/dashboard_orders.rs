//! Orders and settings from the dashboard: a purchase on the storefront shows
//! up in the list and detail, search and filters, CSV export, resend and
//! refund actions, staff limits, and settings that buyers see at once.

use crate::support;

use serde_json::json;
use support::merchant::{Browser, create_product, merchant_with_shop};
use support::{TestApp, read_outbox, sandbox_fields};

/// A shop with one product holding `keys` keys: (browser, product id).
async fn shop_with_stock(app: &TestApp, email: &str, slug: &str, keys: usize) -> (Browser, String) {
    let mut b = merchant_with_shop(app, email, slug).await;
    let id = create_product(&mut b, slug, "月卡 Monthly", "30").await;
    let text: String = (0..keys).map(|i| format!("{slug}-KEY-{i:04}\n")).collect();
    let p = b.import_keys(&format!("/shops/{slug}/products/{id}/keys"), &text, None, "newline").await;
    p.expect(303);
    let loc = p.location.clone().expect("loc");
    assert!(
        app.eventually(30, || {
            let b = &b;
            let loc = loc.clone();
            async move { b.get(&format!("{loc}.json")).await.body.contains("\"done\"") }
        })
        .await
    );
    (b, id)
}

/// Places and pays an order on the storefront; returns the order number.
async fn buy(app: &TestApp, slug: &str, product: &str, qty: u32, email: &str) -> String {
    let (status, order) = app.order(slug, json!({"product_id": product, "quantity": qty, "email": email})).await;
    assert_eq!(status, 201, "{order}");
    let order_no = order["order_no"].as_str().expect("no").to_string();
    let tenant = app.tenant_id(slug).await;
    let payment = app.payment_of(&tenant, &order_no).await;
    let keys = app.keys_of(slug).await;
    let fields = sandbox_fields(&keys, &payment.id, "paid", payment.amount_minor, &payment.currency);
    let (code, body) = app.notify(slug, &payment.id, &fields).await;
    assert_eq!(code, 200, "{body}");
    order_no
}

#[tokio::test]
async fn orders_appear_with_search_filters_detail_actions_and_csv() {
    let app = TestApp::spawn().await;
    let (mut b, product) = shop_with_stock(&app, "orders@example.com", "ordershop", 5).await;
    let paid = buy(&app, "ordershop", &product, 2, "alice@example.com").await;
    let (_, pending) =
        app.order("ordershop", json!({"product_id": product, "quantity": 1, "email": "bob@example.com"})).await;
    let pending_no = pending["order_no"].as_str().expect("no").to_string();

    let list = b.get("/shops/ordershop/orders").await;
    list.expect(200);
    assert!(list.body.contains(&paid) && list.body.contains(&pending_no));
    assert!(list.body.contains("2 orders"));

    let by_email = b.get("/shops/ordershop/orders?q=alice").await;
    assert!(by_email.body.contains(&paid) && !by_email.body.contains(&pending_no));
    let any_case = b.get("/shops/ordershop/orders?q=ALICE%40Example").await;
    assert!(any_case.body.contains(&paid), "search ignores case");
    let wildcard = b.get("/shops/ordershop/orders?q=%25").await;
    assert!(wildcard.body.contains("0 orders"), "a typed % is not a wildcard");
    let by_no = b.get(&format!("/shops/ordershop/orders?q={}", &pending_no[..12])).await;
    assert!(by_no.body.contains(&pending_no) && !by_no.body.contains(&paid));
    let by_status = b.get("/shops/ordershop/orders?status=delivered").await;
    assert!(by_status.body.contains(&paid) && !by_status.body.contains(&pending_no));
    let future = b.get("/shops/ordershop/orders?from=2999-01-01").await;
    assert!(future.body.contains("0 orders"));
    let bad = b.get("/shops/ordershop/orders?from=yesterday").await;
    assert!(bad.body.contains("Dates must look like"));

    // Detail: payment attempt, masked keys, the delivery email job.
    let detail = b.get(&format!("/shops/ordershop/orders/{paid}")).await;
    detail.expect(200);
    assert!(
        detail.body.contains("Sandbox (test mode only)") && detail.body.contains(">Succeeded<"),
        "payment attempt listed"
    );
    assert!(!detail.body.contains("ordershop-KEY-000"), "keys are masked");
    assert!(detail.body.contains("Delivery email"));
    assert!(!detail.body.contains("Order expiry"), "a delivered order has no expiry waiting to run");
    let pending_detail = b.get(&format!("/shops/ordershop/orders/{pending_no}")).await;
    assert!(pending_detail.body.contains("Order expiry"), "a pending order shows when it expires");
    b.get("/shops/ordershop/orders/20990101000000").await.expect(404);

    // Resend: one more delivery email to the buyer.
    let mails = |to: &str| read_outbox(&app.outbox()).iter().filter(|m| m.0 == to).count();
    assert!(app.eventually(10, || async { mails("alice@example.com") == 1 }).await);
    b.post(&format!("/shops/ordershop/orders/{paid}/resend"), &[]).await.expect(303);
    assert!(app.eventually(10, || async { mails("alice@example.com") == 2 }).await, "resent");
    b.post(&format!("/shops/ordershop/orders/{pending_no}/resend"), &[]).await.expect(400);
    // Three resends per order, then a wait: the button cannot mail a buyer
    // (or an address a stranger typed) over and over.
    for _ in 0..2 {
        b.post(&format!("/shops/ordershop/orders/{paid}/resend"), &[]).await.expect(303);
    }
    b.post(&format!("/shops/ordershop/orders/{paid}/resend"), &[]).await.expect(429);
    assert!(app.jobs_settled(10).await);
    assert_eq!(mails("alice@example.com"), 4, "the refused resend sent nothing");

    // A sale paid with simulated money is a test order: shown apart, never revenue.
    let home = b.get("/shops/ordershop").await;
    assert!(
        home.body.contains("1 test order paid with simulated payments (60.00 CNY) is not counted as revenue"),
        "{}",
        home.body
    );
    assert!(home.body.contains("Paid 0 · Created 0"), "{}", home.body);
    assert!(home.body.contains("No real sales in the last 30 days (test orders are not counted)"), "no empty chart");
    assert!(b.get("/shops/ordershop/orders").await.body.contains(">TEST<"), "marked in the list");
    // The same order paid through a real channel is revenue.
    {
        use kapu_core::entities::orders;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        orders::Entity::update_many()
            .col_expr(orders::Column::Channel, Expr::value("alipay"))
            .filter(orders::Column::OrderNo.eq(paid.as_str()))
            .exec(app.db.writer())
            .await
            .expect("relabel");
    }
    let home = b.get("/shops/ordershop").await;
    assert!(home.body.contains("60.00 CNY") && !home.body.contains("id=\"test-orders\""), "revenue of the paid order");
    assert!(!home.body.contains("id=\"no-sales\"") && home.body.contains("<svg"), "the chart, now there is a sale");
    assert!(home.body.contains("Paid 1 · Created 1"), "{}", home.body);

    // Refund: only for paid orders.
    b.post(&format!("/shops/ordershop/orders/{pending_no}/refunded"), &[]).await.expect(400);
    b.post(&format!("/shops/ordershop/orders/{paid}/refunded"), &[]).await.expect(303);
    let tenant = app.tenant_id("ordershop").await;
    assert_eq!(app.order_row(&tenant, &paid).await.status, "refunded");

    // CSV: BOM, header, both rows, filter honoured.
    let csv = b.get("/shops/ordershop/orders.csv").await;
    csv.expect(200);
    assert!(csv.body.starts_with("\u{feff}order_no,"));
    assert_eq!(csv.body.lines().count(), 3);
    assert!(csv.body.contains(&format!("{paid},")) && csv.body.contains("refunded"));
    let csv = b.get("/shops/ordershop/orders.csv?status=pending").await;
    assert_eq!(csv.body.lines().count(), 2);

    // Revenue is net of the refund (the test order stays out of it).
    let home = b.get("/shops/ordershop").await;
    assert!(home.body.contains("Paid 0 · Created 1"), "{}", home.body);
}

#[tokio::test]
async fn settings_reach_the_storefront_and_going_live_needs_a_real_channel() {
    let app = TestApp::spawn().await;
    let (mut b, product) = shop_with_stock(&app, "settings@example.com", "setshop", 2).await;
    let p = b
        .post(
            "/shops/setshop/settings",
            &[
                ("name", "新名字 New Name"),
                ("announcement", "双十一全场九折"),
                ("support_contact", "QQ 123456"),
                ("default_locale", "zh-CN"),
                ("order_ttl_minutes", "30"),
            ],
        )
        .await;
    p.expect(303);
    let home = app.client.get(app.shop_url("setshop", "/")).send().await.expect("home").text().await.expect("html");
    assert!(home.contains("新名字 New Name") && home.contains("双十一全场九折") && home.contains("QQ 123456"));
    // The shop's order expiry applies to new orders.
    let (_, order) =
        app.order("setshop", json!({"product_id": product, "quantity": 1, "email": "t@example.com"})).await;
    let tenant = app.tenant_id("setshop").await;
    let row = app.order_row(&tenant, order["order_no"].as_str().expect("no")).await;
    let minutes = (row.expires_at - row.created_at).num_minutes();
    assert!((29..=30).contains(&minutes), "{minutes}");

    // Bad values: named, nothing saved.
    let p = b
        .post(
            "/shops/setshop/settings",
            &[("name", ""), ("default_locale", "xx"), ("order_ttl_minutes", "1"), ("currency", "USD")],
        )
        .await;
    p.expect(422);
    for needle in ["1–100 characters", "default language", "5–1,440", "currency is fixed"] {
        assert!(p.body.contains(needle), "{needle}");
    }
    let home = app.client.get(app.shop_url("setshop", "/")).send().await.expect("home").text().await.expect("html");
    assert!(home.contains("新名字 New Name"));

    // Only the sandbox is connected: going live is refused with the reason.
    let settings = b.get("/shops/setshop/settings").await;
    assert!(settings.body.contains("go-live-why"));
    let p = b.post("/shops/setshop/mode", &[("mode", "live")]).await;
    p.expect(400);
    assert!(p.body.contains("real payment channel"));
    assert!(
        app.client
            .get(app.shop_url("setshop", "/"))
            .send()
            .await
            .expect("home")
            .text()
            .await
            .expect("html")
            .contains("TEST MODE")
    );
}

#[tokio::test]
async fn staff_run_the_shop_but_cannot_export_keys_or_change_settings() {
    let app = TestApp::spawn().await;
    let (mut owner, product) = shop_with_stock(&app, "boss@example.com", "teamshop", 3).await;
    let mut staff = support::merchant::verified_merchant(&app, "staff@example.com").await;
    // Before being added, the shop does not exist for them.
    staff.get("/shops/teamshop").await.expect(404);
    let p = owner.post("/shops/teamshop/team", &[("email", "nobody@example.com")]).await;
    p.expect(422);
    assert!(p.body.contains("No verified Kapu account"));
    owner.post("/shops/teamshop/team", &[("email", "Staff@Example.com")]).await.expect(303);
    owner.post("/shops/teamshop/team", &[("email", "staff@example.com")]).await.expect(409);

    staff.get("/shops/teamshop").await.expect(200);
    staff.get("/shops/teamshop/orders").await.expect(200);
    staff.get(&format!("/shops/teamshop/products/{product}/keys")).await.expect(200);
    let keys_page = staff.get(&format!("/shops/teamshop/products/{product}/keys")).await;
    assert!(!keys_page.body.contains("/keys/export"), "no export button for staff");
    let p = staff.get(&format!("/shops/teamshop/products/{product}/keys/export")).await;
    p.expect(403);
    assert!(p.body.contains("Only the shop"));
    staff.get("/shops/teamshop/settings").await.expect(403);
    staff.post("/shops/teamshop/mode", &[("mode", "test")]).await.expect(403);
    staff.get("/shops/teamshop/team").await.expect(403);

    // Removed: the shop is gone for them again; the owner cannot be removed.
    let team = owner.get("/shops/teamshop/team").await;
    let staff_id = {
        let at = team.body.find("/team/").expect("remove form");
        team.body[at + "/team/".len()..].split('/').next().expect("id").to_string()
    };
    owner.post(&format!("/shops/teamshop/team/{staff_id}/remove"), &[]).await.expect(303);
    staff.get("/shops/teamshop").await.expect(404);
    let tenant = app.tenant_id("teamshop").await;
    let owner_id = kapu_core::store::accounts::list_members_of_tenant(app.db.reader(), &tenant).await.expect("db")[0]
        .account_id
        .clone();
    owner.post(&format!("/shops/teamshop/team/{owner_id}/remove"), &[]).await.expect(404);
}

#[tokio::test]
async fn coupons_apply_at_checkout_within_their_scope_limit_and_dates() {
    let app = TestApp::spawn().await;
    let (mut b, product) = shop_with_stock(&app, "coupons@example.com", "coupshop", 6).await;
    let other = create_product(&mut b, "coupshop", "Other", "10").await;

    // Bad coupons are refused with reasons; nothing is created.
    let p = b.post("/shops/coupshop/coupons", &[("code", "X"), ("kind", "percent"), ("value", "150")]).await;
    p.expect(422);
    assert!(p.body.contains("3–32 letters") && p.body.contains("1 to 99"));
    b.post("/shops/coupshop/coupons", &[("code", "save10"), ("kind", "percent"), ("value", "10")]).await.expect(303);
    let p = b.post("/shops/coupshop/coupons", &[("code", "SAVE10"), ("kind", "fixed"), ("value", "1")]).await;
    p.expect(409);
    b.post(
        "/shops/coupshop/coupons",
        &[("code", "ONCE"), ("kind", "fixed"), ("value", "5.50"), ("product_id", &product), ("usage_limit", "1")],
    )
    .await
    .expect(303);
    b.post(
        "/shops/coupshop/coupons",
        &[("code", "OLD"), ("kind", "percent"), ("value", "50"), ("expires_on", "2020-01-01")],
    )
    .await
    .expect(303);

    let order = |coupon: &str, product: &str| {
        let body = json!({"product_id": product, "quantity": 1, "email": "c@example.com", "coupon": coupon});
        let app = &app;
        async move { app.order("coupshop", body).await }
    };
    // 10 % off 30.00, case-insensitive.
    let (status, o) = order("save10", &product).await;
    assert_eq!(status, 201, "{o}");
    assert_eq!((o["amount"].as_str(), o["discount"].as_str()), (Some("27.00"), Some("3.00")));
    let tenant = app.tenant_id("coupshop").await;
    let row = app.order_row(&tenant, o["order_no"].as_str().expect("no")).await;
    assert_eq!((row.coupon_code.as_deref(), row.discount_minor, row.amount_minor), (Some("SAVE10"), 300, 2700));
    // The payment asks for the discounted amount.
    assert_eq!(app.payment_of(&tenant, o["order_no"].as_str().expect("no")).await.amount_minor, 2700);

    for (code, prod, expected) in [
        ("NOPE", &product, "coupon_not_found"),
        ("OLD", &product, "coupon_expired"),
        ("ONCE", &other, "coupon_not_for_product"),
    ] {
        let (status, o) = order(code, prod).await;
        assert_eq!((status, o["error"]["code"].as_str()), (422, Some(expected)), "{code}: {o}");
    }
    // A limit of one admits exactly one order.
    let (s1, o1) = order("ONCE", &product).await;
    assert_eq!(s1, 201, "{o1}");
    assert_eq!(o1["amount"], "24.50");
    let (s2, o2) = order("ONCE", &product).await;
    assert_eq!((s2, o2["error"]["code"].as_str()), (422, Some("coupon_used_up")));
    assert!(o2["error"]["message"].as_str().is_some_and(|m| m.contains("used up") || m.contains("用完")));

    // The storefront form takes a coupon too, with the error on the page in the buyer's language.
    let r = app
        .client
        .post(app.shop_url("coupshop", "/checkout"))
        .header("origin", app.shop_url("coupshop", "").trim_end_matches('/'))
        .header("accept-language", "zh-CN")
        .form(&[
            ("product_id", product.as_str()),
            ("quantity", "1"),
            ("email", "d@example.com"),
            ("coupon", "nope"),
            ("channel", "sandbox"),
        ])
        .send()
        .await
        .expect("checkout");
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.expect("html").contains("优惠码不存在"));

    // The dashboard lists uses.
    let list = b.get("/shops/coupshop/coupons").await;
    assert!(list.body.contains("1 / 1"), "ONCE used once");
}

#[tokio::test]
async fn an_expired_unpaid_order_gives_its_coupon_use_back() {
    // Orders live two seconds: long enough for the second try to meet the
    // first order still pending on a loaded machine, short for the test.
    let app = TestApp::spawn_with(support::Options { order_ttl_secs: 2, ..Default::default() }).await;
    let (mut b, product) = shop_with_stock(&app, "expire@example.com", "expshop", 2).await;
    b.post("/shops/expshop/coupons", &[("code", "ONE"), ("kind", "percent"), ("value", "20"), ("usage_limit", "1")])
        .await
        .expect(303);
    let body = json!({"product_id": product, "quantity": 1, "email": "e@example.com", "coupon": "ONE"});
    let (status, first) = app.order("expshop", body.clone()).await;
    assert_eq!(status, 201);
    let first_no = first["order_no"].as_str().expect("no").to_string();
    let (status, _) = app.order("expshop", body.clone()).await;
    assert_eq!(status, 422, "the only use is held by the unpaid order");
    // Once the order expires, the use comes back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let second = loop {
        let (status, order) = app.order("expshop", body.clone()).await;
        if status == 201 {
            break order;
        }
        assert!(std::time::Instant::now() < deadline, "the coupon is usable again after the order expired: {order}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // The first order is then paid late (and delivered from stock): its use
    // counts again. The second is paid too: its order also lives two seconds,
    // so on a slow machine it may expire first and be paid late as well;
    // either way both uses count.
    let tenant = app.tenant_id("expshop").await;
    let keys = app.keys_of("expshop").await;
    for no in [first_no.as_str(), support::order_no(&second)] {
        let payment = app.payment_of(&tenant, no).await;
        let fields = sandbox_fields(&keys, &payment.id, "paid", payment.amount_minor, &payment.currency);
        assert_eq!(app.notify("expshop", &payment.id, &fields).await.0, 200);
        assert_eq!(app.order_row(&tenant, no).await.status, "delivered");
    }
    let coupons = kapu_core::store::coupons::list_coupons_for_tenant(app.db.reader(), &tenant).await.expect("db");
    assert_eq!(coupons[0].used_count, 2, "the re-used coupon's order and the late-paid one");
}

#[tokio::test]
async fn a_logo_is_checked_by_its_bytes_and_served_on_the_storefront() {
    let app = TestApp::spawn().await;
    let mut b = merchant_with_shop(&app, "logo@example.com", "logoshop").await;
    // SVG (script-capable) and a fake "PNG" are refused; nothing is stored.
    let p = b.upload("/shops/logoshop/logo", "logo", "x.svg", b"<svg onload=alert(1)></svg>".to_vec()).await;
    p.expect(400);
    assert!(p.body.contains("Only PNG, JPEG, WebP or GIF"));
    let p = b
        .upload(
            "/shops/logoshop/logo",
            "logo",
            "big.png",
            [b"\x89PNG\r\n\x1a\n".to_vec(), vec![0; 300 * 1024]].concat(),
        )
        .await;
    p.expect(400);
    let home = app.client.get(app.shop_url("logoshop", "/")).send().await.expect("home").text().await.expect("html");
    assert!(!home.contains("/logo/"));

    let png = [b"\x89PNG\r\n\x1a\n".to_vec(), b"not really pixels".to_vec()].concat();
    b.upload("/shops/logoshop/logo", "logo", "logo.png", png.clone()).await.expect(303);
    let home = app.client.get(app.shop_url("logoshop", "/")).send().await.expect("home").text().await.expect("html");
    let at = home.find("src=\"/logo/").expect("logo on the storefront") + "src=\"".len();
    let path = &home[at..at + home[at..].find('"').expect("end")];
    let r = app.client.get(app.shop_url("logoshop", path)).send().await.expect("logo");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(r.headers()["cache-control"].to_str().expect("cc").contains("immutable"));
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), png);
    // Another shop's host does not serve it.
    let other = app.client.get(app.shop_url("demo", path)).send().await.expect("other");
    assert_eq!(other.status().as_u16(), 404);
    // Removed: gone from the page.
    b.post("/shops/logoshop/logo/delete", &[]).await.expect(303);
    let home = app.client.get(app.shop_url("logoshop", "/")).send().await.expect("home").text().await.expect("html");
    assert!(!home.contains("/logo/"));
}

#[tokio::test]
async fn manual_delivery_collects_buyer_details_then_the_merchant_fulfils() {
    let app = TestApp::spawn().await;
    let mut b = merchant_with_shop(&app, "manual@example.com", "manshop").await;
    // Bad field definitions are refused.
    let p = b
        .post(
            "/shops/manshop/products/new",
            &[
                ("name", "代充"),
                ("price", "10"),
                ("kind", "manual"),
                ("fields", "QQ号 | required | [0-9"),
                ("min_qty", "1"),
                ("max_qty", "1"),
                ("sort_order", "0"),
                ("low_stock_threshold", "0"),
                ("visible", "1"),
            ],
        )
        .await;
    p.expect(422);
    assert!(p.body.contains("not a valid regular expression"));
    let p = b
        .post(
            "/shops/manshop/products/new",
            &[
                ("name", "代充"),
                ("price", "10"),
                ("kind", "manual"),
                ("fields", "QQ号 | required | [0-9]{5,11}\n备注 | optional"),
                ("min_qty", "1"),
                ("max_qty", "1"),
                ("sort_order", "0"),
                ("low_stock_threshold", "0"),
                ("visible", "1"),
            ],
        )
        .await;
    p.expect(303);
    let product = p.location.clone().expect("loc").split('/').nth(4).expect("id").to_string();

    // The storefront asks for the fields; no keys are needed.
    let html = app
        .client
        .get(app.shop_url("manshop", &format!("/products/{product}")))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("QQ号") && html.contains("name=\"field_0\""), "fields on the product page");
    let order = |fields: serde_json::Value| {
        let body = json!({"product_id": product, "quantity": 1, "email": "fan@example.com", "fields": fields});
        let app = &app;
        async move { app.order("manshop", body).await }
    };
    let (status, body) = order(json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("field_missing")), "{body}");
    let (status, body) = order(json!({"QQ号": "12ab"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("field_invalid")), "{body}");
    let (status, placed) = order(json!({"QQ号": " 1234567 ", "备注": "<b>快点</b>"})).await;
    assert_eq!(status, 201, "{placed}");
    let order_no = placed["order_no"].as_str().expect("no").to_string();
    let token = placed["token"].as_str().expect("token").to_string();

    // Paid: waiting for the shop, listed in the to-fulfil queue.
    let tenant = app.tenant_id("manshop").await;
    let payment = app.payment_of(&tenant, &order_no).await;
    let fields =
        sandbox_fields(&app.keys_of("manshop").await, &payment.id, "paid", payment.amount_minor, &payment.currency);
    assert_eq!(app.notify("manshop", &payment.id, &fields).await.0, 200);
    let (_, view) = app.order_view("manshop", &order_no, &token).await;
    assert_eq!(view["status"], "paid");
    assert!(view.get("keys").is_none_or(|k| k.is_null()));
    assert!(b.get("/shops/manshop").await.body.contains("1 order to fulfil"));
    let queue = b.get("/shops/manshop/orders?status=paid").await;
    assert!(queue.body.contains(&order_no));
    let detail = b.get(&format!("/shops/manshop/orders/{order_no}")).await;
    assert!(
        detail.body.contains("1234567") && detail.body.contains("&lt;b&gt;快点&lt;&#x2f;b&gt;"),
        "buyer details shown, escaped"
    );

    // Fulfil: the buyer's page and email show the content; a second fulfil is refused.
    b.post(&format!("/shops/manshop/orders/{order_no}/fulfil"), &[("content", "已充值到 QQ 1234567，卡号 MAN-777")])
        .await
        .expect(303);
    let (_, view) = app.order_view("manshop", &order_no, &token).await;
    assert_eq!(view["status"], "delivered");
    assert_eq!(view["keys"][0], "已充值到 QQ 1234567，卡号 MAN-777");
    assert!(
        app.eventually(10, || async {
            read_outbox(&app.outbox()).iter().any(|(to, _, body)| to == "fan@example.com" && body.contains("MAN-777"))
        })
        .await,
        "delivery email carries the content"
    );
    b.post(&format!("/shops/manshop/orders/{order_no}/fulfil"), &[("content", "again")]).await.expect(400);
    // The storefront form sends the same fields.
    let form = |qq: &'static str| {
        let (app, product) = (&app, product.clone());
        async move {
            app.client
                .post(app.shop_url("manshop", "/checkout"))
                .header("origin", app.shop_url("manshop", "").trim_end_matches('/'))
                .header("accept-language", "zh-CN")
                .form(&[
                    ("product_id", product.as_str()),
                    ("quantity", "1"),
                    ("email", "f2@example.com"),
                    ("channel", "sandbox"),
                    ("field_0", qq),
                ])
                .send()
                .await
                .expect("checkout")
        }
    };
    let r = form("").await;
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.expect("html").contains("请填写「QQ号」"));
    assert_eq!(form("7654321").await.status().as_u16(), 303);
    // The merchant's content is sealed at rest.
    let row = app.order_row(&tenant, &order_no).await;
    assert!(row.delivery_ciphertext.is_some_and(|c| !String::from_utf8_lossy(&c).contains("MAN-777")));
}
