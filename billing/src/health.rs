//! Channel health per (tenant, channel): success rate, latency and a circuit
//! breaker. The breaker opens after `failure_threshold` consecutive transient
//! failures; after `cool_down` it lets one trial call through (half-open):
//! success closes it, failure opens it again. Open channels are skipped by
//! the router. State is per process; every runtime learns on its own.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

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

/// Health of every (tenant, channel) this process has called.
#[derive(Debug, Default)]
pub struct ChannelHealth {
    policy: BreakerPolicy,
    entries: Mutex<HashMap<(String, String), Entry>>,
}

impl ChannelHealth {
    pub fn new(policy: BreakerPolicy) -> Self {
        Self { policy, entries: Mutex::new(HashMap::new()) }
    }

    fn with<R>(&self, tenant_id: &str, kind: &str, f: impl FnOnce(&mut Entry) -> R) -> R {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let e = map.entry((tenant_id.to_string(), kind.to_string())).or_insert_with(Entry::new);
        f(e)
    }

    /// Whether [`admit`](Self::admit) would let a call through now, without
    /// starting a trial (checkout uses it to write the attempt row of the
    /// channel it will most likely call with the order).
    pub fn would_admit(&self, tenant_id: &str, kind: &str) -> bool {
        let cool_down = self.policy.cool_down;
        self.with(tenant_id, kind, |e| match e.state {
            BreakerState::Closed => true,
            BreakerState::Open => e.opened_at.is_some_and(|t| t.elapsed() >= cool_down),
            BreakerState::HalfOpen => e.trial_started.is_some_and(|t| t.elapsed() >= cool_down),
        })
    }

    /// May the router call this channel now?
    pub fn admit(&self, tenant_id: &str, kind: &str) -> Admission {
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

    pub fn record_success(&self, tenant_id: &str, kind: &str, latency: Duration) {
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
    pub fn record_failure(&self, tenant_id: &str, kind: &str, latency: Duration, error: &str, transient: bool) {
        let threshold = self.policy.failure_threshold.max(1);
        let opened = self.with(tenant_id, kind, |e| {
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
        });
        if opened {
            tracing::warn!(tenant_id, channel = kind, error, "circuit breaker opened");
        }
    }

    pub fn view(&self, tenant_id: &str, kind: &str) -> HealthView {
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
    pub fn metrics_text(&self) -> String {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<_> = map.keys().cloned().collect();
        keys.sort();
        let mut out = String::new();
        out.push_str(
            "# HELP kapu_channel_calls_total Provider calls by outcome.\n# TYPE kapu_channel_calls_total counter\n",
        );
        for k in &keys {
            let e = &map[k];
            let _ = writeln!(
                out,
                "kapu_channel_calls_total{{tenant=\"{}\",channel=\"{}\",outcome=\"success\"}} {}",
                k.0, k.1, e.successes
            );
            let _ = writeln!(
                out,
                "kapu_channel_calls_total{{tenant=\"{}\",channel=\"{}\",outcome=\"failure\"}} {}",
                k.0, k.1, e.failures
            );
        }
        out.push_str("# HELP kapu_channel_breaker_open 1 when the channel's circuit breaker is open or half-open.\n# TYPE kapu_channel_breaker_open gauge\n");
        for k in &keys {
            let open = u8::from(map[k].state != BreakerState::Closed);
            let _ = writeln!(out, "kapu_channel_breaker_open{{tenant=\"{}\",channel=\"{}\"}} {open}", k.0, k.1);
        }
        out.push_str("# HELP kapu_channel_latency_median_ms Median latency of the last 100 calls.\n# TYPE kapu_channel_latency_median_ms gauge\n");
        for k in &keys {
            let mut v: Vec<u64> = map[k].latencies_ms.iter().copied().collect();
            v.sort_unstable();
            if let Some(m) = v.get(v.len() / 2) {
                let _ = writeln!(out, "kapu_channel_latency_median_ms{{tenant=\"{}\",channel=\"{}\"}} {m}", k.0, k.1);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_half_opens_after_cool_down_and_closes_on_success() {
        let h = ChannelHealth::new(BreakerPolicy { failure_threshold: 2, cool_down: Duration::from_millis(50) });
        let ms = Duration::from_millis(3);
        assert_eq!(h.admit("t", "epay"), Admission::Allowed);
        h.record_failure("t", "epay", ms, "503", true);
        assert_eq!(h.admit("t", "epay"), Admission::Allowed, "one failure is not enough");
        h.record_failure("t", "epay", ms, "refused", false);
        assert_eq!(h.admit("t", "epay"), Admission::Allowed, "refusals do not count");
        h.record_failure("t", "epay", ms, "503", true);
        assert_eq!(h.admit("t", "epay"), Admission::Skipped);
        assert_eq!(h.admit("t2", "epay"), Admission::Allowed, "other tenants are not affected");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(h.view("t", "epay").state, BreakerState::HalfOpen);
        assert_eq!(h.admit("t", "epay"), Admission::Trial);
        assert_eq!(h.admit("t", "epay"), Admission::Skipped, "one trial at a time");
        h.record_failure("t", "epay", ms, "503", true);
        assert_eq!(h.admit("t", "epay"), Admission::Skipped, "a failed trial re-opens");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(h.admit("t", "epay"), Admission::Trial);
        h.record_success("t", "epay", ms);
        assert_eq!(h.admit("t", "epay"), Admission::Allowed);
        let v = h.view("t", "epay");
        assert_eq!((v.successes, v.failures, v.state), (1, 4, BreakerState::Closed));
        assert!(
            h.metrics_text().contains("kapu_channel_calls_total{tenant=\"t\",channel=\"epay\",outcome=\"failure\"} 4")
        );
    }
}
