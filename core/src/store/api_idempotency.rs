//! `Idempotency-Key` on merchant API POSTs: the first request with a key
//! claims it (a row with status 0), does its work and stores its answer; a
//! repeat gets the stored answer, a repeat while the first still runs gets
//! a conflict, and the same key with another request is refused.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::entities::api_idempotency;

/// How long a stored answer is replayed.
pub const KEEP_HOURS: i64 = 24;

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Ours: do the work, then `finish` (or `abandon` on a server error).
    Claimed,
    /// Done before: replay this status and body.
    Replay { status: u16, body: String },
    /// The first request with this key is still running.
    InProgress,
    /// The key was used with a different request.
    Mismatch,
}

fn key_filter(tenant_id: &str, api_key_id: &str, idem_key: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(api_idempotency::Column::TenantId.eq(tenant_id))
        .add(api_idempotency::Column::ApiKeyId.eq(api_key_id))
        .add(api_idempotency::Column::IdemKey.eq(idem_key))
}

/// Claims `idem_key` for a request whose fingerprint is `request_hash`.
pub async fn claim_idempotency_key_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    api_key_id: &str,
    idem_key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<Claim, DbErr> {
    // An answer older than the window no longer counts.
    api_idempotency::Entity::delete_many()
        .filter(key_filter(tenant_id, api_key_id, idem_key))
        .filter(api_idempotency::Column::CreatedAt.lt(now - Duration::hours(KEEP_HOURS)))
        .exec(conn)
        .await?;
    let inserted = api_idempotency::Entity::insert(api_idempotency::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        api_key_id: Set(api_key_id.into()),
        idem_key: Set(idem_key.into()),
        request_hash: Set(request_hash.into()),
        status_code: Set(0),
        response_body: Set(String::new()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            api_idempotency::Column::TenantId,
            api_idempotency::Column::ApiKeyId,
            api_idempotency::Column::IdemKey,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    if inserted == 1 {
        return Ok(Claim::Claimed);
    }
    let Some(row) =
        api_idempotency::Entity::find().filter(key_filter(tenant_id, api_key_id, idem_key)).one(conn).await?
    else {
        // Deleted between our insert and read: let the client retry.
        return Ok(Claim::InProgress);
    };
    Ok(if row.request_hash != request_hash {
        Claim::Mismatch
    } else if row.status_code == 0 {
        Claim::InProgress
    } else {
        Claim::Replay { status: u16::try_from(row.status_code).unwrap_or(500), body: row.response_body }
    })
}

/// Stores the answer of a claimed key.
pub async fn finish_idempotency_key_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    api_key_id: &str,
    idem_key: &str,
    status: u16,
    body: &str,
) -> Result<(), DbErr> {
    api_idempotency::Entity::update_many()
        .col_expr(api_idempotency::Column::StatusCode, Expr::value(i32::from(status)))
        .col_expr(api_idempotency::Column::ResponseBody, Expr::value(body))
        .filter(key_filter(tenant_id, api_key_id, idem_key))
        .exec(conn)
        .await?;
    Ok(())
}

/// Releases a claimed key whose request failed on our side, so a retry runs again.
pub async fn abandon_idempotency_key_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    api_key_id: &str,
    idem_key: &str,
) -> Result<(), DbErr> {
    api_idempotency::Entity::delete_many().filter(key_filter(tenant_id, api_key_id, idem_key)).exec(conn).await?;
    Ok(())
}

/// Drops answers past the window (housekeeping).
pub async fn purge_old_idempotency_keys<C: ConnectionTrait>(conn: &C, now: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(api_idempotency::Entity::delete_many()
        .filter(api_idempotency::Column::CreatedAt.lt(now - Duration::hours(KEEP_HOURS)))
        .exec(conn)
        .await?
        .rows_affected)
}
