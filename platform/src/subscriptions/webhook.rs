//! `POST /api/platform/stripe/webhook`: the platform Stripe account's events.
//!
//! Each event is verified (signature, timestamp), claimed by id (a replay is
//! acknowledged and changes nothing) and applied in one transaction with its
//! claim, so a failure leaves it unclaimed and Stripe's retry applies it.
//! Events of one subscription are ordered by their `created` time: an event
//! older than the newest one applied is recorded as `stale` and ignored, so
//! out-of-order delivery cannot undo a later change.
//!
//! What changes a shop's plan: `customer.subscription.*` with status
//! `active`/`trialing` (the subscribed plan), `canceled`/`incomplete_expired`
//! (the default plan); `invoice.payment_failed` starts a grace period,
//! `invoice.paid` ends it. Nothing the browser says after Checkout counts.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use kapu_billing::subscriptions::{BillingEvent, SubscriptionFacts, VerifiedEvent, verify_billing_event_now};
use kapu_core::entities::subscriptions;
use kapu_core::store::audit::{Actor, record_audit};
use kapu_core::store::plans::{
    default_plan_id, find_plan, find_plan_by_stripe_price, plan_of_tenant, set_plan_of_tenant,
};
use kapu_core::store::subscriptions::{
    claim_stripe_event, find_subscription_by_stripe_id, find_subscription_for_tenant, save_subscription,
    set_stripe_event_outcome,
};
use kapu_core::tenant::find_tenant_by_id;
use sea_orm::{DatabaseTransaction, DbErr};

use crate::state::PlatformState;
use crate::subscriptions::notices::{BillingNotice, queue_notice};

pub async fn stripe_billing_webhook(State(state): State<PlatformState>, headers: HeaderMap, body: String) -> Response {
    let Some(secret) = state.cfg.billing_stripe_webhook_secret.as_ref() else {
        return (StatusCode::NOT_FOUND, "platform billing is not configured").into_response();
    };
    let Some(sig) = headers.get("stripe-signature").and_then(|v| v.to_str().ok()) else {
        return (StatusCode::BAD_REQUEST, "missing Stripe-Signature").into_response();
    };
    let event = match verify_billing_event_now(&body, sig, secret.expose()) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "platform Stripe webhook refused");
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response();
        }
    };
    let test_key = state.cfg.billing_stripe_secret_key.as_ref().is_none_or(|k| k.expose().contains("_test_"));
    if event.livemode == test_key {
        tracing::warn!(event = %event.id, "platform Stripe webhook in the other mode than the key; refused");
        return (StatusCode::BAD_REQUEST, "event mode does not match the platform's Stripe key").into_response();
    }
    match handle(&state, &event).await {
        Ok((outcome, changed)) => {
            for tenant in changed {
                state.bus.shop_changed(&tenant);
            }
            tracing::info!(event = %event.id, kind = %event.kind, %outcome, "platform Stripe event");
            (StatusCode::OK, outcome).into_response()
        }
        Err(e) => {
            tracing::error!(event = %event.id, error = %e, "platform Stripe event failed; Stripe will retry");
            (StatusCode::INTERNAL_SERVER_ERROR, "try again").into_response()
        }
    }
}

/// Applies one event; returns what it did and the shops whose plan changed.
async fn handle(state: &PlatformState, event: &VerifiedEvent) -> Result<(String, Vec<String>), DbErr> {
    let txn = state.db.begin().await?;
    if !claim_stripe_event(&txn, &event.id, &event.kind).await? {
        return Ok(("duplicate".into(), vec![]));
    }
    let mut changed = Vec::new();
    let outcome = apply(state, &txn, event, &mut changed).await?;
    set_stripe_event_outcome(&txn, &event.id, &outcome).await?;
    txn.commit().await?;
    Ok((outcome, changed))
}

fn timestamp(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.and_then(|s| DateTime::from_timestamp(s, 0))
}

async fn apply(
    state: &PlatformState,
    txn: &DatabaseTransaction,
    event: &VerifiedEvent,
    changed: &mut Vec<String>,
) -> Result<String, DbErr> {
    let actor = Actor::stripe(&event.id);
    match &event.event {
        BillingEvent::Ignored => Ok("ignored".into()),
        BillingEvent::CheckoutCompleted { tenant_id, customer_id, subscription_id } => {
            if find_tenant_by_id(txn, tenant_id).await?.is_none() {
                return Ok("unknown_shop".into());
            }
            let mut row = find_subscription_for_tenant(txn, tenant_id).await?.unwrap_or_else(|| new_row(tenant_id));
            row.stripe_customer_id = customer_id.clone().or(row.stripe_customer_id);
            if subscription_id.is_some() {
                row.stripe_subscription_id = subscription_id.clone();
            }
            save_subscription(txn, row).await?;
            Ok("linked".into())
        }
        BillingEvent::SubscriptionChanged(f) => subscription_changed(state, txn, event, f, &actor, changed).await,
        BillingEvent::InvoicePaid { subscription_id } => {
            let Some(mut row) = find_subscription_by_stripe_id(txn, subscription_id).await? else {
                return Ok("unknown_subscription".into());
            };
            if event.created < row.last_event_at {
                return Ok("stale".into());
            }
            row.last_event_at = event.created;
            let was_behind =
                row.grace_until.is_some() || matches!(row.status.as_str(), "past_due" | "unpaid" | "lapsed");
            row.grace_until = None;
            if was_behind {
                row.status = "active".into();
                move_plan(txn, &row.tenant_id, &row.plan_id, &actor, "invoice paid", changed).await?;
            }
            save_subscription(txn, row).await?;
            Ok("paid".into())
        }
        BillingEvent::InvoicePaymentFailed { subscription_id, attempt_count } => {
            let Some(mut row) = find_subscription_by_stripe_id(txn, subscription_id).await? else {
                return Ok("unknown_subscription".into());
            };
            if event.created < row.last_event_at {
                return Ok("stale".into());
            }
            row.last_event_at = event.created;
            row.status = "past_due".into();
            let first_failure = row.grace_until.is_none();
            let grace_until =
                row.grace_until.unwrap_or_else(|| Utc::now() + Duration::days(state.cfg.dunning_grace_days));
            row.grace_until = Some(grace_until);
            let tenant_id = row.tenant_id.clone();
            save_subscription(txn, row).await?;
            record_audit(
                txn,
                &actor,
                Some(&tenant_id),
                "billing.payment_failed",
                subscription_id,
                &format!("attempt {attempt_count}; grace until {}", grace_until.format("%Y-%m-%d %H:%M UTC")),
            )
            .await?;
            if first_failure {
                let until = grace_until.format("%Y-%m-%d %H:%M").to_string();
                queue_notice(txn, &tenant_id, BillingNotice::PaymentFailed { grace_until: until }).await?;
            }
            Ok("grace".into())
        }
    }
}

fn new_row(tenant_id: &str) -> subscriptions::Model {
    subscriptions::Model {
        tenant_id: tenant_id.into(),
        plan_id: String::new(),
        status: "checkout".into(),
        stripe_customer_id: None,
        stripe_subscription_id: None,
        current_period_end: None,
        grace_until: None,
        last_event_at: 0,
        updated_at: Utc::now(),
    }
}

async fn subscription_changed(
    state: &PlatformState,
    txn: &DatabaseTransaction,
    event: &VerifiedEvent,
    f: &SubscriptionFacts,
    actor: &Actor,
    changed: &mut Vec<String>,
) -> Result<String, DbErr> {
    let mut row = match find_subscription_by_stripe_id(txn, &f.subscription_id).await? {
        Some(r) => r,
        None => {
            let Some(tenant_id) = f.tenant_id.as_deref() else { return Ok("unknown_subscription".into()) };
            if find_tenant_by_id(txn, tenant_id).await?.is_none() {
                return Ok("unknown_shop".into());
            }
            let mut r = find_subscription_for_tenant(txn, tenant_id).await?.unwrap_or_else(|| new_row(tenant_id));
            // A newer subscription replaces the shop's previous one.
            if r.stripe_subscription_id.as_deref() != Some(&f.subscription_id) {
                r.last_event_at = 0;
            }
            r
        }
    };
    if event.created < row.last_event_at {
        return Ok("stale".into());
    }
    let plan = match &f.price_id {
        Some(price) => find_plan_by_stripe_price(txn, price).await?,
        None => None,
    };
    let plan = match (plan, &f.plan_hint) {
        (Some(p), _) => Some(p),
        (None, Some(hint)) => find_plan(txn, hint).await?,
        (None, None) => None,
    };
    if let Some(p) = &plan {
        row.plan_id = p.id.clone();
    }
    row.stripe_subscription_id = Some(f.subscription_id.clone());
    row.stripe_customer_id = Some(f.customer_id.clone());
    row.status = f.status.clone();
    row.current_period_end = timestamp(f.current_period_end);
    row.last_event_at = event.created;
    let tenant_id = row.tenant_id.clone();
    let outcome = match f.status.as_str() {
        "active" | "trialing" => {
            row.grace_until = None;
            if row.plan_id.is_empty() {
                "no_plan_for_price".to_string()
            } else {
                move_plan(txn, &tenant_id, &row.plan_id.clone(), actor, &format!("subscription {}", f.status), changed)
                    .await?;
                "applied".into()
            }
        }
        "past_due" | "unpaid" => {
            if row.grace_until.is_none() {
                row.grace_until = Some(Utc::now() + Duration::days(state.cfg.dunning_grace_days));
            }
            "grace".into()
        }
        "canceled" | "incomplete_expired" => {
            row.grace_until = None;
            let fallback = default_plan_id(txn).await?;
            move_plan(txn, &tenant_id, &fallback, actor, &format!("subscription {}", f.status), changed).await?;
            "downgraded".into()
        }
        _ => "recorded".into(),
    };
    save_subscription(txn, row).await?;
    Ok(outcome)
}

/// Moves a shop to `plan_id` if it is on another plan, with an audit entry.
pub async fn move_plan<C: sea_orm::ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    plan_id: &str,
    actor: &Actor,
    why: &str,
    changed: &mut Vec<String>,
) -> Result<(), DbErr> {
    let current = plan_of_tenant(conn, tenant_id).await?;
    if current.id == plan_id {
        return Ok(());
    }
    set_plan_of_tenant(conn, tenant_id, plan_id).await?;
    record_audit(conn, actor, Some(tenant_id), "plan.change", plan_id, &format!("{} → {plan_id} ({why})", current.id))
        .await?;
    changed.push(tenant_id.to_string());
    Ok(())
}
