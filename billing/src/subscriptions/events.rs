//! Platform Stripe webhook events: the `Stripe-Signature` check (HMAC-SHA256
//! of `"{t}.{body}"` under the endpoint's signing secret, any `v1` may match,
//! five minutes of tolerance, constant-time comparison) and a tolerant reading
//! of the few fields Kapu acts on.
//!
//! The fields are read from the JSON by hand rather than through
//! async-stripe's full `Subscription`/`Invoice` types on purpose: those
//! require every field of one API version, and a Stripe API upgrade must not
//! turn a paid invoice into a rejected webhook. Invoices name their
//! subscription at `subscription` (API versions before 2025-03) or at
//! `parent.subscription_details.subscription`; both are read.

use chrono::Utc;
use kapu_core::crypto::{constant_time_eq, hmac_sha256_hex};
use serde_json::Value;

use super::checkout::{PLAN_KEY, TENANT_KEY};

/// Seconds a signed event stays acceptable.
pub const TOLERANCE_SECS: i64 = 300;

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("bad Stripe-Signature")]
    BadSignature,
    #[error("Stripe-Signature timestamp outside the {TOLERANCE_SECS} s tolerance")]
    Stale,
    #[error("malformed event: {0}")]
    Malformed(String),
}

/// A subscription as an event shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFacts {
    pub subscription_id: String,
    pub customer_id: String,
    /// Stripe's status; `canceled` for a deleted subscription.
    pub status: String,
    /// From the subscription's metadata (set at Checkout).
    pub tenant_id: Option<String>,
    /// From the metadata too; the price decides when both are there.
    pub plan_hint: Option<String>,
    pub price_id: Option<String>,
    pub current_period_end: Option<i64>,
}

/// What an event means for Kapu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingEvent {
    /// A subscription Checkout finished: links the shop to its Stripe customer and subscription.
    CheckoutCompleted {
        tenant_id: String,
        customer_id: Option<String>,
        subscription_id: Option<String>,
    },
    /// `customer.subscription.created` / `.updated` / `.deleted`.
    SubscriptionChanged(SubscriptionFacts),
    InvoicePaid {
        subscription_id: String,
    },
    InvoicePaymentFailed {
        subscription_id: String,
        attempt_count: i64,
    },
    /// Any other type: acknowledged, nothing to do.
    Ignored,
}

/// A verified event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEvent {
    pub id: String,
    pub kind: String,
    /// When Stripe created the event (Unix seconds): orders events of one subscription.
    pub created: i64,
    pub livemode: bool,
    pub event: BillingEvent,
}

/// Checks `header` against `body` and reads the event.
pub fn verify_billing_event(body: &str, header: &str, secret: &str, now: i64) -> Result<VerifiedEvent, EventError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {}
        }
    }
    let (Some(t), false) = (timestamp, signatures.is_empty()) else { return Err(EventError::BadSignature) };
    let expected = hmac_sha256_hex(secret.as_bytes(), format!("{t}.{body}").as_bytes());
    if !signatures.iter().any(|s| constant_time_eq(s, &expected)) {
        return Err(EventError::BadSignature);
    }
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(EventError::Stale);
    }
    read_event(body)
}

/// Verifies with the current time.
pub fn verify_billing_event_now(body: &str, header: &str, secret: &str) -> Result<VerifiedEvent, EventError> {
    verify_billing_event(body, header, secret, Utc::now().timestamp())
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        // An expanded object: its id.
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn int(v: &Value, path: &[&str]) -> Option<i64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_i64()
}

fn read_event(body: &str) -> Result<VerifiedEvent, EventError> {
    let v: Value = serde_json::from_str(body).map_err(|e| EventError::Malformed(e.to_string()))?;
    let id = text(&v, &["id"]).ok_or_else(|| EventError::Malformed("no id".into()))?;
    let kind = text(&v, &["type"]).ok_or_else(|| EventError::Malformed("no type".into()))?;
    let created = int(&v, &["created"]).ok_or_else(|| EventError::Malformed("no created".into()))?;
    let livemode = v.get("livemode").and_then(Value::as_bool).unwrap_or(false);
    let obj =
        v.get("data").and_then(|d| d.get("object")).ok_or_else(|| EventError::Malformed("no data.object".into()))?;
    let need = |what: &str, x: Option<String>| x.ok_or_else(|| EventError::Malformed(format!("{kind}: no {what}")));
    let event = match kind.as_str() {
        "checkout.session.completed" => {
            if text(obj, &["mode"]).as_deref() != Some("subscription") {
                BillingEvent::Ignored
            } else {
                BillingEvent::CheckoutCompleted {
                    tenant_id: need(
                        "client_reference_id",
                        text(obj, &["client_reference_id"]).or_else(|| text(obj, &["metadata", TENANT_KEY])),
                    )?,
                    customer_id: text(obj, &["customer"]),
                    subscription_id: text(obj, &["subscription"]),
                }
            }
        }
        "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted" => {
            let first_item = obj.get("items").and_then(|i| i.get("data")).and_then(|d| d.get(0));
            let status = if kind.ends_with(".deleted") {
                "canceled".to_string()
            } else {
                need("status", text(obj, &["status"]))?
            };
            BillingEvent::SubscriptionChanged(SubscriptionFacts {
                subscription_id: need("id", text(obj, &["id"]))?,
                customer_id: need("customer", text(obj, &["customer"]))?,
                status,
                tenant_id: text(obj, &["metadata", TENANT_KEY]),
                plan_hint: text(obj, &["metadata", PLAN_KEY]),
                price_id: first_item.and_then(|i| text(i, &["price", "id"])),
                current_period_end: first_item
                    .and_then(|i| int(i, &["current_period_end"]))
                    .or_else(|| int(obj, &["current_period_end"])),
            })
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let sub =
                text(obj, &["subscription"]).or_else(|| text(obj, &["parent", "subscription_details", "subscription"]));
            match sub {
                // A one-off invoice: not ours to act on.
                None => BillingEvent::Ignored,
                Some(subscription_id) if kind == "invoice.paid" => BillingEvent::InvoicePaid { subscription_id },
                Some(subscription_id) => BillingEvent::InvoicePaymentFailed {
                    subscription_id,
                    attempt_count: int(obj, &["attempt_count"]).unwrap_or(1),
                },
            }
        }
        _ => BillingEvent::Ignored,
    };
    Ok(VerifiedEvent { id, kind, created, livemode, event })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(body: &str, secret: &str, t: i64) -> String {
        format!("t={t},v1={}", hmac_sha256_hex(secret.as_bytes(), format!("{t}.{body}").as_bytes()))
    }

    const SUB: &str = r#"{"id":"evt_1","type":"customer.subscription.updated","created":1700000000,"livemode":false,
        "data":{"object":{"id":"sub_1","customer":"cus_1","status":"past_due","metadata":{"kapu_tenant":"t1","kapu_plan":"pro"},
        "items":{"data":[{"price":{"id":"price_pro"},"current_period_end":1702592000}]}}}}"#;

    #[test]
    fn a_signed_subscription_event_is_read() {
        let e = verify_billing_event(SUB, &sign(SUB, "whsec_x", 1_700_000_010), "whsec_x", 1_700_000_020)
            .expect("valid event");
        assert_eq!(e.id, "evt_1");
        assert_eq!(e.created, 1_700_000_000);
        let BillingEvent::SubscriptionChanged(f) = e.event else { panic!("{:?}", e.event) };
        assert_eq!(f.status, "past_due");
        assert_eq!(f.tenant_id.as_deref(), Some("t1"));
        assert_eq!(f.price_id.as_deref(), Some("price_pro"));
        assert_eq!(f.current_period_end, Some(1_702_592_000));
    }

    #[test]
    fn forged_tampered_and_stale_events_are_refused() {
        let now = 1_700_000_020;
        let good = sign(SUB, "whsec_x", now);
        assert_eq!(
            verify_billing_event(SUB, &sign(SUB, "whsec_other", now), "whsec_x", now),
            Err(EventError::BadSignature)
        );
        let tampered = SUB.replace("past_due", "active");
        assert_eq!(verify_billing_event(&tampered, &good, "whsec_x", now), Err(EventError::BadSignature));
        assert_eq!(verify_billing_event(SUB, "", "whsec_x", now), Err(EventError::BadSignature));
        assert_eq!(verify_billing_event(SUB, &format!("t={now}"), "whsec_x", now), Err(EventError::BadSignature));
        let old = sign(SUB, "whsec_x", now - 600);
        assert_eq!(verify_billing_event(SUB, &old, "whsec_x", now), Err(EventError::Stale));
        // One of several v1 values may match (secret rolling).
        let two = format!("{},v1=00ff", sign(SUB, "whsec_x", now));
        assert!(verify_billing_event(SUB, &two, "whsec_x", now).is_ok());
    }

    #[test]
    fn invoices_name_their_subscription_in_either_place() {
        let old = r#"{"id":"evt_2","type":"invoice.payment_failed","created":1,"data":{"object":{"subscription":"sub_9","attempt_count":2}}}"#;
        let new = r#"{"id":"evt_3","type":"invoice.paid","created":1,"data":{"object":{"parent":{"subscription_details":{"subscription":"sub_9"}}}}}"#;
        let one_off = r#"{"id":"evt_4","type":"invoice.paid","created":1,"data":{"object":{}}}"#;
        assert_eq!(
            read_event(old).expect("event").event,
            BillingEvent::InvoicePaymentFailed { subscription_id: "sub_9".into(), attempt_count: 2 }
        );
        assert_eq!(
            read_event(new).expect("event").event,
            BillingEvent::InvoicePaid { subscription_id: "sub_9".into() }
        );
        assert_eq!(read_event(one_off).expect("event").event, BillingEvent::Ignored);
    }
}
