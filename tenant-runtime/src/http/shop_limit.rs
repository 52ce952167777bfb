//! The plan's shop-wide storefront cap: at most `storefront_rps` requests per
//! second for one shop, all clients together (with one second of burst), on
//! top of the per-client limit. A shop over its cap gets 429 `rate_limited`;
//! other shops are untouched. In process.

use std::num::NonZeroU32;

use governor::Quota;
use kapu_core::quota_limits::QuotaLimits;

#[derive(Default)]
pub struct ShopLimits(QuotaLimits);

impl ShopLimits {
    /// Takes one request of `tenant_id` under a cap of `rps` (`None`: uncapped);
    /// `Err(seconds to wait)` when the shop is over it.
    pub fn check(&self, tenant_id: &str, rps: Option<u32>) -> Result<(), u64> {
        self.0.check(tenant_id, rps.and_then(NonZeroU32::new).map(Quota::per_second))
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
