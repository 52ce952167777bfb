//! Request plumbing shared by the storefront's pages and API: which shop,
//! which client, which language, and how fast they may go.

pub mod client_ip;
pub mod context;
pub mod csrf;
pub mod database_watch;
pub mod host;
pub mod lookup_limits;
pub mod rate_limit;
pub mod referral;
pub mod request_class;
pub mod shop_limit;
pub mod shop_share;
pub mod status_notice;
