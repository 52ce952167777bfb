//! External suppliers (issue 20, part 2): a shop docks a supplier outside
//! Kapu that speaks the documented generic contract (`docs/SUPPLIER_PROTOCOL.md`):
//! `supplier_connections` holds its address and HMAC secret (sealed with the
//! shop's key); a product of kind `external` names the connection and the
//! supplier's SKU and keeps the supplier's last polled stock with its time.
//! Keys bought from suppliers are remembered by hash per shop
//! (`external_key_hashes`) so one is never delivered twice.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SupplierConnections {
    Table,
    Id,
    TenantId,
    Name,
    BaseUrl,
    SecretCiphertext,
    SecretNonce,
    LastError,
    CheckedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ExternalKeyHashes {
    Table,
    TenantId,
    KeyHash,
    OrderId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    ExternalConnectionId,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    ExternalConnectionId,
    ExternalSku,
    ExternalStock,
    ExternalStockAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SupplierConnections::Table)
                .col(string_len(SupplierConnections::Id, 32).primary_key())
                .col(string_len(SupplierConnections::TenantId, 32))
                .col(string_len(SupplierConnections::Name, 100))
                .col(string_len(SupplierConnections::BaseUrl, 500))
                .col(blob(SupplierConnections::SecretCiphertext))
                .col(blob(SupplierConnections::SecretNonce))
                .col(text_null(SupplierConnections::LastError))
                .col(timestamp_with_time_zone_null(SupplierConnections::CheckedAt))
                .col(timestamp_with_time_zone(SupplierConnections::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_supplier_connections_tenant")
                .table(SupplierConnections::Table)
                .col(SupplierConnections::TenantId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ExternalKeyHashes::Table)
                .col(string_len(ExternalKeyHashes::TenantId, 32))
                .col(string_len(ExternalKeyHashes::KeyHash, 64))
                .col(string_len(ExternalKeyHashes::OrderId, 32))
                .col(timestamp_with_time_zone(ExternalKeyHashes::CreatedAt))
                .primary_key(Index::create().col(ExternalKeyHashes::TenantId).col(ExternalKeyHashes::KeyHash))
                .to_owned(),
        )
        .await?;
        for col in [
            string_len_null(Products::ExternalConnectionId, 32),
            string_len_null(Products::ExternalSku, 200),
            big_integer_null(Products::ExternalStock),
            timestamp_with_time_zone_null(Products::ExternalStockAt),
        ] {
            m.alter_table(Table::alter().table(Products::Table).add_column(col).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(Orders::Table)
                .add_column(string_len_null(Orders::ExternalConnectionId, 32))
                .to_owned(),
        )
        .await
    }
}
