//! Affiliates (issue 20, part 3): a shop's referral programme.
//! `affiliate_programs` holds a shop's terms (rate, holding period,
//! attribution window, clicks counted per address, minimum payout);
//! `affiliate_product_rates` a product's own rate. An affiliate
//! (`affiliates`, one per shop and email, with a public `code`) signs in on
//! the storefront with a magic link (`affiliate_tokens`, kept as hashes).
//! A visit with `?ref=code` is a click (`affiliate_clicks`) and the buyer's
//! order names it (`orders.affiliate_click_id`); a delivered order gets a
//! commission (`affiliate_commissions`) that is booked on the affiliate's
//! append-only account (`affiliate_ledger`) after the holding period, or
//! cancelled by a refund; `affiliate_payouts` are the affiliate's requests
//! and the merchant's decisions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AffiliatePrograms {
    Table,
    TenantId,
    Enabled,
    OpenSignup,
    CommissionBps,
    HoldingDays,
    WindowDays,
    ClicksPerAddress,
    MinPayoutMinor,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AffiliateProductRates {
    Table,
    TenantId,
    ProductId,
    CommissionBps,
}

#[derive(DeriveIden)]
enum Affiliates {
    Table,
    TenantId,
    Id,
    Email,
    Code,
    Status,
    KnownNets,
    Locale,
    CreatedAt,
    LastSigninAt,
}

#[derive(DeriveIden)]
enum AffiliateTokens {
    Table,
    TokenHash,
    TenantId,
    AffiliateId,
    Purpose,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AffiliateClicks {
    Table,
    TenantId,
    Id,
    AffiliateId,
    ClientNet,
    Counted,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AffiliateCommissions {
    Table,
    TenantId,
    OrderId,
    AffiliateId,
    OrderNo,
    BaseMinor,
    RateBps,
    AmountMinor,
    Currency,
    Status,
    Reason,
    MaturesAt,
    CreatedAt,
    DecidedAt,
}

#[derive(DeriveIden)]
enum AffiliateLedger {
    Table,
    Id,
    TenantId,
    AffiliateId,
    Kind,
    EntryKey,
    OrderId,
    PayoutId,
    AmountMinor,
    Currency,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AffiliatePayouts {
    Table,
    TenantId,
    Id,
    AffiliateId,
    AmountMinor,
    Currency,
    Status,
    Details,
    Note,
    RequestedAt,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    AffiliateClickId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AffiliatePrograms::Table)
                .col(string_len(AffiliatePrograms::TenantId, 32).primary_key())
                .col(boolean(AffiliatePrograms::Enabled).default(false))
                .col(boolean(AffiliatePrograms::OpenSignup).default(true))
                .col(integer(AffiliatePrograms::CommissionBps).default(1000))
                .col(integer(AffiliatePrograms::HoldingDays).default(7))
                .col(integer(AffiliatePrograms::WindowDays).default(30))
                .col(integer(AffiliatePrograms::ClicksPerAddress).default(20))
                .col(big_integer(AffiliatePrograms::MinPayoutMinor).default(0))
                .col(timestamp_with_time_zone(AffiliatePrograms::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AffiliateProductRates::Table)
                .col(string_len(AffiliateProductRates::TenantId, 32))
                .col(string_len(AffiliateProductRates::ProductId, 32))
                .col(integer(AffiliateProductRates::CommissionBps))
                .primary_key(Index::create().col(AffiliateProductRates::TenantId).col(AffiliateProductRates::ProductId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Affiliates::Table)
                .col(string_len(Affiliates::TenantId, 32))
                .col(string_len(Affiliates::Id, 32))
                .col(string_len(Affiliates::Email, 255))
                .col(string_len(Affiliates::Code, 32))
                .col(string_len(Affiliates::Status, 16).default("active"))
                .col(text(Affiliates::KnownNets).default(""))
                .col(string_len(Affiliates::Locale, 8).default("zh-CN"))
                .col(timestamp_with_time_zone(Affiliates::CreatedAt))
                .col(timestamp_with_time_zone_null(Affiliates::LastSigninAt))
                .primary_key(Index::create().col(Affiliates::TenantId).col(Affiliates::Id))
                .to_owned(),
        )
        .await?;
        for (name, col) in [("ux_affiliates_email", Affiliates::Email), ("ux_affiliates_code", Affiliates::Code)] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(Affiliates::Table)
                    .col(Affiliates::TenantId)
                    .col(col)
                    .unique()
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(AffiliateTokens::Table)
                .col(string_len(AffiliateTokens::TokenHash, 64).primary_key())
                .col(string_len(AffiliateTokens::TenantId, 32))
                .col(string_len(AffiliateTokens::AffiliateId, 32))
                .col(string_len(AffiliateTokens::Purpose, 16))
                .col(timestamp_with_time_zone(AffiliateTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(AffiliateTokens::UsedAt))
                .col(timestamp_with_time_zone(AffiliateTokens::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AffiliateClicks::Table)
                .col(string_len(AffiliateClicks::TenantId, 32))
                .col(string_len(AffiliateClicks::Id, 32))
                .col(string_len(AffiliateClicks::AffiliateId, 32))
                .col(string_len(AffiliateClicks::ClientNet, 64))
                .col(boolean(AffiliateClicks::Counted))
                .col(timestamp_with_time_zone(AffiliateClicks::CreatedAt))
                .primary_key(Index::create().col(AffiliateClicks::TenantId).col(AffiliateClicks::Id))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_affiliate_clicks_net")
                .table(AffiliateClicks::Table)
                .col(AffiliateClicks::TenantId)
                .col(AffiliateClicks::ClientNet)
                .col(AffiliateClicks::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_affiliate_clicks_affiliate")
                .table(AffiliateClicks::Table)
                .col(AffiliateClicks::TenantId)
                .col(AffiliateClicks::AffiliateId)
                .col(AffiliateClicks::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AffiliateCommissions::Table)
                .col(string_len(AffiliateCommissions::TenantId, 32))
                .col(string_len(AffiliateCommissions::OrderId, 32))
                .col(string_len(AffiliateCommissions::AffiliateId, 32))
                .col(string_len(AffiliateCommissions::OrderNo, 32))
                .col(big_integer(AffiliateCommissions::BaseMinor))
                .col(integer(AffiliateCommissions::RateBps))
                .col(big_integer(AffiliateCommissions::AmountMinor))
                .col(string_len(AffiliateCommissions::Currency, 8))
                .col(string_len(AffiliateCommissions::Status, 16))
                .col(string_len_null(AffiliateCommissions::Reason, 32))
                .col(timestamp_with_time_zone(AffiliateCommissions::MaturesAt))
                .col(timestamp_with_time_zone(AffiliateCommissions::CreatedAt))
                .col(timestamp_with_time_zone_null(AffiliateCommissions::DecidedAt))
                .primary_key(Index::create().col(AffiliateCommissions::TenantId).col(AffiliateCommissions::OrderId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_affiliate_commissions_due")
                .table(AffiliateCommissions::Table)
                .col(AffiliateCommissions::Status)
                .col(AffiliateCommissions::MaturesAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AffiliateLedger::Table)
                .col(string_len(AffiliateLedger::Id, 32).primary_key())
                .col(string_len(AffiliateLedger::TenantId, 32))
                .col(string_len(AffiliateLedger::AffiliateId, 32))
                .col(string_len(AffiliateLedger::Kind, 16))
                .col(string_len(AffiliateLedger::EntryKey, 64))
                .col(string_len_null(AffiliateLedger::OrderId, 32))
                .col(string_len_null(AffiliateLedger::PayoutId, 32))
                .col(big_integer(AffiliateLedger::AmountMinor))
                .col(string_len(AffiliateLedger::Currency, 8))
                .col(timestamp_with_time_zone(AffiliateLedger::CreatedAt))
                .to_owned(),
        )
        .await?;
        // `{kind}:{order or payout id}`: one commission and one reversal per
        // order, one line per payout step, however often a sweep retries.
        m.create_index(
            Index::create()
                .name("ux_affiliate_ledger_entry")
                .table(AffiliateLedger::Table)
                .col(AffiliateLedger::TenantId)
                .col(AffiliateLedger::EntryKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_affiliate_ledger_affiliate")
                .table(AffiliateLedger::Table)
                .col(AffiliateLedger::TenantId)
                .col(AffiliateLedger::AffiliateId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AffiliatePayouts::Table)
                .col(string_len(AffiliatePayouts::TenantId, 32))
                .col(string_len(AffiliatePayouts::Id, 32))
                .col(string_len(AffiliatePayouts::AffiliateId, 32))
                .col(big_integer(AffiliatePayouts::AmountMinor))
                .col(string_len(AffiliatePayouts::Currency, 8))
                .col(string_len(AffiliatePayouts::Status, 16))
                .col(string_len(AffiliatePayouts::Details, 255))
                .col(string_len_null(AffiliatePayouts::Note, 255))
                .col(timestamp_with_time_zone(AffiliatePayouts::RequestedAt))
                .col(timestamp_with_time_zone_null(AffiliatePayouts::DecidedAt))
                .primary_key(Index::create().col(AffiliatePayouts::TenantId).col(AffiliatePayouts::Id))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Orders::Table).add_column(string_len_null(Orders::AffiliateClickId, 32)).to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_orders_affiliate_click")
                .table(Orders::Table)
                .col(Orders::AffiliateClickId)
                .to_owned(),
        )
        .await
    }
}
