//! Docking a shop on another Kapu platform (issue 20, part 2, kind `kapu`):
//! a supplier gives an outside reseller a `supply` API key with a prepaid
//! balance; `supply_prepaid_entries` is the key's append-only account (the
//! supplier's top-ups, and each purchase, unique by the reseller's
//! reference so a retried purchase is one purchase). A connection records
//! which contract it speaks (`generic` HMAC, or `kapu` with an API key).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SupplyPrepaidEntries {
    Table,
    Id,
    TenantId,
    ApiKeyId,
    Kind,
    AmountMinor,
    Currency,
    Reference,
    ProductId,
    Quantity,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SupplierConnections {
    Table,
    Kind,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SupplyPrepaidEntries::Table)
                .col(string_len(SupplyPrepaidEntries::Id, 32).primary_key())
                .col(string_len(SupplyPrepaidEntries::TenantId, 32))
                .col(string_len(SupplyPrepaidEntries::ApiKeyId, 32))
                .col(string_len(SupplyPrepaidEntries::Kind, 16))
                .col(big_integer(SupplyPrepaidEntries::AmountMinor))
                .col(string_len(SupplyPrepaidEntries::Currency, 8))
                .col(string_len_null(SupplyPrepaidEntries::Reference, 255))
                .col(string_len_null(SupplyPrepaidEntries::ProductId, 32))
                .col(integer_null(SupplyPrepaidEntries::Quantity))
                .col(timestamp_with_time_zone(SupplyPrepaidEntries::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_supply_prepaid_reference")
                .table(SupplyPrepaidEntries::Table)
                .col(SupplyPrepaidEntries::TenantId)
                .col(SupplyPrepaidEntries::ApiKeyId)
                .col(SupplyPrepaidEntries::Reference)
                .unique()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(SupplierConnections::Table)
                .add_column(string_len(SupplierConnections::Kind, 16).default("generic"))
                .to_owned(),
        )
        .await
    }
}
