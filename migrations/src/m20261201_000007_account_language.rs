//! The dashboard language a merchant chose (`zh` or `en`); null means "as my
//! browser asks".

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Lang,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Accounts::Table).add_column(string_len_null(Accounts::Lang, 8)).to_owned())
            .await
    }
}
