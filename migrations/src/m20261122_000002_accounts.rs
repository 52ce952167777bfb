//! Merchant accounts, sessions, one-time account tokens, shop memberships,
//! key-import progress, shop settings and the indexes the dashboard reads by.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Email,
    PasswordHash,
    EmailVerifiedAt,
    TotpSecret,
    TotpNonce,
    TotpLastStep,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    IdHash,
    AccountId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AccountTokens {
    Table,
    TokenHash,
    AccountId,
    Purpose,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    TenantId,
    AccountId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum KeyImports {
    Table,
    TenantId,
    Id,
    ProductId,
    Status,
    Total,
    Processed,
    Imported,
    Duplicate,
    Invalid,
    Problems,
    Error,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    SupportContact,
    OrderTtlMinutes,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    LowStockThreshold,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    TenantId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    TenantId,
    CreatedAt,
    PaidAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Accounts::Table)
                .col(string_len(Accounts::Id, 32).primary_key())
                .col(string_len_uniq(Accounts::Email, 254))
                .col(text(Accounts::PasswordHash))
                .col(timestamp_with_time_zone_null(Accounts::EmailVerifiedAt))
                .col(blob_null(Accounts::TotpSecret))
                .col(blob_null(Accounts::TotpNonce))
                .col(big_integer_null(Accounts::TotpLastStep))
                .col(timestamp_with_time_zone(Accounts::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(string_len(Sessions::IdHash, 64).primary_key())
                .col(string_len(Sessions::AccountId, 32))
                .col(timestamp_with_time_zone(Sessions::CreatedAt))
                .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_sessions_account").table(Sessions::Table).col(Sessions::AccountId).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AccountTokens::Table)
                .col(string_len(AccountTokens::TokenHash, 64).primary_key())
                .col(string_len(AccountTokens::AccountId, 32))
                .col(string_len(AccountTokens::Purpose, 16))
                .col(timestamp_with_time_zone(AccountTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(AccountTokens::UsedAt))
                .col(timestamp_with_time_zone(AccountTokens::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_account_tokens_account")
                .table(AccountTokens::Table)
                .col(AccountTokens::AccountId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Memberships::Table)
                .col(string_len(Memberships::TenantId, 32))
                .col(string_len(Memberships::AccountId, 32))
                .col(string_len(Memberships::Role, 16))
                .col(timestamp_with_time_zone(Memberships::CreatedAt))
                .primary_key(Index::create().col(Memberships::TenantId).col(Memberships::AccountId))
                .to_owned(),
        )
        .await?;
        // The one index not led by tenant_id: "which shops may this account open".
        m.create_index(
            Index::create()
                .name("ix_memberships_account")
                .table(Memberships::Table)
                .col(Memberships::AccountId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(KeyImports::Table)
                .col(string_len(KeyImports::TenantId, 32))
                .col(string_len(KeyImports::Id, 32))
                .col(string_len(KeyImports::ProductId, 32))
                .col(string_len(KeyImports::Status, 16))
                .col(big_integer(KeyImports::Total))
                .col(big_integer(KeyImports::Processed).default(0))
                .col(big_integer(KeyImports::Imported).default(0))
                .col(big_integer(KeyImports::Duplicate).default(0))
                .col(big_integer(KeyImports::Invalid).default(0))
                .col(text(KeyImports::Problems).default("[]"))
                .col(text_null(KeyImports::Error))
                .col(timestamp_with_time_zone(KeyImports::CreatedAt))
                .col(timestamp_with_time_zone(KeyImports::UpdatedAt))
                .primary_key(Index::create().col(KeyImports::TenantId).col(KeyImports::Id))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Tenants::Table).add_column(text(Tenants::SupportContact).default("")).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Tenants::Table).add_column(integer_null(Tenants::OrderTtlMinutes)).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Products::Table)
                .add_column(integer(Products::LowStockThreshold).default(5))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_orders_tenant_created")
                .table(Orders::Table)
                .col(Orders::TenantId)
                .col(Orders::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_orders_tenant_paid")
                .table(Orders::Table)
                .col(Orders::TenantId)
                .col(Orders::PaidAt)
                .to_owned(),
        )
        .await?;
        // The dashboard's order page lists the jobs (emails) of one order.
        m.create_index(
            Index::create()
                .name("ix_jobs_tenant_created")
                .table(Jobs::Table)
                .col(Jobs::TenantId)
                .col(Jobs::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
