//! Kapu core: what every plane shares and nothing HTTP-specific.
//! Config, database, entities and tenant-scoped queries, money, ids,
//! encryption, durable jobs and mail.

pub mod bus;
pub mod buyer_patterns;
pub mod config;
pub mod crypto;
pub mod db;
pub mod entities;
pub mod flags;
pub mod fleet;
pub mod ids;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod money;
pub mod passwords;
pub mod pricing;
pub mod quota_limits;
pub mod readiness;
pub mod redirects;
pub mod secret;
pub mod status_board;
pub mod store;
pub mod tenant;
pub mod trace;
pub mod traffic;

pub use config::Config;
pub use db::Db;
