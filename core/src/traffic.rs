//! Storefront traffic per shop: requests in the last minute and requests
//! refused by a rate limit. Shared by the runtime (which counts) and the
//! operator console (which shows). Each process counts in memory; with
//! Redis, every process adds its counts to per-second hashes once a second
//! (`spawn_flush`, one pipeline per second, nothing per request) and the
//! console reads the fleet's totals ([`fleet_figures`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::fleet::Fleet;

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
    /// Counts since the last flush to Redis: (second, tenant) → (requests, rate limited).
    unflushed: Mutex<HashMap<(u64, String), (u64, u64)>>,
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
        drop(map);
        self.unflushed(sec, tenant_id, |c| c.0 += 1);
    }

    fn unflushed(&self, sec: u64, tenant_id: &str, f: impl FnOnce(&mut (u64, u64))) {
        let mut pending = self.unflushed.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: with Redis gone for long, the oldest counts are dropped.
        if pending.len() >= 100_000 {
            pending.clear();
        }
        f(pending.entry((sec, tenant_id.to_string())).or_default());
    }

    /// Counts one request of `tenant_id` refused by a rate limit.
    pub fn record_rate_limited(&self, tenant_id: &str) {
        let mut map = self.by_tenant.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(tenant_id.to_string()).or_default().rate_limited += 1;
        drop(map);
        self.unflushed(now_secs(), tenant_id, |c| c.1 += 1);
    }

    /// Adds the counts since the last flush to the fleet's figures on Redis
    /// (kept when Redis cannot take them, up to a bound).
    pub async fn flush(&self, fleet: &Fleet) {
        if !fleet.is_shared() {
            return;
        }
        let pending = std::mem::take(&mut *self.unflushed.lock().unwrap_or_else(|p| p.into_inner()));
        if pending.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for ((sec, tenant), (requests, limited)) in &pending {
            if *requests > 0 {
                let key = fleet.key(&format!("traffic:s:{sec}"));
                pipe.hincr(&key, tenant, *requests).ignore().expire(&key, 120).ignore();
                pipe.hincr(fleet.key("traffic:total"), tenant, *requests).ignore();
            }
            if *limited > 0 {
                pipe.hincr(fleet.key("traffic:limited"), tenant, *limited).ignore();
            }
        }
        let sent = fleet.call(|mut c| async move { pipe.query_async::<()>(&mut c).await }).await;
        if sent.is_none() {
            let mut back = self.unflushed.lock().unwrap_or_else(|p| p.into_inner());
            for (k, (r, l)) in pending {
                let e = back.entry(k).or_default();
                e.0 += r;
                e.1 += l;
            }
        }
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

/// Flushes this process's counts to Redis every second (with a fleet).
pub fn spawn_flush(traffic: Arc<TenantTraffic>, fleet: Fleet) -> Option<tokio::task::JoinHandle<()>> {
    fleet.is_shared().then(|| {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                traffic.flush(&fleet).await;
            }
        })
    })
}

/// A shop's figures for the whole fleet (Redis), or this process's own
/// when there is no Redis or it does not answer. The last second of other
/// processes is still on its way (flushes run once a second).
pub async fn fleet_figures(fleet: &Fleet, local: &TenantTraffic, tenant_id: &str) -> TrafficFigures {
    if !fleet.is_shared() {
        return local.figures(tenant_id);
    }
    local.flush(fleet).await;
    let now = now_secs();
    let mut pipe = redis::pipe();
    for sec in now.saturating_sub(WINDOW as u64 - 1)..=now {
        pipe.hget(fleet.key(&format!("traffic:s:{sec}")), tenant_id);
    }
    pipe.hget(fleet.key("traffic:total"), tenant_id).hget(fleet.key("traffic:limited"), tenant_id);
    let read: Option<Vec<Option<u64>>> = fleet.call(|mut c| async move { pipe.query_async(&mut c).await }).await;
    match read {
        Some(v) if v.len() == WINDOW + 2 => TrafficFigures {
            requests_last_minute: v[..WINDOW].iter().map(|n| n.unwrap_or(0)).sum(),
            total_requests: v[WINDOW].unwrap_or(0),
            rate_limited: v[WINDOW + 1].unwrap_or(0),
        },
        _ => local.figures(tenant_id),
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

    #[tokio::test]
    async fn the_fleet_figures_add_up_every_process() {
        let Some(fleet) = crate::fleet::tests::test_fleet() else {
            eprintln!("KAPU_REDIS_URL not set: skipped");
            return;
        };
        let (a, b) = (TenantTraffic::default(), TenantTraffic::default());
        for _ in 0..3 {
            a.record_request("shop");
        }
        b.record_request("shop");
        b.record_request("other");
        b.record_rate_limited("shop");
        b.flush(&fleet).await;
        // `a` has not flushed yet: reading through it sends its counts first.
        let f = fleet_figures(&fleet, &a, "shop").await;
        assert_eq!((f.requests_last_minute, f.total_requests, f.rate_limited), (4, 4, 1));
        assert_eq!(fleet_figures(&fleet, &b, "other").await.requests_last_minute, 1);
        assert_eq!(fleet_figures(&fleet, &a, "nobody").await, TrafficFigures::default());
    }
}
