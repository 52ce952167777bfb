//! State shared by every storefront request.

use std::sync::Arc;

use ipnet::IpNet;
use kapu_core::bus::{Bus, Invalidation};
use kapu_core::crypto::MasterKey;
use kapu_core::fleet::Fleet;
use kapu_core::fleet::limits::FleetLimits;
use kapu_core::{Config, Db};
use tokio::sync::broadcast;

use kapu_billing::health::{BreakerPolicy, ChannelHealth};
use kapu_billing::providers::Providers;
use kapu_billing::router::RetryPolicy;

use crate::catalog::CatalogCache;
use crate::http::host::TenantCache;
use crate::http::lookup_limits::LookupLimits;

/// Cheap to clone; everything inside is shared.
#[derive(Clone)]
pub struct RuntimeState(Arc<Inner>);

pub struct Inner {
    pub cfg: Config,
    /// Redis shared by every process, when configured.
    pub fleet: Fleet,
    /// The invalidation bus, once `follow` has attached this state to it.
    bus: std::sync::OnceLock<Bus>,
    pub db: Db,
    pub master: MasterKey,
    pub tenants: TenantCache,
    pub catalog: CatalogCache,
    pub lookup_limits: LookupLimits,
    pub spent_challenges: crate::checkout::challenge::SpentChallenges,
    pub trusted_proxies: Vec<IpNet>,
    pub platform_host: String,
    pub shop_host: String,
    /// HTTP client and addresses for every payment provider call.
    pub providers: Arc<Providers>,
    /// Channel health and circuit breakers, shared with the dashboard.
    pub health: Arc<ChannelHealth>,
    pub retry: RetryPolicy,
    /// Requests and rate-limited requests per shop, shared with the operator console.
    pub traffic: Arc<kapu_core::traffic::TenantTraffic>,
    /// The per-client limit and the plan's shop-wide requests-per-second cap.
    pub shop_limits: crate::http::shop_limit::ShopLimits,
    /// Each shop's share of the process (requests of one shop at once).
    pub shop_share: crate::http::shop_share::ShopShare,
    /// Holds refusals of requests over a shop's plan cap before they are sent.
    pub refusal_hold: crate::http::shop_limit::RefusalHold,
    /// Whether the database answers (checked every second while serving).
    pub database: crate::http::database_watch::DatabaseWatch,
    /// Feature flags (this process's copy; `kapu_core::flags`).
    pub flags: kapu_core::flags::Flags,
    /// The status page's component states (this process's copy).
    pub board: kapu_core::status_board::StatusBoard,
}

impl std::ops::Deref for RuntimeState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl RuntimeState {
    /// Call after this process changed a shop's stock (an expiry, a late
    /// payment): cached catalogs and pages are dropped here at once and,
    /// through the bus, on every other process.
    pub async fn stock_changed(&self, tenant_id: &str) {
        self.catalog.invalidate(tenant_id).await;
        if let Some(bus) = self.bus.get() {
            bus.tell_others(Invalidation::StockChanged { tenant_id: tenant_id.to_string() });
        }
    }

    /// Call after a checkout of this process reserved keys: the cached stock
    /// drops in place here and on every other process.
    pub async fn keys_reserved(&self, tenant_id: &str, product_id: &str, quantity: u64) {
        self.catalog.keys_reserved(tenant_id, product_id, quantity).await;
        if let Some(bus) = self.bus.get() {
            bus.tell_others(Invalidation::KeysReserved {
                tenant_id: tenant_id.to_string(),
                product_id: product_id.to_string(),
                quantity,
            });
        }
    }

    /// Call after a shop's settings, status or mode changed.
    pub async fn shop_changed(&self, tenant_id: &str) {
        self.tenants.invalidate_tenant(tenant_id);
        self.catalog.invalidate(tenant_id).await;
        self.catalog.invalidate_setup(tenant_id).await;
    }

    /// Applies invalidations published by other planes of this process
    /// (the dashboard importing keys, editing a product, creating a shop)
    /// until the bus closes.
    pub fn follow(&self, bus: &Bus) -> tokio::task::JoinHandle<()> {
        let _ = self.bus.set(bus.clone());
        let mut rx = bus.subscribe();
        let state = self.clone();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(Invalidation::ShopChanged { tenant_id }) => state.shop_changed(&tenant_id).await,
                    Ok(Invalidation::StockChanged { tenant_id }) => state.catalog.invalidate(&tenant_id).await,
                    Ok(Invalidation::KeysReserved { tenant_id, product_id, quantity }) => {
                        state.catalog.keys_reserved(&tenant_id, &product_id, quantity).await
                    }
                    Ok(Invalidation::HostChanged { host }) => state.tenants.invalidate_host(&host).await,
                    Ok(Invalidation::Everything) => state.forget_all().await,
                    // Flags and the status board follow the bus themselves.
                    Ok(Invalidation::OpsChanged) => {}
                    // Missed events: forget everything rather than serve stale data.
                    Err(broadcast::error::RecvError::Lagged(_)) => state.forget_all().await,
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        })
    }

    async fn forget_all(&self) {
        self.tenants.invalidate_all();
        self.catalog.invalidate_all().await;
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: Config,
        fleet: Fleet,
        db: Db,
        master: MasterKey,
        health: Arc<ChannelHealth>,
        providers: Arc<Providers>,
        traffic: Arc<kapu_core::traffic::TenantTraffic>,
    ) -> Result<Self, kapu_core::config::ConfigError> {
        let trusted_proxies = cfg.trusted_proxy_nets()?;
        let retry = RetryPolicy {
            timeout: std::time::Duration::from_millis(cfg.channel_timeout_ms.max(1)),
            retries: cfg.channel_retries,
            backoff: std::time::Duration::from_millis(cfg.channel_backoff_ms),
        };
        Ok(Self(Arc::new(Inner {
            platform_host: cfg.platform_host(),
            shop_host: cfg.shop_host(),
            tenants: TenantCache::new(std::time::Duration::from_secs(cfg.host_cache_secs)),
            catalog: CatalogCache::new(std::time::Duration::from_secs(cfg.catalog_cache_secs)),
            lookup_limits: LookupLimits::new(FleetLimits::new(fleet.clone()), 10, 5),
            spent_challenges: Default::default(),
            trusted_proxies,
            providers,
            health,
            retry,
            traffic,
            shop_limits: crate::http::shop_limit::ShopLimits::new(
                FleetLimits::new(fleet.clone()),
                cfg.rate_limit_per_second,
                cfg.rate_limit_burst,
            ),
            shop_share: crate::http::shop_share::ShopShare::new(
                cfg.shop_share(),
                std::time::Duration::from_millis(cfg.shop_queue_wait_ms),
            ),
            refusal_hold: crate::http::shop_limit::RefusalHold::new(std::time::Duration::from_millis(
                cfg.refusal_delay_ms,
            )),
            database: Default::default(),
            flags: Default::default(),
            board: Default::default(),
            cfg,
            fleet,
            bus: std::sync::OnceLock::new(),
            db,
            master,
        })))
    }
}

/// The health registry a configuration asks for (the fleet's with Redis).
pub fn channel_health(cfg: &Config, fleet: &Fleet) -> Arc<ChannelHealth> {
    let policy = BreakerPolicy {
        failure_threshold: cfg.breaker_failures,
        cool_down: std::time::Duration::from_secs(cfg.breaker_cooldown_secs),
    };
    Arc::new(ChannelHealth::shared(policy, fleet.clone()))
}

/// The provider client a configuration asks for.
pub fn providers(cfg: &Config) -> Result<Arc<Providers>, kapu_core::config::ConfigError> {
    Providers::new(
        std::time::Duration::from_millis(cfg.channel_timeout_ms.max(1)),
        cfg.alipay_gateway.clone(),
        cfg.wechatpay_base.clone(),
        cfg.stripe_api_base.clone(),
        cfg.allow_private_gateways,
    )
    .map(Arc::new)
    .map_err(kapu_core::config::ConfigError)
}
