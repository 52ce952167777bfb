//! The sandbox's notification format: form fields `payment_id`, `outcome`
//! (`paid` | `failed`), `amount_minor`, `currency` and `sign`, where `sign`
//! is the lowercase hex HMAC-SHA256 of [`signing_text`] under the tenant's
//! sandbox key.

use kapu_core::crypto::TenantKeys;

use crate::channel::{Notification, PaymentOutcome};

/// The exact text that is signed.
pub fn signing_text(payment_id: &str, outcome: &str, amount_minor: &str, currency: &str) -> String {
    format!("amount_minor={amount_minor}&currency={currency}&outcome={outcome}&payment_id={payment_id}")
}

/// A notification as the sandbox emits it.
pub fn sign_notification(
    keys: &TenantKeys,
    payment_id: &str,
    outcome: PaymentOutcome,
    amount_minor: i64,
    currency: &str,
) -> Notification {
    let outcome = match outcome {
        PaymentOutcome::Paid => "paid",
        PaymentOutcome::Failed => "failed",
    };
    let amount = amount_minor.to_string();
    let sign = keys.sandbox_signature(&signing_text(payment_id, outcome, &amount, currency));
    let mut n = Notification::default();
    for (k, v) in [
        ("payment_id", payment_id),
        ("outcome", outcome),
        ("amount_minor", &amount),
        ("currency", currency),
        ("sign", &sign),
    ] {
        n.fields.insert(k.to_string(), v.to_string());
    }
    n
}
