//! sea-orm entities, one module per table (see `kapu-migrations` for the schema).

pub mod account_tokens;
pub mod accounts;
pub mod audit_log;
pub mod card_keys;
pub mod categories;
pub mod channel_configs;
pub mod coupons;
pub mod domains;
pub mod fee_ledger;
pub mod jobs;
pub mod key_imports;
pub mod memberships;
pub mod operator_sessions;
pub mod operators;
pub mod orders;
pub mod payment_checks;
pub mod payments;
pub mod plans;
pub mod products;
pub mod risk_entries;
pub mod risk_events;
pub mod sessions;
pub mod stripe_events;
pub mod subscriptions;
pub mod tenants;
