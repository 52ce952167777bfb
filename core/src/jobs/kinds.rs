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
/// Email a merchant a one-time link (verify the address, reset the password).
pub const SEND_ACCOUNT_EMAIL: &str = "send_account_email";
