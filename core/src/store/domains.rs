//! Custom domains of a shop. A hostname is the primary key, so one domain
//! belongs to one shop; a verified domain is never taken over, and an
//! unverified claim only blocks others for `UNVERIFIED_HOLD_HOURS`.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use crate::entities::domains;

/// How long an unverified claim keeps a hostname from other shops.
pub const UNVERIFIED_HOLD_HOURS: i64 = 48;

/// The TXT record name that proves control of `hostname`.
pub fn challenge_name(hostname: &str) -> String {
    format!("_kapu-challenge.{hostname}")
}

/// A hostname a merchant may add: lowercase letters, digits and hyphens in
/// 2–10 labels of 1–63 characters, no leading/trailing hyphen, a letter in
/// the last label, at most 253 characters; not an IP address.
pub fn normalize_hostname(input: &str) -> Option<String> {
    let h = input.trim().trim_end_matches('.').to_ascii_lowercase();
    let h = h.strip_prefix("http://").or_else(|| h.strip_prefix("https://")).unwrap_or(&h).trim_end_matches('/');
    if h.is_empty() || h.len() > 253 {
        return None;
    }
    let labels: Vec<&str> = h.split('.').collect();
    if !(2..=10).contains(&labels.len()) {
        return None;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !labels.iter().all(|l| label_ok(l)) || !labels.last()?.bytes().any(|b| b.is_ascii_lowercase()) {
        return None;
    }
    Some(h.to_string())
}

/// What adding a domain did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddDomain {
    Added(domains::Model),
    /// This shop already has it.
    AlreadyYours,
    /// Another shop verified it.
    VerifiedElsewhere,
    /// Another shop claimed it recently and may still verify it.
    PendingElsewhere,
}

/// Adds `hostname` (normalized) to a shop with a fresh `token`. An
/// unverified claim of another shop older than the hold is replaced.
pub async fn add_domain_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    hostname: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<AddDomain, DbErr> {
    if let Some(existing) = domains::Entity::find_by_id(hostname.to_string()).one(conn).await? {
        if existing.tenant_id == tenant_id {
            return Ok(AddDomain::AlreadyYours);
        }
        if existing.verified_at.is_some() {
            return Ok(AddDomain::VerifiedElsewhere);
        }
        if existing.created_at > now - Duration::hours(UNVERIFIED_HOLD_HOURS) {
            return Ok(AddDomain::PendingElsewhere);
        }
        // A stale claim: remove it, only if it is still that unverified row.
        domains::Entity::delete_many()
            .filter(domains::Column::Hostname.eq(hostname))
            .filter(domains::Column::TenantId.eq(existing.tenant_id.as_str()))
            .filter(domains::Column::VerifiedAt.is_null())
            .exec(conn)
            .await?;
    }
    let row = domains::Model {
        hostname: hostname.into(),
        tenant_id: tenant_id.into(),
        verification_token: token.into(),
        verified_at: None,
        created_at: now,
        last_checked_at: None,
        last_error: None,
    };
    domains::Entity::insert(domains::ActiveModel {
        hostname: Set(row.hostname.clone()),
        tenant_id: Set(row.tenant_id.clone()),
        verification_token: Set(row.verification_token.clone()),
        verified_at: Set(None),
        created_at: Set(now),
        last_checked_at: Set(None),
        last_error: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(AddDomain::Added(row))
}

pub async fn list_domains_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<domains::Model>, DbErr> {
    domains::Entity::find()
        .filter(domains::Column::TenantId.eq(tenant_id))
        .order_by_asc(domains::Column::Hostname)
        .all(conn)
        .await
}

pub async fn count_domains_for_tenant<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<u64, DbErr> {
    domains::Entity::find().filter(domains::Column::TenantId.eq(tenant_id)).count(conn).await
}

pub async fn find_domain_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    hostname: &str,
) -> Result<Option<domains::Model>, DbErr> {
    domains::Entity::find_by_id(hostname.to_string()).filter(domains::Column::TenantId.eq(tenant_id)).one(conn).await
}

/// Records a DNS check: verified (`error` is `None`) or what was wrong.
/// Only the shop's own row changes. Returns whether the domain is now verified.
pub async fn record_domain_check_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    hostname: &str,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let mut update = domains::Entity::update_many()
        .col_expr(domains::Column::LastCheckedAt, Expr::value(now))
        .col_expr(domains::Column::LastError, Expr::value(error.map(str::to_string)));
    if error.is_none() {
        update = update.col_expr(domains::Column::VerifiedAt, Expr::value(now));
    }
    let r = update
        .filter(domains::Column::Hostname.eq(hostname))
        .filter(domains::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1 && error.is_none())
}

/// Removes a shop's domain. `false` if the shop has no such domain.
pub async fn remove_domain_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    hostname: &str,
) -> Result<bool, DbErr> {
    let r = domains::Entity::delete_many()
        .filter(domains::Column::Hostname.eq(hostname))
        .filter(domains::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Whether `hostname` is some shop's verified domain (the TLS `ask` endpoint).
pub async fn is_verified_domain<C: ConnectionTrait>(conn: &C, hostname: &str) -> Result<bool, DbErr> {
    Ok(domains::Entity::find_by_id(hostname.to_string())
        .filter(domains::Column::VerifiedAt.is_not_null())
        .one(conn)
        .await?
        .is_some())
}

/// Unverified domains added since `since` (the periodic check's work).
pub async fn unverified_domains_since<C: ConnectionTrait>(
    conn: &C,
    since: DateTime<Utc>,
) -> Result<Vec<domains::Model>, DbErr> {
    domains::Entity::find()
        .filter(domains::Column::VerifiedAt.is_null())
        .filter(domains::Column::CreatedAt.gte(since))
        .all(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_normalized_or_refused() {
        assert_eq!(normalize_hostname(" Shop.Example.COM. ").as_deref(), Some("shop.example.com"));
        assert_eq!(normalize_hostname("https://shop.example.com/").as_deref(), Some("shop.example.com"));
        assert_eq!(normalize_hostname("xn--fiqs8s.example.cn").as_deref(), Some("xn--fiqs8s.example.cn"));
        for bad in [
            "",
            "localhost",
            "example",
            "1.2.3.4",
            "-a.example.com",
            "a-.example.com",
            "a..example.com",
            "shop.example.com:8080",
            "shop_1.example.com",
            "shop.example.com/path",
            "a b.example.com",
            &format!("{}.example.com", "a".repeat(64)),
        ] {
            assert_eq!(normalize_hostname(bad), None, "{bad:?}");
        }
    }
}
