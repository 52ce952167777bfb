//! What issue 19 keeps: every payment notification a shop received with its
//! verdict (the merchant's notification inspector), the status page's
//! checks and incidents, per-shop feature flags, and the request that
//! queued each job.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PaymentNotifications {
    Table,
    TenantId,
    Id,
    PaymentId,
    OrderNo,
    Channel,
    SourceIp,
    Verdict,
    Reason,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StatusChecks {
    Table,
    Id,
    Component,
    Ok,
    TookMs,
    Detail,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StatusIncidents {
    Table,
    Id,
    Kind,
    TitleZh,
    TitleEn,
    Components,
    Impact,
    State,
    StartsAt,
    EndsAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StatusIncidentUpdates {
    Table,
    Id,
    IncidentId,
    State,
    BodyZh,
    BodyEn,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    RequestId,
}

#[derive(DeriveIden)]
enum FeatureFlags {
    Table,
    Name,
    Description,
    Mode,
    Shops,
    Percent,
    Killed,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PaymentNotifications::Table)
                .col(string_len(PaymentNotifications::TenantId, 32))
                .col(string_len(PaymentNotifications::Id, 32))
                .col(string_len(PaymentNotifications::PaymentId, 64))
                .col(string_len(PaymentNotifications::OrderNo, 32))
                .col(string_len(PaymentNotifications::Channel, 32))
                .col(string_len(PaymentNotifications::SourceIp, 64))
                .col(string_len(PaymentNotifications::Verdict, 32))
                .col(text(PaymentNotifications::Reason))
                .col(text(PaymentNotifications::Body))
                .col(timestamp_with_time_zone(PaymentNotifications::CreatedAt))
                .primary_key(Index::create().col(PaymentNotifications::TenantId).col(PaymentNotifications::Id))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_payment_notifications_order")
                .table(PaymentNotifications::Table)
                .col(PaymentNotifications::TenantId)
                .col(PaymentNotifications::OrderNo)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_payment_notifications_created")
                .table(PaymentNotifications::Table)
                .col(PaymentNotifications::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StatusChecks::Table)
                .col(big_integer(StatusChecks::Id).auto_increment().primary_key())
                .col(string_len(StatusChecks::Component, 32))
                .col(boolean(StatusChecks::Ok))
                .col(integer(StatusChecks::TookMs))
                .col(text(StatusChecks::Detail))
                .col(timestamp_with_time_zone(StatusChecks::CreatedAt))
                .to_owned(),
        )
        .await?;
        // The board reads the last ten minutes of every component at once,
        // the history the last 90 days: both by time.
        m.create_index(
            Index::create()
                .name("ix_status_checks_created")
                .table(StatusChecks::Table)
                .col(StatusChecks::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StatusIncidents::Table)
                .col(string_len(StatusIncidents::Id, 32).primary_key())
                .col(string_len(StatusIncidents::Kind, 16))
                .col(string_len(StatusIncidents::TitleZh, 200))
                .col(string_len(StatusIncidents::TitleEn, 200))
                .col(text(StatusIncidents::Components))
                .col(string_len(StatusIncidents::Impact, 16))
                .col(string_len(StatusIncidents::State, 16))
                .col(timestamp_with_time_zone(StatusIncidents::StartsAt))
                .col(timestamp_with_time_zone_null(StatusIncidents::EndsAt))
                .col(timestamp_with_time_zone(StatusIncidents::CreatedAt))
                .col(timestamp_with_time_zone(StatusIncidents::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StatusIncidentUpdates::Table)
                .col(string_len(StatusIncidentUpdates::Id, 32).primary_key())
                .col(string_len(StatusIncidentUpdates::IncidentId, 32))
                .col(string_len(StatusIncidentUpdates::State, 16))
                .col(text(StatusIncidentUpdates::BodyZh))
                .col(text(StatusIncidentUpdates::BodyEn))
                .col(timestamp_with_time_zone(StatusIncidentUpdates::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_status_incident_updates_incident")
                .table(StatusIncidentUpdates::Table)
                .col(StatusIncidentUpdates::IncidentId)
                .to_owned(),
        )
        .await?;
        // The request that queued a job, so its run logs under the same id.
        m.alter_table(Table::alter().table(Jobs::Table).add_column(string_len_null(Jobs::RequestId, 64)).to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table(FeatureFlags::Table)
                .col(string_len(FeatureFlags::Name, 64).primary_key())
                .col(text(FeatureFlags::Description))
                .col(string_len(FeatureFlags::Mode, 16))
                .col(text(FeatureFlags::Shops))
                .col(integer(FeatureFlags::Percent))
                .col(boolean(FeatureFlags::Killed))
                .col(timestamp_with_time_zone(FeatureFlags::UpdatedAt))
                .to_owned(),
        )
        .await
    }
}
