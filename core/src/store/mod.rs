//! Tenant-scoped queries. Every function takes the tenant id and says so in
//! its name; a row of another tenant is simply not found.

pub mod accounts;
pub mod affiliates;
pub mod api_idempotency;
pub mod api_keys;
pub mod audit;
pub mod card_keys;
pub mod catalog_admin;
pub mod channels;
pub mod coupons;
pub mod dashboard;
pub mod domains;
pub mod external_supply;
pub mod fee_ledger;
pub mod integrity;
pub mod key_imports;
pub mod manual_delivery;
pub mod operators;
pub mod order_admin;
pub mod order_search;
pub mod orders;
pub mod payment_checks;
pub mod payment_notifications;
pub mod payments;
pub mod plan_limits;
pub mod planner_statistics;
pub mod plans;
pub mod platform_overview;
pub mod platform_settings;
pub mod products;
pub mod retention;
pub mod risk;
pub mod shop_logo;
pub mod shop_settings;
pub mod shop_themes;
pub mod status;
pub mod subscriptions;
pub mod supply;
pub mod supply_payments;
pub mod supply_prepaid;
pub mod sweep_leases;
pub mod tenant_admin;
pub mod webhooks;

/// `SELECT COUNT(*) FROM (inner) AS capped`: with `inner` ending in
/// `LIMIT cap`, the database stops after `cap` rows, so "are there at least
/// n?" costs n rows whatever the table holds.
pub(crate) fn capped_count(inner: sea_orm::sea_query::SelectStatement) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Alias, Asterisk, Expr, Func, Query};
    let mut count = Query::select();
    count.expr(Func::count(Expr::col(Asterisk))).from_subquery(inner, Alias::new("capped"));
    count
}
