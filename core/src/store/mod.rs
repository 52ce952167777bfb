//! Tenant-scoped queries. Every function takes the tenant id and says so in
//! its name; a row of another tenant is simply not found.

pub mod accounts;
pub mod api_idempotency;
pub mod api_keys;
pub mod audit;
pub mod card_keys;
pub mod catalog_admin;
pub mod channels;
pub mod coupons;
pub mod dashboard;
pub mod domains;
pub mod fee_ledger;
pub mod key_imports;
pub mod manual_delivery;
pub mod operators;
pub mod order_admin;
pub mod order_search;
pub mod orders;
pub mod payment_checks;
pub mod payments;
pub mod plan_limits;
pub mod planner_statistics;
pub mod plans;
pub mod platform_overview;
pub mod products;
pub mod risk;
pub mod shop_logo;
pub mod shop_settings;
pub mod shop_themes;
pub mod subscriptions;
pub mod sweep_leases;
pub mod tenant_admin;
pub mod webhooks;
