//! Rate limits that hold for the whole fleet: a limit configured as N is N
//! however many processes share the traffic.
//!
//! With Redis, each check is one round trip: a Lua script runs GCRA
//! (generic cell rate algorithm) on Redis's own clock for every key the
//! request is under (a client's limit and its shop's cap go together) and
//! takes the request from all of them only when all admit it. Each key
//! holds one number, its theoretical arrival time, and expires when it
//! would be back to a full burst, so idle clients cost nothing.
//! Without Redis, or while it is degraded, the same quotas are kept in
//! this process ([`QuotaLimits`]).

use governor::Quota;
use std::sync::LazyLock;

use crate::fleet::Fleet;
use crate::quota_limits::QuotaLimits;

/// `KEYS[i]` with `ARGV[2i-1]` = emission interval and `ARGV[2i]` = burst
/// tolerance (interval × burst), both in microseconds. Returns `{0, 0}`
/// when every key admits the request, otherwise `{i, µs to wait}` for the
/// first key that does not (and nothing is taken).
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local next_tat = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval
  if new_tat - now > tolerance then
    return {i, new_tat - now - tolerance}
  end
  next_tat[i] = new_tat
end
for i, key in ipairs(KEYS) do
  local ttl_ms = math.floor((next_tat[i] - now) / 1000) + 1
  redis.call('SET', key, string.format('%.0f', next_tat[i]), 'PX', ttl_ms)
end
return {0, 0}
"#;

static GCRA_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(GCRA));

/// One limit a request is under: a key (unique across every kind of
/// limit, e.g. `rl:client:{shop}:{ip}`) and its quota.
#[derive(Debug, Clone)]
pub struct Limit {
    pub key: String,
    pub quota: Quota,
}

impl Limit {
    pub fn new(key: impl Into<String>, quota: Quota) -> Self {
        Self { key: key.into(), quota }
    }
}

/// A quota of `burst` at once, then one more every `secs` seconds.
pub fn burst_then_every(burst: u32, secs: u64) -> Quota {
    Quota::with_period(std::time::Duration::from_secs(secs.max(1)))
        .expect("non-zero period")
        .allow_burst(std::num::NonZeroU32::new(burst).unwrap_or(std::num::NonZeroU32::MIN))
}

/// A limiter key part made from what a client sent (an email, an order
/// number): kept as is up to 128 bytes, otherwise its SHA-256, so a client
/// cannot make the limiter store megabytes per key.
pub fn bounded(part: &str) -> std::borrow::Cow<'_, str> {
    use sha2::{Digest, Sha256};
    if part.len() <= 128 {
        return std::borrow::Cow::Borrowed(part);
    }
    std::borrow::Cow::Owned(format!("sha256:{}", crate::crypto::hex(&Sha256::digest(part.as_bytes()))))
}

/// Bits of an IPv6 address that name one client for limits (`/64`: one
/// subscriber's network, which can hold 2^64 addresses).
static IPV6_CLIENT_PREFIX: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(64);

/// Sets the IPv6 prefix length [`client_key`] keys on (`KAPU_IPV6_CLIENT_PREFIX`).
pub fn set_ipv6_client_prefix(bits: u8) {
    IPV6_CLIENT_PREFIX.store(bits.clamp(1, 128), std::sync::atomic::Ordering::Relaxed);
}

/// The part of a client's address a per-client limit keys on: an IPv4
/// address whole, an IPv6 address by its network (`/64` unless
/// configured), so a client with a block of addresses is still one client.
/// An IPv4-mapped IPv6 address counts as its IPv4 address.
pub fn client_key(ip: std::net::IpAddr) -> String {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let bits = u32::from(IPV6_CLIENT_PREFIX.load(std::sync::atomic::Ordering::Relaxed));
                let mask = if bits >= 128 { u128::MAX } else { !(u128::MAX >> bits) };
                let net = std::net::Ipv6Addr::from(u128::from(v6) & mask);
                format!("{net}/{bits}")
            }
        },
    }
}

/// The first limit that refused a request and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Index into the limits checked.
    pub index: usize,
    /// Whole seconds, at least 1 (a `Retry-After`).
    pub retry_after_secs: u64,
}

/// Fleet-wide limits with an in-process fallback.
#[derive(Default)]
pub struct FleetLimits {
    fleet: Fleet,
    local: QuotaLimits,
}

impl FleetLimits {
    pub fn new(fleet: Fleet) -> Self {
        Self { fleet, local: QuotaLimits::default() }
    }

    /// Takes one request under every limit in `limits`, or refuses it.
    pub async fn check(&self, limits: &[Limit]) -> Result<(), Refused> {
        if limits.is_empty() {
            return Ok(());
        }
        if self.fleet.is_shared() {
            let mut invocation = GCRA_SCRIPT.prepare_invoke();
            for l in limits {
                let interval = l.quota.replenish_interval().as_micros().max(1) as u64;
                let burst = u64::from(l.quota.burst_size().get());
                // The quota is part of the key: a changed quota (a plan
                // raised) starts from a full allowance at once, as the
                // in-process limits do; the old key expires on its own.
                let key = self.fleet.key(&format!("{}:{interval}:{burst}", l.key));
                invocation.key(key).arg(interval).arg(interval * burst);
            }
            let answer: Option<(i64, i64)> =
                self.fleet.call(|mut c| async move { invocation.invoke_async(&mut c).await }).await;
            if let Some((index, wait_us)) = answer {
                return match index {
                    0 => Ok(()),
                    i => Err(Refused {
                        index: (i - 1) as usize,
                        retry_after_secs: (wait_us.max(0) as u64).div_ceil(1_000_000).max(1),
                    }),
                };
            }
        }
        for (index, l) in limits.iter().enumerate() {
            self.local.check(&l.key, Some(l.quota)).map_err(|retry_after_secs| Refused { index, retry_after_secs })?;
        }
        Ok(())
    }

    /// Drops idle keys of the in-process fallback.
    pub fn retain_recent(&self) {
        self.local.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_ipv6_client_is_its_64_and_ipv4_is_whole() {
        let key = |s: &str| client_key(s.parse().expect("ip"));
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), key("2001:db8:1:2::9"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
    }

    fn per_second(n: u32) -> Quota {
        Quota::per_second(NonZeroU32::new(n).expect("n"))
    }

    async fn admitted(limits: &FleetLimits, checks: &[Limit], tries: usize) -> usize {
        let mut n = 0;
        for _ in 0..tries {
            if limits.check(checks).await.is_ok() {
                n += 1;
            }
        }
        n
    }

    /// `all_or_nothing`: a refused request takes nothing from the limits
    /// that admitted it (Redis; the in-process fallback checks in order).
    async fn a_limit_of_n_admits_a_burst_of_n_refuses_the_next_and_takes_nothing_when_refused(
        limits: FleetLimits,
        all_or_nothing: bool,
    ) {
        let client = Limit::new("client:a", per_second(5));
        let shop = Limit::new("shop:a", per_second(8));
        // The client's burst of 5, then refused by the client limit (index 0).
        assert_eq!(admitted(&limits, &[client.clone(), shop.clone()], 5).await, 5);
        let refused = limits.check(&[client.clone(), shop.clone()]).await.expect_err("over");
        assert_eq!(refused.index, 0);
        assert_eq!(refused.retry_after_secs, 1);
        // Another client of the same shop has the 3 the shop has left.
        let other = Limit::new("client:b", per_second(5));
        assert_eq!(admitted(&limits, &[other.clone(), shop.clone()], 5).await, 3);
        let refused = limits.check(&[other, shop.clone()]).await.expect_err("shop over");
        assert_eq!(refused.index, if all_or_nothing { 1 } else { 0 });
        // Another shop is untouched.
        assert_eq!(admitted(&limits, &[Limit::new("shop:b", per_second(8))], 8).await, 8);
    }

    #[test]
    fn client_sent_key_parts_are_bounded() {
        assert_eq!(bounded("a@example.com"), "a@example.com");
        let huge = "x".repeat(1 << 20);
        let b = bounded(&huge);
        assert_eq!(b.len(), "sha256:".len() + 64);
        assert_ne!(bounded(&format!("{huge}y")), b, "different inputs keep different keys");
    }

    #[tokio::test]
    async fn in_process_limits() {
        a_limit_of_n_admits_a_burst_of_n_refuses_the_next_and_takes_nothing_when_refused(FleetLimits::default(), false)
            .await;
    }

    #[tokio::test]
    async fn shared_limits_hold_across_processes() {
        let Some(fleet) = crate::fleet::tests::test_fleet() else {
            eprintln!("KAPU_REDIS_URL not set: skipped");
            return;
        };
        a_limit_of_n_admits_a_burst_of_n_refuses_the_next_and_takes_nothing_when_refused(
            FleetLimits::new(fleet.clone()),
            true,
        )
        .await;
        // Two "processes" (two limiters, each with its own local fallback)
        // on one Redis share one allowance of 10.
        let a = FleetLimits::new(fleet.clone());
        let b = FleetLimits::new(fleet.clone());
        let key = [Limit::new("shared", per_second(10))];
        let (na, nb) = tokio::join!(admitted(&a, &key, 10), admitted(&b, &key, 10));
        assert_eq!(na + nb, 10, "{na} + {nb}");
        // A second later the allowance is back at the sustained rate.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let back = admitted(&a, &key, 20).await;
        assert!((10..=11).contains(&back), "{back}");
    }
}
