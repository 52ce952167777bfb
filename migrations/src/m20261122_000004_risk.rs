//! Risk rules: per-shop block and allow lists, order-velocity limits, and the
//! indexes that count a client's recent orders.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RiskEntries {
    Table,
    TenantId,
    Id,
    List,
    Kind,
    Value,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RiskEvents {
    Table,
    TenantId,
    Id,
    Rule,
    Email,
    ClientIp,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    VelocityIpMax,
    VelocityEmailMax,
    VelocityWindowMinutes,
    VelocityAction,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    TenantId,
    ClientIp,
    Email,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RiskEntries::Table)
                .col(string_len(RiskEntries::TenantId, 32))
                .col(string_len(RiskEntries::Id, 32))
                .col(string_len(RiskEntries::List, 8))
                .col(string_len(RiskEntries::Kind, 8))
                .col(string_len(RiskEntries::Value, 254))
                .col(timestamp_with_time_zone(RiskEntries::CreatedAt))
                .primary_key(Index::create().col(RiskEntries::TenantId).col(RiskEntries::Id))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_risk_entries_value")
                .table(RiskEntries::Table)
                .col(RiskEntries::TenantId)
                .col(RiskEntries::List)
                .col(RiskEntries::Kind)
                .col(RiskEntries::Value)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RiskEvents::Table)
                .col(string_len(RiskEvents::TenantId, 32))
                .col(string_len(RiskEvents::Id, 32))
                .col(string_len(RiskEvents::Rule, 32))
                .col(string_len(RiskEvents::Email, 254))
                .col(string_len(RiskEvents::ClientIp, 45))
                .col(timestamp_with_time_zone(RiskEvents::CreatedAt))
                .primary_key(Index::create().col(RiskEvents::TenantId).col(RiskEvents::Id))
                .to_owned(),
        )
        .await?;
        for (col, default) in
            [(Tenants::VelocityIpMax, 50), (Tenants::VelocityEmailMax, 20), (Tenants::VelocityWindowMinutes, 10)]
        {
            m.alter_table(Table::alter().table(Tenants::Table).add_column(integer(col).default(default)).to_owned())
                .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(string_len(Tenants::VelocityAction, 16).default("challenge"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_orders_tenant_ip_created")
                .table(Orders::Table)
                .col(Orders::TenantId)
                .col(Orders::ClientIp)
                .col(Orders::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_orders_tenant_email_created")
                .table(Orders::Table)
                .col(Orders::TenantId)
                .col(Orders::Email)
                .col(Orders::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
