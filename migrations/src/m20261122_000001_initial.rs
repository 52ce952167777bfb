//! Tenants, domains, catalog, card keys, orders, payments, channel configs and jobs.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    Status,
    Mode,
    Announcement,
    DefaultLocale,
    Currency,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Domains {
    Table,
    Hostname,
    TenantId,
    VerificationToken,
    VerifiedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Categories {
    Table,
    TenantId,
    Id,
    Name,
    SortOrder,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    TenantId,
    Id,
    CategoryId,
    Name,
    Description,
    Kind,
    PriceMinor,
    Currency,
    WholesaleTiers,
    MinQty,
    MaxQty,
    Visible,
    SortOrder,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CardKeys {
    Table,
    TenantId,
    Id,
    ProductId,
    Ciphertext,
    Nonce,
    Fingerprint,
    Status,
    OrderId,
    ReservedUntil,
    SoldAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    TenantId,
    Id,
    OrderNo,
    ProductId,
    ProductName,
    Quantity,
    UnitPriceMinor,
    AmountMinor,
    Currency,
    Email,
    LookupHash,
    Status,
    Channel,
    ClientIp,
    Locale,
    BaseUrl,
    AttentionReason,
    ExpiresAt,
    PaidAt,
    DeliveredAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    TenantId,
    Id,
    OrderId,
    Channel,
    Status,
    AmountMinor,
    Currency,
    ProviderRef,
    Error,
    PaidAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ChannelConfigs {
    Table,
    TenantId,
    Id,
    Channel,
    Enabled,
    Priority,
    CredentialsCiphertext,
    CredentialsNonce,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    TenantId,
    Kind,
    Payload,
    Status,
    Attempts,
    MaxAttempts,
    RunAt,
    LockedUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
}

fn tenant_pk<T: IntoIden>(tenant: T, id: T) -> IndexCreateStatement {
    Index::create().col(tenant).col(id).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .col(string_len(Tenants::Id, 32).primary_key())
                .col(string_len_uniq(Tenants::Slug, 32))
                .col(string_len(Tenants::Name, 100))
                .col(string_len(Tenants::Status, 16).default("active"))
                .col(string_len(Tenants::Mode, 8).default("test"))
                .col(text(Tenants::Announcement).default(""))
                .col(string_len(Tenants::DefaultLocale, 8).default("zh-CN"))
                .col(string_len(Tenants::Currency, 3).default("CNY"))
                .col(timestamp_with_time_zone(Tenants::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Domains::Table)
                .col(string_len(Domains::Hostname, 253).primary_key())
                .col(string_len(Domains::TenantId, 32))
                .col(string_len(Domains::VerificationToken, 64))
                .col(timestamp_with_time_zone_null(Domains::VerifiedAt))
                .col(timestamp_with_time_zone(Domains::CreatedAt))
                .foreign_key(
                    ForeignKey::create().from(Domains::Table, Domains::TenantId).to(Tenants::Table, Tenants::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_domains_tenant").table(Domains::Table).col(Domains::TenantId).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Categories::Table)
                .col(string_len(Categories::TenantId, 32))
                .col(string_len(Categories::Id, 32))
                .col(string_len(Categories::Name, 100))
                .col(integer(Categories::SortOrder).default(0))
                .primary_key(&mut tenant_pk(Categories::TenantId, Categories::Id))
                .foreign_key(
                    ForeignKey::create().from(Categories::Table, Categories::TenantId).to(Tenants::Table, Tenants::Id),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Products::Table)
                .col(string_len(Products::TenantId, 32))
                .col(string_len(Products::Id, 32))
                .col(string_len_null(Products::CategoryId, 32))
                .col(string_len(Products::Name, 200))
                .col(text(Products::Description).default(""))
                .col(string_len(Products::Kind, 16).default("auto_key"))
                .col(big_integer(Products::PriceMinor))
                .col(string_len(Products::Currency, 3))
                .col(text_null(Products::WholesaleTiers))
                .col(integer(Products::MinQty).default(1))
                .col(integer(Products::MaxQty).default(100))
                .col(boolean(Products::Visible).default(true))
                .col(integer(Products::SortOrder).default(0))
                .col(timestamp_with_time_zone(Products::CreatedAt))
                .primary_key(&mut tenant_pk(Products::TenantId, Products::Id))
                .foreign_key(
                    ForeignKey::create().from(Products::Table, Products::TenantId).to(Tenants::Table, Tenants::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_products_tenant_category")
                .table(Products::Table)
                .col(Products::TenantId)
                .col(Products::CategoryId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CardKeys::Table)
                .col(string_len(CardKeys::TenantId, 32))
                .col(string_len(CardKeys::Id, 32))
                .col(string_len(CardKeys::ProductId, 32))
                .col(blob(CardKeys::Ciphertext))
                .col(blob(CardKeys::Nonce))
                .col(string_len(CardKeys::Fingerprint, 64))
                .col(string_len(CardKeys::Status, 16).default("available"))
                .col(string_len_null(CardKeys::OrderId, 32))
                .col(timestamp_with_time_zone_null(CardKeys::ReservedUntil))
                .col(timestamp_with_time_zone_null(CardKeys::SoldAt))
                .col(timestamp_with_time_zone(CardKeys::CreatedAt))
                .primary_key(&mut tenant_pk(CardKeys::TenantId, CardKeys::Id))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_card_keys_stock")
                .table(CardKeys::Table)
                .col(CardKeys::TenantId)
                .col(CardKeys::ProductId)
                .col(CardKeys::Status)
                .col(CardKeys::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_card_keys_fingerprint")
                .table(CardKeys::Table)
                .col(CardKeys::TenantId)
                .col(CardKeys::ProductId)
                .col(CardKeys::Fingerprint)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_card_keys_order")
                .table(CardKeys::Table)
                .col(CardKeys::TenantId)
                .col(CardKeys::OrderId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Orders::Table)
                .col(string_len(Orders::TenantId, 32))
                .col(string_len(Orders::Id, 32))
                .col(string_len(Orders::OrderNo, 32))
                .col(string_len(Orders::ProductId, 32))
                .col(string_len(Orders::ProductName, 200))
                .col(integer(Orders::Quantity))
                .col(big_integer(Orders::UnitPriceMinor))
                .col(big_integer(Orders::AmountMinor))
                .col(string_len(Orders::Currency, 3))
                .col(string_len(Orders::Email, 254))
                .col(text_null(Orders::LookupHash))
                .col(string_len(Orders::Status, 16))
                .col(string_len(Orders::Channel, 32))
                .col(string_len(Orders::ClientIp, 45))
                .col(string_len(Orders::Locale, 8))
                .col(string_len(Orders::BaseUrl, 300))
                .col(text_null(Orders::AttentionReason))
                .col(timestamp_with_time_zone(Orders::ExpiresAt))
                .col(timestamp_with_time_zone_null(Orders::PaidAt))
                .col(timestamp_with_time_zone_null(Orders::DeliveredAt))
                .col(timestamp_with_time_zone(Orders::CreatedAt))
                .col(timestamp_with_time_zone(Orders::UpdatedAt))
                .primary_key(&mut tenant_pk(Orders::TenantId, Orders::Id))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_orders_order_no")
                .table(Orders::Table)
                .col(Orders::TenantId)
                .col(Orders::OrderNo)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_orders_unpaid_ip")
                .table(Orders::Table)
                .col(Orders::TenantId)
                .col(Orders::Status)
                .col(Orders::ClientIp)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_orders_unpaid_email")
                .table(Orders::Table)
                .col(Orders::TenantId)
                .col(Orders::Status)
                .col(Orders::Email)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Payments::Table)
                .col(string_len(Payments::TenantId, 32))
                .col(string_len(Payments::Id, 32))
                .col(string_len(Payments::OrderId, 32))
                .col(string_len(Payments::Channel, 32))
                .col(string_len(Payments::Status, 16))
                .col(big_integer(Payments::AmountMinor))
                .col(string_len(Payments::Currency, 3))
                .col(string_len_null(Payments::ProviderRef, 128))
                .col(text_null(Payments::Error))
                .col(timestamp_with_time_zone_null(Payments::PaidAt))
                .col(timestamp_with_time_zone(Payments::CreatedAt))
                .col(timestamp_with_time_zone(Payments::UpdatedAt))
                .primary_key(&mut tenant_pk(Payments::TenantId, Payments::Id))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_payments_order")
                .table(Payments::Table)
                .col(Payments::TenantId)
                .col(Payments::OrderId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ChannelConfigs::Table)
                .col(string_len(ChannelConfigs::TenantId, 32))
                .col(string_len(ChannelConfigs::Id, 32))
                .col(string_len(ChannelConfigs::Channel, 32))
                .col(boolean(ChannelConfigs::Enabled).default(true))
                .col(integer(ChannelConfigs::Priority).default(0))
                .col(blob_null(ChannelConfigs::CredentialsCiphertext))
                .col(blob_null(ChannelConfigs::CredentialsNonce))
                .col(timestamp_with_time_zone(ChannelConfigs::CreatedAt))
                .primary_key(&mut tenant_pk(ChannelConfigs::TenantId, ChannelConfigs::Id))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_channel_configs_channel")
                .table(ChannelConfigs::Table)
                .col(ChannelConfigs::TenantId)
                .col(ChannelConfigs::Channel)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Jobs::Table)
                .col(big_pk_auto(Jobs::Id))
                .col(string_len_null(Jobs::TenantId, 32))
                .col(string_len(Jobs::Kind, 64))
                .col(text(Jobs::Payload))
                .col(string_len(Jobs::Status, 16).default("queued"))
                .col(integer(Jobs::Attempts).default(0))
                .col(integer(Jobs::MaxAttempts).default(10))
                .col(timestamp_with_time_zone(Jobs::RunAt))
                .col(timestamp_with_time_zone_null(Jobs::LockedUntil))
                .col(text_null(Jobs::LastError))
                .col(timestamp_with_time_zone(Jobs::CreatedAt))
                .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_jobs_due").table(Jobs::Table).col(Jobs::Status).col(Jobs::RunAt).to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Jobs::Table.into_iden(),
            ChannelConfigs::Table.into_iden(),
            Payments::Table.into_iden(),
            Orders::Table.into_iden(),
            CardKeys::Table.into_iden(),
            Products::Table.into_iden(),
            Categories::Table.into_iden(),
            Domains::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
