//! Merchants paying the platform: the plan page with its Stripe Checkout
//! (`plan_page`), the platform Stripe webhook that applies subscription
//! changes (`webhook`), the notices emailed to merchants (`notices`), and the
//! sweep that ends grace periods and purges closed shops (`sweep`).

pub mod notices;
pub mod plan_page;
pub mod sweep;
pub mod webhook;
