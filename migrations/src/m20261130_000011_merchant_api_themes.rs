//! Merchant API keys and the results of idempotent API requests; a shop's
//! theme choice, theme settings, custom CSS and template overrides.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    TenantId,
    Id,
    Name,
    Prefix,
    KeyHash,
    Scope,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ApiIdempotency {
    Table,
    TenantId,
    ApiKeyId,
    IdemKey,
    RequestHash,
    StatusCode,
    ResponseBody,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ShopThemes {
    Table,
    TenantId,
    Theme,
    Settings,
    CustomCss,
    Overrides,
    Version,
    RenderError,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(string_len(ApiKeys::TenantId, 32))
                .col(string_len(ApiKeys::Id, 32))
                .col(string_len(ApiKeys::Name, 100))
                .col(string_len(ApiKeys::Prefix, 32))
                .col(string_len(ApiKeys::KeyHash, 64))
                .col(string_len(ApiKeys::Scope, 8))
                .col(string_len_null(ApiKeys::CreatedBy, 32))
                .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                .primary_key(Index::create().col(ApiKeys::TenantId).col(ApiKeys::Id))
                .to_owned(),
        )
        .await?;
        // Looked up by hash before the tenant is known (the key names it).
        m.create_index(
            Index::create()
                .name("ux_api_keys_key_hash")
                .table(ApiKeys::Table)
                .col(ApiKeys::KeyHash)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ApiIdempotency::Table)
                .col(string_len(ApiIdempotency::TenantId, 32))
                .col(string_len(ApiIdempotency::ApiKeyId, 32))
                .col(string_len(ApiIdempotency::IdemKey, 255))
                .col(string_len(ApiIdempotency::RequestHash, 64))
                .col(integer(ApiIdempotency::StatusCode))
                .col(text(ApiIdempotency::ResponseBody))
                .col(timestamp_with_time_zone(ApiIdempotency::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(ApiIdempotency::TenantId)
                        .col(ApiIdempotency::ApiKeyId)
                        .col(ApiIdempotency::IdemKey),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ShopThemes::Table)
                .col(string_len(ShopThemes::TenantId, 32).primary_key())
                .col(string_len(ShopThemes::Theme, 32))
                .col(text(ShopThemes::Settings))
                .col(text(ShopThemes::CustomCss))
                .col(text(ShopThemes::Overrides))
                .col(integer(ShopThemes::Version).default(1))
                .col(text_null(ShopThemes::RenderError))
                .col(timestamp_with_time_zone(ShopThemes::UpdatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
