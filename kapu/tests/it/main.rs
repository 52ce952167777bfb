//! Kapu's integration tests, one binary: every area is a module, and the
//! harness in `support` (a real server per test on its own database) is
//! compiled once for all of them.

mod support;

mod abuse;
mod affiliates;
mod alipay_channel;
mod api_errors;
mod api_status_codes;
mod audit_log;
mod backup_restore;
mod browser;
mod browser_languages;
mod browser_layout;
mod browser_merchant;
mod browser_operator;
mod browser_supply;
mod browser_theme;
mod cli;
mod concurrency;
mod crash_safety;
mod custom_domains;
mod dashboard_accounts;
mod dashboard_catalog;
mod dashboard_channels;
mod dashboard_orders;
mod dashboard_snapshots;
mod expiry;
mod external_supply;
mod fleet;
mod isolation;
mod isolation_sweep;
mod jobs;
mod live_mode;
mod merchant_api;
mod notifications;
mod observability;
mod operators;
mod outages;
mod page_snapshots;
mod payment_channels;
mod plan_limits;
mod purchase;
mod retention;
mod risk_rules;
mod shop_export;
mod storefront_pages;
mod stripe_channel;
mod subscriptions;
mod supply;
mod themes;
mod under_pressure;
mod webhooks;
mod wechat_channel;
