//! The key allocator: reserve, sell and release card keys.
//!
//! A key moves `available → reserved (order) → sold`, or back to
//! `available` when its order expires. Every transition is a conditional
//! UPDATE on the key's current status, inside the caller's transaction; on
//! PostgreSQL candidate rows are taken with `FOR UPDATE SKIP LOCKED`, on
//! SQLite the single writer serializes transactions. Either way one key can
//! never be handed to two orders.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use std::collections::HashSet;

use crate::crypto::{CryptoError, TenantKeys};
use crate::entities::card_keys;
use crate::store::key_imports::{Entry, import_chunk_for_tenant};
use crate::store::products::available_keys_of_product_for_tenant;

/// Result of trying to reserve keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// All requested keys are now reserved for the order.
    Reserved,
    /// Not enough keys: nothing was reserved; this many were available.
    Short { available: u64 },
}

/// Reserves `quantity` available keys of a product for an order, until `until`.
///
/// Keys that other checkouts hold locked are skipped at first (concurrent
/// buyers never queue behind each other). When that leaves the order short
/// on PostgreSQL while enough keys are still available, some are merely held
/// by checkouts in flight, which may yet roll back: rather than answer "sold
/// out" falsely, the partial pick is given back (so nobody waits on us) and
/// the keys are taken waiting for those checkouts to finish (at most a few
/// seconds); only then is a shortfall final.
pub async fn reserve_keys_for_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
    order_id: &str,
    quantity: u64,
    until: DateTime<Utc>,
) -> Result<Reservation, DbErr> {
    let postgres = conn.get_database_backend() == DbBackend::Postgres;
    // A short pick of one key holds nothing; a short pick of several is
    // given back through a savepoint (two round trips only such orders pay).
    let savepoint = postgres && quantity > 1;
    if savepoint {
        conn.execute_unprepared("SAVEPOINT kapu_pick_keys").await?;
    }
    let mut ids = pick_available(conn, tenant_id, product_id, quantity, SkipLocked::Yes).await?;
    if postgres && (ids.len() as u64) < quantity {
        // As last committed: keys other checkouts hold locked still count.
        let available = available_keys_of_product_for_tenant(conn, tenant_id, product_id).await?;
        if available >= quantity {
            if savepoint {
                conn.execute_unprepared("ROLLBACK TO SAVEPOINT kapu_pick_keys").await?;
            }
            conn.execute_unprepared("SET LOCAL lock_timeout = '5s'").await?;
            ids = pick_available(conn, tenant_id, product_id, quantity, SkipLocked::No).await?;
            conn.execute_unprepared("SET LOCAL lock_timeout = DEFAULT").await?;
        }
    }
    if savepoint {
        conn.execute_unprepared("RELEASE SAVEPOINT kapu_pick_keys").await?;
    }
    if (ids.len() as u64) < quantity {
        return Ok(Reservation::Short { available: ids.len() as u64 });
    }
    let updated = card_keys::Entity::update_many()
        .col_expr(card_keys::Column::Status, Expr::value("reserved"))
        .col_expr(card_keys::Column::OrderId, Expr::value(order_id))
        .col_expr(card_keys::Column::ReservedUntil, Expr::value(until))
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .filter(card_keys::Column::Id.is_in(ids))
        .filter(card_keys::Column::Status.eq("available"))
        .exec(conn)
        .await?
        .rows_affected;
    if updated != quantity {
        // Only possible if the locking assumption broke; refuse rather than oversell.
        return Err(DbErr::Custom(format!("reserved {updated} of {quantity} locked keys")));
    }
    Ok(Reservation::Reserved)
}

/// Whether a pick passes over keys other transactions hold, or waits for them.
enum SkipLocked {
    Yes,
    No,
}

/// Up to `n` available keys of a product, first by id, locked for update
/// (on PostgreSQL; SQLite's single writer needs no row locks).
async fn pick_available<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
    n: u64,
    skip: SkipLocked,
) -> Result<Vec<String>, DbErr> {
    let mut q = card_keys::Entity::find()
        .select_only()
        .column(card_keys::Column::Id)
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .filter(card_keys::Column::ProductId.eq(product_id))
        .filter(card_keys::Column::Status.eq("available"))
        .order_by_asc(card_keys::Column::Id)
        .limit(n);
    q = match skip {
        SkipLocked::Yes => q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked),
        SkipLocked::No => q.lock(LockType::Update),
    };
    q.into_tuple().all(conn).await
}

/// Marks the keys reserved for an order as sold. Returns how many were sold.
pub async fn sell_reserved_keys_of_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_id: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(card_keys::Entity::update_many()
        .col_expr(card_keys::Column::Status, Expr::value("sold"))
        .col_expr(card_keys::Column::SoldAt, Expr::value(now))
        .col_expr(card_keys::Column::ReservedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .filter(card_keys::Column::OrderId.eq(order_id))
        .filter(card_keys::Column::Status.eq("reserved"))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Returns the keys reserved for an order to stock. Returns how many.
pub async fn release_keys_of_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_id: &str,
) -> Result<u64, DbErr> {
    Ok(card_keys::Entity::update_many()
        .col_expr(card_keys::Column::Status, Expr::value("available"))
        .col_expr(card_keys::Column::OrderId, Expr::value(Option::<String>::None))
        .col_expr(card_keys::Column::ReservedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .filter(card_keys::Column::OrderId.eq(order_id))
        .filter(card_keys::Column::Status.eq("reserved"))
        .exec(conn)
        .await?
        .rows_affected)
}

/// The sold keys of an order, decrypted, in a stable order.
pub async fn sold_keys_of_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    keys: &TenantKeys,
    tenant_id: &str,
    order_id: &str,
) -> Result<Vec<String>, KeyReadError> {
    let rows = card_keys::Entity::find()
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .filter(card_keys::Column::OrderId.eq(order_id))
        .filter(card_keys::Column::Status.eq("sold"))
        .order_by_asc(card_keys::Column::Id)
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|k| {
            let plain = keys.open(&k.ciphertext, &k.nonce)?;
            Ok(String::from_utf8_lossy(&plain).into_owned())
        })
        .collect()
}

/// Reading keys failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyReadError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Counts of one import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub imported: u64,
    pub duplicate: u64,
    pub invalid: u64,
}

/// Adds keys to a product in one go (provisioning, tests): trims, skips
/// blanks, dedupes within the batch and against the product's existing keys,
/// encrypts the rest. The dashboard's imports go chunk by chunk through
/// `key_imports::import_chunk_for_tenant`, which this calls.
pub async fn import_keys_for_tenant<C: ConnectionTrait>(
    conn: &C,
    keys: &TenantKeys,
    tenant_id: &str,
    product_id: &str,
    lines: impl IntoIterator<Item = &str>,
) -> Result<ImportCounts, DbErr> {
    let entries: Vec<Entry> = lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| Entry { line: u32::try_from(i + 1).unwrap_or(u32::MAX), text: l.trim().to_string() })
        .filter(|e| !e.text.is_empty())
        .collect();
    let out = import_chunk_for_tenant(conn, keys, tenant_id, product_id, &entries, &mut HashSet::new()).await?;
    Ok(ImportCounts { imported: out.imported, duplicate: out.duplicate, invalid: out.invalid })
}
