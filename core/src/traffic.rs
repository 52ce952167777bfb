//! Storefront traffic per shop, as this process saw it: requests in the last
//! minute and requests refused by a rate limit. Shared by the runtime (which
//! counts) and the operator console (which shows). In memory, per process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const WINDOW: usize = 60;

#[derive(Debug, Clone)]
struct Counters {
    /// Requests per second of the last minute, indexed by `second % 60`.
    per_second: [u32; WINDOW],
    /// The second each slot counts (a slot from an older minute reads as 0).
    slot_second: [u64; WINDOW],
    total: u64,
    rate_limited: u64,
}

impl Default for Counters {
    fn default() -> Self {
        Self { per_second: [0; WINDOW], slot_second: [0; WINDOW], total: 0, rate_limited: 0 }
    }
}

/// A shop's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TrafficFigures {
    pub requests_last_minute: u64,
    pub total_requests: u64,
    pub rate_limited: u64,
}

#[derive(Debug, Default)]
pub struct TenantTraffic {
    by_tenant: Mutex<HashMap<String, Counters>>,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl TenantTraffic {
    /// Counts one storefront request of `tenant_id`.
    pub fn record_request(&self, tenant_id: &str) {
        self.record_request_at(tenant_id, now_secs());
    }

    fn record_request_at(&self, tenant_id: &str, sec: u64) {
        let mut map = self.by_tenant.lock().unwrap_or_else(|p| p.into_inner());
        let c = map.entry(tenant_id.to_string()).or_default();
        let slot = (sec % WINDOW as u64) as usize;
        if c.slot_second[slot] != sec {
            c.slot_second[slot] = sec;
            c.per_second[slot] = 0;
        }
        c.per_second[slot] = c.per_second[slot].saturating_add(1);
        c.total += 1;
    }

    /// Counts one request of `tenant_id` refused by a rate limit.
    pub fn record_rate_limited(&self, tenant_id: &str) {
        let mut map = self.by_tenant.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(tenant_id.to_string()).or_default().rate_limited += 1;
    }

    pub fn figures(&self, tenant_id: &str) -> TrafficFigures {
        self.figures_at(tenant_id, now_secs())
    }

    fn figures_at(&self, tenant_id: &str, sec: u64) -> TrafficFigures {
        let map = self.by_tenant.lock().unwrap_or_else(|p| p.into_inner());
        let Some(c) = map.get(tenant_id) else { return TrafficFigures::default() };
        let recent = (0..WINDOW)
            .filter(|&i| c.slot_second[i] + (WINDOW as u64) > sec && c.slot_second[i] <= sec)
            .map(|i| u64::from(c.per_second[i]))
            .sum();
        TrafficFigures { requests_last_minute: recent, total_requests: c.total, rate_limited: c.rate_limited }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_last_minute_only() {
        let t = TenantTraffic::default();
        for _ in 0..3 {
            t.record_request_at("a", 1_000);
        }
        t.record_request_at("a", 1_030);
        t.record_request_at("b", 1_030);
        assert_eq!(t.figures_at("a", 1_030).requests_last_minute, 4);
        // 1_000 has left the window; 1_030 has not.
        assert_eq!(t.figures_at("a", 1_065).requests_last_minute, 1);
        assert_eq!(t.figures_at("a", 1_065).total_requests, 4);
        // The slot of 1_000 reused at 1_060 starts again from zero.
        t.record_request_at("a", 1_060);
        assert_eq!(t.figures_at("a", 1_060).requests_last_minute, 2);
        t.record_rate_limited("a");
        assert_eq!(t.figures_at("a", 1_060).rate_limited, 1);
        assert_eq!(t.figures_at("zzz", 1_060), TrafficFigures::default());
    }
}
