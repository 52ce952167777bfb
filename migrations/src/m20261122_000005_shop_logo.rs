//! A shop's logo (small image stored in the database, served by content hash).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Logo,
    LogoContentType,
    LogoHash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Tenants::Table).add_column(blob_null(Tenants::Logo)).to_owned()).await?;
        m.alter_table(
            Table::alter().table(Tenants::Table).add_column(string_len_null(Tenants::LogoContentType, 32)).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Tenants::Table).add_column(string_len_null(Tenants::LogoHash, 16)).to_owned(),
        )
        .await?;
        Ok(())
    }
}
