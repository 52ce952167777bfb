//! The plan's shop-wide storefront cap: at most `storefront_rps` requests per
//! second for one shop, all clients together (with one second of burst), on
//! top of the per-client limit. It counts browsing and checkout (see
//! `request_class`): a shop over its cap gets 429 `rate_limited` for browsing
//! first; checkout then still has a reserve of a fifth of the cap that
//! browsing cannot use, so buyers keep buying while a flood of page views is
//! refused. Other shops are untouched. In process.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::Quota;
use kapu_core::quota_limits::QuotaLimits;

use crate::http::request_class::RequestClass;

#[derive(Default)]
pub struct ShopLimits {
    shared: QuotaLimits,
    checkout_reserve: QuotaLimits,
}

impl ShopLimits {
    /// Takes one request of `class` for `tenant_id` under a cap of `rps`
    /// (`None`: uncapped); `Err(seconds to wait)` when the shop is over it.
    pub fn check(&self, tenant_id: &str, rps: Option<u32>, class: RequestClass) -> Result<(), u64> {
        if !class.under_shop_cap() {
            return Ok(());
        }
        let Some(rps) = rps.and_then(NonZeroU32::new) else { return Ok(()) };
        let shared = self.shared.check(tenant_id, Some(Quota::per_second(rps)));
        match (shared, class) {
            (Err(_), RequestClass::Checkout) => {
                let reserve = NonZeroU32::new(rps.get() / 5).unwrap_or(NonZeroU32::MIN);
                self.checkout_reserve.check(tenant_id, Some(Quota::per_second(reserve)))
            }
            (r, _) => r,
        }
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

    #[test]
    fn a_shop_over_its_cap_waits_and_others_do_not() {
        let limits = ShopLimits::default();
        for _ in 0..5 {
            assert!(limits.check("a", Some(5), Browsing).is_ok());
        }
        assert!(limits.check("a", Some(5), Browsing).is_err());
        assert!(limits.check("b", Some(5), Browsing).is_ok());
        assert!(limits.check("a", None, Browsing).is_ok());
        // A raised cap takes effect at once.
        assert!(limits.check("a", Some(50), Browsing).is_ok());
    }

    #[test]
    fn checkout_keeps_a_reserve_and_money_and_own_orders_are_never_capped() {
        let limits = ShopLimits::default();
        // Browsing uses the whole shared allowance.
        while limits.check("a", Some(50), Browsing).is_ok() {}
        assert!(limits.check("a", Some(50), Browsing).is_err());
        // Checkout still has a fifth of the cap (10 at once), then waits too.
        for i in 0..10 {
            assert!(limits.check("a", Some(50), Checkout).is_ok(), "checkout {i} of the reserve");
        }
        assert!(limits.check("a", Some(50), Checkout).is_err());
        // Payment notifications and a buyer's own order pass whatever the load.
        for _ in 0..1_000 {
            assert!(limits.check("a", Some(50), Money).is_ok());
            assert!(limits.check("a", Some(50), OwnOrder).is_ok());
        }
        // A cap under 5 still leaves checkout one request per second.
        while limits.check("b", Some(3), Browsing).is_ok() {}
        assert!(limits.check("b", Some(3), Checkout).is_ok());
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
