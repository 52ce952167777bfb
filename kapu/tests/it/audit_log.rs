//! The audit log: every sensitive merchant action lands in it with who,
//! which shop, what, from where; merchants see their own shop's entries only;
//! nothing (no route, no SQL statement) can change or delete an entry.

use crate::support;

use kapu_core::db::Engine;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use support::merchant::{Browser, create_product, merchant_with_shop, verified_merchant};
use support::{TestApp, order_no, sandbox_fields};

fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let a = s.find(start).map(|i| i + start.len()).expect("start");
    &s[a..a + s[a..].find(end).expect("end")]
}

#[tokio::test]
async fn sensitive_merchant_actions_are_audited_and_each_shop_sees_only_its_own() {
    let app = TestApp::spawn().await;
    let mut owner = merchant_with_shop(&app, "owner@example.com", "audited").await;
    let _other = merchant_with_shop(&app, "other@example.com", "elsewhere").await;
    let tenant = app.tenant_id("audited").await;
    let elsewhere = app.tenant_id("elsewhere").await;

    // Sign in again from a fresh browser.
    let mut fresh = Browser::new(&app);
    fresh.post("/login", &[("email", "owner@example.com"), ("password", "correct horse battery")]).await.expect(303);
    // Two-factor on.
    let setup = owner.get("/account/2fa").await;
    let secret = between(&setup.body, "id=\"totp-secret\">", "<").to_string();
    let sig = between(&setup.body, "name=\"sig\" value=\"", "\"").to_string();
    let code = support::operator::totp_code(&secret, 0);
    owner.post("/account/2fa/enable", &[("secret", &secret), ("sig", &sig), ("code", &code)]).await.expect(303);
    // A payment channel's credentials.
    owner
        .post(
            "/shops/audited/channels/epay",
            &[
                ("enabled", "on"),
                ("priority", "1"),
                ("gateway", "https://pay.example.com"),
                ("pid", "4242"),
                ("key", "the-merchant-secret-key"),
                ("method_alipay", "on"),
                ("mode", "mapi"),
            ],
        )
        .await
        .expect(303);
    // Keys exported.
    let product = create_product(&mut owner, "audited", "Card", "5.00").await;
    owner.import_keys(&format!("/shops/audited/products/{product}/keys"), "EXP-1\nEXP-2", None, "newline").await;
    assert!(app.eventually(10, || async { app.count_keys(&tenant, "available").await == 2 }).await);
    owner.get(&format!("/shops/audited/products/{product}/keys/export")).await.expect(200);
    // A refund recorded on a paid order.
    let (status, order) = app
        .order("audited", json!({"product_id": product, "quantity": 1, "email": "b@example.com", "channel": "sandbox"}))
        .await;
    assert_eq!(status, 201, "{order}");
    let no = order_no(&order).to_string();
    let payment = app.payment_of(&tenant, &no).await;
    let fields = sandbox_fields(&app.keys_of("audited").await, &payment.id, "paid", payment.amount_minor, "CNY");
    assert_eq!(app.notify("audited", &payment.id, &fields).await.0, 200);
    owner.post(&format!("/shops/audited/orders/{no}/refunded"), &[]).await.expect(303);
    // A team member added.
    verified_merchant(&app, "staff@example.com").await;
    owner.post("/shops/audited/team", &[("email", "staff@example.com")]).await.expect(303);

    let all = app.audit_of(None).await;
    let logins: Vec<_> =
        all.iter().filter(|e| e.action == "account.login" && e.actor_email == "owner@example.com").collect();
    assert_eq!(logins.len(), 1, "{all:?}");
    assert_eq!(logins[0].ip, "127.0.0.1");
    assert!(all.iter().any(|e| e.action == "account.2fa_enable" && e.actor_email == "owner@example.com"));

    let shop: Vec<_> = app.audit_of(Some(&tenant)).await;
    let find = |action: &str| shop.iter().find(|e| e.action == action).unwrap_or_else(|| panic!("{action}: {shop:?}"));
    let channel = find("channel.save");
    assert_eq!((channel.target.as_str(), channel.actor_email.as_str()), ("epay", "owner@example.com"));
    assert!(channel.detail.contains("credentials changed") && !channel.detail.contains("the-merchant-secret-key"));
    assert!(find("keys.export").detail.contains("2 unsold keys"));
    assert_eq!(find("order.mark_refunded").target, no);
    assert_eq!(find("team.add").target, "staff@example.com");
    for e in &shop {
        assert_eq!(e.tenant_id.as_deref(), Some(tenant.as_str()));
        assert_eq!(e.actor_kind, "merchant");
        assert_eq!(e.ip, "127.0.0.1");
    }

    // The owner's page lists them; another shop's owner sees none of them; staff may not look.
    let page = owner.get("/shops/audited/audit").await;
    page.expect(200);
    assert!(page.body.contains("channel.save") && page.body.contains("keys.export") && page.body.contains(&no));
    let mut other = Browser::new(&app);
    other.post("/login", &[("email", "other@example.com"), ("password", "correct horse battery")]).await.expect(303);
    let theirs = other.get("/shops/elsewhere/audit").await;
    theirs.expect(200);
    assert!(!theirs.body.contains("channel.save") && !theirs.body.contains(&no));
    assert_eq!(other.get("/shops/audited/audit").await.status, 404);
    assert!(app.audit_of(Some(&elsewhere)).await.is_empty());
    let mut staff = Browser::new(&app);
    staff.post("/login", &[("email", "staff@example.com"), ("password", "correct horse battery")]).await.expect(303);
    assert_eq!(staff.get("/shops/audited/audit").await.status, 403);
    app.stop().await;
}

#[tokio::test]
async fn audit_entries_cannot_be_edited_or_deleted() {
    let app = TestApp::spawn().await;
    let mut owner = merchant_with_shop(&app, "owner@example.com", "locked").await;
    owner.post("/shops/locked/mode", &[("mode", "test")]).await.expect(303);
    let before = app.audit_of(None).await;
    assert!(!before.is_empty());

    // No route takes a write.
    for path in ["/shops/locked/audit", "/ops/audit"] {
        let p = owner.post(path, &[]).await;
        assert!(p.status == 405 || p.status == 404, "{path}: {}", p.status);
    }
    // The database refuses, whatever the statement.
    let backend = app.db.backend();
    let mut statements = vec![
        "UPDATE audit_log SET detail = 'rewritten'".to_string(),
        "DELETE FROM audit_log".to_string(),
        format!("DELETE FROM audit_log WHERE id = '{}'", before[0].id),
    ];
    if app.db.engine() == Engine::Postgres {
        statements.push("TRUNCATE audit_log".into());
    }
    for sql in statements {
        let r = app.db.writer().execute_raw(Statement::from_string(backend, sql.clone())).await;
        let err = r.expect_err(&sql).to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(app.audit_of(None).await, before);
    app.stop().await;
}
