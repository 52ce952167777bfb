//! Throttles for order lookups: per client IP and per order (or email), so
//! lookup passwords cannot be guessed and lookup emails cannot be spammed.
//! Fleet-wide with Redis (`kapu_core::fleet::limits`).

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::Quota;
use kapu_core::fleet::limits::{FleetLimits, Limit, bounded, client_key};

pub struct LookupLimits {
    limits: FleetLimits,
    per_ip: Quota,
    per_target: Quota,
}

impl LookupLimits {
    /// `per_ip` attempts per client per shop and `per_target` per order number or email, each per 10 minutes.
    pub fn new(limits: FleetLimits, per_ip: u32, per_target: u32) -> Self {
        let quota = |n: u32| {
            let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
            Quota::with_period(std::time::Duration::from_secs(600) / n.get()).expect("non-zero period").allow_burst(n)
        };
        Self { limits, per_ip: quota(per_ip), per_target: quota(per_target) }
    }

    /// Takes one attempt for (shop, IP) and (shop, target); false when either is exhausted.
    pub async fn allow(&self, tenant_id: &str, ip: IpAddr, target: &str) -> bool {
        let checks = [
            Limit::new(format!("rl:lookup-ip:{tenant_id}:{}", client_key(ip)), self.per_ip),
            Limit::new(format!("rl:lookup:{tenant_id}:{}", bounded(&target.to_ascii_lowercase())), self.per_target),
        ];
        self.limits.check(&checks).await.is_ok()
    }

    /// Drops idle keys of the in-process fallback.
    pub fn retain_recent(&self) {
        self.limits.retain_recent();
    }
}
