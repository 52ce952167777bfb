//! Suppliers outside Kapu (issue 20, part 2): a shop's connections to them,
//! its products of kind `external` (bought from one after each payment),
//! the supplier's stock as last polled, and the keys delivered from them
//! (by hash, so the same key is never delivered twice by one shop).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use sha2::{Digest, Sha256};

use crate::crypto::TenantKeys;
use crate::entities::{external_key_hashes, products, supplier_connections};
use crate::ids::new_id;

/// The product kind whose keys are bought from an external supplier after payment.
pub const KIND: &str = "external";

/// Which contract a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionKind {
    /// `docs/SUPPLIER_PROTOCOL.md`, requests signed with a shared secret.
    Generic,
    /// A shop on another Kapu platform: its merchant API's supply endpoints,
    /// with a supply API key it gave (and a prepaid balance behind it).
    Kapu,
}

impl ConnectionKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "generic" => Some(Self::Generic),
            "kapu" => Some(Self::Kapu),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Kapu => "kapu",
        }
    }
}

/// Adds a connection; the secret is sealed with the shop's key.
#[allow(clippy::too_many_arguments)]
pub async fn create_connection_for_tenant<C: ConnectionTrait>(
    conn: &C,
    keys: &TenantKeys,
    tenant_id: &str,
    kind: ConnectionKind,
    name: &str,
    base_url: &str,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<String, DbErr> {
    let id = new_id();
    let sealed = keys.seal(secret.as_bytes());
    supplier_connections::Entity::insert(supplier_connections::ActiveModel {
        id: Set(id.clone()),
        tenant_id: Set(tenant_id.into()),
        name: Set(name.into()),
        kind: Set(kind.as_str().into()),
        base_url: Set(base_url.trim_end_matches('/').into()),
        secret_ciphertext: Set(sealed.ciphertext),
        secret_nonce: Set(sealed.nonce),
        last_error: Set(None),
        checked_at: Set(Some(now)),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(id)
}

/// The shop's connections, oldest first.
pub async fn connections_of_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<supplier_connections::Model>, DbErr> {
    supplier_connections::Entity::find()
        .filter(supplier_connections::Column::TenantId.eq(tenant_id))
        .order_by_asc(supplier_connections::Column::CreatedAt)
        .all(conn)
        .await
}

/// One of the shop's connections.
pub async fn find_connection_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    connection_id: &str,
) -> Result<Option<supplier_connections::Model>, DbErr> {
    supplier_connections::Entity::find_by_id(connection_id.to_string())
        .filter(supplier_connections::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await
}

/// Every shop's connections (the stock poller's round).
pub async fn all_connections<C: ConnectionTrait>(conn: &C) -> Result<Vec<supplier_connections::Model>, DbErr> {
    supplier_connections::Entity::find().order_by_asc(supplier_connections::Column::CreatedAt).all(conn).await
}

/// The connection's shared secret.
pub fn secret_of(keys: &TenantKeys, c: &supplier_connections::Model) -> Result<String, String> {
    let bytes = keys.open(&c.secret_ciphertext, &c.secret_nonce).map_err(|e| format!("cannot open the secret: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "the secret is not text".to_string())
}

/// Records the outcome of asking the supplier (`None`: it answered).
pub async fn record_check<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    connection_id: &str,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    supplier_connections::Entity::update_many()
        .col_expr(
            supplier_connections::Column::LastError,
            Expr::value(error.map(|e| e.chars().take(500).collect::<String>())),
        )
        .col_expr(supplier_connections::Column::CheckedAt, Expr::value(now))
        .filter(supplier_connections::Column::TenantId.eq(tenant_id))
        .filter(supplier_connections::Column::Id.eq(connection_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Stores the supplier's stock of each SKU on the shop's products bound to
/// it, and the time of the poll on all of them; returns how many products'
/// stock changed (only then need the shop's catalog be read again).
pub async fn set_stock_of_connection<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    connection_id: &str,
    stock: &[(String, i64)],
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let of_connection = || {
        products::Entity::update_many()
            .filter(products::Column::TenantId.eq(tenant_id))
            .filter(products::Column::ExternalConnectionId.eq(connection_id))
    };
    of_connection().col_expr(products::Column::ExternalStockAt, Expr::value(Some(now))).exec(conn).await?;
    let mut changed = 0;
    for (sku, n) in stock {
        let n = (*n).max(0);
        changed += of_connection()
            .col_expr(products::Column::ExternalStock, Expr::value(Some(n)))
            .filter(products::Column::ExternalSku.eq(sku.as_str()))
            .filter(
                sea_orm::Condition::any()
                    .add(products::Column::ExternalStock.ne(n))
                    .add(products::Column::ExternalStock.is_null()),
            )
            .exec(conn)
            .await?
            .rows_affected;
    }
    Ok(changed)
}

/// Binds a product (created with kind `external`) to a supplier's SKU.
pub async fn link_external_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
    connection_id: &str,
    sku: &str,
    stock: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    products::Entity::update_many()
        .col_expr(products::Column::ExternalConnectionId, Expr::value(Some(connection_id.to_string())))
        .col_expr(products::Column::ExternalSku, Expr::value(Some(sku.to_string())))
        .col_expr(products::Column::ExternalStock, Expr::value(Some(stock.max(0))))
        .col_expr(products::Column::ExternalStockAt, Expr::value(Some(now)))
        .filter(products::Column::TenantId.eq(tenant_id))
        .filter(products::Column::Id.eq(product_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Why keys a supplier sent cannot be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysRefused {
    WrongCount {
        wanted: u64,
        got: u64,
    },
    Empty,
    RepeatedInAnswer,
    /// This shop delivered the key before (to this or another order).
    DeliveredBefore,
}

impl KeysRefused {
    /// What the merchant reads on the order.
    pub fn reason(&self) -> String {
        match self {
            KeysRefused::WrongCount { wanted, got } => {
                format!("the supplier sent {got} keys for an order of {wanted}")
            }
            KeysRefused::Empty => "the supplier sent an empty key".into(),
            KeysRefused::RepeatedInAnswer => "the supplier sent the same key twice".into(),
            KeysRefused::DeliveredBefore => "the supplier sent a key this shop has delivered before".into(),
        }
    }
}

/// Checks the keys a supplier sent for an order of `wanted` and, if they
/// are sound, remembers them (in the caller's transaction) so none can be
/// delivered again by this shop. On `DeliveredBefore` the transaction may
/// have failed a statement: roll it back.
pub async fn accept_supplied_keys<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_id: &str,
    wanted: u64,
    keys: &[String],
    now: DateTime<Utc>,
) -> Result<Result<(), KeysRefused>, DbErr> {
    if keys.len() as u64 != wanted {
        return Ok(Err(KeysRefused::WrongCount { wanted, got: keys.len() as u64 }));
    }
    if keys.iter().any(|k| k.trim().is_empty()) {
        return Ok(Err(KeysRefused::Empty));
    }
    let hashes: Vec<String> = keys.iter().map(|k| hash_key(k.trim())).collect();
    let distinct: std::collections::HashSet<&String> = hashes.iter().collect();
    if distinct.len() != hashes.len() {
        return Ok(Err(KeysRefused::RepeatedInAnswer));
    }
    let seen = external_key_hashes::Entity::find()
        .filter(external_key_hashes::Column::TenantId.eq(tenant_id))
        .filter(external_key_hashes::Column::KeyHash.is_in(hashes.clone()))
        .all(conn)
        .await?;
    if !seen.is_empty() {
        return Ok(Err(KeysRefused::DeliveredBefore));
    }
    let rows = hashes.into_iter().map(|h| external_key_hashes::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        key_hash: Set(h),
        order_id: Set(order_id.into()),
        created_at: Set(now),
    });
    // Two orders given the same key at once: the second insert is refused
    // (its transaction must then be abandoned).
    match external_key_hashes::Entity::insert_many(rows).exec_without_returning(conn).await {
        Ok(_) => Ok(Ok(())),
        Err(e) if crate::db::is_unique_violation(&e) => Ok(Err(KeysRefused::DeliveredBefore)),
        Err(e) => Err(e),
    }
}

fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
