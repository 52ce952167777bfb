//! Who sees a shop in test mode: only holders of its preview link (signed
//! with the shop's key and `preview_epoch`, which a merchant bumps to
//! revoke every link given out) unless the merchant opens it to everyone
//! (`test_public`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    TestPublic,
    PreviewEpoch,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Tenants::Table).add_column(boolean(Tenants::TestPublic).default(false)).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Tenants::Table).add_column(integer(Tenants::PreviewEpoch).default(0)).to_owned(),
        )
        .await
    }
}
