//! Login throttling: per email and per client address, for the whole fleet
//! with Redis (`kapu_core::fleet::limits`), per process without.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;
use kapu_core::fleet::limits::{FleetLimits, Limit, bounded, burst_then_every, client_key};

pub struct LoginThrottle {
    limits: FleetLimits,
    per_email: Quota,
    per_ip: Quota,
}

/// What costs a password hash or sends an email to an address the client
/// typed, counted when the request arrives (not when the email goes out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountRequest {
    /// `POST /signup`: a hash and a verification email.
    SignUp,
    /// `POST /forgot`: a reset email.
    PasswordReset,
    /// "Resend the verification email".
    VerificationResend,
}

impl AccountRequest {
    fn name(self) -> &'static str {
        match self {
            AccountRequest::SignUp => "signup",
            AccountRequest::PasswordReset => "forgot",
            AccountRequest::VerificationResend => "verify-resend",
        }
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(FleetLimits::default())
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl LoginThrottle {
    pub fn new(limits: FleetLimits) -> Self {
        // 5 tries per email, then one more every 2 minutes; 30 per address, then one every 10 s.
        let per_email = Quota::with_period(Duration::from_secs(120)).expect("non-zero").allow_burst(nz(5));
        let per_ip = Quota::with_period(Duration::from_secs(10)).expect("non-zero").allow_burst(nz(30));
        Self { limits, per_email, per_ip }
    }

    /// Takes one attempt for this email and address; `Err(secs)` when either is exhausted.
    pub async fn check(&self, email: &str, ip: IpAddr) -> Result<(), u64> {
        let checks = [
            Limit::new(format!("rl:login-ip:{}", client_key(ip)), self.per_ip),
            Limit::new(format!("rl:login:{}", bounded(&email.to_lowercase())), self.per_email),
        ];
        self.limits.check(&checks).await.map_err(|r| r.retry_after_secs)
    }

    /// Takes one account request for this address and client: 5 per
    /// address, then one every 12 minutes; 10 per client address, then one
    /// every 6 minutes. `Err(secs)` when either is exhausted.
    pub async fn check_account_request(&self, what: AccountRequest, email: &str, ip: IpAddr) -> Result<(), u64> {
        let per_email = burst_then_every(5, 720);
        let per_ip = burst_then_every(10, 360);
        let what = what.name();
        let checks = [
            Limit::new(format!("rl:{what}-ip:{}", client_key(ip)), per_ip),
            Limit::new(format!("rl:{what}:{}", bounded(&email.trim().to_lowercase())), per_email),
        ];
        self.limits.check(&checks).await.map_err(|r| r.retry_after_secs)
    }

    /// Drops idle keys of the in-process fallback (call periodically).
    pub fn housekeeping(&self) {
        self.limits.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sixth_try_for_one_email_waits() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        for _ in 0..5 {
            assert!(t.check("a@example.com", ip).await.is_ok());
        }
        let secs = t.check("a@example.com", ip).await.expect_err("throttled");
        assert!((1..=120).contains(&secs), "{secs}");
        assert!(t.check("b@example.com", ip).await.is_ok(), "another email is not affected");
    }
}
