//! Custom domains: when a domain's DNS was last checked and what was wrong.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Domains {
    Table,
    LastCheckedAt,
    LastError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [timestamp_with_time_zone_null(Domains::LastCheckedAt), text_null(Domains::LastError)] {
            let mut col = col;
            m.alter_table(Table::alter().table(Domains::Table).add_column(&mut col).to_owned()).await?;
        }
        Ok(())
    }
}
