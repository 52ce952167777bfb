//! A reseller shop taking payments through its supplier's channels
//! (issue 20, part 3: "own payment channels or the parent's"). The supplier
//! offers it per reseller (`supply_resellers.collects_payments`); the
//! reseller chooses it on its Payments page (`tenants.payment_tenant_id`).
//! Then the reseller's checkout uses the supplier's live channels (its own
//! sandbox stays its own), notifications are checked with the supplier's
//! credentials, and each successful payment books `collected` on the supply
//! ledger: the supplier holds the buyer's money and owes it to the reseller
//! (less the wholesale the resale books, so the balance is the reseller's
//! margin). A refund reverses it (`collect_refund`). The supplier refunds
//! at the provider: a reseller cannot move the supplier's money.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::crypto::MasterKey;
use crate::entities::{orders, supply_ledger, supply_resellers, tenants};
use crate::ids::new_id;
use crate::store::channels::channel_credentials_for_tenant;

pub const COLLECTED: &str = "collected";
pub const COLLECT_REFUND: &str = "collect_refund";

/// The shop whose channels take `tenant_id`'s payments, when not its own.
pub async fn payment_source<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<Option<String>, DbErr> {
    let row: Option<Option<String>> = tenants::Entity::find_by_id(tenant_id.to_string())
        .select_only()
        .column(tenants::Column::PaymentTenantId)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(row.flatten())
}

/// The decrypted credentials a payment of `tenant_id` through channel `kind`
/// uses: the supplier's when the shop takes payments through it (the
/// sandbox is always the shop's own).
pub async fn credentials_for_payment<C: ConnectionTrait>(
    conn: &C,
    master: &MasterKey,
    tenant_id: &str,
    kind: &str,
) -> Result<String, DbErr> {
    let source =
        if kind == crate::store::dashboard::TEST_CHANNEL { None } else { payment_source(conn, tenant_id).await? };
    let owner = source.as_deref().unwrap_or(tenant_id);
    channel_credentials_for_tenant(conn, &master.tenant(owner), owner, kind).await
}

/// The suppliers offering `reseller` their channels.
pub async fn offers_for_reseller<C: ConnectionTrait>(conn: &C, reseller: &str) -> Result<Vec<String>, DbErr> {
    supply_resellers::Entity::find()
        .select_only()
        .column(supply_resellers::Column::TenantId)
        .filter(supply_resellers::Column::ResellerTenantId.eq(reseller))
        .filter(supply_resellers::Column::CollectsPayments.eq(true))
        .into_tuple()
        .all(conn)
        .await
}

/// The resellers taking payments through `supplier`'s channels now.
pub async fn collecting_for<C: ConnectionTrait>(conn: &C, supplier: &str) -> Result<Vec<String>, DbErr> {
    tenants::Entity::find()
        .select_only()
        .column(tenants::Column::Id)
        .filter(tenants::Column::PaymentTenantId.eq(supplier))
        .into_tuple()
        .all(conn)
        .await
}

/// The supplier offers (or withdraws) its channels to a reseller of its
/// products. Withdrawn, a reseller using them goes back to its own. Returns
/// whether the reseller's checkout changed (its caches must be dropped).
pub async fn set_collects_payments<C: ConnectionTrait>(
    conn: &C,
    supplier: &str,
    reseller: &str,
    on: bool,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let row = supply_resellers::ActiveModel {
        tenant_id: Set(supplier.into()),
        reseller_tenant_id: Set(reseller.into()),
        discount_bps: Set(0),
        collects_payments: Set(on),
        created_at: Set(now),
        updated_at: Set(now),
    };
    supply_resellers::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([supply_resellers::Column::TenantId, supply_resellers::Column::ResellerTenantId])
                .update_columns([supply_resellers::Column::CollectsPayments, supply_resellers::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    if on {
        return Ok(false);
    }
    let r = tenants::Entity::update_many()
        .col_expr(tenants::Column::PaymentTenantId, Expr::value(Option::<String>::None))
        .filter(tenants::Column::Id.eq(reseller))
        .filter(tenants::Column::PaymentTenantId.eq(supplier))
        .exec(conn)
        .await?;
    Ok(r.rows_affected > 0)
}

/// The reseller takes payments through `supplier`'s channels (`None`: its
/// own). `false` when that supplier does not offer them to it.
pub async fn choose_payment_source<C: ConnectionTrait>(
    conn: &C,
    reseller: &str,
    supplier: Option<&str>,
) -> Result<bool, DbErr> {
    if let Some(s) = supplier
        && !offers_for_reseller(conn, reseller).await?.iter().any(|o| o == s)
    {
        return Ok(false);
    }
    tenants::Entity::update_many()
        .col_expr(tenants::Column::PaymentTenantId, Expr::value(supplier.map(str::to_string)))
        .filter(tenants::Column::Id.eq(reseller))
        .exec(conn)
        .await?;
    Ok(true)
}

/// The supplier that collected an order's payment, if one did.
pub async fn collector_of_order<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_id: &str,
) -> Result<Option<String>, DbErr> {
    supply_ledger::Entity::find()
        .select_only()
        .column(supply_ledger::Column::SupplierTenantId)
        .filter(supply_ledger::Column::OrderId.eq(order_id))
        .filter(supply_ledger::Column::Kind.eq(COLLECTED))
        .filter(supply_ledger::Column::ResellerTenantId.eq(tenant_id))
        .into_tuple()
        .one(conn)
        .await
}

/// Books that `collector` took the buyer's `amount_minor` for `order` (it
/// owes it to the order's shop), in the payment's transaction. Once per order.
pub async fn book_collected<C: ConnectionTrait>(
    conn: &C,
    order: &orders::Model,
    collector: &str,
    amount_minor: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    insert_entry(conn, order, collector, COLLECTED, -amount_minor, now).await
}

/// A refunded order whose payment a supplier collected: the collection is reversed.
pub async fn book_collect_refund<C: ConnectionTrait>(
    conn: &C,
    order: &orders::Model,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let collected = supply_ledger::Entity::find()
        .filter(supply_ledger::Column::OrderId.eq(&order.id))
        .filter(supply_ledger::Column::Kind.eq(COLLECTED))
        .filter(supply_ledger::Column::ResellerTenantId.eq(&order.tenant_id))
        .one(conn)
        .await?;
    let Some(c) = collected else { return Ok(()) };
    insert_entry(conn, order, &c.supplier_tenant_id, COLLECT_REFUND, -c.amount_minor, now).await
}

async fn insert_entry<C: ConnectionTrait>(
    conn: &C,
    order: &orders::Model,
    collector: &str,
    kind: &str,
    amount_minor: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let e = supply_ledger::ActiveModel {
        id: Set(new_id()),
        supplier_tenant_id: Set(collector.into()),
        reseller_tenant_id: Set(order.tenant_id.clone()),
        order_id: Set(order.id.clone()),
        order_no: Set(order.order_no.clone()),
        kind: Set(kind.into()),
        product_name: Set(order.product_name.chars().take(200).collect()),
        quantity: Set(order.quantity),
        amount_minor: Set(amount_minor),
        currency: Set(order.currency.clone()),
        created_at: Set(now),
    };
    supply_ledger::Entity::insert(e)
        .on_conflict(
            OnConflict::columns([supply_ledger::Column::OrderId, supply_ledger::Column::Kind]).do_nothing().to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map(|_| ())
        .or_else(|e| if matches!(e, DbErr::RecordNotInserted) { Ok(()) } else { Err(e) })
}
