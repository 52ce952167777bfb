//! Picks a shop's channels for a payment and calls them with timeouts and
//! bounded retries. The failover loop itself (one `payments` row per channel
//! tried) lives with the checkout, which owns the database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::channel::{ChannelContext, ChannelError, PaymentChannel, PaymentRequest, PaymentStart};
use crate::channels::channel_by_kind;

/// Why no channel could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The buyer asked for a method this shop does not offer.
    #[error("payment method {0:?} is not offered by this shop")]
    NotOffered(String),
    /// The shop has no usable channel.
    #[error("no payment channel is available")]
    NoneAvailable,
}

/// One of a shop's configured channels, in its priority order.
pub struct Candidate {
    pub channel: Arc<dyn PaymentChannel>,
    /// Decrypted credentials JSON.
    pub credentials: String,
}

/// A configured channel as stored: kind and decrypted credentials.
#[derive(Clone)]
pub struct Configured {
    pub kind: String,
    pub credentials: String,
}

/// The shop's usable channels in priority order, restricted to those offering
/// `method` when the buyer picked one (a method such as `alipay`, or a channel
/// kind). Test-only channels are dropped for live shops.
pub fn candidates(
    configured: Vec<Configured>,
    method: Option<&str>,
    test_mode: bool,
) -> Result<Vec<Candidate>, RouteError> {
    let usable: Vec<Candidate> = configured
        .into_iter()
        .filter_map(|c| channel_by_kind(&c.kind).map(|channel| Candidate { channel, credentials: c.credentials }))
        .filter(|c| test_mode || !c.channel.test_only())
        .collect();
    if usable.is_empty() {
        return Err(RouteError::NoneAvailable);
    }
    match method {
        None => Ok(usable),
        Some(m) => {
            let chosen: Vec<Candidate> = usable
                .into_iter()
                .filter(|c| c.channel.kind() == m || c.channel.methods(&c.credentials).contains(&m))
                .collect();
            if chosen.is_empty() { Err(RouteError::NotOffered(m.to_string())) } else { Ok(chosen) }
        }
    }
}

/// The distinct payment methods a shop offers, in priority order.
pub fn offered_methods(configured: &[Configured], test_mode: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    for c in configured {
        let Some(channel) = channel_by_kind(&c.kind) else { continue };
        if channel.test_only() && !test_mode {
            continue;
        }
        for m in channel.methods(&c.credentials) {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

/// Timeouts and retries of one channel's create call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Per call.
    pub timeout: Duration,
    /// Extra tries after a transient failure.
    pub retries: u32,
    /// Wait before the first retry; doubles each time.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(8), retries: 2, backoff: Duration::from_millis(200) }
    }
}

/// What calling one channel came to.
#[derive(Debug)]
pub struct Attempted {
    pub result: Result<PaymentStart, ChannelError>,
    /// Calls made (1 + retries used).
    pub calls: u32,
    pub elapsed: Duration,
}

/// Calls `create_payment`, each call bounded by the policy's timeout, and
/// retries transient failures with exponential backoff. Refusals return at once.
pub async fn create_with_retries(
    channel: &dyn PaymentChannel,
    ctx: ChannelContext<'_>,
    req: &PaymentRequest,
    policy: RetryPolicy,
) -> Attempted {
    let started = Instant::now();
    let mut calls = 0;
    loop {
        calls += 1;
        let result = match tokio::time::timeout(policy.timeout, channel.create_payment(ctx, req)).await {
            Ok(r) => r,
            Err(_) => Err(ChannelError::Transient(format!("no answer within {} ms", policy.timeout.as_millis()))),
        };
        match result {
            Err(ChannelError::Transient(e)) if calls <= policy.retries => {
                tracing::info!(channel = channel.kind(), calls, error = %e, "transient provider error; retrying");
                tokio::time::sleep(policy.backoff * 2u32.saturating_pow(calls - 1)).await;
            }
            result => return Attempted { result, calls, elapsed: started.elapsed() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(kind: &str, creds: &str) -> Configured {
        Configured { kind: kind.into(), credentials: creds.into() }
    }

    #[test]
    fn live_shops_skip_the_sandbox_and_methods_filter_candidates() {
        assert_eq!(candidates(vec![conf("sandbox", "{}")], None, true).map(|c| c.len()), Ok(1));
        assert_eq!(candidates(vec![conf("sandbox", "{}")], None, false).err(), Some(RouteError::NoneAvailable));
        assert_eq!(
            candidates(vec![conf("sandbox", "{}")], Some("alipay"), true).err(),
            Some(RouteError::NotOffered("alipay".into()))
        );
        assert_eq!(candidates(vec![], None, true).err(), Some(RouteError::NoneAvailable));
        let shop = vec![
            conf("epay", r#"{"gateway":"https://a.example","pid":"1","key":"k","methods":["wxpay"]}"#),
            conf("epusdt", r#"{"gateway":"https://b.example","token":"t"}"#),
            conf("unknown", "{}"),
        ];
        let kinds = |m| {
            candidates(shop.iter().map(|c| conf(&c.kind, &c.credentials)).collect(), m, false)
                .map(|v| v.iter().map(|c| c.channel.kind()).collect::<Vec<_>>())
        };
        assert_eq!(kinds(None), Ok(vec!["epay", "epusdt"]));
        assert_eq!(kinds(Some("usdt")), Ok(vec!["epusdt"]));
        assert_eq!(kinds(Some("wxpay")), Ok(vec!["epay"]));
        assert_eq!(kinds(Some("alipay")), Err(RouteError::NotOffered("alipay".into())));
        assert_eq!(offered_methods(&shop, false), vec!["wxpay", "usdt"]);
    }
}
