//! Readable product addresses: a product may have a slug, unique within its
//! shop, used in storefront URLs (`/products/{slug}`; the id keeps working).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Products {
    Table,
    TenantId,
    Slug,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Products::Table).add_column(string_len_null(Products::Slug, 64)).to_owned())
            .await?;
        m.create_index(
            Index::create()
                .name("ux_products_tenant_slug")
                .table(Products::Table)
                .col(Products::TenantId)
                .col(Products::Slug)
                .unique()
                .to_owned(),
        )
        .await
    }
}
