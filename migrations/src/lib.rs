//! Kapu's schema, one file per change. The same migrations run on SQLite and
//! PostgreSQL. Every tenant-owned table carries `tenant_id`, and its primary
//! key and every index and unique key start with it.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261122_000002_accounts;
mod m20261122_000003_coupons;
mod m20261122_000004_risk;
mod m20261122_000005_shop_logo;
mod m20261122_000006_manual_delivery;
mod m20261129_000007_payment_channels;
mod m20261130_000008_operators_plans_audit;
mod m20261130_000009_domain_checks;
mod m20261130_000010_webhooks;
mod m20261130_000011_merchant_api_themes;
mod m20261130_000012_autovacuum;
mod m20261130_000013_sweep_leases;
mod m20261201_000001_test_mode_visibility;
mod m20261201_000002_order_client_net;
mod m20261201_000003_observability;
mod m20261201_000004_supply;
mod m20261201_000005_key_import_report;
mod m20261201_000006_product_slugs;
mod m20261201_000007_account_language;
mod m20261201_000008_external_suppliers;
mod m20261201_000009_supply_prepaid;
mod m20261201_000010_affiliates;
mod m20261201_000011_supply_settlement;

/// Applies Kapu's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261122_000002_accounts::Migration),
            Box::new(m20261122_000003_coupons::Migration),
            Box::new(m20261122_000004_risk::Migration),
            Box::new(m20261122_000005_shop_logo::Migration),
            Box::new(m20261122_000006_manual_delivery::Migration),
            Box::new(m20261129_000007_payment_channels::Migration),
            Box::new(m20261130_000008_operators_plans_audit::Migration),
            Box::new(m20261130_000009_domain_checks::Migration),
            Box::new(m20261130_000010_webhooks::Migration),
            Box::new(m20261130_000011_merchant_api_themes::Migration),
            Box::new(m20261130_000012_autovacuum::Migration),
            Box::new(m20261130_000013_sweep_leases::Migration),
            Box::new(m20261201_000001_test_mode_visibility::Migration),
            Box::new(m20261201_000002_order_client_net::Migration),
            Box::new(m20261201_000003_observability::Migration),
            Box::new(m20261201_000004_supply::Migration),
            Box::new(m20261201_000005_key_import_report::Migration),
            Box::new(m20261201_000006_product_slugs::Migration),
            Box::new(m20261201_000007_account_language::Migration),
            Box::new(m20261201_000008_external_suppliers::Migration),
            Box::new(m20261201_000009_supply_prepaid::Migration),
            Box::new(m20261201_000010_affiliates::Migration),
            Box::new(m20261201_000011_supply_settlement::Migration),
        ]
    }
}
