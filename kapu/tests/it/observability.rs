//! Issue 19 over HTTP: the metrics a scraper reads (bounded labels, the
//! buyer's journey counted), the notification inspector (a forged
//! notification shown with its reason, a lost one found by "ask the
//! provider now", a channel tested), the status page fed by the canary
//! purchase, and feature flags rolled out by percentage and rolled back by
//! the kill switch.

use crate::support;

use std::time::Duration;

use kapu_core::flags::{STATUS_NOTICE, bucket};
use serde_json::{Value, json};
use support::fakes::epay::FakeEpay;
use support::merchant::merchant_with_shop;
use support::operator::signed_in_operator;
use support::{Options, TestApp, order_no, place_order, status_of};

async fn scrape(app: &TestApp) -> String {
    let r = app.client.get(app.url("/internal/metrics")).bearer_auth("scrape").send().await.expect("scrape");
    assert_eq!(r.status().as_u16(), 200);
    r.text().await.expect("text")
}

/// The value of the series `name{labels}` (labels exactly as rendered), or 0.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn series_count(text: &str) -> usize {
    text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).count()
}

#[tokio::test]
async fn metrics_count_the_buyers_journey_and_never_grow_with_the_number_of_shops() {
    let app = TestApp::spawn_with(Options { metrics_token: Some("scrape".into()), ..Options::default() }).await;
    // One order paid in the sandbox, one forged notification.
    let (_, order) =
        app.order("demo", json!({"product_id": "win11-pro", "quantity": 1, "email": "m@example.com"})).await;
    let paid = app.client.post(order["pay_url"].as_str().expect("pay")).form(&[("outcome", "paid")]).send().await;
    assert_eq!(paid.expect("pay").status().as_u16(), 303);
    let payment = app.payments_of(&app.tenant_id("demo").await, order_no(&order)).await.remove(0);
    let forged: Vec<(String, String)> = [
        ("payment_id", payment.id.as_str()),
        ("outcome", "paid"),
        ("amount_minor", "3990"),
        ("currency", "CNY"),
        ("sign", "forged"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (code, _) = app.notify("demo", &payment.id, &forged).await;
    assert_eq!(code, 400);
    for _ in 0..2 {
        app.client.get(app.url("/products/win11-pro")).send().await.expect("page");
    }
    assert!(app.jobs_settled(10).await);

    let text = scrape(&app).await;
    assert!(value(&text, "kapu_orders_created_total") >= 1.0, "{text}");
    assert!(value(&text, "kapu_orders_paid_total") >= 1.0);
    assert!(value(&text, "kapu_orders_delivered_total") >= 1.0);
    assert!(value(&text, "kapu_payment_to_delivery_seconds_count") >= 1.0, "{text}");
    assert!(value(&text, "kapu_payment_to_email_seconds_count") >= 1.0, "{text}");
    assert!(
        value(&text, "kapu_payment_notifications_total{channel=\"sandbox\",verdict=\"accepted\"}") >= 1.0,
        "{text}"
    );
    assert!(value(&text, "kapu_payment_notifications_total{channel=\"sandbox\",verdict=\"bad_signature\"}") >= 1.0);
    assert!(value(&text, "kapu_emails_total{outcome=\"sent\"}") >= 1.0);
    // Requests by route template, never the raw path.
    assert!(
        value(
            &text,
            "kapu_http_request_duration_seconds_count{plane=\"storefront\",route=\"/products/{product_id}\",method=\"GET\",status=\"2xx\"}"
        ) >= 1.0,
        "{text}"
    );
    assert!(!text.contains("win11-pro") && !text.contains(order_no(&order)), "no raw path or order in a label");
    assert!(value(&text, "kapu_cache_lookups_total{cache=\"product_page\",result=\"hit\"}") >= 1.0, "{text}");
    // Gauges read at scrape time.
    assert!(text.contains("kapu_paid_orders_waiting{stage=\"email\"} 0"), "{text}");
    assert!(text.contains("kapu_jobs_oldest_due_seconds{kind=\"any\"}"));
    assert!(value(&text, "kapu_db_pool_max_connections") >= 1.0);
    assert!(text.contains("kapu_database_up 1"));

    // Shops do not add series: 2 shops browsed and bought from, then 30.
    let browse = |slug: String, product: String| {
        let app = &app;
        async move {
            app.client.get(app.shop_url(&slug, "/")).send().await.expect("home");
            app.client.get(app.shop_url(&slug, &format!("/products/{product}"))).send().await.expect("page");
            let (status, _) = place_order(app, &slug, &product, None).await;
            assert_eq!(status, 201);
        }
    };
    let mut shops = Vec::new();
    for i in 0..30 {
        let slug = format!("series-{i}");
        let (tenant, product) = app.create_shop(&slug, "test", 3).await;
        shops.push((slug, tenant, product));
    }
    for (slug, _, product) in &shops[..2] {
        browse(slug.clone(), product.clone()).await;
    }
    let after_two = series_count(&scrape(&app).await);
    for (slug, _, product) in &shops[2..] {
        browse(slug.clone(), product.clone()).await;
    }
    let tenants: Vec<&String> = shops.iter().map(|(_, t, _)| t).collect();
    let text = scrape(&app).await;
    let after_thirty = series_count(&text);
    assert!(
        after_thirty <= after_two + 10,
        "series grow with shops: {after_two} after 2 shops, {after_thirty} after 30"
    );
    assert!(after_thirty < 3000, "{after_thirty} series");
    for t in tenants {
        assert!(!text.contains(t.as_str()), "a shop id in a label");
    }
    println!("series exported: {after_two} after 2 shops, {after_thirty} after 30 (independent of the shop count)");
    app.stop().await;
}

#[tokio::test]
async fn a_separate_metrics_address_serves_without_the_token() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let app = TestApp::spawn_with(Options { metrics_listen: Some(free), ..Options::default() }).await;
    let url = format!("http://{free}/metrics");
    let ok = app.eventually(10, || async { reqwest::get(&url).await.is_ok_and(|r| r.status().is_success()) }).await;
    assert!(ok, "{url} answers");
    let text = reqwest::get(&url).await.expect("get").text().await.expect("text");
    assert!(text.contains("kapu_database_up 1"), "{text}");
    // The public port without a token still has no metrics.
    assert_eq!(app.client.get(app.url("/internal/metrics")).send().await.expect("get").status().as_u16(), 404);
    app.stop().await;
}

/// A live shop of a merchant with epay (a local fake) as its channel.
async fn merchant_epay_shop(app: &TestApp, epay: &FakeEpay) -> (support::merchant::Browser, String, String) {
    let b = merchant_with_shop(app, "inspector@example.com", "insp").await;
    let tenant = app.tenant_id("insp").await;
    app.set_tenant("insp", kapu_core::entities::tenants::Column::Mode, "live").await;
    let product = app.add_product(&tenant, "Game card", 1000, 10).await;
    app.configure_channel(&tenant, "epay", 1, true, &epay.credentials()).await;
    (b, tenant, product)
}

#[tokio::test]
async fn the_inspector_shows_a_forged_notification_and_ask_now_finds_a_lost_payment() {
    // Reconciliation's own sweep waits an hour: only the merchant's button asks.
    let app = TestApp::spawn_with(Options { reconcile_secs: 3600, ..Options::default() }).await;
    let epay = FakeEpay::start("1001", "insp-key").await;
    let (mut b, tenant, product) = merchant_epay_shop(&app, &epay).await;
    let (status, order) = place_order(&app, "insp", &product, Some("alipay")).await;
    assert_eq!(status, 201, "{order}");
    let no = order_no(&order).to_string();
    let attempt = app.payments_of(&tenant, &no).await.remove(0);

    // A forgery: signed with a guessed key.
    let forged = epay.notification(&attempt.id, "a-guessed-key");
    let sign = forged["sign"].clone();
    let (code, _) = epay.send(&attempt.id, &forged).await;
    assert_eq!(code, 400);
    let page = b.get(&format!("/shops/insp/orders/{no}")).await;
    page.expect(200);
    assert!(page.body.contains("data-verdict=\"bad_signature\""), "{}", page.body);
    assert!(page.body.contains("Signature does not verify"), "the verdict in words");
    assert!(page.body.contains("signature does not verify"), "the reason");
    assert!(page.body.contains("127.0.0.1"), "the source address");
    assert!(page.body.contains("out_trade_no=") && !page.body.contains(&sign), "body kept, signature masked");
    let list = b.get("/shops/insp/payments/notifications?verdict=bad_signature").await;
    list.expect(200);
    assert!(list.body.contains(&no) && list.body.contains("data-verdict=\"bad_signature\""), "{}", list.body);
    let accepted = b.get("/shops/insp/payments/notifications?verdict=accepted").await;
    assert!(accepted.body.contains("id=\"no-notifications\""), "no accepted one yet");

    // The buyer pays; the provider's notification is lost.
    epay.faults().set(|f| f.drop_notifications = true);
    assert!(epay.pay(&attempt.id).await.is_none(), "the notification is dropped");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status_of(&app, "insp", &order).await, "pending", "nothing else asks the provider");
    // "Ask the provider now".
    let asked = b.post(&format!("/shops/insp/orders/{no}/payments/{}/check", attempt.id), &[]).await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let delivered = app.eventually(15, || async { status_of(&app, "insp", &order).await == "delivered" }).await;
    assert!(delivered, "the manual check found the payment and delivered the order");
    let logged = app
        .eventually(10, || async {
            b.get(&format!("/shops/insp/orders/{no}")).await.body.contains("data-outcome=\"delivered\"")
        })
        .await;
    assert!(logged, "the check's answer is on the order page");
    // Another shop's merchant cannot ask about this attempt.
    let mut other = merchant_with_shop(&app, "other@example.com", "othershop").await;
    let r = other.post(&format!("/shops/othershop/orders/{no}/payments/{}/check", attempt.id), &[]).await;
    assert_eq!(r.status, 404);

    // "Test this channel": the fake answers "no such order" to a made-up payment.
    let tested = b.post("/shops/insp/channels/epay/test", &[]).await;
    tested.expect(200);
    assert!(tested.body.contains("id=\"channel-test\" data-kind=\"epay\" data-ok=\"true\""), "{}", tested.body);
    // With a wrong key the gateway refuses, and the page says so.
    let mut wrong: Value = serde_json::from_str(&epay.credentials()).expect("json");
    wrong["key"] = json!("not-the-key");
    app.configure_channel(&tenant, "epay", 1, true, &wrong.to_string()).await;
    let tested = b.post("/shops/insp/channels/epay/test", &[]).await;
    assert!(tested.body.contains("data-ok=\"false\""), "{}", tested.body);
    app.stop().await;
}

#[tokio::test]
async fn the_canary_purchase_feeds_the_status_page_and_a_broken_storefront_shows() {
    let app =
        TestApp::spawn_with(Options { canary_secs: 2, metrics_token: Some("scrape".into()), ..Options::default() })
            .await;
    let json_of = || async {
        let r = app.client.get(app.platform_url("/status.json")).send().await.expect("status.json");
        assert_eq!(r.status().as_u16(), 200);
        r.json::<Value>().await.expect("json")
    };
    let component = |v: &Value, id: &str| {
        v["components"].as_array().expect("components").iter().find(|c| c["id"] == id).cloned().expect(id)
    };
    let operational = app
        .eventually(40, || async {
            let v = json_of().await;
            ["storefront", "checkout", "email", "dashboard", "merchant_api"]
                .iter()
                .all(|id| component(&v, id)["status"] == "operational" && component(&v, id)["uptime_90d"] == 100.0)
        })
        .await;
    assert!(operational, "the canary made every component operational: {}", json_of().await);
    let v = json_of().await;
    assert_eq!(v["status"], "operational");
    assert_eq!(component(&v, "channel:alipay")["status"], "unknown", "no Alipay traffic, no claim");
    assert!(value(&scrape(&app).await, "kapu_canary_runs_total{outcome=\"ok\"}") >= 1.0);
    // The public page has no shop in it (the canary's included).
    let html = app.client.get(app.platform_url("/status")).send().await.expect("page").text().await.expect("html");
    assert!(html.contains("所有系统运行正常") && !html.contains("kapu-canary") && !html.contains("demo"), "{html}");
    let feed = app.client.get(app.platform_url("/status/feed")).send().await.expect("feed");
    assert_eq!(feed.headers()["content-type"], "application/atom+xml; charset=utf-8");
    assert!(feed.text().await.expect("xml").starts_with("<?xml"));

    // The canary shop stops serving: the storefront check fails and the page says so.
    app.set_tenant("kapu-canary", kapu_core::entities::tenants::Column::Status, "suspended").await;
    app.state.tenants.invalidate_all();
    let degraded =
        app.eventually(40, || async { component(&json_of().await, "storefront")["status"] != "operational" }).await;
    assert!(degraded, "a failing canary shows: {}", json_of().await);
    let v = json_of().await;
    assert!(v["status"] == "degraded" || v["status"] == "outage", "{v}");
    assert!(component(&v, "storefront")["uptime_90d"].as_f64().expect("uptime") < 100.0);
    app.stop().await;
}

/// Opens an incident on `components` through `/ops/status` as `ops`.
async fn open_incident(
    ops: &mut support::merchant::Browser,
    components: &[&str],
    impact: &str,
) -> support::merchant::Page {
    let mut fields: Vec<(String, String)> = [
        ("kind", "incident"),
        ("impact", impact),
        ("title_zh", "结账异常"),
        ("title_en", "Checkout trouble"),
        ("body_zh", "我们正在调查。"),
        ("body_en", "We are looking into it."),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for c in components {
        fields.push((format!("component.{c}"), "on".to_string()));
    }
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    ops.post("/ops/status/incidents", &fields).await
}

#[tokio::test]
async fn flags_roll_out_by_percentage_to_the_same_shops_and_the_kill_switch_takes_all_off() {
    let app = TestApp::spawn().await;
    let (mut ops, _) = signed_in_operator(&app, "flags@kapu.example").await;
    // Checkout degraded (an incident), so a shop with the flag on shows the notice.
    open_incident(&mut ops, &["checkout"], "degraded").await.expect(303);
    let mut shops = Vec::new();
    for i in 0..20 {
        let slug = format!("grey-{i}");
        let (tenant, _) = app.create_shop(&slug, "test", 1).await;
        shops.push((slug, tenant));
    }
    let shows_notice = |slug: String| {
        let app = &app;
        async move {
            let html = app.client.get(app.shop_url(&slug, "/")).send().await.expect("home").text().await.expect("html");
            html.contains("id=\"status-notice\"")
        }
    };
    // Off by default: nobody sees it.
    for (slug, _) in &shops {
        assert!(!shows_notice(slug.clone()).await, "{slug} before any rollout");
    }
    // 30 %: exactly the shops whose bucket is under 30.
    let set = |mode: &'static str, percent: &'static str, shops: &'static str, killed: bool| {
        let mut fields = vec![("mode", mode), ("percent", percent), ("shops", shops)];
        if killed {
            fields.push(("killed", "on"));
        }
        fields
    };
    ops.post(&format!("/ops/flags/{STATUS_NOTICE}"), &set("percent", "30", "", false)).await.expect(303);
    let mut on = 0;
    for (slug, tenant) in &shops {
        let expected = bucket(STATUS_NOTICE, tenant) < 30;
        on += usize::from(expected);
        assert_eq!(shows_notice(slug.clone()).await, expected, "{slug} (bucket {})", bucket(STATUS_NOTICE, tenant));
    }
    assert!(on > 0 && on < shops.len(), "a real part of the shops: {on}");
    let page = ops.get("/ops/flags").await;
    assert!(page.body.contains("data-mode=\"percent\""), "{}", page.body);
    // Raising to 60 % keeps every shop that was on.
    ops.post(&format!("/ops/flags/{STATUS_NOTICE}"), &set("percent", "60", "", false)).await.expect(303);
    for (slug, tenant) in &shops {
        if bucket(STATUS_NOTICE, tenant) < 30 {
            assert!(shows_notice(slug.clone()).await, "{slug} stays on");
        }
    }
    // The kill switch: every shop off at once.
    ops.post(&format!("/ops/flags/{STATUS_NOTICE}"), &set("all", "60", "", true)).await.expect(303);
    for (slug, _) in &shops {
        assert!(!shows_notice(slug.clone()).await, "{slug} after the kill switch");
    }
    // Listed shops only.
    ops.post(&format!("/ops/flags/{STATUS_NOTICE}"), &set("listed", "0", "grey-3", false)).await.expect(303);
    assert!(shows_notice("grey-3".into()).await);
    assert!(!shows_notice("grey-4".into()).await);
    // Bad input changes nothing and says why.
    let bad = ops.post(&format!("/ops/flags/{STATUS_NOTICE}"), &set("percent", "150", "", false)).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("0–100"), "{}", bad.body);
    assert!(shows_notice("grey-3".into()).await, "unchanged");
    let unknown_shop =
        ops.post(&format!("/ops/flags/{STATUS_NOTICE}"), &set("listed", "0", "no-such-shop", false)).await;
    assert_eq!(unknown_shop.status, 422);
    let actions: Vec<String> = app.audit_of(None).await.into_iter().map(|e| e.action).collect();
    assert_eq!(actions.iter().filter(|a| *a == "flag.set").count(), 4, "{actions:?}");
    assert!(actions.contains(&"status.incident.open".to_string()));
    app.stop().await;
}

#[tokio::test]
async fn an_incident_reaches_the_status_page_the_feed_the_dashboard_and_the_storefront_until_resolved() {
    let app = TestApp::spawn().await;
    let (mut ops, _) = signed_in_operator(&app, "status@kapu.example").await;
    let merchant = merchant_with_shop(&app, "banner@example.com", "bannershop").await;
    ops.post(&format!("/ops/flags/{STATUS_NOTICE}"), &[("mode", "all"), ("percent", "0"), ("shops", "")])
        .await
        .expect(303);

    // Bad input: one language missing, no component.
    let bad = ops.post("/ops/status/incidents", &[("kind", "incident"), ("impact", "outage"), ("title_zh", "x")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Choose the affected components") && bad.body.contains("Write 1–200 characters"));

    open_incident(&mut ops, &["channel:alipay", "checkout"], "outage").await.expect(303);
    let v: Value =
        app.client.get(app.platform_url("/status.json")).send().await.expect("get").json().await.expect("json");
    let state =
        |id: &str| v["components"].as_array().expect("c").iter().find(|c| c["id"] == id).expect(id)["status"].clone();
    assert_eq!(state("checkout"), "outage");
    assert_eq!(state("channel:alipay"), "outage");
    assert_eq!(state("email"), "unknown");
    assert_eq!(v["incidents"][0]["title_en"], "Checkout trouble");
    let feed = app.client.get(app.platform_url("/status/feed")).send().await.expect("feed").text().await.expect("xml");
    assert!(feed.contains("Checkout trouble") && feed.contains("We are looking into it."), "{feed}");
    // The storefront (in the buyer's language) and the merchant's dashboard.
    let home_in = |lang: &'static str| {
        let app = &app;
        async move {
            let r = app.client.get(app.url("/")).header("accept-language", lang).send().await.expect("home");
            r.text().await.expect("html")
        }
    };
    let zh = home_in("zh-CN").await;
    assert!(zh.contains("id=\"status-notice\"") && zh.contains("下单与发货暂时异常"), "{zh}");
    let en = home_in("en").await;
    assert!(en.contains("Checkout is having trouble"), "{en}");
    let dash = merchant.get("/shops/bannershop").await;
    assert!(
        dash.body.contains("id=\"platform-status\"") && dash.body.contains("Checkout and delivery down"),
        "{}",
        dash.body
    );

    // Resolved: gone everywhere.
    let id = v["incidents"][0]["id"].as_str().expect("id").to_string();
    ops.post(
        &format!("/ops/status/incidents/{id}"),
        &[("state", "resolved"), ("body_zh", "已恢复。"), ("body_en", "Fixed.")],
    )
    .await
    .expect(303);
    let home = app.client.get(app.url("/")).send().await.expect("home").text().await.expect("html");
    assert!(!home.contains("id=\"status-notice\""));
    assert!(!merchant.get("/shops/bannershop").await.body.contains("id=\"platform-status\""));
    let v: Value =
        app.client.get(app.platform_url("/status.json")).send().await.expect("get").json().await.expect("json");
    assert_eq!(v["incidents"][0]["state"], "resolved");
    assert_eq!(v["incidents"][0]["updates"].as_array().expect("updates").len(), 2);
    let page = app.client.get(app.platform_url("/status")).send().await.expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("Fixed.") && html.contains("近期事件 Past incidents"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn jobs_carry_the_request_id_that_queued_them() {
    use kapu_core::entities::jobs;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = TestApp::spawn().await;
    let (_, order) =
        app.order("demo", json!({"product_id": "win11-pro", "quantity": 1, "email": "r@example.com"})).await;
    let paid = app
        .client
        .post(order["pay_url"].as_str().expect("pay"))
        .header("x-request-id", "req-pay-0001")
        .form(&[("outcome", "paid")])
        .send()
        .await
        .expect("pay");
    assert_eq!(paid.status().as_u16(), 303);
    assert_eq!(paid.headers()["x-request-id"], "req-pay-0001", "the id is kept and echoed");
    let row = app.order_row(&app.tenant_id("demo").await, order_no(&order)).await;
    let of_order = |kind: &'static str| {
        let (app, id) = (&app, row.id.clone());
        async move {
            jobs::Entity::find()
                .filter(jobs::Column::Kind.eq(kind))
                .filter(jobs::Column::Payload.like(format!("%{id}%")))
                .one(app.db.reader())
                .await
                .expect("query")
                .expect("job")
        }
    };
    assert_eq!(of_order("send_delivery_email").await.request_id.as_deref(), Some("req-pay-0001"));
    let expiry = of_order("expire_order").await;
    let checkout_id = expiry.request_id.expect("the checkout's id");
    assert!(checkout_id.len() >= 32 && checkout_id != "req-pay-0001", "{checkout_id}");
    app.stop().await;
}

#[tokio::test]
async fn scheduled_maintenance_is_announced_ahead_and_marks_components_only_while_it_runs() {
    let app = TestApp::spawn().await;
    let (mut ops, _) = signed_in_operator(&app, "maint@kapu.example").await;
    let at = |hours: i64| (chrono::Utc::now() + chrono::Duration::hours(hours)).format("%Y-%m-%d %H:%M").to_string();
    let (start, end) = (at(2), at(3));
    let mut fields = vec![
        ("kind", "maintenance"),
        ("title_zh", "数据库升级"),
        ("title_en", "Database upgrade"),
        ("body_zh", "商户后台将短暂不可用。"),
        ("body_en", "The dashboard will be briefly unavailable."),
        ("component.dashboard", "on"),
        ("starts_at", start.as_str()),
    ];
    let refused = ops.post("/ops/status/incidents", &fields).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("Scheduled maintenance needs an end time"), "{}", refused.body);
    fields.push(("ends_at", end.as_str()));
    ops.post("/ops/status/incidents", &fields).await.expect(303);
    let status = || async {
        let v: Value =
            app.client.get(app.platform_url("/status.json")).send().await.expect("get").json().await.expect("json");
        v
    };
    let dashboard = |v: &Value| {
        v["components"].as_array().expect("c").iter().find(|c| c["id"] == "dashboard").expect("d")["status"].clone()
    };
    let v = status().await;
    assert_eq!(
        (v["incidents"][0]["state"].as_str(), v["incidents"][0]["active"].as_bool()),
        (Some("scheduled"), Some(false))
    );
    assert_eq!(dashboard(&v), "unknown", "announced, not yet running");
    let id = v["incidents"][0]["id"].as_str().expect("id").to_string();
    ops.post(
        &format!("/ops/status/incidents/{id}"),
        &[("state", "in_progress"), ("body_zh", "维护开始。"), ("body_en", "Maintenance has started.")],
    )
    .await
    .expect(303);
    let v = status().await;
    assert_eq!(dashboard(&v), "maintenance");
    assert_eq!(v["status"], "maintenance");
    let feed = app.client.get(app.platform_url("/status/feed")).send().await.expect("feed").text().await.expect("xml");
    assert!(feed.contains("[maintenance] 数据库升级 · Database upgrade (in_progress)"), "{feed}");
    // An unknown state is refused and changes nothing.
    let bad = ops
        .post(&format!("/ops/status/incidents/{id}"), &[("state", "exploded"), ("body_zh", "x"), ("body_en", "x")])
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(status().await["incidents"][0]["state"], "in_progress");
    app.stop().await;
}
