//! The client network of an order (`kapu_core::fleet::limits::client_key`:
//! an IPv4 address, or an IPv6 address's /64): the unpaid-order cap and the
//! velocity rule count by it, so one subscriber's 2^64 IPv6 addresses are
//! one buyer. The exact address stays in `client_ip` (providers want it).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    TenantId,
    Status,
    ClientIp,
    ClientNet,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Orders::Table).add_column(string_len(Orders::ClientNet, 50).default("")).to_owned(),
        )
        .await?;
        // Older orders count by their exact address, as before.
        m.exec_stmt(
            Query::update().table(Orders::Table).value(Orders::ClientNet, Expr::col(Orders::ClientIp)).to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_orders_unpaid_net")
                .table(Orders::Table)
                .col(Orders::TenantId)
                .col(Orders::Status)
                .col(Orders::ClientNet)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_orders_tenant_net_created")
                .table(Orders::Table)
                .col(Orders::TenantId)
                .col(Orders::ClientNet)
                .col(Orders::CreatedAt)
                .to_owned(),
        )
        .await?;
        // The exact-address indexes served only these counts.
        m.drop_index(Index::drop().name("ix_orders_unpaid_ip").table(Orders::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("ix_orders_tenant_ip_created").table(Orders::Table).to_owned()).await
    }
}
