//! Outbound webhooks: a shop's endpoints and every delivery of every event.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    TenantId,
    Id,
    Url,
    Events,
    SecretCiphertext,
    SecretNonce,
    Enabled,
    DisabledReason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    TenantId,
    Id,
    EndpointId,
    EventType,
    Payload,
    Status,
    Attempts,
    LastStatusCode,
    LastError,
    NextAttemptAt,
    CreatedAt,
    DeliveredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WebhookEndpoints::Table)
                .col(string_len(WebhookEndpoints::TenantId, 32))
                .col(string_len(WebhookEndpoints::Id, 32))
                .col(text(WebhookEndpoints::Url))
                .col(text(WebhookEndpoints::Events))
                .col(blob(WebhookEndpoints::SecretCiphertext))
                .col(blob(WebhookEndpoints::SecretNonce))
                .col(boolean(WebhookEndpoints::Enabled).default(true))
                .col(text_null(WebhookEndpoints::DisabledReason))
                .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                .primary_key(Index::create().col(WebhookEndpoints::TenantId).col(WebhookEndpoints::Id))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .col(string_len(WebhookDeliveries::TenantId, 32))
                .col(string_len(WebhookDeliveries::Id, 32))
                .col(string_len(WebhookDeliveries::EndpointId, 32))
                .col(string_len(WebhookDeliveries::EventType, 64))
                .col(text(WebhookDeliveries::Payload))
                .col(string_len(WebhookDeliveries::Status, 16))
                .col(integer(WebhookDeliveries::Attempts).default(0))
                .col(integer_null(WebhookDeliveries::LastStatusCode))
                .col(text_null(WebhookDeliveries::LastError))
                .col(timestamp_with_time_zone_null(WebhookDeliveries::NextAttemptAt))
                .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                .col(timestamp_with_time_zone_null(WebhookDeliveries::DeliveredAt))
                .primary_key(Index::create().col(WebhookDeliveries::TenantId).col(WebhookDeliveries::Id))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_tenant_endpoint")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::TenantId)
                .col(WebhookDeliveries::EndpointId)
                .col(WebhookDeliveries::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
