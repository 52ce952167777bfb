//! Every job kind, in one place, so a plane can queue a job another plane runs
//! (the dashboard's "resend delivery email" queues the runtime's job).

/// Expire an unpaid order when its time is up and release its keys.
pub const EXPIRE_ORDER: &str = "expire_order";
/// Email the buyer their keys.
pub const SEND_DELIVERY_EMAIL: &str = "send_delivery_email";
/// Email the buyer that their late payment arrived after the product sold out.
pub const NOTIFY_ATTENTION: &str = "notify_attention";
/// Email a buyer the links to their recent orders (lookup by email).
pub const SEND_ORDER_LINKS: &str = "send_order_links";
/// Ask a payment's provider about it now (the merchant's "ask the provider now").
pub const CHECK_PAYMENT: &str = "check_payment";
/// Buy a paid order's keys from its product's external supplier.
pub const BUY_FROM_SUPPLIER: &str = "buy_from_supplier";
/// Email an affiliate a one-time sign-in link to the shop's affiliate page.
pub const SEND_AFFILIATE_LINK: &str = "send_affiliate_link";
/// Email a merchant a one-time link (verify the address, reset the password).
pub const SEND_ACCOUNT_EMAIL: &str = "send_account_email";

/// Kinds that send a buyer email, retried through a mail server's outage
/// of about a day ([`attempts_for`]) rather than the default's minutes.
pub const BUYER_MAIL: [&str; 3] = [SEND_DELIVERY_EMAIL, NOTIFY_ATTENTION, SEND_ORDER_LINKS];

/// How many attempts a job of `kind` gets before it is dead. Retries back
/// off 2, 4, 8 … seconds up to an hour apart: 10 attempts span about 17
/// minutes, 40 about 29 hours (buyer emails: keys must not be lost to a
/// mail server down overnight; a refusal for good ends them at once).
pub fn attempts_for(kind: &str) -> i32 {
    if BUYER_MAIL.contains(&kind) { 40 } else { 10 }
}
