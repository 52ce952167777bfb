//! The platform fee ledger: one row per paid order, at the shop's plan rate
//! when the payment was recorded, so operators can invoice per month.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::fee_ledger;
use crate::store::plans::plan_of_tenant;

/// `amount × bps / 10 000`, rounded half up, in minor units.
pub fn fee_of(amount_minor: i64, fee_bps: i32) -> i64 {
    if amount_minor <= 0 || fee_bps <= 0 {
        return 0;
    }
    let raw = i128::from(amount_minor) * i128::from(fee_bps);
    ((raw + 5_000) / 10_000) as i64
}

/// `YYYY-MM` of an instant (UTC).
pub fn month_of(at: DateTime<Utc>) -> String {
    at.format("%Y-%m").to_string()
}

/// Records the fee of a paid order, in the transaction that records the
/// payment. A second call for the same order changes nothing.
pub async fn record_fee_for_order<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_no: &str,
    amount_minor: i64,
    currency: &str,
    paid_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let plan = plan_of_tenant(conn, tenant_id).await?;
    let row = fee_ledger::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        order_no: Set(order_no.into()),
        month: Set(month_of(paid_at)),
        plan_id: Set(plan.id),
        amount_minor: Set(amount_minor),
        currency: Set(currency.into()),
        fee_bps: Set(plan.fee_bps),
        fee_minor: Set(fee_of(amount_minor, plan.fee_bps)),
        created_at: Set(paid_at),
    };
    fee_ledger::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([fee_ledger::Column::TenantId, fee_ledger::Column::OrderNo]).do_nothing().to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .or_else(|e| if matches!(e, DbErr::RecordNotInserted) { Ok(0) } else { Err(e) })?;
    Ok(())
}

/// A month's rows (every shop, or one), by shop then time.
pub async fn ledger_for_month<C: ConnectionTrait>(
    conn: &C,
    month: &str,
    tenant_id: Option<&str>,
) -> Result<Vec<fee_ledger::Model>, DbErr> {
    let mut find = fee_ledger::Entity::find().filter(fee_ledger::Column::Month.eq(month));
    if let Some(t) = tenant_id {
        find = find.filter(fee_ledger::Column::TenantId.eq(t));
    }
    find.order_by_asc(fee_ledger::Column::TenantId).order_by_asc(fee_ledger::Column::CreatedAt).all(conn).await
}

/// Paid orders and their amount since `since`, for one shop: (count, amount by currency).
pub async fn paid_since_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    since: DateTime<Utc>,
) -> Result<(u64, Vec<(String, i64)>), DbErr> {
    let rows = fee_ledger::Entity::find()
        .filter(fee_ledger::Column::TenantId.eq(tenant_id))
        .filter(fee_ledger::Column::CreatedAt.gte(since))
        .all(conn)
        .await?;
    let mut by_currency: Vec<(String, i64)> = Vec::new();
    for r in &rows {
        match by_currency.iter_mut().find(|(c, _)| *c == r.currency) {
            Some((_, sum)) => *sum += r.amount_minor,
            None => by_currency.push((r.currency.clone(), r.amount_minor)),
        }
    }
    Ok((rows.len() as u64, by_currency))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_round_half_up_in_minor_units() {
        assert_eq!(fee_of(1_000, 100), 10); // 1 % of 10.00
        assert_eq!(fee_of(1_050, 100), 11); // 10.5 fen rounds up
        assert_eq!(fee_of(1_049, 100), 10);
        assert_eq!(fee_of(1, 50), 0);
        assert_eq!(fee_of(0, 100), 0);
        assert_eq!(fee_of(-500, 100), 0);
        assert_eq!(fee_of(i64::MAX, 10_000), i64::MAX);
    }
}
