//! Kapu's metrics: every name, its help text and its labels in one place,
//! and the small functions the code calls where something happens.
//!
//! Recording goes through the `metrics` facade; the `kapu` binary installs
//! the Prometheus recorder and serves the text on `/internal/metrics`
//! (and `KAPU_METRICS_LISTEN`). Without a recorder (unit tests, tools)
//! every call is a no-op.
//!
//! Labels are bounded by construction: plane, route template, method,
//! status class, channel kind, job kind, verdict, outcome. No label ever
//! carries a shop, an order, a buyer or a raw path, so the number of series
//! does not grow with the number of shops (see `docs/OPERATIONS.md`).

use std::time::Duration;

/// Every metric this process records as it goes, with its help text.
/// Gauges read from the database at scrape time are listed by the exporter.
pub const CATALOG: &[(&str, Kind, &str)] = &[
    (HTTP_REQUEST_SECONDS, Kind::Histogram, "HTTP requests by plane, route template, method and status class."),
    (ORDERS_CREATED, Kind::Counter, "Orders placed (keys reserved, waiting for payment)."),
    (ORDERS_PAID, Kind::Counter, "Orders whose payment was verified."),
    (ORDERS_DELIVERED, Kind::Counter, "Orders delivered (keys sold to the buyer), automatically or by the merchant."),
    (ORDERS_EXPIRED, Kind::Counter, "Unpaid orders expired (their keys returned to stock)."),
    (ORDERS_NEEDS_ATTENTION, Kind::Counter, "Paid orders that could not be delivered (sold out after a late payment)."),
    (
        PAYMENT_TO_DELIVERY_SECONDS,
        Kind::Histogram,
        "From a provider's notification (or reconciliation answer) received to the order delivered.",
    ),
    (
        PAYMENT_TO_EMAIL_SECONDS,
        Kind::Histogram,
        "From an order paid to its delivery email accepted by the mail server.",
    ),
    (PAYMENT_NOTIFICATIONS, Kind::Counter, "Payment notifications by channel kind and verdict."),
    (STOCK_OUTS, Kind::Counter, "Orders refused because the product had too few keys."),
    (EMAILS, Kind::Counter, "Emails by outcome: sent, failed (will retry) or refused (permanently)."),
    (WEBHOOK_DELIVERIES, Kind::Counter, "Webhook deliveries to merchants' endpoints by outcome."),
    (RATE_LIMITED, Kind::Counter, "Requests refused with 429 by plane."),
    (CHALLENGES, Kind::Counter, "Checkout challenges (proof of work) by outcome: issued, passed, failed."),
    (CACHE_LOOKUPS, Kind::Counter, "Cache lookups by cache and result (hit, miss)."),
    (CHANNEL_CALLS, Kind::Counter, "Payment provider calls by channel kind and outcome."),
    (CHANNEL_CALL_SECONDS, Kind::Histogram, "Payment provider call latency by channel kind."),
    (CANARY_RUNS, Kind::Counter, "Canary purchases by outcome."),
    (CANARY_SECONDS, Kind::Histogram, "End-to-end time of a successful canary purchase."),
];

pub const HTTP_REQUEST_SECONDS: &str = "kapu_http_request_duration_seconds";
pub const ORDERS_CREATED: &str = "kapu_orders_created_total";
pub const ORDERS_PAID: &str = "kapu_orders_paid_total";
pub const ORDERS_DELIVERED: &str = "kapu_orders_delivered_total";
pub const ORDERS_EXPIRED: &str = "kapu_orders_expired_total";
pub const ORDERS_NEEDS_ATTENTION: &str = "kapu_orders_needs_attention_total";
pub const PAYMENT_TO_DELIVERY_SECONDS: &str = "kapu_payment_to_delivery_seconds";
pub const PAYMENT_TO_EMAIL_SECONDS: &str = "kapu_payment_to_email_seconds";
pub const PAYMENT_NOTIFICATIONS: &str = "kapu_payment_notifications_total";
pub const STOCK_OUTS: &str = "kapu_stock_outs_total";
pub const EMAILS: &str = "kapu_emails_total";
pub const WEBHOOK_DELIVERIES: &str = "kapu_webhook_deliveries_total";
pub const RATE_LIMITED: &str = "kapu_rate_limited_total";
pub const CHALLENGES: &str = "kapu_challenges_total";
pub const CACHE_LOOKUPS: &str = "kapu_cache_lookups_total";
pub const CHANNEL_CALLS: &str = "kapu_channel_calls_total";
pub const CHANNEL_CALL_SECONDS: &str = "kapu_channel_call_duration_seconds";
pub const CANARY_RUNS: &str = "kapu_canary_runs_total";
pub const CANARY_SECONDS: &str = "kapu_canary_duration_seconds";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Histogram,
}

/// Registers every help text with the installed recorder.
pub fn describe() {
    for &(name, kind, help) in CATALOG {
        match kind {
            Kind::Counter => metrics::describe_counter!(name, help),
            Kind::Histogram => metrics::describe_histogram!(name, metrics::Unit::Seconds, help),
        }
    }
}

/// A status code's class label: `2xx` … `5xx`.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// One HTTP request answered.
pub fn http_request(plane: &'static str, route: String, method: String, status: u16, took: Duration) {
    if status == 429 {
        metrics::counter!(RATE_LIMITED, "plane" => plane).increment(1);
    }
    metrics::histogram!(HTTP_REQUEST_SECONDS,
        "plane" => plane, "route" => route, "method" => method, "status" => status_class(status))
    .record(took.as_secs_f64());
}

/// An order moved: `ORDERS_CREATED`, `ORDERS_PAID`, ….
pub fn order_event(name: &'static str, n: u64) {
    metrics::counter!(name).increment(n);
}

/// A payment notification's verdict (`accepted`, `duplicate`, `bad_signature`, …).
pub fn payment_notification(channel: &str, verdict: &'static str) {
    metrics::counter!(PAYMENT_NOTIFICATIONS, "channel" => channel.to_string(), "verdict" => verdict).increment(1);
}

pub fn payment_to_delivery(took: Duration) {
    metrics::histogram!(PAYMENT_TO_DELIVERY_SECONDS).record(took.as_secs_f64());
}

pub fn payment_to_email(took: Duration) {
    metrics::histogram!(PAYMENT_TO_EMAIL_SECONDS).record(took.as_secs_f64());
}

pub fn stock_out() {
    metrics::counter!(STOCK_OUTS).increment(1);
}

/// `outcome`: `sent`, `failed` or `refused`.
pub fn email(outcome: &'static str) {
    metrics::counter!(EMAILS, "outcome" => outcome).increment(1);
}

/// `outcome`: `delivered`, `failed` (will retry) or `gave_up`.
pub fn webhook_delivery(outcome: &'static str) {
    metrics::counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
}

/// `outcome`: `issued`, `passed` or `failed`.
pub fn challenge(outcome: &'static str) {
    metrics::counter!(CHALLENGES, "outcome" => outcome).increment(1);
}

pub fn cache_lookup(cache: &'static str, hit: bool) {
    metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => if hit { "hit" } else { "miss" }).increment(1);
}

/// `outcome`: `success` or `failure`.
pub fn channel_call(channel: &str, outcome: &'static str, took: Duration) {
    metrics::counter!(CHANNEL_CALLS, "channel" => channel.to_string(), "outcome" => outcome).increment(1);
    metrics::histogram!(CHANNEL_CALL_SECONDS, "channel" => channel.to_string()).record(took.as_secs_f64());
}

/// A canary purchase: `Ok(took)` or the failed step's name.
pub fn canary(result: Result<Duration, &'static str>) {
    match result {
        Ok(took) => {
            metrics::counter!(CANARY_RUNS, "outcome" => "ok").increment(1);
            metrics::histogram!(CANARY_SECONDS).record(took.as_secs_f64());
        }
        Err(step) => metrics::counter!(CANARY_RUNS, "outcome" => step).increment(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kapu_and_unique_and_counters_end_in_total() {
        let mut seen = std::collections::HashSet::new();
        for (name, kind, help) in CATALOG {
            assert!(name.starts_with("kapu_"), "{name}");
            assert!(seen.insert(*name), "{name} twice");
            assert!(!help.is_empty());
            assert_eq!(*kind == Kind::Counter, name.ends_with("_total"), "{name}");
        }
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
