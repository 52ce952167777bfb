//! Channel health per (tenant, channel): success rate, latency and a circuit
//! breaker. The breaker opens after `failure_threshold` consecutive transient
//! failures; after `cool_down` it lets one trial call through (half-open):
//! success closes it, failure opens it again. Open channels are skipped by
//! the router.
//!
//! With Redis (`kapu_core::fleet`) the breaker and the figures are the
//! fleet's: admission and outcomes are Lua scripts on one hash per
//! (tenant, channel), so failures seen by one process open the breaker for
//! all, and after the cool-down exactly one process gets the trial call.
//! Every process also keeps its own copy, which decides while Redis is down
//! and feeds this process's metrics.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use kapu_core::fleet::Fleet;

/// Admission on the fleet's breaker. `ARGV[1]`: cool-down in ms; `ARGV[2]`:
/// `take` (a trial is handed out) or `peek`. Returns 0 allowed, 1 trial, 2 skipped.
const ADMIT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = tonumber(redis.call('HGET', KEYS[1], 'state') or '0')
local cool = tonumber(ARGV[1])
local take = ARGV[2] == 'take'
if state == 0 then return 0 end
local since = tonumber(redis.call('HGET', KEYS[1], state == 1 and 'opened' or 'trial') or '0')
if now - since < cool then return 2 end
if take then redis.call('HSET', KEYS[1], 'state', 2, 'trial', now) end
return 1
"#;

/// An outcome on the fleet's breaker. `KEYS[2]`: latency samples.
/// `ARGV`: outcome (`ok`, `transient`, `refused`), failure threshold,
/// latency in ms, error text, error time (RFC 3339). Returns 1 when this
/// failure opened the breaker.
const RECORD: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('LPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], 0, 99)
redis.call('PEXPIRE', KEYS[2], 604800000)
redis.call('PEXPIRE', KEYS[1], 604800000)
local state = tonumber(redis.call('HGET', KEYS[1], 'state') or '0')
if ARGV[1] == 'ok' then
  redis.call('HINCRBY', KEYS[1], 'ok', 1)
  redis.call('HSET', KEYS[1], 'state', 0, 'fails', 0)
  return 0
end
redis.call('HINCRBY', KEYS[1], 'ko', 1)
redis.call('HSET', KEYS[1], 'err', ARGV[4], 'err_at', ARGV[5])
if ARGV[1] == 'refused' then
  if state == 2 then redis.call('HSET', KEYS[1], 'state', 0, 'fails', 0) end
  return 0
end
local fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
if state == 2 or fails >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 1, 'opened', now)
  if state ~= 1 then return 1 end
end
return 0
"#;

static ADMIT_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(ADMIT));
static RECORD_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RECORD));

/// When a breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    pub failure_threshold: u32,
    pub cool_down: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self { failure_threshold: 3, cool_down: Duration::from_secs(30) }
    }
}

/// A breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// Whether the router may call a channel now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// The one trial call of a half-open breaker.
    Trial,
    Skipped,
}

const LATENCY_SAMPLES: usize = 100;

#[derive(Debug)]
struct Entry {
    state: BreakerState,
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    trial_started: Option<Instant>,
    successes: u64,
    failures: u64,
    latencies_ms: VecDeque<u64>,
    last_error: Option<(String, DateTime<Utc>)>,
}

impl Entry {
    fn new() -> Self {
        Self {
            state: BreakerState::Closed,
            consecutive_failures: 0,
            opened_at: None,
            trial_started: None,
            successes: 0,
            failures: 0,
            latencies_ms: VecDeque::new(),
            last_error: None,
        }
    }

    fn sample(&mut self, latency: Duration) {
        if self.latencies_ms.len() == LATENCY_SAMPLES {
            self.latencies_ms.pop_front();
        }
        self.latencies_ms.push_back(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX));
    }
}

/// What the merchant sees about one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthView {
    pub state: BreakerState,
    pub successes: u64,
    pub failures: u64,
    /// Successes over all calls, when there were any.
    pub success_rate: Option<f64>,
    /// Median latency of the last 100 calls.
    pub median_latency_ms: Option<u64>,
    pub last_error: Option<(String, DateTime<Utc>)>,
}

/// Health of every (tenant, channel): the fleet's with Redis, this process's otherwise.
#[derive(Default)]
pub struct ChannelHealth {
    policy: BreakerPolicy,
    entries: Mutex<HashMap<(String, String), Entry>>,
    /// Calls per channel kind since the status page last took them: (ok, failed).
    families: Mutex<HashMap<String, (u64, u64)>>,
    fleet: Fleet,
}

impl std::fmt::Debug for ChannelHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelHealth").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl ChannelHealth {
    /// Per process only.
    pub fn new(policy: BreakerPolicy) -> Self {
        Self::shared(policy, Fleet::local())
    }

    /// Shared through `fleet` when it has Redis.
    pub fn shared(policy: BreakerPolicy, fleet: Fleet) -> Self {
        Self { policy, entries: Mutex::new(HashMap::new()), families: Mutex::default(), fleet }
    }

    fn fleet_keys(&self, tenant_id: &str, kind: &str) -> (String, String) {
        (
            self.fleet.key(&format!("breaker:{tenant_id}:{kind}")),
            self.fleet.key(&format!("breaker-ms:{tenant_id}:{kind}")),
        )
    }

    /// The fleet's admission (`None`: no Redis to ask).
    async fn fleet_admit(&self, tenant_id: &str, kind: &str, take: bool) -> Option<Admission> {
        if !self.fleet.is_shared() {
            return None;
        }
        let (key, _) = self.fleet_keys(tenant_id, kind);
        let cool = self.policy.cool_down.as_millis() as u64;
        let answer: i64 = self
            .fleet
            .call(|mut c| async move {
                ADMIT_SCRIPT.key(key).arg(cool).arg(if take { "take" } else { "peek" }).invoke_async(&mut c).await
            })
            .await?;
        Some(match answer {
            0 => Admission::Allowed,
            1 => Admission::Trial,
            _ => Admission::Skipped,
        })
    }

    /// Reports an outcome to the fleet; true when it opened the breaker.
    async fn fleet_record(&self, tenant_id: &str, kind: &str, outcome: &str, latency: Duration, error: &str) -> bool {
        if !self.fleet.is_shared() {
            return false;
        }
        let (key, samples) = self.fleet_keys(tenant_id, kind);
        let threshold = self.policy.failure_threshold.max(1);
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        let error: String = error.chars().take(300).collect();
        let at = Utc::now().to_rfc3339();
        let outcome = outcome.to_string();
        let opened: Option<i64> = self
            .fleet
            .call(|mut c| async move {
                RECORD_SCRIPT
                    .key(key)
                    .key(samples)
                    .arg(outcome)
                    .arg(threshold)
                    .arg(ms)
                    .arg(error)
                    .arg(at)
                    .invoke_async(&mut c)
                    .await
            })
            .await;
        opened == Some(1)
    }

    fn with<R>(&self, tenant_id: &str, kind: &str, f: impl FnOnce(&mut Entry) -> R) -> R {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let e = map.entry((tenant_id.to_string(), kind.to_string())).or_insert_with(Entry::new);
        f(e)
    }

    /// Whether [`admit`](Self::admit) would let a call through now, without
    /// starting a trial (checkout uses it to write the attempt row of the
    /// channel it will most likely call with the order).
    pub async fn would_admit(&self, tenant_id: &str, kind: &str) -> bool {
        if let Some(a) = self.fleet_admit(tenant_id, kind, false).await {
            return a != Admission::Skipped;
        }
        self.would_admit_here(tenant_id, kind)
    }

    fn would_admit_here(&self, tenant_id: &str, kind: &str) -> bool {
        let cool_down = self.policy.cool_down;
        self.with(tenant_id, kind, |e| match e.state {
            BreakerState::Closed => true,
            BreakerState::Open => e.opened_at.is_some_and(|t| t.elapsed() >= cool_down),
            BreakerState::HalfOpen => e.trial_started.is_some_and(|t| t.elapsed() >= cool_down),
        })
    }

    /// May the router call this channel now?
    pub async fn admit(&self, tenant_id: &str, kind: &str) -> Admission {
        if let Some(a) = self.fleet_admit(tenant_id, kind, true).await {
            return a;
        }
        self.admit_here(tenant_id, kind)
    }

    fn admit_here(&self, tenant_id: &str, kind: &str) -> Admission {
        let cool_down = self.policy.cool_down;
        self.with(tenant_id, kind, |e| match e.state {
            BreakerState::Closed => Admission::Allowed,
            BreakerState::Open if e.opened_at.is_some_and(|t| t.elapsed() >= cool_down) => {
                e.state = BreakerState::HalfOpen;
                e.trial_started = Some(Instant::now());
                Admission::Trial
            }
            BreakerState::Open => Admission::Skipped,
            // A trial that never reported back (its task died) does not block forever.
            BreakerState::HalfOpen if e.trial_started.is_some_and(|t| t.elapsed() >= cool_down) => {
                e.trial_started = Some(Instant::now());
                Admission::Trial
            }
            BreakerState::HalfOpen => Admission::Skipped,
        })
    }

    pub async fn record_success(&self, tenant_id: &str, kind: &str, latency: Duration) {
        self.count_family(kind, true, latency);
        self.fleet_record(tenant_id, kind, "ok", latency, "").await;
        self.record_success_here(tenant_id, kind, latency);
    }

    fn record_success_here(&self, tenant_id: &str, kind: &str, latency: Duration) {
        self.with(tenant_id, kind, |e| {
            e.successes += 1;
            e.sample(latency);
            e.consecutive_failures = 0;
            e.state = BreakerState::Closed;
            e.opened_at = None;
            e.trial_started = None;
        });
    }

    /// A failed call. Only `transient` failures (the provider is down or
    /// slow) count towards opening the breaker; a refusal of one payment does not.
    pub async fn record_failure(&self, tenant_id: &str, kind: &str, latency: Duration, error: &str, transient: bool) {
        let outcome = if transient { "transient" } else { "refused" };
        self.count_family(kind, false, latency);
        let opened_for_fleet = self.fleet_record(tenant_id, kind, outcome, latency, error).await;
        let opened_here = self.record_failure_here(tenant_id, kind, latency, error, transient);
        if opened_for_fleet || (opened_here && !self.fleet.is_shared()) {
            tracing::warn!(tenant_id, channel = kind, error, "circuit breaker opened");
        }
    }

    /// Returns whether this process's breaker opened.
    fn record_failure_here(
        &self,
        tenant_id: &str,
        kind: &str,
        latency: Duration,
        error: &str,
        transient: bool,
    ) -> bool {
        let threshold = self.policy.failure_threshold.max(1);
        self.with(tenant_id, kind, |e| {
            e.failures += 1;
            e.sample(latency);
            e.last_error = Some((error.chars().take(300).collect(), Utc::now()));
            if !transient {
                if e.state == BreakerState::HalfOpen {
                    // The provider answered: it is up.
                    e.state = BreakerState::Closed;
                    e.consecutive_failures = 0;
                }
                return false;
            }
            e.consecutive_failures += 1;
            let open = e.state == BreakerState::HalfOpen || e.consecutive_failures >= threshold;
            let was_open = e.state == BreakerState::Open;
            if open {
                e.state = BreakerState::Open;
                e.opened_at = Some(Instant::now());
                e.trial_started = None;
            }
            open && !was_open
        })
    }

    /// What the Payments page shows: the fleet's figures, or this process's
    /// while Redis does not answer.
    pub async fn view(&self, tenant_id: &str, kind: &str) -> HealthView {
        if let Some(v) = self.fleet_view(tenant_id, kind).await {
            return v;
        }
        self.view_here(tenant_id, kind)
    }

    async fn fleet_view(&self, tenant_id: &str, kind: &str) -> Option<HealthView> {
        if !self.fleet.is_shared() {
            return None;
        }
        let (key, samples) = self.fleet_keys(tenant_id, kind);
        let (fields, mut latencies): (HashMap<String, String>, Vec<u64>) = self
            .fleet
            .call(|mut c| async move { redis::pipe().hgetall(key).lrange(samples, 0, -1).query_async(&mut c).await })
            .await?;
        let num = |f: &str| fields.get(f).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let (successes, failures) = (num("ok"), num("ko"));
        let opened_ms = num("opened");
        let now_ms = Utc::now().timestamp_millis().max(0) as u64;
        let cooled = now_ms.saturating_sub(opened_ms) >= self.policy.cool_down.as_millis() as u64;
        let state = match num("state") {
            0 => BreakerState::Closed,
            1 if !cooled => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        };
        latencies.sort_unstable();
        let last_error = match (fields.get("err"), fields.get("err_at")) {
            (Some(e), Some(at)) => DateTime::parse_from_rfc3339(at).ok().map(|at| (e.clone(), at.with_timezone(&Utc))),
            _ => None,
        };
        let total = successes + failures;
        Some(HealthView {
            state,
            successes,
            failures,
            success_rate: (total > 0).then(|| successes as f64 / total as f64),
            median_latency_ms: latencies.get(latencies.len() / 2).copied(),
            last_error,
        })
    }

    fn view_here(&self, tenant_id: &str, kind: &str) -> HealthView {
        let cool_down = self.policy.cool_down;
        self.with(tenant_id, kind, |e| {
            let total = e.successes + e.failures;
            let mut sorted: Vec<u64> = e.latencies_ms.iter().copied().collect();
            sorted.sort_unstable();
            // An open breaker whose cool-down passed will let the next call through.
            let state = match e.state {
                BreakerState::Open if e.opened_at.is_some_and(|t| t.elapsed() >= cool_down) => BreakerState::HalfOpen,
                s => s,
            };
            HealthView {
                state,
                successes: e.successes,
                failures: e.failures,
                success_rate: (total > 0).then(|| e.successes as f64 / total as f64),
                median_latency_ms: sorted.get(sorted.len() / 2).copied(),
                last_error: e.last_error.clone(),
            }
        })
    }

    /// Prometheus text exposition of every known channel, labelled by tenant and channel.
    /// Counts a call for the channel family (all shops): the
    /// `kapu_channel_calls_total` metric and the status page's figures.
    fn count_family(&self, kind: &str, ok: bool, latency: Duration) {
        kapu_core::metrics::channel_call(kind, if ok { "success" } else { "failure" }, latency);
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        let e = families.entry(kind.to_string()).or_default();
        if ok {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }

    /// Calls per channel family since the last take: (kind, successes, failures).
    pub fn take_family_counts(&self) -> Vec<(String, u64, u64)> {
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = families.drain().map(|(k, (ok, ko))| (k, ok, ko)).collect();
        out.sort();
        out
    }

    /// Open breakers per channel kind, as Prometheus text (no shop label:
    /// a count of the shops whose breaker is open, as this process sees them).
    pub fn metrics_text(&self) -> String {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut open: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        for (k, e) in map.iter() {
            *open.entry(k.1.as_str()).or_default() += u64::from(e.state != BreakerState::Closed);
        }
        let mut out = String::new();
        out.push_str("# HELP kapu_channel_breakers_open Shops whose circuit breaker for the channel is open or half-open.\n# TYPE kapu_channel_breakers_open gauge\n");
        for (kind, n) in open {
            let _ = writeln!(out, "kapu_channel_breakers_open{{channel=\"{kind}\"}} {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn opens_after_threshold_half_opens_after_cool_down_and_closes_on_success(h: ChannelHealth) {
        let ms = Duration::from_millis(3);
        assert_eq!(h.admit("t", "epay").await, Admission::Allowed);
        h.record_failure("t", "epay", ms, "503", true).await;
        assert_eq!(h.admit("t", "epay").await, Admission::Allowed, "one failure is not enough");
        h.record_failure("t", "epay", ms, "refused", false).await;
        assert_eq!(h.admit("t", "epay").await, Admission::Allowed, "refusals do not count");
        h.record_failure("t", "epay", ms, "503", true).await;
        assert_eq!(h.admit("t", "epay").await, Admission::Skipped);
        assert!(!h.would_admit("t", "epay").await);
        assert_eq!(h.admit("t2", "epay").await, Admission::Allowed, "other tenants are not affected");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(h.view("t", "epay").await.state, BreakerState::HalfOpen);
        assert!(h.would_admit("t", "epay").await);
        assert_eq!(h.admit("t", "epay").await, Admission::Trial);
        assert_eq!(h.admit("t", "epay").await, Admission::Skipped, "one trial at a time");
        h.record_failure("t", "epay", ms, "503", true).await;
        assert_eq!(h.admit("t", "epay").await, Admission::Skipped, "a failed trial re-opens");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(h.admit("t", "epay").await, Admission::Trial);
        h.record_success("t", "epay", ms).await;
        assert_eq!(h.admit("t", "epay").await, Admission::Allowed);
        let v = h.view("t", "epay").await;
        assert_eq!((v.successes, v.failures, v.state), (1, 4, BreakerState::Closed));
        assert_eq!(v.median_latency_ms, Some(3));
        assert_eq!(v.last_error.map(|e| e.0).as_deref(), Some("503"));
        assert!(h.metrics_text().contains("kapu_channel_breakers_open{channel=\"epay\"} 0"), "closed again");
        assert_eq!(h.take_family_counts(), vec![("epay".to_string(), 1, 4)]);
        assert!(h.take_family_counts().is_empty(), "taken once");
    }

    fn policy() -> BreakerPolicy {
        BreakerPolicy { failure_threshold: 2, cool_down: Duration::from_millis(50) }
    }

    #[tokio::test]
    async fn in_this_process() {
        opens_after_threshold_half_opens_after_cool_down_and_closes_on_success(ChannelHealth::new(policy())).await;
    }

    fn test_fleet() -> Option<Fleet> {
        let url = std::env::var("KAPU_REDIS_URL").ok().filter(|u| !u.is_empty())?;
        let prefix = format!("kapu-test:{:016x}:", rand::random::<u64>());
        Some(Fleet::redis(&url, &prefix, Duration::from_millis(500)).expect("url"))
    }

    #[tokio::test]
    async fn across_the_fleet() {
        let Some(fleet) = test_fleet() else {
            eprintln!("KAPU_REDIS_URL not set: skipped");
            return;
        };
        opens_after_threshold_half_opens_after_cool_down_and_closes_on_success(ChannelHealth::shared(
            policy(),
            fleet.clone(),
        ))
        .await;
        // Two processes: failures seen by one open the breaker for the other,
        // and after the cool-down only one of them gets the trial.
        let a = ChannelHealth::shared(policy(), fleet.clone());
        let b = ChannelHealth::shared(policy(), fleet.clone());
        let ms = Duration::from_millis(1);
        a.record_failure("s", "alipay", ms, "timeout", true).await;
        a.record_failure("s", "alipay", ms, "timeout", true).await;
        assert_eq!(b.admit("s", "alipay").await, Admission::Skipped);
        assert_eq!(b.view("s", "alipay").await.failures, 2);
        tokio::time::sleep(Duration::from_millis(60)).await;
        let (x, y) = tokio::join!(a.admit("s", "alipay"), b.admit("s", "alipay"));
        assert_eq!([x, y].iter().filter(|a| **a == Admission::Trial).count(), 1, "{x:?} {y:?}");
        assert!([x, y].contains(&Admission::Skipped));
    }
}
