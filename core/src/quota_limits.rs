//! Rate limits whose quota can change while they run: one governor limiter
//! per key (a shop, an API key), rebuilt when the key's quota differs from
//! the one it was built with, so a plan change applies at the next request.
//! In process: the fallback of `fleet::limits` (and its only store
//! without Redis). Idle keys leave after ten minutes, and at most a million
//! are kept, so a flood of client addresses cannot grow it without bound.

use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

pub struct QuotaLimits {
    by_key: moka::sync::Cache<String, (Quota, Arc<DefaultDirectRateLimiter>)>,
}

impl Default for QuotaLimits {
    fn default() -> Self {
        Self {
            by_key: moka::sync::Cache::builder().max_capacity(1_000_000).time_to_idle(Duration::from_secs(600)).build(),
        }
    }
}

impl QuotaLimits {
    /// Takes one request of `key` under `quota` (`None`: unlimited);
    /// `Err(whole seconds to wait, at least 1)` when the key is over it.
    pub fn check(&self, key: &str, quota: Option<Quota>) -> Result<(), u64> {
        let Some(quota) = quota else { return Ok(()) };
        // Concurrent first requests of a key share one limiter (`get_with`).
        let (q, limiter) = self.by_key.get_with_by_ref(key, || (quota, Arc::new(RateLimiter::direct(quota))));
        let limiter = if q == quota {
            limiter
        } else {
            let l = Arc::new(RateLimiter::direct(quota));
            self.by_key.insert(key.to_string(), (quota, l.clone()));
            l
        };
        limiter.check().map_err(|nu| nu.wait_time_from(DefaultClock::default().now()).as_secs().max(1))
    }
}

impl QuotaLimits {
    /// Runs pending evictions of idle keys now.
    pub fn retain_recent(&self) {
        self.by_key.run_pending_tasks();
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    #[test]
    fn a_key_over_its_quota_waits_others_do_not_and_a_new_quota_applies() {
        let limits = QuotaLimits::default();
        let five = Some(Quota::per_minute(NonZeroU32::new(5).expect("5")));
        for _ in 0..5 {
            assert!(limits.check("a", five).is_ok());
        }
        let wait = limits.check("a", five).expect_err("over");
        assert!((1..=12).contains(&wait), "{wait}");
        assert!(limits.check("b", five).is_ok());
        assert!(limits.check("a", None).is_ok());
        assert!(limits.check("a", Some(Quota::per_minute(NonZeroU32::new(50).expect("50")))).is_ok());
    }
}
