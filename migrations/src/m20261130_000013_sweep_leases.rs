//! One row per periodic sweep: which worker process runs it, until when
//! (`kapu_core::store::sweep_leases`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SweepLeases {
    Table,
    Name,
    Holder,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SweepLeases::Table)
                .col(string_len(SweepLeases::Name, 64).primary_key())
                .col(string_len(SweepLeases::Holder, 64))
                .col(timestamp_with_time_zone(SweepLeases::ExpiresAt))
                .to_owned(),
        )
        .await
    }
}
