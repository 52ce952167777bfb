//! Checks behind `/readyz`.

use std::time::Duration;

use crate::db::Db;

/// What a readiness check found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Readiness {
    pub database: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<&'static str>,
}

impl Readiness {
    pub fn ok(&self) -> bool {
        self.database == "ok" && self.redis.is_none_or(|r| r == "ok")
    }
}

/// Pings the database and, when configured, Redis (each within 2 s).
pub async fn check(db: &Db, redis: Option<&redis::Client>) -> Readiness {
    let t = Duration::from_secs(2);
    let database = match tokio::time::timeout(t, db.ping()).await {
        Ok(Ok(())) => "ok",
        _ => "unavailable",
    };
    let redis = match redis {
        None => None,
        Some(client) => Some(match tokio::time::timeout(t, ping_redis(client)).await {
            Ok(Ok(())) => "ok",
            _ => "unavailable",
        }),
    };
    Readiness { database, redis }
}

async fn ping_redis(client: &redis::Client) -> redis::RedisResult<()> {
    let mut conn = client.get_multiplexed_async_connection().await?;
    redis::cmd("PING").query_async::<String>(&mut conn).await.map(|_| ())
}
