//! The key allocator: reserve, sell and release card keys.
//!
//! A key moves `available → reserved (order) → sold`, or back to
//! `available` when its order expires. Every transition is a conditional
//! UPDATE on the key's current status, inside the caller's transaction; on
//! PostgreSQL candidate rows are taken with `FOR UPDATE SKIP LOCKED`, on
//! SQLite the single writer serializes transactions. Either way one key can
//! never be handed to two orders.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use std::collections::HashSet;

use crate::crypto::{CryptoError, TenantKeys};
use crate::entities::card_keys;
use crate::store::key_imports::{Entry, import_chunk_for_tenant};
use crate::store::products::{available_keys_of_product_for_tenant, available_keys_up_to_for_tenant};

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
/// On PostgreSQL each step is one statement that picks and reserves keys
/// together (`WITH picked AS MATERIALIZED (SELECT … LIMIT n FOR UPDATE
/// SKIP LOCKED) UPDATE … FROM picked`); on SQLite a pick and an update.
/// Keys that other checkouts hold locked are skipped at first (concurrent
/// buyers never queue behind each other). `start_at`, a key id from
/// [`lane_starts_of_product_for_tenant`], spreads concurrent checkouts of one
/// product over its stock instead of having them all fight over its first
/// rows; when that lane has run dry the pick continues from the start. When
/// the order is still short on PostgreSQL while enough keys are available,
/// some are merely held by checkouts in flight, which may yet roll back:
/// rather than answer "sold out" falsely, the partial pick is given back (so
/// nobody waits on us) and the keys are taken waiting for those checkouts to
/// finish (at most a few seconds); only then is a shortfall final.
/// On [`Reservation::Short`] nothing stays reserved.
pub async fn reserve_keys_for_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
    order_id: &str,
    quantity: u64,
    until: DateTime<Utc>,
    start_at: Option<&str>,
) -> Result<Reservation, DbErr> {
    let postgres = conn.get_database_backend() == DbBackend::Postgres;
    let pick = Pick { tenant_id, product_id, order_id, until };
    // A short pick of one key holds nothing; a short pick of several is
    // given back through a savepoint (two round trips only such orders pay).
    let savepoint = quantity > 1;
    if savepoint {
        conn.execute_unprepared("SAVEPOINT kapu_pick_keys").await?;
    }
    let mut taken = pick.take(conn, quantity, start_at, SkipLocked::Yes).await?;
    if taken < quantity && start_at.is_some() {
        taken += pick.take(conn, quantity - taken, None, SkipLocked::Yes).await?;
    }
    if postgres && taken < quantity {
        // As last committed, plus what this transaction took: keys other
        // checkouts hold locked still count as available.
        let available = available_keys_up_to_for_tenant(conn, tenant_id, product_id, quantity - taken).await?;
        if available + taken >= quantity {
            if savepoint {
                conn.execute_unprepared("ROLLBACK TO SAVEPOINT kapu_pick_keys").await?;
                taken = 0;
            }
            conn.execute_unprepared("SET LOCAL lock_timeout = '5s'").await?;
            taken += pick.take(conn, quantity - taken, None, SkipLocked::No).await?;
            conn.execute_unprepared("SET LOCAL lock_timeout = DEFAULT").await?;
        }
    }
    if savepoint {
        if taken < quantity {
            conn.execute_unprepared("ROLLBACK TO SAVEPOINT kapu_pick_keys").await?;
        }
        conn.execute_unprepared("RELEASE SAVEPOINT kapu_pick_keys").await?;
    }
    if taken < quantity {
        return Ok(Reservation::Short { available: taken });
    }
    if taken > quantity {
        // Only possible if the locking assumption broke; refuse rather than oversell.
        return Err(DbErr::Custom(format!("reserved {taken} keys for an order of {quantity}")));
    }
    Ok(Reservation::Reserved)
}

/// Whether a pick passes over keys other transactions hold, or waits for them.
#[derive(Clone, Copy)]
enum SkipLocked {
    Yes,
    No,
}

/// One order's key reservation.
struct Pick<'a> {
    tenant_id: &'a str,
    product_id: &'a str,
    order_id: &'a str,
    until: DateTime<Utc>,
}

impl Pick<'_> {
    /// Reserves up to `n` available keys, first by id from `from` on, in one
    /// statement; returns how many. On PostgreSQL the candidates are locked
    /// for update (skipping or waiting for locked ones); SQLite's single
    /// writer needs no row locks.
    async fn take<C: ConnectionTrait>(
        &self,
        conn: &C,
        n: u64,
        from: Option<&str>,
        skip: SkipLocked,
    ) -> Result<u64, DbErr> {
        let backend = conn.get_database_backend();
        if backend == DbBackend::Postgres {
            // A materialized CTE: the locking pick runs exactly once. (As an
            // `IN (subquery)` the planner may run a SKIP LOCKED pick again per
            // row, and each run skips to other keys: one order took thousands.)
            let skip = match skip {
                SkipLocked::Yes => " SKIP LOCKED",
                SkipLocked::No => "",
            };
            let bound = if from.is_some() { " AND id >= $6" } else { "" };
            let sql = format!(
                "WITH picked AS MATERIALIZED (SELECT id FROM card_keys \
                 WHERE tenant_id = $1 AND product_id = $2 AND status = 'available'{bound} \
                 ORDER BY id LIMIT $5 FOR UPDATE{skip}) \
                 UPDATE card_keys SET status = 'reserved', order_id = $3, reserved_until = $4 FROM picked \
                 WHERE card_keys.tenant_id = $1 AND card_keys.id = picked.id AND card_keys.status = 'available'"
            );
            let mut values: Vec<sea_orm::Value> = vec![
                self.tenant_id.into(),
                self.product_id.into(),
                self.order_id.into(),
                self.until.into(),
                i64::try_from(n).unwrap_or(i64::MAX).into(),
            ];
            if let Some(from) = from {
                values.push(from.into());
            }
            let done = conn.execute_raw(sea_orm::Statement::from_sql_and_values(backend, sql, values)).await?;
            return Ok(done.rows_affected());
        }
        // SQLite: one writer at a time, so nobody else picks between the two
        // statements. (As one UPDATE with an IN-subquery, SQLite scanned the
        // shop's keys for the outer filter: 85 orders/s instead of 875.)
        let mut candidates = card_keys::Entity::find()
            .select_only()
            .column(card_keys::Column::Id)
            .filter(card_keys::Column::TenantId.eq(self.tenant_id))
            .filter(card_keys::Column::ProductId.eq(self.product_id))
            .filter(card_keys::Column::Status.eq("available"))
            .order_by_asc(card_keys::Column::Id)
            .limit(n);
        if let Some(from) = from {
            candidates = candidates.filter(card_keys::Column::Id.gte(from));
        }
        let ids: Vec<String> = candidates.into_tuple().all(conn).await?;
        if ids.is_empty() {
            return Ok(0);
        }
        Ok(card_keys::Entity::update_many()
            .col_expr(card_keys::Column::Status, Expr::value("reserved"))
            .col_expr(card_keys::Column::OrderId, Expr::value(self.order_id))
            .col_expr(card_keys::Column::ReservedUntil, Expr::value(self.until))
            .filter(card_keys::Column::TenantId.eq(self.tenant_id))
            .filter(card_keys::Column::Id.is_in(ids))
            .filter(card_keys::Column::Status.eq("available"))
            .exec(conn)
            .await?
            .rows_affected)
    }
}

/// Ids that split a product's available keys into about `lanes` runs of
/// equal length (the first key of each run; none for a product with fewer
/// than eight keys per lane), for
/// [`reserve_keys_for_order_for_tenant`]'s `start_at`. One pass over the
/// product's available keys in the stock index; callers cache the answer
/// (a stale lane start only means a pick that starts a little early or
/// continues from the start).
pub async fn lane_starts_of_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
    lanes: u64,
) -> Result<Vec<String>, DbErr> {
    use sea_orm::Statement;
    let available = available_keys_of_product_for_tenant(conn, tenant_id, product_id).await?;
    if available < lanes * 8 {
        // Too few keys for lanes to spread anything.
        return Ok(Vec::new());
    }
    let step = (available / lanes.max(1)).max(1);
    let backend = conn.get_database_backend();
    let (t, p, s) = match backend {
        DbBackend::Postgres => ("$1", "$2", "$3"),
        _ => ("?", "?", "?"),
    };
    let sql = format!(
        "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM card_keys \
         WHERE tenant_id = {t} AND product_id = {p} AND status = 'available') AS lanes \
         WHERE (n - 1) % {s} = 0 ORDER BY id"
    );
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [tenant_id.into(), product_id.into(), i64::try_from(step).unwrap_or(i64::MAX).into()],
        ))
        .await?;
    rows.iter().map(|r| r.try_get_by_index::<String>(0)).collect()
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
