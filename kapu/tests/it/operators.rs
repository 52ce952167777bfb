//! The operator console: who gets in, what suspending, resuming, closing and
//! changing plans does to a shop, search and figures, plans, the fee ledger
//! and dead jobs.

use crate::support;

use serde_json::json;
use support::merchant::{Browser, merchant_with_shop};
use support::operator::{create_operator, signed_in_operator, totp_code};
use support::{TestApp, order_no, sandbox_fields};

/// Places an order on `slug` and pays it through the sandbox; returns its number.
async fn paid_order(app: &TestApp, slug: &str, tenant_id: &str, product: &str) -> String {
    let (status, order) =
        app.order(slug, json!({"product_id": product, "quantity": 1, "email": "buyer@example.com"})).await;
    assert_eq!(status, 201, "{order}");
    let no = order_no(&order).to_string();
    let payment = app.payment_of(tenant_id, &no).await;
    let fields = sandbox_fields(&app.keys_of(slug).await, &payment.id, "paid", payment.amount_minor, "CNY");
    let (status, body) = app.notify(slug, &payment.id, &fields).await;
    assert_eq!(status, 200, "{body}");
    no
}

#[tokio::test]
async fn only_operators_with_a_current_totp_code_get_in() {
    let app = TestApp::spawn().await;
    let login = create_operator(&app, "ops@kapu.example").await;
    let anonymous = Browser::new(&app);
    for path in ["/ops", "/ops/tenants", "/ops/plans", "/ops/audit", "/ops/ledger.csv", "/ops/supply-ledger.csv"] {
        assert_eq!(anonymous.get(path).await.status, 404, "{path} without a session");
    }
    // A merchant's session counts for nothing here.
    let merchant = merchant_with_shop(&app, "m@example.com", "mshop").await;
    for path in ["/ops", "/ops/tenants", "/ops/audit"] {
        assert_eq!(merchant.get(path).await.status, 404, "{path} with a merchant session");
    }
    // The sign-in page itself is there.
    anonymous.get("/ops/login").await.expect(200);

    let mut b = Browser::new(&app);
    let (email, password) = (login.email.as_str(), login.password.as_str());
    // Right password with a wrong code, or a code from five minutes ago: refused.
    // (Each try counts against the sign-in throttle: 5 per address.)
    for code in ["000000", &totp_code(&login.secret_b32, -10)] {
        let p = b.post("/ops/login", &[("email", email), ("password", password), ("code", code)]).await;
        assert_eq!(p.status, 401, "code {code:?}: {}", p.body);
        assert!(p.body.contains("Wrong email, password or two-factor code"));
    }
    // Wrong password with the right code: refused, and the code is not used up.
    let code = totp_code(&login.secret_b32, 0);
    let p = b.post("/ops/login", &[("email", email), ("password", "nope-nope-nope"), ("code", &code)]).await;
    assert_eq!(p.status, 401);
    assert_eq!(b.get("/ops").await.status, 404);
    // A merchant's password for the same address is not an operator's.
    let p = b
        .post("/ops/login", &[("email", "m@example.com"), ("password", "correct horse battery"), ("code", &code)])
        .await;
    assert_eq!(p.status, 401);

    let p = b.post("/ops/login", &[("email", email), ("password", password), ("code", &code)]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/ops"));
    let overview = b.get("/ops").await;
    overview.expect(200);
    assert!(overview.body.contains("平台概览 Platform overview"));
    assert!(overview.body.contains(email));

    // The same code cannot sign in a second browser.
    let mut other = Browser::new(&app);
    let p = other.post("/ops/login", &[("email", email), ("password", password), ("code", &code)]).await;
    assert_eq!(p.status, 401, "a replayed code");

    // Signing out ends the session.
    b.post("/ops/logout", &[]).await.expect(303);
    assert_eq!(b.get("/ops").await.status, 404);

    let actions: Vec<String> = app.audit_of(None).await.into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"operator.create".to_string()), "{actions:?}");
    assert!(actions.contains(&"operator.login".to_string()), "{actions:?}");
    assert!(actions.contains(&"operator.login_failed".to_string()), "{actions:?}");
    app.stop().await;
}

#[tokio::test]
async fn suspending_closes_the_storefront_but_not_paid_orders_and_resuming_reopens_it() {
    let app = TestApp::spawn().await;
    let merchant = merchant_with_shop(&app, "owner@example.com", "acme").await;
    let tenant = app.tenant_id("acme").await;
    let product = app.add_product(&tenant, "Game card", 1000, 5).await;
    // An order placed before the suspension, paid after it.
    let (status, before) =
        app.order("acme", json!({"product_id": product, "quantity": 1, "email": "b@example.com"})).await;
    assert_eq!(status, 201);
    let (mut ops, _) = signed_in_operator(&app, "ops@kapu.example").await;

    // A reason is required, and nothing changes without one.
    let p = ops.post(&format!("/ops/tenants/{tenant}/status"), &[("status", "suspended"), ("reason", "")]).await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert_eq!(app.get_json(&app.shop_url("acme", "/api/v1/products")).await.0, 200);

    let p = ops
        .post(
            &format!("/ops/tenants/{tenant}/status"),
            &[("status", "suspended"), ("reason", "chargeback fraud report #42")],
        )
        .await;
    p.expect(303);
    let detail = ops.get(&format!("/ops/tenants/{tenant}")).await;
    assert!(detail.body.contains("suspended") && detail.body.contains("chargeback fraud report #42"));

    // Buyers: the storefront says it is closed; the API refuses.
    let r = app.client.get(app.shop_url("acme", "/")).send().await.expect("home");
    assert_eq!(r.status().as_u16(), 503);
    let html = r.text().await.expect("body");
    assert!(html.contains("本店暂时关闭") || html.contains("temporarily closed"), "{html}");
    let (status, body) = app.get_json(&app.shop_url("acme", "/api/v1/products")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("shop_closed")), "{body}");
    let (status, body) =
        app.order("acme", json!({"product_id": product, "quantity": 1, "email": "c@example.com"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("shop_closed")), "{body}");

    // The order paid before the suspension is still confirmed and delivered.
    let no = order_no(&before).to_string();
    let payment = app.payment_of(&tenant, &no).await;
    let fields = sandbox_fields(&app.keys_of("acme").await, &payment.id, "paid", payment.amount_minor, "CNY");
    let (status, body) = app.notify("acme", &payment.id, &fields).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.order_row(&tenant, &no).await.status, "delivered");

    // The merchant sees why, and other shops are untouched.
    let dash = merchant.get("/shops/acme").await;
    assert!(dash.body.contains("suspended-banner") && dash.body.contains("chargeback fraud report #42"));
    assert_eq!(app.get_json(&app.url("/api/v1/products")).await.0, 200);

    ops.post(&format!("/ops/tenants/{tenant}/status"), &[("status", "active"), ("reason", "cleared by review")])
        .await
        .expect(303);
    assert_eq!(app.get_json(&app.shop_url("acme", "/api/v1/products")).await.0, 200);
    let r = app.client.get(app.shop_url("acme", "/")).send().await.expect("home");
    assert_eq!(r.status().as_u16(), 200);
    let dash = merchant.get("/shops/acme").await;
    assert!(!dash.body.contains("suspended-banner"));

    let entries = app.audit_of(Some(&tenant)).await;
    let find = |action: &str| entries.iter().find(|e| e.action == action).cloned();
    let suspend = find("tenant.suspend").expect("suspend entry");
    assert_eq!(suspend.actor_kind, "operator");
    assert_eq!(suspend.actor_email, "ops@kapu.example");
    assert_eq!(suspend.ip, "127.0.0.1");
    assert!(suspend.detail.contains("chargeback fraud report #42"), "{}", suspend.detail);
    assert!(find("tenant.resume").expect("resume entry").detail.contains("cleared by review"));
    // The merchant sees the platform's actions on their shop.
    let log = merchant.get("/shops/acme/audit").await;
    log.expect(200);
    assert!(log.body.contains("tenant.suspend") && log.body.contains(">Platform<"));
    app.stop().await;
}

#[tokio::test]
async fn a_closed_shop_keeps_its_data_until_the_retention_sweep_purges_it() {
    let app = TestApp::spawn_with(support::Options { closed_retention_days: 0, ..Default::default() }).await;
    let _merchant = merchant_with_shop(&app, "owner@example.com", "gone").await;
    let tenant = app.tenant_id("gone").await;
    app.add_product(&tenant, "Card", 500, 3).await;
    let demo = app.tenant_id("demo").await;
    let (mut ops, _) = signed_in_operator(&app, "ops@kapu.example").await;
    ops.post(&format!("/ops/tenants/{tenant}/status"), &[("status", "closed"), ("reason", "owner asked to close")])
        .await
        .expect(303);
    assert_eq!(app.get_json(&app.shop_url("gone", "/api/v1/products")).await.0, 503);
    // Nothing is deleted by closing.
    assert_eq!(app.count_keys(&tenant, "available").await, 3);

    let (downgraded, purged) = kapu_platform::subscriptions::sweep::sweep_once(&app.platform).await.expect("sweep");
    assert_eq!((downgraded, purged), (0, 1));
    assert_eq!(app.count_keys(&tenant, "available").await, 0);
    let row = kapu_core::tenant::find_tenant_by_id(app.db.reader(), &tenant).await.expect("db").expect("row kept");
    assert_eq!(row.status, kapu_core::tenant::TenantStatus::Closed, "purged shops stay unavailable");
    // The slug is not free for someone else, other shops are untouched, and the purge is audited.
    assert!(app.count_keys(&demo, "available").await > 0);
    let entries = app.audit_of(Some(&tenant)).await;
    assert!(entries.iter().any(|e| e.action == "tenant.purge" && e.actor_kind == "system"), "{entries:?}");
    // A second sweep finds nothing more to do.
    assert_eq!(kapu_platform::subscriptions::sweep::sweep_once(&app.platform).await.expect("sweep"), (0, 0));
    // A purged shop cannot be resumed.
    let p =
        ops.post(&format!("/ops/tenants/{tenant}/status"), &[("status", "active"), ("reason", "oops, reopen")]).await;
    assert_eq!(p.status, 400);
    app.stop().await;
}

#[tokio::test]
async fn operators_find_shops_and_see_their_figures() {
    let app = TestApp::spawn().await;
    let _a = merchant_with_shop(&app, "alice@sellers.example", "alpha").await;
    let _b = merchant_with_shop(&app, "bob@other.example", "bravo").await;
    let alpha = app.tenant_id("alpha").await;
    let product = app.add_product(&alpha, "Card", 1000, 5).await;
    paid_order(&app, "alpha", &alpha, &product).await;
    paid_order(&app, "alpha", &alpha, &product).await;
    let (mut ops, _) = signed_in_operator(&app, "ops@kapu.example").await;

    let list = ops.get("/ops/tenants?q=sellers.example").await;
    list.expect(200);
    assert!(list.body.contains("data-slug=\"alpha\"") && !list.body.contains("data-slug=\"bravo\""));
    let list = ops.get("/ops/tenants?q=BRAV").await;
    assert!(list.body.contains("data-slug=\"bravo\"") && !list.body.contains("data-slug=\"alpha\""));
    let list = ops.get("/ops/tenants?plan=pro").await;
    assert!(!list.body.contains("data-slug=\"alpha\""));
    ops.post(&format!("/ops/tenants/{alpha}/plan"), &[("plan_id", "pro"), ("reason", "sales deal")]).await.expect(303);
    let list = ops.get("/ops/tenants?plan=pro").await;
    assert!(list.body.contains("data-slug=\"alpha\"") && !list.body.contains("data-slug=\"bravo\""));
    let list = ops.get("/ops/tenants?status=suspended").await;
    assert!(list.body.contains("没有匹配的店铺"));

    let detail = ops.get(&format!("/ops/tenants/{alpha}")).await;
    detail.expect(200);
    assert!(detail.body.contains("<span id=\"orders-30d\">2</span>"), "orders");
    assert!(detail.body.contains("<span id=\"paid-30d\">2</span>"), "paid");
    assert!(detail.body.contains("20.00 CNY"), "revenue");
    assert!(detail.body.contains("<span id=\"usage-keys\">3</span>"), "keys left");
    assert!(detail.body.contains("<span id=\"tenant-plan\">pro</span>"));
    assert!(detail.body.contains("alice@sellers.example"));
    // A plan change needs a reason and an existing plan.
    assert_eq!(
        ops.post(&format!("/ops/tenants/{alpha}/plan"), &[("plan_id", "pro"), ("reason", "")]).await.status,
        400
    );
    assert_eq!(
        ops.post(&format!("/ops/tenants/{alpha}/plan"), &[("plan_id", "gold"), ("reason", "why not")]).await.status,
        400
    );
    assert_eq!(ops.get("/ops/tenants/nope").await.status, 404);

    let overview = ops.get("/ops").await;
    assert!(overview.body.contains("<td>sandbox</td><td class=\"num\">2</td>"), "sandbox success");
    app.stop().await;
}

#[tokio::test]
async fn operators_manage_plans_and_the_fee_ledger_invoices_paid_orders() {
    let app = TestApp::spawn().await;
    let _m = merchant_with_shop(&app, "owner@example.com", "feeshop").await;
    let tenant = app.tenant_id("feeshop").await;
    let product = app.add_product(&tenant, "Card", 1050, 5).await;
    let (mut ops, _) = signed_in_operator(&app, "ops@kapu.example").await;

    // Bad input names the field and creates nothing.
    let p = ops
        .post(
            "/ops/plans",
            &[("id", "Big Plan"), ("name", ""), ("price", "abc"), ("fee_bps", "20000"), ("max_products", "-1")],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    for field in ["id", "name", "price", "fee_bps", "max_products"] {
        assert!(p.body.contains(&format!("id=\"error-{field}\"")), "error for {field}");
    }
    let p = ops
        .post(
            "/ops/plans",
            &[
                ("id", "biz"),
                ("name", "商业版 Business"),
                ("price", "299.00"),
                ("currency", "CNY"),
                ("trial_days", "7"),
                ("max_products", "5000"),
                ("max_keys_in_stock", ""),
                ("fee_bps", "30"),
                ("stripe_price_id", "price_biz"),
            ],
        )
        .await;
    p.expect(303);
    let plans = ops.get("/ops/plans").await;
    assert!(plans.body.contains("data-plan=\"biz\"") && plans.body.contains("299.00 CNY"));
    // Taken id.
    assert_eq!(ops.post("/ops/plans", &[("id", "biz"), ("name", "Again"), ("price", "1")]).await.status, 422);
    // Editing the free plan's fee applies to shops on it from the next payment.
    let edit = ops.get("/ops/plans/free").await;
    edit.expect(200);
    paid_order(&app, "feeshop", &tenant, &product).await;
    let p = ops
        .post(
            "/ops/plans/free",
            &[
                ("name", "免费版 Free"),
                ("price", "0"),
                ("currency", "CNY"),
                ("max_products", "20"),
                ("max_keys_in_stock", "5000"),
                ("max_team_members", "2"),
                ("fee_bps", "200"),
                ("is_default", "on"),
            ],
        )
        .await;
    p.expect(303);
    let second = paid_order(&app, "feeshop", &tenant, &product).await;

    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let ledger = ops.get(&format!("/ops/ledger?month={month}")).await;
    ledger.expect(200);
    // 10.50 at 1 % (10.5 fen → 11) + 10.50 at 2 % (21 fen) = 0.32.
    assert!(ledger.body.contains("21.00") && ledger.body.contains("0.32"), "{}", ledger.body);
    let r = ops.client.get(format!("{}/ops/ledger.csv?month={month}", ops.base)).send().await.expect("csv");
    assert_eq!(r.status().as_u16(), 200);
    let csv = r.text().await.expect("csv");
    let rows: Vec<&str> = csv.lines().filter(|l| l.contains("feeshop")).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows.iter().any(|r| r.ends_with(",free,CNY,10.50,100,0.11")), "{csv}");
    assert!(rows.iter().any(|r| r.ends_with(",free,CNY,10.50,200,0.21")), "{csv}");
    assert_eq!(ops.get("/ops/ledger?month=2026-13").await.status, 400);
    // A repeated notification does not bill twice.
    let payment = app.payment_of(&tenant, &second).await;
    let fields = sandbox_fields(&app.keys_of("feeshop").await, &payment.id, "paid", payment.amount_minor, "CNY");
    assert_eq!(app.notify("feeshop", &payment.id, &fields).await.0, 200);
    let rows =
        kapu_core::store::fee_ledger::ledger_for_month(app.db.reader(), &month, Some(&tenant)).await.expect("ledger");
    assert_eq!(rows.len(), 2);
    let entries = app.audit_of(None).await;
    assert!(entries.iter().any(|e| e.action == "plan.create" && e.target == "biz"));
    assert!(entries.iter().any(|e| e.action == "plan.update" && e.detail.contains("fee 200 bps")));
    assert!(entries.iter().any(|e| e.action == "ledger.export"));
    app.stop().await;
}

#[tokio::test]
async fn dead_jobs_show_on_the_overview_and_can_be_retried() {
    use kapu_core::entities::jobs;
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now();
    let id = jobs::Entity::insert(jobs::ActiveModel {
        tenant_id: Set(None),
        kind: Set("send_order_links".into()),
        payload: Set(r#"{"bad":"payload"}"#.into()),
        status: Set("dead".into()),
        attempts: Set(10),
        max_attempts: Set(10),
        run_at: Set(now),
        locked_until: Set(None),
        last_error: Set(Some("smtp: connection refused".into())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(app.db.writer())
    .await
    .expect("job")
    .last_insert_id;
    let (mut ops, _) = signed_in_operator(&app, "ops@kapu.example").await;
    let overview = ops.get("/ops").await;
    assert!(
        overview.body.contains("smtp: connection refused") && overview.body.contains("失败 dead 1"),
        "{}",
        overview.body
    );
    ops.post(&format!("/ops/jobs/{id}/retry"), &[]).await.expect(303);
    let job = jobs::Entity::find_by_id(id).one(app.db.reader()).await.expect("db").expect("job");
    assert_ne!(job.status, "dead");
    assert_eq!(ops.post("/ops/jobs/999999/retry", &[]).await.status, 400);
    app.stop().await;
}
