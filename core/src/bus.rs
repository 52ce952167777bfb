//! The invalidation bus: how one plane tells the others that a shop changed,
//! so that caches (tenant by host, catalog, rendered pages) drop what they
//! hold. In-process by default; every process of a deployment shares one
//! database, and until the Redis relay lands each process's caches also
//! expire on their own (seconds), so a missed event only delays a change.

use tokio::sync::broadcast;

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// Settings, status, mode, domains or catalog of a shop.
    ShopChanged { tenant_id: String },
    /// Available keys of a shop (import, delete, sale).
    StockChanged { tenant_id: String },
    /// A host now serves a different shop, or none, or a shop newly (a shop
    /// created, a domain added or removed): caches that remembered "no shop
    /// here" must forget it.
    HostChanged { host: String },
}

/// Cheap to clone; every clone publishes to the same subscribers.
#[derive(Debug, Clone)]
pub struct Bus {
    tx: broadcast::Sender<Invalidation>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self { tx }
    }

    /// Publishes an event; having no subscriber is fine.
    pub fn publish(&self, event: Invalidation) {
        let _ = self.tx.send(event);
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
