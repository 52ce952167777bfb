//! Merchant subscriptions to platform plans, through the platform's own
//! Stripe account (Stripe Billing): a Checkout Session in subscription mode
//! to subscribe, and verified webhook events to learn what happened. Plan
//! changes are applied from the events only, never from the browser's return.

pub mod checkout;
pub mod events;
pub mod manage;

pub use checkout::{SubscribeRequest, start_subscription_checkout};
pub use events::{
    BillingEvent, EventError, SubscriptionFacts, VerifiedEvent, verify_billing_event, verify_billing_event_now,
};
