//! The key-import report counts the blank lines it skipped.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum KeyImports {
    Table,
    BlankLines,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(KeyImports::Table)
                .add_column(big_integer(KeyImports::BlankLines).default(0))
                .to_owned(),
        )
        .await
    }
}
