//! A shop's usage against its plan's limits, and the checks the dashboard
//! runs before it adds products, keys or team members. Buyers never meet
//! these: a storefront keeps selling the stock it has whatever the plan.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter};

use crate::entities::{card_keys, memberships, orders, plans, products};
use crate::store::plans::plan_of_tenant;

/// What a shop uses now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub products: u64,
    pub keys_in_stock: u64,
    pub orders_this_month: u64,
    pub team_members: u64,
}

/// The first instant of `now`'s month (UTC).
pub fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(now)
}

pub async fn count_products<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<u64, DbErr> {
    products::Entity::find().filter(products::Column::TenantId.eq(tenant_id)).count(conn).await
}

/// Unsold keys (available or held by an unpaid order).
pub async fn count_keys_in_stock<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<u64, DbErr> {
    card_keys::Entity::find()
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .filter(card_keys::Column::Status.is_in(["available", "reserved"]))
        .count(conn)
        .await
}

pub async fn count_orders_since<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    since: DateTime<Utc>,
) -> Result<u64, DbErr> {
    orders::Entity::find()
        .filter(orders::Column::TenantId.eq(tenant_id))
        .filter(orders::Column::CreatedAt.gte(since))
        .count(conn)
        .await
}

pub async fn count_team_members<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<u64, DbErr> {
    memberships::Entity::find().filter(memberships::Column::TenantId.eq(tenant_id)).count(conn).await
}

pub async fn usage_of_tenant<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<Usage, DbErr> {
    Ok(Usage {
        products: count_products(conn, tenant_id).await?,
        keys_in_stock: count_keys_in_stock(conn, tenant_id).await?,
        orders_this_month: count_orders_since(conn, tenant_id, month_start(Utc::now())).await?,
        team_members: count_team_members(conn, tenant_id).await?,
    })
}

/// Which limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Products,
    KeysInStock,
    TeamMembers,
    CustomDomains,
}

impl Limit {
    fn of(self, plan: &plans::Model) -> Option<i32> {
        match self {
            Limit::Products => plan.max_products,
            Limit::KeysInStock => plan.max_keys_in_stock,
            Limit::TeamMembers => plan.max_team_members,
            Limit::CustomDomains => plan.max_custom_domains,
        }
    }

    /// Bilingual name, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Limit::Products => "商品数 products",
            Limit::KeysInStock => "库存卡密 keys in stock",
            Limit::TeamMembers => "团队成员 team members",
            Limit::CustomDomains => "自定义域名 custom domains",
        }
    }
}

/// Adding would go past the plan's limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "超出套餐「{plan_name}」的{label_zh}上限：已有 {current}，本次 {adding}，上限 {limit}。请在“套餐”页升级。Your plan allows {limit} {label_en}; you have {current} and are adding {adding}. Upgrade on the Plan page.",
    label_zh = label.split_once(' ').map_or(*label, |(zh, _)| zh),
    label_en = label.split_once(' ').map_or(*label, |(_, en)| en)
)]
pub struct LimitExceeded {
    pub plan_name: String,
    pub label: &'static str,
    pub limit: i64,
    pub current: u64,
    pub adding: u64,
}

/// Checks that `adding` more of `what` fit the shop's plan.
pub async fn check_limit<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    what: Limit,
    adding: u64,
) -> Result<Result<(), LimitExceeded>, DbErr> {
    let plan = plan_of_tenant(conn, tenant_id).await?;
    let Some(limit) = what.of(&plan) else { return Ok(Ok(())) };
    let current = match what {
        Limit::Products => count_products(conn, tenant_id).await?,
        Limit::KeysInStock => count_keys_in_stock(conn, tenant_id).await?,
        Limit::TeamMembers => count_team_members(conn, tenant_id).await?,
        Limit::CustomDomains => crate::store::domains::count_domains_for_tenant(conn, tenant_id).await?,
    };
    if current + adding > limit.max(0) as u64 {
        return Ok(Err(LimitExceeded {
            plan_name: plan.name,
            label: what.label(),
            limit: limit.into(),
            current,
            adding,
        }));
    }
    Ok(Ok(()))
}

/// Checks, exactly, that `adding` more keys fit the plan's stock limit:
/// call it inside the transaction that records the import (the import row,
/// or the keys themselves). The shop's row is locked first, so two imports
/// checked at once are checked one after the other, and keys that running
/// imports are still to insert count as already there.
pub async fn check_key_room_exactly<C: ConnectionTrait>(
    txn: &C,
    tenant_id: &str,
    adding: u64,
) -> Result<Result<(), LimitExceeded>, DbErr> {
    use sea_orm::QuerySelect;
    crate::entities::tenants::Entity::find_by_id(tenant_id.to_string()).lock_exclusive().one(txn).await?;
    let plan = plan_of_tenant(txn, tenant_id).await?;
    let Some(limit) = Limit::KeysInStock.of(&plan) else { return Ok(Ok(())) };
    let stale_before = Utc::now() - chrono::Duration::seconds(crate::store::key_imports::STALL_SECS);
    let pending: i64 = crate::entities::key_imports::Entity::find()
        .filter(crate::entities::key_imports::Column::TenantId.eq(tenant_id))
        .filter(crate::entities::key_imports::Column::Status.eq("running"))
        .filter(crate::entities::key_imports::Column::UpdatedAt.gte(stale_before))
        .all(txn)
        .await?
        .iter()
        .map(|i| (i.total - i.processed).max(0))
        .sum();
    let current = count_keys_in_stock(txn, tenant_id).await? + pending as u64;
    if current + adding > limit.max(0) as u64 {
        return Ok(Err(LimitExceeded {
            plan_name: plan.name,
            label: Limit::KeysInStock.label(),
            limit: limit.into(),
            current,
            adding,
        }));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_start_on_the_first_at_midnight_utc() {
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 23, 59, 59).unwrap();
        assert_eq!(month_start(t), Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    }
}
