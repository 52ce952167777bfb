//! The invalidation bus: how one plane tells the others that a shop changed,
//! so that caches (tenant by host, catalog, rendered pages) drop what they
//! hold. In process by default; with Redis, `fleet::bus_relay` carries each
//! event to every other process of the deployment. Caches also expire on
//! their own, so an event lost with a Redis outage only delays a change.

use std::sync::{Arc, OnceLock};

use tokio::sync::{broadcast, mpsc};

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Invalidation {
    /// Settings, status, mode, domains or catalog of a shop.
    ShopChanged { tenant_id: String },
    /// Available keys of a shop (import, delete, sale).
    StockChanged { tenant_id: String },
    /// A host now serves a different shop, or none, or a shop newly (a shop
    /// created, a domain added or removed): caches that remembered "no shop
    /// here" must forget it.
    HostChanged { host: String },
    /// A checkout reserved `quantity` keys of a product: other processes
    /// lower their cached stock in place (no catalog reload per sale).
    KeysReserved { tenant_id: String, product_id: String, quantity: u64 },
    /// Feature flags or the status page's incidents changed: every process
    /// reloads its copy of both (`flags`, `status_board`).
    OpsChanged,
    /// This process may have missed events (its link to the other processes
    /// was down): every cache drops everything.
    Everything,
}

/// Cheap to clone; every clone publishes to the same subscribers.
#[derive(Debug, Clone)]
pub struct Bus {
    tx: broadcast::Sender<Invalidation>,
    /// Where events go to reach other processes (set by the Redis relay).
    outbound: Arc<OnceLock<mpsc::UnboundedSender<Invalidation>>>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self { tx, outbound: Arc::default() }
    }

    /// Publishes an event to this process and, with a relay, to the others;
    /// having no subscriber is fine.
    pub fn publish(&self, event: Invalidation) {
        if let Some(out) = self.outbound.get() {
            let _ = out.send(event.clone());
        }
        let _ = self.tx.send(event);
    }

    /// Sends an event to the other processes only (this one has applied it
    /// already); nothing happens without a relay.
    pub fn tell_others(&self, event: Invalidation) {
        if let Some(out) = self.outbound.get() {
            let _ = out.send(event);
        }
    }

    /// Delivers an event that came from another process, here only.
    pub fn deliver_from_elsewhere(&self, event: Invalidation) {
        let _ = self.tx.send(event);
    }

    /// Sends every event published from now on to `out` as well (once; a
    /// second relay is ignored). Returns whether it was attached.
    pub fn relay_to(&self, out: mpsc::UnboundedSender<Invalidation>) -> bool {
        self.outbound.set(out).is_ok()
    }

    pub fn shop_changed(&self, tenant_id: &str) {
        self.publish(Invalidation::ShopChanged { tenant_id: tenant_id.to_string() });
    }

    pub fn stock_changed(&self, tenant_id: &str) {
        self.publish(Invalidation::StockChanged { tenant_id: tenant_id.to_string() });
    }

    pub fn host_changed(&self, host: &str) {
        self.publish(Invalidation::HostChanged { host: host.to_string() });
    }

    pub fn ops_changed(&self) {
        self.publish(Invalidation::OpsChanged);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Invalidation> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_see_events_published_after_they_subscribed() {
        let bus = Bus::new();
        bus.shop_changed("early");
        let mut rx = bus.subscribe();
        bus.clone().stock_changed("t1");
        assert_eq!(rx.recv().await.ok(), Some(Invalidation::StockChanged { tenant_id: "t1".into() }));
    }
}
