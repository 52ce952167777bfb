//! State shared by every process of a deployment, on Redis when
//! `KAPU_REDIS_URL` is set: rate limits (`limits`), the invalidation bus's
//! relay (`bus_relay`), spent one-time tokens, traffic figures and channel
//! breakers (their owners call [`Fleet::call`]).
//!
//! Redis is never needed to sell. Every call has a deadline
//! (`KAPU_REDIS_TIMEOUT_MS`); a call that fails or times out marks Redis
//! *degraded* for a second, during which callers get `None` at once and
//! fall back to their in-process state (limits to local limiters, breakers
//! to local breakers, the bus to cache lifetimes). A log line says so once
//! per transition, not per request. Nothing that protects money (payment
//! confirmation, key allocation) goes through here: that is the database's
//! job.

pub mod bus_relay;
pub mod limits;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;

/// How long Redis is left alone after a failed call before the next try.
const DEGRADED_PAUSE: Duration = Duration::from_secs(1);

/// Cheap to clone; every clone shares one connection and one degraded flag.
#[derive(Clone, Default)]
pub struct Fleet(Option<Arc<Shared>>);

struct Shared {
    client: redis::Client,
    conn: ConnectionManager,
    /// Prepended to every key and channel (tests run side by side on one Redis).
    prefix: String,
    timeout: Duration,
    degraded: AtomicBool,
    /// Milliseconds since the epoch before which no call is tried.
    paused_until_ms: AtomicU64,
    /// This process, in published events (so it skips its own).
    process_id: String,
}

/// Whether Redis is configured and answering, for `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FleetStatus {
    /// No `KAPU_REDIS_URL`: this process keeps its shared state in memory.
    Local,
    Ok,
    /// Redis is configured but not answering: limits and breakers are per process for now.
    Degraded,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Fleet {
    /// No Redis: every caller keeps its state in this process.
    pub fn local() -> Self {
        Self(None)
    }

    /// Fleet-wide state on the Redis at `url` (connected lazily, so a Redis
    /// that is down at start only degrades the process). Keys and channels
    /// start with `prefix`.
    pub fn redis(url: &str, prefix: &str, timeout: Duration) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.max(Duration::from_millis(50))))
            .set_response_timeout(Some(timeout.max(Duration::from_millis(50))))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self(Some(Arc::new(Shared {
            client,
            conn,
            prefix: prefix.to_string(),
            timeout,
            degraded: AtomicBool::new(false),
            paused_until_ms: AtomicU64::new(0),
            process_id: format!("{:016x}", rand::random::<u64>()),
        }))))
    }

    pub fn is_shared(&self) -> bool {
        self.0.is_some()
    }

    /// `prefix + name`: the Redis key (or channel) of `name`.
    pub fn key(&self, name: &str) -> String {
        match &self.0 {
            Some(s) => format!("{}{name}", s.prefix),
            None => name.to_string(),
        }
    }

    pub fn status(&self) -> FleetStatus {
        match &self.0 {
            None => FleetStatus::Local,
            Some(s) if s.degraded.load(Ordering::Relaxed) => FleetStatus::Degraded,
            Some(_) => FleetStatus::Ok,
        }
    }

    /// Runs `f` on the shared connection within the deadline. `None` when
    /// there is no Redis, when it is degraded (for a second after a failed
    /// call), or when this call fails or times out (which degrades it).
    pub async fn call<T, F, Fut>(&self, f: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let s = self.0.as_ref()?;
        if s.degraded.load(Ordering::Relaxed) && now_ms() < s.paused_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        match tokio::time::timeout(s.timeout, f(s.conn.clone())).await {
            Ok(Ok(v)) => {
                self.mark_up();
                Some(v)
            }
            Ok(Err(e)) => {
                self.mark_down(&e.to_string());
                None
            }
            Err(_) => {
                self.mark_down("timed out");
                None
            }
        }
    }

    fn mark_down(&self, why: &str) {
        let Some(s) = &self.0 else { return };
        s.paused_until_ms.store(now_ms() + DEGRADED_PAUSE.as_millis() as u64, Ordering::Relaxed);
        if !s.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = why,
                "Redis unavailable: rate limits, breakers and cache invalidation fall back to this process"
            );
        }
    }

    fn mark_up(&self) {
        let Some(s) = &self.0 else { return };
        if s.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!("Redis answers again: shared limits, breakers and invalidation resume");
        }
    }

    /// Takes `name` once for `ttl` across the fleet (`SET NX PX`): `Some(true)`
    /// the first time, `Some(false)` after; `None` when Redis is not there
    /// to ask (the caller decides locally).
    pub async fn take_once(&self, name: &str, ttl: Duration) -> Option<bool> {
        let key = self.key(name);
        let ms = ttl.as_millis().max(1) as u64;
        self.call(|mut c| async move {
            let set: Option<String> =
                redis::cmd("SET").arg(&key).arg(1).arg("NX").arg("PX").arg(ms).query_async(&mut c).await?;
            Ok(set.is_some())
        })
        .await
    }

    fn client(&self) -> Option<&redis::Client> {
        self.0.as_ref().map(|s| &s.client)
    }

    fn process_id(&self) -> &str {
        self.0.as_ref().map_or("", |s| s.process_id.as_str())
    }

    /// Pings within the deadline (for `/readyz`), degrading or recovering as a call would.
    pub async fn ping(&self) -> FleetStatus {
        if self.0.is_none() {
            return FleetStatus::Local;
        }
        let answered =
            self.call(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await }).await.is_some();
        if answered { FleetStatus::Ok } else { FleetStatus::Degraded }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The Redis the suite runs against, if any (`KAPU_REDIS_URL`), under a prefix of its own.
    pub(crate) fn test_fleet() -> Option<Fleet> {
        let url = std::env::var("KAPU_REDIS_URL").ok().filter(|u| !u.is_empty())?;
        let prefix = format!("kapu-test:{:016x}:", rand::random::<u64>());
        Some(Fleet::redis(&url, &prefix, Duration::from_millis(500)).expect("redis url"))
    }

    #[tokio::test]
    async fn a_name_is_taken_once_across_clones_and_redis_down_answers_none_at_once() {
        let local = Fleet::local();
        assert_eq!(local.take_once("x", Duration::from_secs(5)).await, None);
        assert_eq!(local.status(), FleetStatus::Local);

        // A Redis nobody listens on: degraded after the first call, and the
        // calls after it do not wait for the deadline.
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let down = Fleet::redis(&format!("redis://127.0.0.1:{port}"), "p:", Duration::from_millis(300)).expect("url");
        assert_eq!(down.take_once("x", Duration::from_secs(5)).await, None);
        assert_eq!(down.status(), FleetStatus::Degraded);
        let started = std::time::Instant::now();
        for _ in 0..100 {
            assert_eq!(down.take_once("x", Duration::from_secs(5)).await, None);
        }
        assert!(started.elapsed() < Duration::from_millis(100), "{:?}", started.elapsed());

        let Some(fleet) = test_fleet() else {
            eprintln!("KAPU_REDIS_URL not set: the shared half of this test is skipped");
            return;
        };
        let other = fleet.clone();
        assert_eq!(fleet.take_once("challenge-1", Duration::from_secs(5)).await, Some(true));
        assert_eq!(other.take_once("challenge-1", Duration::from_secs(5)).await, Some(false));
        assert_eq!(other.take_once("challenge-2", Duration::from_secs(5)).await, Some(true));
        assert_eq!(fleet.ping().await, FleetStatus::Ok);
    }
}
