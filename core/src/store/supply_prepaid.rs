//! Selling to an outside reseller (a shop on another Kapu platform) from its
//! prepaid balance: the supplier's top-ups and each purchase are lines of an
//! append-only account per supply API key (`supply_prepaid_entries`). A
//! purchase reserves and sells the supplier's keys, takes the wholesale
//! price off the balance and records the line in one transaction, under a
//! lock on the key, so the balance never goes below zero however many
//! purchases arrive at once; its reference (the reseller's order) makes a
//! retry return the same keys instead of buying again.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::crypto::TenantKeys;
use crate::entities::{api_keys, products, supply_listings, supply_prepaid_entries};
use crate::ids::new_id;
use crate::store::card_keys::{
    KeyReadError, Reservation, reserve_keys_for_order_for_tenant, sell_reserved_keys_of_order_for_tenant,
    sold_keys_of_order_for_tenant,
};

pub const TOPUP: &str = "topup";
pub const PURCHASE: &str = "purchase";

/// A key's balance, in minor units (the sum of its lines).
pub async fn balance_of<C: ConnectionTrait>(conn: &C, tenant_id: &str, api_key_id: &str) -> Result<i64, DbErr> {
    let rows: Vec<i64> = supply_prepaid_entries::Entity::find()
        .select_only()
        .column(supply_prepaid_entries::Column::AmountMinor)
        .filter(supply_prepaid_entries::Column::TenantId.eq(tenant_id))
        .filter(supply_prepaid_entries::Column::ApiKeyId.eq(api_key_id))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().sum())
}

/// The key's latest lines, newest first.
pub async fn entries_of<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    api_key_id: &str,
    limit: u64,
) -> Result<Vec<supply_prepaid_entries::Model>, DbErr> {
    supply_prepaid_entries::Entity::find()
        .filter(supply_prepaid_entries::Column::TenantId.eq(tenant_id))
        .filter(supply_prepaid_entries::Column::ApiKeyId.eq(api_key_id))
        .order_by_desc(supply_prepaid_entries::Column::CreatedAt)
        .limit(limit)
        .all(conn)
        .await
}

/// Records money the supplier received from the reseller.
pub async fn record_topup<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    api_key_id: &str,
    amount_minor: i64,
    currency: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    supply_prepaid_entries::Entity::insert(supply_prepaid_entries::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant_id.into()),
        api_key_id: Set(api_key_id.into()),
        kind: Set(TOPUP.into()),
        amount_minor: Set(amount_minor),
        currency: Set(currency.into()),
        reference: Set(None),
        product_id: Set(None),
        quantity: Set(None),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Why a purchase was refused (nothing changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurchaseRefusal {
    /// Not a product this shop offers for resale to anyone.
    NotOffered,
    /// The reference was used for another product or quantity.
    ReferenceReused,
    OutOfStock {
        available: u64,
    },
    InsufficientBalance {
        needed: i64,
        balance: i64,
    },
}

/// A purchase done (or found again by its reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub entry_id: String,
    pub keys: Vec<String>,
    /// Whether this call bought them (false: a retry of an earlier purchase).
    pub new: bool,
}

/// Buys `quantity` of the supplier's `product_id` for the key, in the
/// caller's transaction (commit it to keep the purchase).
#[allow(clippy::too_many_arguments)]
pub async fn purchase<C: ConnectionTrait>(
    txn: &C,
    keys: &TenantKeys,
    tenant_id: &str,
    api_key_id: &str,
    reference: &str,
    product_id: &str,
    quantity: u64,
    now: DateTime<Utc>,
) -> Result<Result<Purchase, PurchaseRefusal>, PurchaseError> {
    // One purchase of this key at a time: the balance is read and spent under this lock.
    api_keys::Entity::find_by_id((tenant_id.to_string(), api_key_id.to_string())).lock_exclusive().one(txn).await?;
    if let Some(done) = supply_prepaid_entries::Entity::find()
        .filter(supply_prepaid_entries::Column::TenantId.eq(tenant_id))
        .filter(supply_prepaid_entries::Column::ApiKeyId.eq(api_key_id))
        .filter(supply_prepaid_entries::Column::Reference.eq(reference))
        .one(txn)
        .await?
    {
        if done.product_id.as_deref() != Some(product_id) || done.quantity != Some(quantity as i32) {
            return Ok(Err(PurchaseRefusal::ReferenceReused));
        }
        let sold = sold_keys_of_order_for_tenant(txn, keys, tenant_id, &done.id).await?;
        return Ok(Ok(Purchase { entry_id: done.id, keys: sold, new: false }));
    }
    let listing = supply_listings::Entity::find_by_id((tenant_id.to_string(), product_id.to_string())).one(txn).await?;
    let product = products::Entity::find_by_id((tenant_id.to_string(), product_id.to_string())).one(txn).await?;
    let (Some(l), Some(p)) = (listing, product) else { return Ok(Err(PurchaseRefusal::NotOffered)) };
    if !l.open || l.audience != "any" || p.kind != "auto_key" || p.supply_tenant_id.is_some() {
        return Ok(Err(PurchaseRefusal::NotOffered));
    }
    let needed = l.wholesale_minor.saturating_mul(quantity as i64);
    let balance = balance_of(txn, tenant_id, api_key_id).await?;
    if balance < needed {
        return Ok(Err(PurchaseRefusal::InsufficientBalance { needed, balance }));
    }
    // The entry's id names the keys sold, as an order's id does.
    let entry_id = new_id();
    match reserve_keys_for_order_for_tenant(
        txn,
        tenant_id,
        product_id,
        &entry_id,
        quantity,
        now + Duration::minutes(1),
        None,
    )
    .await?
    {
        Reservation::Reserved => {}
        Reservation::Short { available } => return Ok(Err(PurchaseRefusal::OutOfStock { available })),
    }
    sell_reserved_keys_of_order_for_tenant(txn, tenant_id, &entry_id, now).await?;
    supply_prepaid_entries::Entity::insert(supply_prepaid_entries::ActiveModel {
        id: Set(entry_id.clone()),
        tenant_id: Set(tenant_id.into()),
        api_key_id: Set(api_key_id.into()),
        kind: Set(PURCHASE.into()),
        amount_minor: Set(-needed),
        currency: Set(p.currency.clone()),
        reference: Set(Some(reference.into())),
        product_id: Set(Some(product_id.into())),
        quantity: Set(Some(quantity as i32)),
        created_at: Set(now),
    })
    .exec_without_returning(txn)
    .await?;
    let sold = sold_keys_of_order_for_tenant(txn, keys, tenant_id, &entry_id).await?;
    Ok(Ok(Purchase { entry_id, keys: sold, new: true }))
}

/// The keys an earlier purchase of this key under `reference` sold, if any.
pub async fn purchase_by_reference<C: ConnectionTrait>(
    conn: &C,
    keys: &TenantKeys,
    tenant_id: &str,
    api_key_id: &str,
    reference: &str,
) -> Result<Option<Vec<String>>, PurchaseError> {
    let done = supply_prepaid_entries::Entity::find()
        .filter(supply_prepaid_entries::Column::TenantId.eq(tenant_id))
        .filter(supply_prepaid_entries::Column::ApiKeyId.eq(api_key_id))
        .filter(supply_prepaid_entries::Column::Kind.eq(PURCHASE))
        .filter(supply_prepaid_entries::Column::Reference.eq(reference))
        .one(conn)
        .await?;
    match done {
        Some(d) => Ok(Some(sold_keys_of_order_for_tenant(conn, keys, tenant_id, &d.id).await?)),
        None => Ok(None),
    }
}

/// Every purchase id (the integrity check's "orders" of keys sold this way).
pub async fn purchase_ids<C: ConnectionTrait>(conn: &C) -> Result<Vec<(String, String)>, DbErr> {
    supply_prepaid_entries::Entity::find()
        .select_only()
        .columns([supply_prepaid_entries::Column::TenantId, supply_prepaid_entries::Column::Id])
        .filter(supply_prepaid_entries::Column::Kind.eq(PURCHASE))
        .into_tuple()
        .all(conn)
        .await
}

#[derive(Debug, thiserror::Error)]
pub enum PurchaseError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Keys(#[from] KeyReadError),
}
