use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::entities::payments;

/// Payment attempt states.
pub mod status {
    pub const CREATED: &str = "created";
    pub const SUCCEEDED: &str = "succeeded";
    pub const FAILED: &str = "failed";
    /// Paid, then refunded through the provider.
    pub const REFUNDED: &str = "refunded";
}

/// A payment attempt of a tenant, row-locked until the transaction ends.
pub async fn lock_payment_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    payment_id: &str,
) -> Result<Option<payments::Model>, DbErr> {
    payments::Entity::find_by_id((tenant_id.to_string(), payment_id.to_string())).lock_exclusive().one(conn).await
}

/// A payment attempt of a tenant.
pub async fn find_payment_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    payment_id: &str,
) -> Result<Option<payments::Model>, DbErr> {
    payments::Entity::find_by_id((tenant_id.to_string(), payment_id.to_string())).one(conn).await
}

/// All attempts of one order of a tenant.
pub async fn list_payments_of_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_id: &str,
) -> Result<Vec<payments::Model>, DbErr> {
    payments::Entity::find()
        .filter(payments::Column::TenantId.eq(tenant_id))
        .filter(payments::Column::OrderId.eq(order_id))
        .all(conn)
        .await
}

/// A new attempt on `channel` for an order, before the provider is called
/// (so a notification can never arrive for an attempt Kapu does not know).
pub struct NewAttempt<'a> {
    pub tenant_id: &'a str,
    pub payment_id: &'a str,
    pub order_id: &'a str,
    pub channel: &'a str,
    pub amount_minor: i64,
    pub currency: &'a str,
}

pub async fn insert_attempt<C: ConnectionTrait>(conn: &C, a: NewAttempt<'_>) -> Result<(), DbErr> {
    let now = chrono::Utc::now();
    payments::Entity::insert(payments::ActiveModel {
        tenant_id: Set(a.tenant_id.into()),
        id: Set(a.payment_id.into()),
        order_id: Set(a.order_id.into()),
        channel: Set(a.channel.into()),
        status: Set(status::CREATED.into()),
        amount_minor: Set(a.amount_minor),
        currency: Set(a.currency.into()),
        provider_ref: Set(None),
        error: Set(None),
        paid_at: Set(None),
        pay_url: Set(None),
        qr_payload: Set(None),
        calls: Set(0),
        latency_ms: Set(None),
        checked_at: Set(None),
        checks: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// How a create call at the provider ended.
pub struct AttemptResult<'a> {
    pub calls: u32,
    pub latency_ms: u64,
    /// `Ok((pay_url, qr_payload, provider_ref))` or the error text.
    pub outcome: Result<(&'a str, Option<&'a str>, Option<&'a str>), &'a str>,
}

/// Records what the provider said when the attempt was created. Only an
/// attempt still `created` changes (a fast notification may have paid it).
pub async fn record_attempt_result<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    payment_id: &str,
    r: AttemptResult<'_>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    let mut q = payments::Entity::update_many()
        .col_expr(payments::Column::Calls, Expr::value(i32::try_from(r.calls).unwrap_or(i32::MAX)))
        .col_expr(payments::Column::LatencyMs, Expr::value(i32::try_from(r.latency_ms).unwrap_or(i32::MAX)))
        .col_expr(payments::Column::UpdatedAt, Expr::value(chrono::Utc::now()));
    q = match r.outcome {
        Ok((pay_url, qr, provider_ref)) => {
            let q = q
                .col_expr(payments::Column::PayUrl, Expr::value(pay_url))
                .col_expr(payments::Column::QrPayload, Expr::value(qr.map(str::to_string)));
            match provider_ref {
                Some(r) => q.col_expr(payments::Column::ProviderRef, Expr::value(r)),
                None => q,
            }
        }
        Err(e) => q
            .col_expr(payments::Column::Status, Expr::value(status::FAILED))
            .col_expr(payments::Column::Error, Expr::value(e.chars().take(500).collect::<String>())),
    };
    q.filter(payments::Column::TenantId.eq(tenant_id))
        .filter(payments::Column::Id.eq(payment_id))
        .filter(payments::Column::Status.eq(status::CREATED))
        .exec(conn)
        .await?;
    Ok(())
}

/// Attempts, of every tenant, still `created` and created before `created_before`,
/// last asked before `checked_before` (or never), oldest first. The
/// reconciliation job asks their providers what became of them.
pub async fn attempts_to_reconcile<C: ConnectionTrait>(
    conn: &C,
    created_before: chrono::DateTime<chrono::Utc>,
    checked_before: chrono::DateTime<chrono::Utc>,
    max_checks: i32,
    skip_channels: &[&str],
    limit: u64,
) -> Result<Vec<payments::Model>, DbErr> {
    use sea_orm::{Condition, QueryOrder};
    payments::Entity::find()
        .filter(payments::Column::Status.eq(status::CREATED))
        .filter(payments::Column::Channel.is_not_in(skip_channels.iter().copied()))
        .filter(payments::Column::CreatedAt.lt(created_before))
        .filter(payments::Column::Checks.lt(max_checks))
        .filter(
            Condition::any()
                .add(payments::Column::CheckedAt.is_null())
                .add(payments::Column::CheckedAt.lt(checked_before)),
        )
        .order_by_asc(payments::Column::CreatedAt)
        .limit(limit)
        .all(conn)
        .await
}

/// Notes that reconciliation asked about an attempt; with `close_with`, the
/// attempt also stops waiting (`failed`, with the reason).
pub async fn mark_checked<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    payment_id: &str,
    now: chrono::DateTime<chrono::Utc>,
    close_with: Option<&str>,
) -> Result<(), DbErr> {
    use sea_orm::ExprTrait;
    use sea_orm::sea_query::Expr;
    let mut q = payments::Entity::update_many()
        .col_expr(payments::Column::CheckedAt, Expr::value(now))
        .col_expr(payments::Column::Checks, Expr::col(payments::Column::Checks).add(1));
    if let Some(reason) = close_with {
        q = q
            .col_expr(payments::Column::Status, Expr::value(status::FAILED))
            .col_expr(payments::Column::Error, Expr::value(format!("reconciliation: {reason}")));
    }
    q.filter(payments::Column::TenantId.eq(tenant_id))
        .filter(payments::Column::Id.eq(payment_id))
        .filter(payments::Column::Status.eq(status::CREATED))
        .exec(conn)
        .await?;
    Ok(())
}

/// The attempt of a tenant's channel that carries provider transaction `provider_ref`.
pub async fn find_payment_by_provider_ref_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    channel: &str,
    provider_ref: &str,
) -> Result<Option<payments::Model>, DbErr> {
    payments::Entity::find()
        .filter(payments::Column::TenantId.eq(tenant_id))
        .filter(payments::Column::Channel.eq(channel))
        .filter(payments::Column::ProviderRef.eq(provider_ref))
        .one(conn)
        .await
}

/// Marks a succeeded attempt refunded; false when it was not `succeeded`.
pub async fn mark_payment_refunded_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    payment_id: &str,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let r = payments::Entity::update_many()
        .col_expr(payments::Column::Status, Expr::value(status::REFUNDED))
        .col_expr(payments::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .filter(payments::Column::TenantId.eq(tenant_id))
        .filter(payments::Column::Id.eq(payment_id))
        .filter(payments::Column::Status.eq(status::SUCCEEDED))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}
