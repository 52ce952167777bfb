//! Shops' Stripe Billing subscriptions and the platform Stripe events
//! already handled.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::entities::{stripe_events, subscriptions};

pub async fn find_subscription_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Option<subscriptions::Model>, DbErr> {
    subscriptions::Entity::find_by_id(tenant_id.to_string()).one(conn).await
}

pub async fn find_subscription_by_stripe_id<C: ConnectionTrait>(
    conn: &C,
    stripe_subscription_id: &str,
) -> Result<Option<subscriptions::Model>, DbErr> {
    subscriptions::Entity::find()
        .filter(subscriptions::Column::StripeSubscriptionId.eq(stripe_subscription_id))
        .one(conn)
        .await
}

/// Writes a shop's subscription row (insert or replace).
pub async fn save_subscription<C: ConnectionTrait>(conn: &C, m: subscriptions::Model) -> Result<(), DbErr> {
    let am = subscriptions::ActiveModel {
        tenant_id: Set(m.tenant_id),
        plan_id: Set(m.plan_id),
        status: Set(m.status),
        stripe_customer_id: Set(m.stripe_customer_id),
        stripe_subscription_id: Set(m.stripe_subscription_id),
        current_period_end: Set(m.current_period_end),
        grace_until: Set(m.grace_until),
        last_event_at: Set(m.last_event_at),
        updated_at: Set(Utc::now()),
    };
    subscriptions::Entity::insert(am)
        .on_conflict(
            OnConflict::column(subscriptions::Column::TenantId)
                .update_columns([
                    subscriptions::Column::PlanId,
                    subscriptions::Column::Status,
                    subscriptions::Column::StripeCustomerId,
                    subscriptions::Column::StripeSubscriptionId,
                    subscriptions::Column::CurrentPeriodEnd,
                    subscriptions::Column::GraceUntil,
                    subscriptions::Column::LastEventAt,
                    subscriptions::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Subscriptions whose grace period after a failed payment is over.
pub async fn lapsed_subscriptions<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> Result<Vec<subscriptions::Model>, DbErr> {
    subscriptions::Entity::find().filter(subscriptions::Column::GraceUntil.lte(now)).all(conn).await
}

/// Claims a Stripe event id; `false` if it was handled before (a replay).
pub async fn claim_stripe_event<C: ConnectionTrait>(conn: &C, id: &str, kind: &str) -> Result<bool, DbErr> {
    let r = stripe_events::Entity::insert(stripe_events::ActiveModel {
        id: Set(id.to_string()),
        kind: Set(kind.chars().take(64).collect()),
        outcome: Set("received".into()),
        received_at: Set(Utc::now()),
    })
    .on_conflict(OnConflict::column(stripe_events::Column::Id).do_nothing().to_owned())
    .exec_without_returning(conn)
    .await;
    match r {
        Ok(n) => Ok(n == 1),
        // Nothing inserted: the id was there.
        Err(DbErr::RecordNotInserted) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Notes what handling a claimed event did.
pub async fn set_stripe_event_outcome<C: ConnectionTrait>(conn: &C, id: &str, outcome: &str) -> Result<(), DbErr> {
    let am = stripe_events::ActiveModel {
        id: Set(id.to_string()),
        outcome: Set(outcome.chars().take(64).collect()),
        ..Default::default()
    };
    am.update(conn).await?;
    Ok(())
}
