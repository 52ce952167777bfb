//! A shop's merchant API keys. The secret (`kapu_sk_{base64url}`) is shown
//! once; only its SHA-256 is stored, so a database dump gives no usable key.
//! A key is looked up by its hash alone: the key itself names its shop.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::api_keys;
use crate::ids::{new_id, new_secret_token, token_hash};

/// Every key starts with this, so leaked keys are easy to search for.
pub const KEY_PREFIX: &str = "kapu_sk_";
/// Keys a shop may hold at once (revoked ones not counted).
pub const MAX_KEYS_PER_SHOP: usize = 20;

/// What a key may do: `read` sees, `write` also changes, `supply` is an
/// outside reseller's key: it lists the products this shop offers for
/// resale and buys them from its prepaid balance, and sees nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
    Supply,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "supply" => Some(Scope::Supply),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Supply => "supply",
        }
    }
    /// Whether a key of this scope may do what `needed` asks.
    pub fn allows(self, needed: Scope) -> bool {
        match self {
            Scope::Write => true,
            Scope::Read => needed == Scope::Read,
            Scope::Supply => needed == Scope::Supply,
        }
    }
}

/// A key just made: the row, and the secret to show once.
pub struct NewApiKey {
    pub key: api_keys::Model,
    pub secret: String,
}

/// Makes a key for a shop.
pub async fn create_api_key_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    name: &str,
    scope: Scope,
    created_by: Option<&str>,
) -> Result<NewApiKey, DbErr> {
    let secret = format!("{KEY_PREFIX}{}", new_secret_token());
    let model = api_keys::Model {
        tenant_id: tenant_id.into(),
        id: new_id(),
        name: name.into(),
        prefix: secret.chars().take(KEY_PREFIX.len() + 6).collect(),
        key_hash: token_hash(&secret),
        scope: scope.as_str().into(),
        created_by: created_by.map(str::to_string),
        created_at: Utc::now(),
        last_used_at: None,
        revoked_at: None,
    };
    let am: api_keys::ActiveModel = model.clone().into();
    api_keys::Entity::insert(am).exec_without_returning(conn).await?;
    Ok(NewApiKey { key: model, secret })
}

/// A shop's keys, newest first, revoked ones included.
pub async fn list_api_keys_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<api_keys::Model>, DbErr> {
    api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(tenant_id))
        .order_by_desc(api_keys::Column::CreatedAt)
        .all(conn)
        .await
}

/// Keys not revoked.
pub async fn count_live_api_keys_for_tenant<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<usize, DbErr> {
    Ok(list_api_keys_for_tenant(conn, tenant_id).await?.iter().filter(|k| k.revoked_at.is_none()).count())
}

/// Revokes a key; `None` when the shop has no such live key.
pub async fn revoke_api_key_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    key_id: &str,
) -> Result<Option<api_keys::Model>, DbErr> {
    let done = api_keys::Entity::update_many()
        .col_expr(api_keys::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(api_keys::Column::TenantId.eq(tenant_id))
        .filter(api_keys::Column::Id.eq(key_id))
        .filter(api_keys::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    if done.rows_affected == 0 {
        return Ok(None);
    }
    api_keys::Entity::find_by_id((tenant_id.to_string(), key_id.to_string())).one(conn).await
}

/// The live key whose secret this is, if any.
pub async fn find_live_api_key_by_secret<C: ConnectionTrait>(
    conn: &C,
    secret: &str,
) -> Result<Option<api_keys::Model>, DbErr> {
    if !secret.starts_with(KEY_PREFIX) || secret.len() > 200 {
        return Ok(None);
    }
    api_keys::Entity::find()
        .filter(api_keys::Column::KeyHash.eq(token_hash(secret)))
        .filter(api_keys::Column::RevokedAt.is_null())
        .one(conn)
        .await
}

/// Records use, at most once a minute per key (a write per request would
/// make every API read a write on SQLite).
pub async fn touch_api_key_for_tenant<C: ConnectionTrait>(
    conn: &C,
    key: &api_keys::Model,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if key.last_used_at.is_some_and(|t| now - t < chrono::Duration::seconds(60)) {
        return Ok(());
    }
    api_keys::Entity::update_many()
        .col_expr(api_keys::Column::LastUsedAt, Expr::value(now))
        .filter(api_keys::Column::TenantId.eq(&key.tenant_id))
        .filter(api_keys::Column::Id.eq(&key.id))
        .exec(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_includes_read() {
        assert!(Scope::Write.allows(Scope::Read));
        assert!(Scope::Write.allows(Scope::Write));
        assert!(Scope::Read.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Write));
        assert_eq!(Scope::parse("admin"), None);
    }
}
