//! Payment channels with failover and reconciliation: what each attempt
//! showed the buyer, when reconciliation last asked the provider, one
//! payment per provider transaction, and the reconciliation log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Payments {
    Table,
    TenantId,
    Channel,
    ProviderRef,
    PayUrl,
    QrPayload,
    Calls,
    LatencyMs,
    CheckedAt,
    Checks,
}

#[derive(DeriveIden)]
enum ChannelConfigs {
    Table,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PaymentChecks {
    Table,
    Id,
    TenantId,
    PaymentId,
    OrderNo,
    Channel,
    Outcome,
    Detail,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            text_null(Payments::PayUrl),
            text_null(Payments::QrPayload),
            integer(Payments::Calls).default(0).to_owned(),
            integer_null(Payments::LatencyMs),
            timestamp_with_time_zone_null(Payments::CheckedAt),
            integer(Payments::Checks).default(0).to_owned(),
        ] {
            let mut col = col;
            m.alter_table(Table::alter().table(Payments::Table).add_column(&mut col).to_owned()).await?;
        }
        // A provider transaction pays one attempt, whatever the notifications say.
        m.create_index(
            Index::create()
                .name("ux_payments_provider_ref")
                .table(Payments::Table)
                .col(Payments::TenantId)
                .col(Payments::Channel)
                .col(Payments::ProviderRef)
                .unique()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ChannelConfigs::Table)
                .add_column(timestamp_with_time_zone_null(ChannelConfigs::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PaymentChecks::Table)
                .col(string_len(PaymentChecks::TenantId, 32))
                .col(string_len(PaymentChecks::Id, 32))
                .col(string_len(PaymentChecks::PaymentId, 32))
                .col(string_len(PaymentChecks::OrderNo, 32))
                .col(string_len(PaymentChecks::Channel, 32))
                .col(string_len(PaymentChecks::Outcome, 32))
                .col(text(PaymentChecks::Detail))
                .col(timestamp_with_time_zone(PaymentChecks::CreatedAt))
                .primary_key(Index::create().col(PaymentChecks::TenantId).col(PaymentChecks::Id))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_payment_checks_tenant_created")
                .table(PaymentChecks::Table)
                .col(PaymentChecks::TenantId)
                .col(PaymentChecks::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
