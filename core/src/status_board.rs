//! The status page's components and this process's copy of their states.
//!
//! The board is recomputed from the database (`store::status`) every 10 s
//! and on the bus's `OpsChanged` (an incident opened or updated); reading it
//! is a map lookup. The storefront asks it whether to tell buyers that
//! checkout or a payment channel is in trouble; the dashboard, whether to
//! show merchants a banner.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;

use crate::db::Db;
use crate::store::status::{ComponentState, checked_states, impact_state, recent_incidents};

/// One component of the status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    pub id: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
}

const fn c(id: &'static str, name_zh: &'static str, name_en: &'static str) -> Component {
    Component { id, name_zh, name_en }
}

/// Every component, in the page's order. Payment channel families are
/// `channel:{kind}`, aggregated over all shops.
pub const COMPONENTS: &[Component] = &[
    c("storefront", "店铺页面", "Storefronts"),
    c("checkout", "下单与发货", "Checkout and delivery"),
    c("channel:alipay", "支付宝", "Alipay"),
    c("channel:wechat", "微信支付", "WeChat Pay"),
    c("channel:stripe", "Stripe（银行卡）", "Stripe (cards)"),
    c("channel:epay", "易支付", "Epay gateways"),
    c("channel:epusdt", "USDT（epusdt）", "USDT (epusdt)"),
    c("email", "发货邮件", "Delivery email"),
    c("dashboard", "商户后台", "Merchant dashboard"),
    c("merchant_api", "商户 API", "Merchant API"),
];

pub fn component(id: &str) -> Option<&'static Component> {
    COMPONENTS.iter().find(|c| c.id == id)
}

/// The component of a payment channel kind, if it has one (not the sandbox).
pub fn channel_component(kind: &str) -> Option<&'static Component> {
    component(&format!("channel:{kind}"))
}

/// This process's copy of every component's state.
#[derive(Clone, Default)]
pub struct StatusBoard {
    states: Arc<RwLock<HashMap<&'static str, ComponentState>>>,
}

impl StatusBoard {
    /// Every component's state, as last refreshed.
    pub fn states(&self) -> HashMap<&'static str, ComponentState> {
        self.states.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn state(&self, id: &str) -> ComponentState {
        self.states.read().unwrap_or_else(|e| e.into_inner()).get(id).copied().unwrap_or(ComponentState::Unknown)
    }

    /// Components in trouble now (degraded, outage, maintenance).
    pub fn troubled(&self) -> Vec<(&'static Component, ComponentState)> {
        let states = self.states.read().unwrap_or_else(|e| e.into_inner());
        COMPONENTS.iter().filter_map(|c| states.get(c.id).filter(|s| s.is_trouble()).map(|s| (c, *s))).collect()
    }

    /// Computes every state again from checks and incidents.
    pub async fn refresh(&self, db: &Db) {
        match current_states(db).await {
            Ok(states) => *self.states.write().unwrap_or_else(|e| e.into_inner()) = states,
            Err(e) => tracing::debug!(error = %e, "refreshing the status board failed; keeping the last copy"),
        }
    }

    /// Refreshes now, every 10 s, and whenever the bus says `OpsChanged`.
    pub fn spawn_follow(&self, db: Db, bus: &crate::bus::Bus) -> tokio::task::JoinHandle<()> {
        let board = self.clone();
        let mut rx = bus.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    event = rx.recv() => match event {
                        Ok(crate::bus::Invalidation::OpsChanged) => {}
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                }
                board.refresh(&db).await;
            }
        })
    }
}

/// Every component's state as of now: its checks, raised by any active incident.
pub async fn current_states(db: &Db) -> Result<HashMap<&'static str, ComponentState>, sea_orm::DbErr> {
    let now = Utc::now();
    let incidents = recent_incidents(db.reader(), 30, 50).await?;
    let checked = checked_states(db.reader(), now).await?;
    let mut states = HashMap::new();
    for c in COMPONENTS {
        let mut state = checked.get(c.id).map_or(ComponentState::Unknown, |(s, _)| *s);
        for i in incidents.iter().filter(|i| i.is_active(now) && i.components.iter().any(|id| id == c.id)) {
            state = state.max(impact_state(&i.incident.impact));
        }
        states.insert(c.id, state);
    }
    Ok(states)
}
