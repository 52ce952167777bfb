//! The platform's own side: plans and their limits, operator accounts and
//! sessions, merchant subscriptions (Stripe Billing) and the Stripe events
//! already applied, the platform fee ledger, and the append-only audit log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plans {
    Table,
    Id,
    Name,
    PriceMinor,
    Currency,
    TrialDays,
    MaxProducts,
    MaxKeysInStock,
    MaxOrdersPerMonth,
    MaxCustomDomains,
    MaxTeamMembers,
    ApiRequestsPerMinute,
    StorefrontRps,
    FeeBps,
    StripePriceId,
    IsDefault,
    Archived,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    PlanId,
    StatusReason,
    ClosedAt,
}

#[derive(DeriveIden)]
enum Operators {
    Table,
    Id,
    Email,
    PasswordHash,
    TotpSecret,
    TotpNonce,
    TotpLastStep,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OperatorSessions {
    Table,
    IdHash,
    OperatorId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    TenantId,
    PlanId,
    Status,
    StripeCustomerId,
    StripeSubscriptionId,
    CurrentPeriodEnd,
    GraceUntil,
    LastEventAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    Id,
    Kind,
    Outcome,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum FeeLedger {
    Table,
    TenantId,
    OrderNo,
    Month,
    PlanId,
    AmountMinor,
    Currency,
    FeeBps,
    FeeMinor,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    ActorKind,
    ActorId,
    ActorEmail,
    TenantId,
    Action,
    Target,
    Detail,
    Ip,
    CreatedAt,
}

/// Triggers that make `audit_log` refuse every UPDATE and DELETE, whatever
/// code (or person with a SQL prompt on the application's role) tries.
const SQLITE_APPEND_ONLY: &[&str] = &[
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
];
const POSTGRES_APPEND_ONLY: &[&str] = &[
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Plans::Table)
                .col(string_len(Plans::Id, 32).primary_key())
                .col(string_len(Plans::Name, 64))
                .col(big_integer(Plans::PriceMinor).default(0))
                .col(string_len(Plans::Currency, 3).default("CNY"))
                .col(integer(Plans::TrialDays).default(0))
                // NULL limit: unlimited.
                .col(integer_null(Plans::MaxProducts))
                .col(integer_null(Plans::MaxKeysInStock))
                .col(integer_null(Plans::MaxOrdersPerMonth))
                .col(integer_null(Plans::MaxCustomDomains))
                .col(integer_null(Plans::MaxTeamMembers))
                .col(integer_null(Plans::ApiRequestsPerMinute))
                .col(integer_null(Plans::StorefrontRps))
                .col(integer(Plans::FeeBps).default(0))
                .col(string_len_null(Plans::StripePriceId, 255))
                .col(boolean(Plans::IsDefault).default(false))
                .col(boolean(Plans::Archived).default(false))
                .col(timestamp_with_time_zone(Plans::CreatedAt))
                .col(timestamp_with_time_zone(Plans::UpdatedAt))
                .to_owned(),
        )
        .await?;
        for col in [
            string_len(Tenants::PlanId, 32).default("free").to_owned(),
            text(Tenants::StatusReason).default("").to_owned(),
            timestamp_with_time_zone_null(Tenants::ClosedAt),
        ] {
            let mut col = col;
            m.alter_table(Table::alter().table(Tenants::Table).add_column(&mut col).to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(Operators::Table)
                .col(string_len(Operators::Id, 32).primary_key())
                .col(string_len_uniq(Operators::Email, 254))
                .col(text(Operators::PasswordHash))
                .col(blob(Operators::TotpSecret))
                .col(blob(Operators::TotpNonce))
                .col(big_integer_null(Operators::TotpLastStep))
                .col(timestamp_with_time_zone(Operators::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OperatorSessions::Table)
                .col(string_len(OperatorSessions::IdHash, 64).primary_key())
                .col(string_len(OperatorSessions::OperatorId, 32))
                .col(timestamp_with_time_zone(OperatorSessions::CreatedAt))
                .col(timestamp_with_time_zone(OperatorSessions::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Subscriptions::Table)
                .col(string_len(Subscriptions::TenantId, 32).primary_key())
                .col(string_len(Subscriptions::PlanId, 32))
                .col(string_len(Subscriptions::Status, 32))
                .col(string_len_null(Subscriptions::StripeCustomerId, 255))
                .col(string_len_null(Subscriptions::StripeSubscriptionId, 255))
                .col(timestamp_with_time_zone_null(Subscriptions::CurrentPeriodEnd))
                .col(timestamp_with_time_zone_null(Subscriptions::GraceUntil))
                .col(big_integer(Subscriptions::LastEventAt).default(0))
                .col(timestamp_with_time_zone(Subscriptions::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_subscriptions_stripe_id")
                .table(Subscriptions::Table)
                .col(Subscriptions::StripeSubscriptionId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StripeEvents::Table)
                .col(string_len(StripeEvents::Id, 255).primary_key())
                .col(string_len(StripeEvents::Kind, 64))
                .col(string_len(StripeEvents::Outcome, 64))
                .col(timestamp_with_time_zone(StripeEvents::ReceivedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(FeeLedger::Table)
                .col(string_len(FeeLedger::TenantId, 32))
                .col(string_len(FeeLedger::OrderNo, 32))
                .col(string_len(FeeLedger::Month, 7))
                .col(string_len(FeeLedger::PlanId, 32))
                .col(big_integer(FeeLedger::AmountMinor))
                .col(string_len(FeeLedger::Currency, 3))
                .col(integer(FeeLedger::FeeBps))
                .col(big_integer(FeeLedger::FeeMinor))
                .col(timestamp_with_time_zone(FeeLedger::CreatedAt))
                .primary_key(Index::create().col(FeeLedger::TenantId).col(FeeLedger::OrderNo))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_fee_ledger_tenant_month")
                .table(FeeLedger::Table)
                .col(FeeLedger::TenantId)
                .col(FeeLedger::Month)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(string_len(AuditLog::Id, 32).primary_key())
                .col(string_len(AuditLog::ActorKind, 16))
                .col(string_len(AuditLog::ActorId, 64))
                .col(string_len(AuditLog::ActorEmail, 254))
                .col(string_len_null(AuditLog::TenantId, 32))
                .col(string_len(AuditLog::Action, 64))
                .col(string_len(AuditLog::Target, 255))
                .col(text(AuditLog::Detail))
                .col(string_len(AuditLog::Ip, 64))
                .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_audit_log_tenant_created")
                .table(AuditLog::Table)
                .col(AuditLog::TenantId)
                .col(AuditLog::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_audit_log_created").table(AuditLog::Table).col(AuditLog::CreatedAt).to_owned(),
        )
        .await?;
        let conn = m.get_connection();
        let statements = match conn.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES_APPEND_ONLY,
            _ => SQLITE_APPEND_ONLY,
        };
        for sql in statements {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
