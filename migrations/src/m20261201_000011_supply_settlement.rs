//! How money moves in the supply network (issue 20):
//! - `platform_settings`: platform-wide settings operators change in the
//!   console, one row per key (`supply_settlement`: the money on the supply
//!   ledger moves `direct`ly between the shops, or the `platform` collects
//!   and pays out);
//! - `supply_resellers.collects_payments`: a supplier offers a reseller its
//!   own payment channels;
//! - `tenants.payment_tenant_id`: the shop whose channels take this shop's
//!   payments (a reseller that accepted the offer; none: its own).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlatformSettings {
    Table,
    Key,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SupplyResellers {
    Table,
    CollectsPayments,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    PaymentTenantId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PlatformSettings::Table)
                .col(string_len(PlatformSettings::Key, 64).primary_key())
                .col(text(PlatformSettings::Value))
                .col(timestamp_with_time_zone(PlatformSettings::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(SupplyResellers::Table)
                .add_column(boolean(SupplyResellers::CollectsPayments).default(false))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Tenants::Table).add_column(string_len_null(Tenants::PaymentTenantId, 32)).to_owned(),
        )
        .await
    }
}
