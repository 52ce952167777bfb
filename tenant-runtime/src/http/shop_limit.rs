//! The plan's shop-wide storefront cap: at most `storefront_rps` requests per
//! second for one shop, all clients together (with one second of burst), on
//! top of the per-client limit. A shop over its cap gets 429 `rate_limited`;
//! other shops are untouched. In process.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

#[derive(Default)]
pub struct ShopLimits {
    by_tenant: Mutex<HashMap<String, (u32, Arc<DefaultDirectRateLimiter>)>>,
}

impl ShopLimits {
    /// Takes one request of `tenant_id` under a cap of `rps` (`None`: uncapped);
    /// `Err(seconds to wait)` when the shop is over it.
    pub fn check(&self, tenant_id: &str, rps: Option<u32>) -> Result<(), u64> {
        let Some(rps) = rps.and_then(NonZeroU32::new) else { return Ok(()) };
        let limiter = {
            let mut map = self.by_tenant.lock().unwrap_or_else(|p| p.into_inner());
            match map.get(tenant_id) {
                // The plan changed: a fresh limiter with the new quota.
                Some((r, l)) if *r == rps.get() => l.clone(),
                _ => {
                    let l = Arc::new(RateLimiter::direct(Quota::per_second(rps)));
                    map.insert(tenant_id.to_string(), (rps.get(), l.clone()));
                    l
                }
            }
        };
        limiter.check().map_err(|nu| nu.wait_time_from(DefaultClock::default().now()).as_secs().max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shop_over_its_cap_waits_and_others_do_not() {
        let limits = ShopLimits::default();
        for _ in 0..5 {
            assert!(limits.check("a", Some(5)).is_ok());
        }
        assert!(limits.check("a", Some(5)).is_err());
        assert!(limits.check("b", Some(5)).is_ok());
        assert!(limits.check("a", None).is_ok());
        // A raised cap takes effect at once.
        assert!(limits.check("a", Some(50)).is_ok());
    }
}
