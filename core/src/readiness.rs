//! Checks behind `/readyz`.

use std::time::Duration;

use crate::db::Db;
use crate::fleet::{Fleet, FleetStatus};

/// What a readiness check found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Readiness {
    pub database: &'static str,
    /// `ok`, or `degraded` when Redis does not answer (limits, breakers and
    /// invalidation are then per process); absent without Redis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<&'static str>,
}

impl Readiness {
    /// Ready when the database answers: a process without Redis still sells.
    pub fn ok(&self) -> bool {
        self.database == "ok"
    }
}

/// Pings the database (within 2 s) and, when configured, Redis (within its call deadline).
pub async fn check(db: &Db, fleet: &Fleet) -> Readiness {
    let database = match tokio::time::timeout(Duration::from_secs(2), db.ping()).await {
        Ok(Ok(())) => "ok",
        _ => "unavailable",
    };
    let redis = match fleet.ping().await {
        FleetStatus::Local => None,
        FleetStatus::Ok => Some("ok"),
        FleetStatus::Degraded => Some("degraded"),
    };
    Readiness { database, redis }
}
