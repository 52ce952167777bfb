//! Per-shop feature flags for grey releases. Operators manage them in
//! `/ops/flags` (audited); code asks [`Flags::enabled`] with the shop. A
//! flag is off, on for listed shops, on for a percentage of shops (a stable
//! hash of flag name and shop id, so 10 % is the same tenth every time and
//! raising it to 20 % keeps that tenth), or on for all; its kill switch
//! turns it off everywhere whatever the mode.
//!
//! Each process keeps the table in memory: reloaded on the bus's
//! `OpsChanged` (a change in `/ops` applies within a second on every
//! process, with Redis) and every 30 s in any case. Reading it is a map
//! lookup, never a query.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::entities::feature_flags;

/// Flags the code knows, with what they switch.
pub const KNOWN: &[(&str, &str)] = &[(
    STATUS_NOTICE,
    "Storefronts show buyers a notice while checkout or a payment channel the shop uses is degraded (status page).",
)];

/// The storefront's notice of a degraded component (issue 19's grey release).
pub const STATUS_NOTICE: &str = "storefront_status_notice";

/// Flag modes.
pub const MODES: [&str; 4] = ["off", "listed", "percent", "all"];

/// Whether `flag` is on for the shop (`tenant_id`, `slug`).
pub fn decides(flag: &feature_flags::Model, tenant_id: &str, slug: &str) -> bool {
    if flag.killed {
        return false;
    }
    match flag.mode.as_str() {
        "all" => true,
        "listed" => serde_json::from_str::<Vec<String>>(&flag.shops).unwrap_or_default().iter().any(|s| s == slug),
        "percent" => bucket(&flag.name, tenant_id) < flag.percent.clamp(0, 100) as u32,
        _ => false,
    }
}

/// The shop's bucket for a flag, 0–99.
pub fn bucket(flag: &str, tenant_id: &str) -> u32 {
    let digest = Sha256::digest(format!("{flag}:{tenant_id}").as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % 100
}

/// This process's copy of the flags.
#[derive(Clone, Default)]
pub struct Flags {
    table: Arc<RwLock<HashMap<String, feature_flags::Model>>>,
}

impl Flags {
    /// Whether `name` is on for the shop; unknown flags are off.
    pub fn enabled(&self, name: &str, tenant_id: &str, slug: &str) -> bool {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        table.get(name).is_some_and(|f| decides(f, tenant_id, slug))
    }

    /// Reads the table again from the database (a failure keeps the old copy).
    pub async fn reload(&self, db: &Db) {
        use sea_orm::EntityTrait;
        match feature_flags::Entity::find().all(db.reader()).await {
            Ok(rows) => {
                let map = rows.into_iter().map(|f| (f.name.clone(), f)).collect();
                *self.table.write().unwrap_or_else(|e| e.into_inner()) = map;
            }
            Err(e) => tracing::warn!(error = %e, "reloading feature flags failed; keeping the last copy"),
        }
    }

    /// Reloads now, every 30 s, and whenever the bus says `OpsChanged`.
    pub fn spawn_follow(&self, db: Db, bus: &crate::bus::Bus) -> tokio::task::JoinHandle<()> {
        let flags = self.clone();
        let mut rx = bus.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    event = rx.recv() => match event {
                        Ok(crate::bus::Invalidation::OpsChanged | crate::bus::Invalidation::Everything)
                        | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Ok(_) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                }
                flags.reload(&db).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(mode: &str, percent: i32, killed: bool) -> feature_flags::Model {
        feature_flags::Model {
            name: "f".into(),
            description: String::new(),
            mode: mode.into(),
            shops: r#"["demo"]"#.into(),
            percent,
            killed,
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn percent_rollout_is_stable_grows_monotonically_and_the_kill_switch_wins() {
        let shops: Vec<String> = (0..2000).map(|i| format!("tenant-{i}")).collect();
        let on = |f: &feature_flags::Model| shops.iter().filter(|t| decides(f, t, "x")).cloned().collect::<Vec<_>>();
        let ten = on(&flag("percent", 10, false));
        let twenty = on(&flag("percent", 20, false));
        assert!((150..250).contains(&ten.len()), "{}", ten.len());
        assert!(ten.iter().all(|t| twenty.contains(t)), "raising the percentage keeps the shops already on");
        assert!(on(&flag("percent", 10, true)).is_empty());
        assert!(on(&flag("all", 0, true)).is_empty());
        assert_eq!(on(&flag("all", 0, false)).len(), 2000);
        assert!(decides(&flag("listed", 0, false), "t", "demo") && !decides(&flag("listed", 0, false), "t", "other"));
        assert!(!decides(&flag("off", 100, false), "t", "demo"));
    }
}
