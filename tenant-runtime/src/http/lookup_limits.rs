//! Throttles for order lookups: per client IP and per order (or email), so
//! lookup passwords cannot be guessed and lookup emails cannot be spammed.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct LookupLimits {
    per_ip: DefaultKeyedRateLimiter<(String, IpAddr)>,
    per_target: DefaultKeyedRateLimiter<(String, String)>,
}

impl Default for LookupLimits {
    fn default() -> Self {
        Self::new(10, 5)
    }
}

impl LookupLimits {
    /// `per_ip` attempts per client per shop and `per_target` per order number or email, each per 10 minutes.
    pub fn new(per_ip: u32, per_target: u32) -> Self {
        let quota = |n: u32| {
            let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
            Quota::with_period(std::time::Duration::from_secs(600) / n.get()).expect("non-zero period").allow_burst(n)
        };
        Self { per_ip: RateLimiter::keyed(quota(per_ip)), per_target: RateLimiter::keyed(quota(per_target)) }
    }

    /// Takes one attempt for (shop, IP) and (shop, target); false when either is exhausted.
    pub fn allow(&self, tenant_id: &str, ip: IpAddr, target: &str) -> bool {
        let ip_ok = self.per_ip.check_key(&(tenant_id.to_string(), ip)).is_ok();
        let target_ok = self.per_target.check_key(&(tenant_id.to_string(), target.to_ascii_lowercase())).is_ok();
        ip_ok && target_ok
    }

    /// Drops idle keys.
    pub fn retain_recent(&self) {
        self.per_ip.retain_recent();
        self.per_target.retain_recent();
    }
}
