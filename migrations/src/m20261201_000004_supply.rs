//! In-platform supply (issue 20): a merchant opens a product for resale at a
//! wholesale price (`supply_listings`); another shop's product can be backed
//! by it (`products.supply_*`), so that shop's orders reserve the supplier's
//! keys in their own transaction (`orders.stock_tenant_id` names whose keys
//! an order holds, `orders.supply_unit_minor` the wholesale price it was
//! placed at); each delivered resale and each refund of one is booked on an
//! append-only ledger between the two shops (`supply_ledger`). A supplier
//! invites resellers by link (`supply_invites`, the token kept as a hash)
//! and may give each a wholesale discount (`supply_resellers`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SupplyListings {
    Table,
    TenantId,
    ProductId,
    WholesaleMinor,
    MinResaleMinor,
    Audience,
    AllowedShops,
    PerOrderCap,
    DailyCap,
    ExactStock,
    Open,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SupplyLedger {
    Table,
    Id,
    SupplierTenantId,
    ResellerTenantId,
    OrderId,
    OrderNo,
    Kind,
    ProductName,
    Quantity,
    AmountMinor,
    Currency,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SupplyInvites {
    Table,
    TenantId,
    TokenHash,
    DiscountBps,
    CreatedAt,
    ExpiresAt,
    AcceptedTenantId,
    AcceptedAt,
}

#[derive(DeriveIden)]
enum SupplyResellers {
    Table,
    TenantId,
    ResellerTenantId,
    DiscountBps,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    SupplyTenantId,
    SupplyProductId,
    SupplyPaused,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    StockTenantId,
    SupplyUnitMinor,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SupplyListings::Table)
                .col(string_len(SupplyListings::TenantId, 32))
                .col(string_len(SupplyListings::ProductId, 32))
                .col(big_integer(SupplyListings::WholesaleMinor))
                .col(big_integer_null(SupplyListings::MinResaleMinor))
                .col(string_len(SupplyListings::Audience, 16).default("any"))
                .col(text_null(SupplyListings::AllowedShops))
                .col(integer_null(SupplyListings::PerOrderCap))
                .col(integer_null(SupplyListings::DailyCap))
                .col(boolean(SupplyListings::ExactStock).default(false))
                .col(boolean(SupplyListings::Open).default(true))
                .col(timestamp_with_time_zone(SupplyListings::CreatedAt))
                .col(timestamp_with_time_zone(SupplyListings::UpdatedAt))
                .primary_key(Index::create().col(SupplyListings::TenantId).col(SupplyListings::ProductId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_supply_listings_open")
                .table(SupplyListings::Table)
                .col(SupplyListings::Open)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SupplyLedger::Table)
                .col(string_len(SupplyLedger::Id, 32).primary_key())
                .col(string_len(SupplyLedger::SupplierTenantId, 32))
                .col(string_len(SupplyLedger::ResellerTenantId, 32))
                .col(string_len(SupplyLedger::OrderId, 32))
                .col(string_len(SupplyLedger::OrderNo, 64))
                .col(string_len(SupplyLedger::Kind, 16))
                .col(string_len(SupplyLedger::ProductName, 200))
                .col(integer(SupplyLedger::Quantity))
                .col(big_integer(SupplyLedger::AmountMinor))
                .col(string_len(SupplyLedger::Currency, 8))
                .col(timestamp_with_time_zone(SupplyLedger::CreatedAt))
                .to_owned(),
        )
        .await?;
        // One booking of each kind per order: a repeated delivery or refund books nothing twice.
        m.create_index(
            Index::create()
                .name("ux_supply_ledger_order_kind")
                .table(SupplyLedger::Table)
                .col(SupplyLedger::OrderId)
                .col(SupplyLedger::Kind)
                .unique()
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("ix_supply_ledger_supplier", SupplyLedger::SupplierTenantId),
            ("ix_supply_ledger_reseller", SupplyLedger::ResellerTenantId),
        ] {
            m.create_index(
                Index::create().name(name).table(SupplyLedger::Table).col(col).col(SupplyLedger::CreatedAt).to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(SupplyInvites::Table)
                .col(string_len(SupplyInvites::TokenHash, 64).primary_key())
                .col(string_len(SupplyInvites::TenantId, 32))
                .col(integer(SupplyInvites::DiscountBps).default(0))
                .col(timestamp_with_time_zone(SupplyInvites::CreatedAt))
                .col(timestamp_with_time_zone(SupplyInvites::ExpiresAt))
                .col(string_len_null(SupplyInvites::AcceptedTenantId, 32))
                .col(timestamp_with_time_zone_null(SupplyInvites::AcceptedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_supply_invites_tenant")
                .table(SupplyInvites::Table)
                .col(SupplyInvites::TenantId)
                .col(SupplyInvites::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SupplyResellers::Table)
                .col(string_len(SupplyResellers::TenantId, 32))
                .col(string_len(SupplyResellers::ResellerTenantId, 32))
                .col(integer(SupplyResellers::DiscountBps).default(0))
                .col(timestamp_with_time_zone(SupplyResellers::CreatedAt))
                .col(timestamp_with_time_zone(SupplyResellers::UpdatedAt))
                .primary_key(Index::create().col(SupplyResellers::TenantId).col(SupplyResellers::ResellerTenantId))
                .to_owned(),
        )
        .await?;
        for col in [Products::SupplyTenantId, Products::SupplyProductId] {
            m.alter_table(Table::alter().table(Products::Table).add_column(string_len_null(col, 32)).to_owned())
                .await?;
        }
        m.alter_table(
            Table::alter().table(Products::Table).add_column(string_len_null(Products::SupplyPaused, 16)).to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_products_supply")
                .table(Products::Table)
                .col(Products::SupplyTenantId)
                .col(Products::SupplyProductId)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Orders::Table).add_column(string_len_null(Orders::StockTenantId, 32)).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Orders::Table).add_column(big_integer_null(Orders::SupplyUnitMinor)).to_owned(),
        )
        .await?;
        // Partial: only resale orders carry a stock shop, so an own-stock
        // order (the hot path) writes no entry in this index.
        m.create_index(
            Index::create()
                .name("ix_orders_stock_tenant")
                .table(Orders::Table)
                .col(Orders::StockTenantId)
                .col(Orders::CreatedAt)
                .and_where(Expr::col(Orders::StockTenantId).is_not_null())
                .to_owned(),
        )
        .await
    }
}
