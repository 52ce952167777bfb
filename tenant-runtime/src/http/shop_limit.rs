//! The storefront's request limits, checked together in one step (one
//! Redis round trip with a fleet, see `kapu_core::fleet::limits`):
//!
//! - per (shop, client IP): `KAPU_RATE_LIMIT_PER_SECOND` sustained with
//!   `KAPU_RATE_LIMIT_BURST` on top, for every class but money;
//! - the plan's shop-wide cap: at most `storefront_rps` requests per second
//!   for one shop, all clients together (with one second of burst), for
//!   browsing and checkout (see `request_class`). A shop over its cap gets
//!   429 `rate_limited` for browsing first; checkout then still has a
//!   reserve of a fifth of the cap that browsing cannot use, so buyers keep
//!   buying while a flood of page views is refused. Other shops are untouched.
//!
//! With Redis both hold for the whole fleet; without it (or while it is
//! down) each process keeps them.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::Quota;
use kapu_core::fleet::limits::{FleetLimits, Limit, client_key};

use crate::http::request_class::RequestClass;

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client's own limit: answered at once.
    Client { retry_after_secs: u64 },
    /// The shop's plan cap: the refusal is held (see [`RefusalHold`]).
    Shop { retry_after_secs: u64 },
}

pub struct ShopLimits {
    limits: FleetLimits,
    per_client: Quota,
}

impl ShopLimits {
    /// `per_second` sustained per (shop, client) with `burst` on top.
    pub fn new(limits: FleetLimits, per_second: u32, burst: u32) -> Self {
        let period = Duration::from_nanos(1_000_000_000 / u64::from(per_second.max(1)));
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let per_client = Quota::with_period(period).expect("non-zero period").allow_burst(burst);
        Self { limits, per_client }
    }

    /// Takes one request of `class` from `ip` for `tenant_id` under the
    /// shop's cap of `rps` (`None`: uncapped).
    pub async fn check(
        &self,
        tenant_id: &str,
        ip: IpAddr,
        rps: Option<u32>,
        class: RequestClass,
    ) -> Result<(), Refusal> {
        if class == RequestClass::Money {
            return Ok(());
        }
        let client = Limit::new(format!("rl:client:{tenant_id}:{}", client_key(ip)), self.per_client);
        let rps = rps.and_then(NonZeroU32::new).filter(|_| class.under_shop_cap());
        let Some(rps) = rps else {
            return self
                .limits
                .check(&[client])
                .await
                .map_err(|r| Refusal::Client { retry_after_secs: r.retry_after_secs });
        };
        let shop = Limit::new(format!("rl:shop:{tenant_id}"), Quota::per_second(rps));
        let refused = match self.limits.check(&[client.clone(), shop]).await {
            Ok(()) => return Ok(()),
            Err(r) if r.index == 0 => return Err(Refusal::Client { retry_after_secs: r.retry_after_secs }),
            Err(r) => r,
        };
        if class != RequestClass::Checkout {
            return Err(Refusal::Shop { retry_after_secs: refused.retry_after_secs });
        }
        let reserve = NonZeroU32::new(rps.get() / 5).unwrap_or(NonZeroU32::MIN);
        let reserve = Limit::new(format!("rl:checkout-reserve:{tenant_id}"), Quota::per_second(reserve));
        self.limits.check(&[client, reserve]).await.map_err(|r| match r.index {
            0 => Refusal::Client { retry_after_secs: r.retry_after_secs },
            _ => Refusal::Shop { retry_after_secs: r.retry_after_secs },
        })
    }

    /// Drops idle keys of the in-process limits.
    pub fn retain_recent(&self) {
        self.limits.retain_recent();
    }
}

/// At most this many over-cap requests are held before their 429 at once;
/// beyond that they are refused immediately (a held request costs a timer
/// and its connection's buffers, about 10 KB).
pub const MAX_HELD_REFUSALS: usize = 10_000;

/// Holds a refusal for a moment before it is sent: a client that sends its
/// next request only after the last answer (a browser, a script, most
/// floods) is slowed to one request per delay per connection, so refusing
/// it stops costing the process (and the shops beside it) the time of
/// answering as fast as it can ask.
pub struct RefusalHold {
    delay: Duration,
    held: AtomicUsize,
}

impl RefusalHold {
    pub fn new(delay: Duration) -> Self {
        Self { delay, held: AtomicUsize::new(0) }
    }

    /// Waits the delay, unless it is zero or `MAX_HELD_REFUSALS` are
    /// already waiting.
    pub async fn wait(&self) {
        struct Release<'a>(&'a AtomicUsize);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        if self.delay.is_zero() {
            return;
        }
        let _release = Release(&self.held);
        if self.held.fetch_add(1, Ordering::Relaxed) >= MAX_HELD_REFUSALS {
            return;
        }
        tokio::time::sleep(self.delay).await;
    }

    /// Refusals being held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestClass::*;

    fn limits() -> ShopLimits {
        // Clients may send plenty: these tests are about the shop's cap.
        ShopLimits::new(FleetLimits::default(), 10_000, 10_000)
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[tokio::test]
    async fn a_shop_over_its_cap_waits_and_others_do_not() {
        let limits = limits();
        for i in 0..5 {
            assert!(limits.check("a", ip(i), Some(5), Browsing).await.is_ok());
        }
        assert!(matches!(limits.check("a", ip(9), Some(5), Browsing).await, Err(Refusal::Shop { .. })));
        assert!(limits.check("b", ip(1), Some(5), Browsing).await.is_ok());
        assert!(limits.check("a", ip(1), None, Browsing).await.is_ok());
        // A raised cap takes effect at once.
        assert!(limits.check("a", ip(1), Some(50), Browsing).await.is_ok());
    }

    #[tokio::test]
    async fn a_client_over_its_own_limit_is_refused_at_once_and_money_never() {
        let limits = ShopLimits::new(FleetLimits::default(), 1, 3);
        for _ in 0..3 {
            assert!(limits.check("a", ip(1), None, Browsing).await.is_ok());
        }
        assert!(matches!(limits.check("a", ip(1), None, OwnOrder).await, Err(Refusal::Client { .. })));
        assert!(limits.check("a", ip(2), None, Browsing).await.is_ok(), "another client");
        assert!(limits.check("b", ip(1), None, Browsing).await.is_ok(), "the same client at another shop");
        for _ in 0..100 {
            assert!(limits.check("a", ip(1), Some(1), Money).await.is_ok());
        }
    }

    #[tokio::test]
    async fn checkout_keeps_a_reserve_and_money_and_own_orders_are_never_capped() {
        let limits = limits();
        // Browsing uses the whole shared allowance.
        while limits.check("a", ip(1), Some(50), Browsing).await.is_ok() {}
        assert!(limits.check("a", ip(1), Some(50), Browsing).await.is_err());
        // Checkout still has a fifth of the cap (10 at once), then waits too.
        for i in 0..10 {
            assert!(limits.check("a", ip(1), Some(50), Checkout).await.is_ok(), "checkout {i} of the reserve");
        }
        assert!(limits.check("a", ip(1), Some(50), Checkout).await.is_err());
        // Payment notifications and a buyer's own order pass whatever the load.
        for _ in 0..1_000 {
            assert!(limits.check("a", ip(1), Some(50), Money).await.is_ok());
            assert!(limits.check("a", ip(1), Some(50), OwnOrder).await.is_ok());
        }
        // A cap under 5 still leaves checkout one request per second.
        while limits.check("b", ip(1), Some(3), Browsing).await.is_ok() {}
        assert!(limits.check("b", ip(1), Some(3), Checkout).await.is_ok());
    }

    #[tokio::test]
    async fn refusals_are_held_for_the_delay_but_never_more_than_the_bound_at_once() {
        use std::time::Instant;
        let hold = std::sync::Arc::new(RefusalHold::new(Duration::from_millis(300)));
        let started = Instant::now();
        hold.wait().await;
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(hold.held(), 0, "a finished hold is released");
        // With the bound reached, the next refusal is not held.
        let hold = std::sync::Arc::new(RefusalHold::new(Duration::from_secs(60)));
        let waiting: Vec<_> = (0..MAX_HELD_REFUSALS)
            .map(|_| {
                let hold = hold.clone();
                tokio::spawn(async move { hold.wait().await })
            })
            .collect();
        while hold.held() < MAX_HELD_REFUSALS {
            tokio::task::yield_now().await;
        }
        let started = Instant::now();
        hold.wait().await;
        assert!(started.elapsed() < Duration::from_millis(150), "over the bound: refused at once");
        // A held refusal whose client went away is released too.
        for w in &waiting {
            w.abort();
        }
        for w in waiting {
            let _ = w.await;
        }
        assert_eq!(hold.held(), 0);
        // No delay configured: never held.
        let none = RefusalHold::new(Duration::ZERO);
        let started = Instant::now();
        none.wait().await;
        assert!(started.elapsed() < Duration::from_millis(50));
    }
}
