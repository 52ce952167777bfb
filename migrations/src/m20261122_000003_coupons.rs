//! Coupons, and the coupon an order used.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Coupons {
    Table,
    TenantId,
    Id,
    Code,
    Kind,
    Value,
    ProductId,
    UsageLimit,
    UsedCount,
    ExpiresAt,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    CouponCode,
    DiscountMinor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Coupons::Table)
                .col(string_len(Coupons::TenantId, 32))
                .col(string_len(Coupons::Id, 32))
                .col(string_len(Coupons::Code, 32))
                .col(string_len(Coupons::Kind, 8))
                .col(big_integer(Coupons::Value))
                .col(string_len_null(Coupons::ProductId, 32))
                .col(integer_null(Coupons::UsageLimit))
                .col(integer(Coupons::UsedCount).default(0))
                .col(timestamp_with_time_zone_null(Coupons::ExpiresAt))
                .col(boolean(Coupons::Active).default(true))
                .col(timestamp_with_time_zone(Coupons::CreatedAt))
                .primary_key(Index::create().col(Coupons::TenantId).col(Coupons::Id))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_coupons_code")
                .table(Coupons::Table)
                .col(Coupons::TenantId)
                .col(Coupons::Code)
                .unique()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Orders::Table).add_column(string_len_null(Orders::CouponCode, 32)).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Orders::Table).add_column(big_integer(Orders::DiscountMinor).default(0)).to_owned(),
        )
        .await?;
        Ok(())
    }
}
