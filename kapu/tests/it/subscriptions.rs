//! Merchants paying for plans through the platform's Stripe account: the
//! Checkout Session, plan changes applied only from verified webhooks
//! (replayed and out-of-order events included), dunning with a grace period,
//! downgrade and recovery, price changes and cancellation.

use crate::support;

use kapu_core::entities::{plans, subscriptions, tenants};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use support::fakes::stripe_billing::{FakeStripeBilling, SECRET_KEY, WEBHOOK_SECRET};
use support::merchant::{merchant_with_shop, verified_merchant};
use support::{Options, TestApp, read_outbox};

async fn billing_app() -> (TestApp, FakeStripeBilling) {
    let stripe = FakeStripeBilling::start().await;
    let app = TestApp::spawn_with(Options {
        stripe_api_base: Some(stripe.base.clone()),
        billing_stripe: Some((SECRET_KEY.into(), WEBHOOK_SECRET.into())),
        ..Default::default()
    })
    .await;
    stripe.set_webhook(&app.platform_url("/api/platform/stripe/webhook"));
    set_price(&app, "pro", "price_pro").await;
    let biz = kapu_core::store::plans::PlanInput {
        id: "biz".into(),
        name: "商业版 Business".into(),
        price_minor: 29_900,
        stripe_price_id: Some("price_biz".into()),
        is_default: false,
        ..kapu_core::store::plans::builtin_plans().remove(1)
    };
    kapu_core::store::plans::insert_plan(app.db.writer(), &biz).await.expect("biz plan");
    (app, stripe)
}

async fn set_price(app: &TestApp, plan: &str, price: &str) {
    plans::Entity::update_many()
        .col_expr(plans::Column::StripePriceId, Expr::value(price))
        .filter(plans::Column::Id.eq(plan))
        .exec(app.db.writer())
        .await
        .expect("price");
}

async fn plan_of(app: &TestApp, tenant: &str) -> String {
    tenants::Entity::find_by_id(tenant.to_string()).one(app.db.reader()).await.expect("db").expect("tenant").plan_id
}

async fn subscription(app: &TestApp, tenant: &str) -> subscriptions::Model {
    subscriptions::Entity::find_by_id(tenant.to_string()).one(app.db.reader()).await.expect("db").expect("subscription")
}

async fn plan_changes(app: &TestApp, tenant: &str) -> Vec<kapu_core::entities::audit_log::Model> {
    app.audit_of(Some(tenant)).await.into_iter().filter(|e| e.action == "plan.change").collect()
}

fn mails_to(app: &TestApp, to: &str, needle: &str) -> usize {
    read_outbox(&app.outbox())
        .into_iter()
        .filter(|(a, s, b)| a == to && (s.contains(needle) || b.contains(needle)))
        .count()
}

#[tokio::test]
async fn a_subscription_changes_the_plan_only_through_verified_webhooks_through_its_whole_life() {
    let (app, stripe) = billing_app().await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "subs").await;
    let tenant = app.tenant_id("subs").await;
    assert_eq!(plan_of(&app, &tenant).await, "free");
    let page = b.get("/shops/subs/plan").await;
    page.expect(200);
    assert!(page.body.contains("Choose Pro"), "{}", page.body);

    // Subscribing opens Stripe Checkout in subscription mode.
    let p = b.post("/shops/subs/plan/subscribe", &[("plan_id", "pro")]).await;
    p.expect(303);
    assert!(
        p.location.as_deref().unwrap_or("").starts_with("https://checkout.stripe.com/c/pay/cs_test_sub"),
        "{:?}",
        p.location
    );
    let s = &stripe.sessions()[0];
    assert_eq!(s["mode"], "subscription");
    assert_eq!(s["line_items[0][price]"], "price_pro");
    assert_eq!(s["client_reference_id"], tenant);
    assert_eq!(s["subscription_data[metadata][kapu_tenant]"], tenant);
    assert_eq!(s["subscription_data[trial_period_days]"], "14");
    assert_eq!(s["customer_email"], "owner@example.com");
    // Coming back from Checkout changes nothing by itself.
    let back = b.get("/shops/subs/plan?m=checkout_done").await;
    assert!(back.body.contains("<span id=\"current-plan\">Free</span>"));
    assert_eq!(plan_of(&app, &tenant).await, "free");

    let t0 = chrono::Utc::now().timestamp() - 1_000;
    let done = stripe.event("checkout.session.completed", stripe.checkout_completed(&tenant, "sub_1"), t0);
    assert_eq!(stripe.send(&done).await, (200, "linked".into()));
    let created = stripe.event(
        "customer.subscription.created",
        stripe.subscription("sub_1", "trialing", "price_pro", &tenant, "pro"),
        t0 + 1,
    );
    assert_eq!(stripe.send(&created).await, (200, "applied".into()));
    assert_eq!(plan_of(&app, &tenant).await, "pro");
    // Replayed: acknowledged, nothing applied twice.
    assert_eq!(stripe.send(&created).await, (200, "duplicate".into()));
    assert_eq!(stripe.send(&done).await, (200, "duplicate".into()));
    let c = plan_changes(&app, &tenant).await;
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].actor_kind.as_str(), c[0].target.as_str()), ("stripe", "pro"));

    // Out of order: a newer update arrives first, then an older cancellation.
    let newer = stripe.event(
        "customer.subscription.updated",
        stripe.subscription("sub_1", "active", "price_pro", &tenant, "pro"),
        t0 + 20,
    );
    assert_eq!(stripe.send(&newer).await, (200, "applied".into()));
    let older = stripe.event(
        "customer.subscription.deleted",
        stripe.subscription("sub_1", "canceled", "price_pro", &tenant, "pro"),
        t0 + 10,
    );
    assert_eq!(stripe.send(&older).await, (200, "stale".into()));
    assert_eq!(plan_of(&app, &tenant).await, "pro");
    assert_eq!(subscription(&app, &tenant).await.status, "active");

    // Dunning: a failed renewal starts the grace period, once.
    let failed = stripe.event("invoice.payment_failed", stripe.invoice("sub_1", 1), t0 + 30);
    assert_eq!(stripe.send(&failed).await, (200, "grace".into()));
    let again = stripe.event("invoice.payment_failed", stripe.invoice("sub_1", 2), t0 + 31);
    assert_eq!(stripe.send(&again).await, (200, "grace".into()));
    let sub = subscription(&app, &tenant).await;
    assert_eq!(sub.status, "past_due");
    let grace = sub.grace_until.expect("grace period");
    assert!(grace > chrono::Utc::now() + chrono::Duration::days(6), "{grace}");
    assert_eq!(plan_of(&app, &tenant).await, "pro", "the plan holds during the grace period");
    let dash = b.get("/shops/subs").await;
    assert!(dash.body.contains("grace-banner"), "banner on the dashboard");
    assert!(
        app.eventually(10, || async {
            mails_to(&app, "owner@example.com", "Payment for Shop subs's plan failed") == 1
        })
        .await
    );
    assert_eq!(kapu_platform::subscriptions::sweep::sweep_once(&app.platform).await.expect("sweep"), (0, 0));

    // The grace period runs out: back to the free plan, nothing deleted, the owner told.
    subscriptions::Entity::update_many()
        .col_expr(subscriptions::Column::GraceUntil, Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)))
        .filter(subscriptions::Column::TenantId.eq(tenant.as_str()))
        .exec(app.db.writer())
        .await
        .expect("expire grace");
    assert_eq!(kapu_platform::subscriptions::sweep::sweep_once(&app.platform).await.expect("sweep"), (1, 0));
    assert_eq!(plan_of(&app, &tenant).await, "free");
    assert!(app.eventually(10, || async { mails_to(&app, "owner@example.com", "moved to Free") == 1 }).await);
    let last = plan_changes(&app, &tenant).await.pop().expect("change");
    assert_eq!((last.actor_kind.as_str(), last.target.as_str()), ("system", "free"));

    // Paying late restores the plan.
    let paid = stripe.event("invoice.paid", stripe.invoice("sub_1", 3), t0 + 40);
    assert_eq!(stripe.send(&paid).await, (200, "paid".into()));
    assert_eq!(plan_of(&app, &tenant).await, "pro");
    assert!(!b.get("/shops/subs").await.body.contains("grace-banner"));

    // Moving to another paid plan changes the live subscription's price; the plan follows the webhook.
    stripe.add_subscription("sub_1", "price_pro");
    let p = b.post("/shops/subs/plan/subscribe", &[("plan_id", "biz")]).await;
    p.expect(303);
    assert_eq!(p.location.as_deref(), Some("/shops/subs/plan?m=change_requested"));
    assert_eq!(stripe.price_changes(), vec![("sub_1".to_string(), "price_biz".to_string())]);
    assert_eq!(plan_of(&app, &tenant).await, "pro");
    let moved = stripe.event(
        "customer.subscription.updated",
        stripe.subscription("sub_1", "active", "price_biz", &tenant, "pro"),
        t0 + 50,
    );
    assert_eq!(stripe.send(&moved).await, (200, "applied".into()));
    assert_eq!(plan_of(&app, &tenant).await, "biz", "the price decides over stale metadata");

    // Cancelling asks Stripe; the shop returns to the free plan when Stripe says so.
    b.post("/shops/subs/plan/cancel", &[]).await.expect(303);
    assert_eq!(stripe.cancelled(), vec!["sub_1".to_string()]);
    assert_eq!(plan_of(&app, &tenant).await, "biz");
    let deleted = stripe.event(
        "customer.subscription.deleted",
        stripe.subscription("sub_1", "canceled", "price_biz", &tenant, "biz"),
        t0 + 60,
    );
    assert_eq!(stripe.send(&deleted).await, (200, "downgraded".into()));
    assert_eq!(plan_of(&app, &tenant).await, "free");
    let merchant_actions: Vec<String> = app.audit_of(Some(&tenant)).await.into_iter().map(|e| e.action).collect();
    for a in ["plan.checkout", "plan.change_requested", "plan.cancel_requested", "billing.payment_failed"] {
        assert!(merchant_actions.contains(&a.to_string()), "{a}: {merchant_actions:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn forged_stale_and_foreign_billing_events_change_nothing() {
    let (app, stripe) = billing_app().await;
    let _b = merchant_with_shop(&app, "owner@example.com", "safe").await;
    let tenant = app.tenant_id("safe").await;
    let now = chrono::Utc::now().timestamp();
    let upgrade = stripe.event(
        "customer.subscription.created",
        stripe.subscription("sub_x", "active", "price_biz", &tenant, "biz"),
        now,
    );
    // Another secret, a stale timestamp, a body changed after signing, no header.
    assert_eq!(stripe.post_signed(&upgrade, "whsec_not_ours", now).await.0, 400);
    assert_eq!(stripe.post_signed(&upgrade, WEBHOOK_SECRET, now - 600).await.0, 400);
    let client = support::fakes::notify_client();
    let url = app.platform_url("/api/platform/stripe/webhook");
    let sig = support::fakes::stripe::stripe_signature(&upgrade, WEBHOOK_SECRET, now);
    let tampered = upgrade.replace("price_biz", "price_pro");
    let r = client.post(&url).header("stripe-signature", &sig).body(tampered).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 400);
    let r = client.post(&url).body(upgrade.clone()).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 400);
    // A live-mode event for the platform's test key.
    let live = upgrade.replace("\"livemode\":false", "\"livemode\":true");
    assert_eq!(stripe.send(&live).await.0, 400);
    assert_eq!(plan_of(&app, &tenant).await, "free");
    // A well-signed event for a shop that does not exist is acknowledged and ignored.
    let ghost = stripe.event(
        "customer.subscription.created",
        stripe.subscription("sub_y", "active", "price_biz", "no-such-tenant", "biz"),
        now,
    );
    assert_eq!(stripe.send(&ghost).await, (200, "unknown_shop".into()));
    // The genuine one still applies afterwards (the refused ones claimed nothing).
    assert_eq!(stripe.send(&upgrade).await, (200, "applied".into()));
    assert_eq!(plan_of(&app, &tenant).await, "biz");
    app.stop().await;
}

#[tokio::test]
async fn only_owners_subscribe_and_an_unconfigured_platform_says_so() {
    let (app, _stripe) = billing_app().await;
    let mut owner = merchant_with_shop(&app, "owner@example.com", "roles").await;
    let mut staff = verified_merchant(&app, "staff@example.com").await;
    owner.post("/shops/roles/team", &[("email", "staff@example.com")]).await.expect(303);
    assert_eq!(staff.post("/shops/roles/plan/subscribe", &[("plan_id", "pro")]).await.status, 403);
    assert!(!staff.get("/shops/roles/plan").await.body.contains("/plan/subscribe"), "no subscribe button for staff");
    // An archived or unknown plan cannot be bought.
    assert_eq!(owner.post("/shops/roles/plan/subscribe", &[("plan_id", "gold")]).await.status, 400);
    assert_eq!(owner.post("/shops/roles/plan/subscribe", &[("plan_id", "free")]).await.status, 400);
    app.stop().await;

    let plain = TestApp::spawn().await;
    let mut m = merchant_with_shop(&plain, "owner@example.com", "plain").await;
    let p = m.post("/shops/plain/plan/subscribe", &[("plan_id", "pro")]).await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("not set up"), "{}", p.body);
    let r =
        plain.client.post(plain.platform_url("/api/platform/stripe/webhook")).body("{}").send().await.expect("post");
    assert_eq!(r.status().as_u16(), 404);
    plain.stop().await;
}
