//! Login throttling: per email and per client address, in process.
//! (Several platform processes each keep their own counts; the shared Redis
//! limiter is the scale-out step.)

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct LoginThrottle {
    by_email: DefaultKeyedRateLimiter<String>,
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        // 5 tries per email, then one more every 2 minutes; 30 per address, then one every 10 s.
        let email = Quota::with_period(Duration::from_secs(120)).expect("non-zero").allow_burst(nz(5));
        let ip = Quota::with_period(Duration::from_secs(10)).expect("non-zero").allow_burst(nz(30));
        Self { by_email: RateLimiter::keyed(email), by_ip: RateLimiter::keyed(ip) }
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl LoginThrottle {
    /// Takes one attempt for this email and address; `Err(secs)` when either is exhausted.
    pub fn check(&self, email: &str, ip: IpAddr) -> Result<(), u64> {
        let now = DefaultClock::default().now();
        let wait = |nu: governor::NotUntil<_>| nu.wait_time_from(now).as_secs().max(1);
        self.by_ip.check_key(&ip).map_err(wait)?;
        self.by_email.check_key(&email.to_string()).map_err(wait)?;
        Ok(())
    }

    /// Drops idle keys (call periodically).
    pub fn housekeeping(&self) {
        self.by_email.retain_recent();
        self.by_ip.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_try_for_one_email_waits() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        for _ in 0..5 {
            assert!(t.check("a@example.com", ip).is_ok());
        }
        let secs = t.check("a@example.com", ip).expect_err("throttled");
        assert!((1..=120).contains(&secs), "{secs}");
        assert!(t.check("b@example.com", ip).is_ok(), "another email is not affected");
    }
}
