//! Rate limits whose quota can change while they run: one governor limiter
//! per key (a shop, an API key), rebuilt when the key's quota differs from
//! the one it was built with, so a plan change applies at the next request.
//! In process, like the other limiters (see DESIGN §7 on sharing them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

#[derive(Default)]
pub struct QuotaLimits {
    by_key: Mutex<HashMap<String, (Quota, Arc<DefaultDirectRateLimiter>)>>,
}

impl QuotaLimits {
    /// Takes one request of `key` under `quota` (`None`: unlimited);
    /// `Err(whole seconds to wait, at least 1)` when the key is over it.
    pub fn check(&self, key: &str, quota: Option<Quota>) -> Result<(), u64> {
        let Some(quota) = quota else { return Ok(()) };
        let limiter = {
            let mut map = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
            match map.get(key) {
                Some((q, l)) if *q == quota => l.clone(),
                _ => {
                    let l = Arc::new(RateLimiter::direct(quota));
                    map.insert(key.to_string(), (quota, l.clone()));
                    l
                }
            }
        };
        limiter.check().map_err(|nu| nu.wait_time_from(DefaultClock::default().now()).as_secs().max(1))
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
