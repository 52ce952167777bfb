//! State shared by every platform request.

use std::sync::Arc;

use ipnet::IpNet;
use kapu_core::bus::Bus;
use kapu_core::crypto::{MasterKey, Purpose};
use kapu_core::{Config, Db};

use crate::auth::session_store::SessionStore;
use crate::auth::throttle::LoginThrottle;

/// Cheap to clone; everything inside is shared.
#[derive(Clone)]
pub struct PlatformState(Arc<Inner>);

pub struct Inner {
    pub cfg: Config,
    pub db: Db,
    pub master: MasterKey,
    pub bus: Bus,
    pub csrf_key: [u8; 32],
    pub challenge_key: [u8; 32],
    pub throttle: LoginThrottle,
    pub sessions: SessionStore,
    pub trusted_proxies: Vec<IpNet>,
    /// `KAPU_PLATFORM_DOMAIN`, normalized.
    pub platform_host: String,
    /// `KAPU_SHOP_DOMAIN`, normalized: shops live at `{slug}.{shop_host}`.
    pub shop_host: String,
    pub demo_url: String,
    /// Payment channel health, shared with the storefront runtime that records it.
    pub health: Arc<kapu_billing::health::ChannelHealth>,
    /// Provider client, for refunds made from the dashboard.
    pub providers: Arc<kapu_billing::providers::Providers>,
    /// Storefront traffic per shop, counted by the runtime.
    pub traffic: Arc<kapu_core::traffic::TenantTraffic>,
    /// Fleet-wide limits (the fleet's with Redis): merchant-API keys'
    /// requests per minute, dashboard actions that send or queue work
    /// (webhook redelivery, sign-ups, account emails).
    pub limits: kapu_core::fleet::limits::FleetLimits,
    /// Redis shared by every process, when configured.
    pub fleet: kapu_core::fleet::Fleet,
    /// Feature flags and the status board, shared with the runtime.
    pub flags: kapu_core::flags::Flags,
    pub board: kapu_core::status_board::StatusBoard,
    /// The public status page's view (this process's copy).
    pub status: crate::status::StatusCache,
}

/// What the platform shares with the storefront runtime of its process.
pub struct SharedWithRuntime {
    pub health: Arc<kapu_billing::health::ChannelHealth>,
    pub providers: Arc<kapu_billing::providers::Providers>,
    pub traffic: Arc<kapu_core::traffic::TenantTraffic>,
    pub fleet: kapu_core::fleet::Fleet,
    pub flags: kapu_core::flags::Flags,
    pub board: kapu_core::status_board::StatusBoard,
}

impl std::ops::Deref for PlatformState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl PlatformState {
    pub fn new(
        cfg: Config,
        db: Db,
        master: MasterKey,
        bus: Bus,
        sessions: SessionStore,
        shared: SharedWithRuntime,
    ) -> Result<Self, kapu_core::config::ConfigError> {
        let SharedWithRuntime { health, providers, traffic, fleet, flags, board } = shared;
        let trusted_proxies = cfg.trusted_proxy_nets()?;
        let demo_url = format!("{}://demo.{}:{}/", cfg.public_scheme, cfg.shop_domain, cfg.listen.port());
        Ok(Self(Arc::new(Inner {
            csrf_key: master.derive("platform", Purpose::DashboardCsrf),
            challenge_key: master.derive("platform", Purpose::LoginChallenge),
            throttle: LoginThrottle::new(kapu_core::fleet::limits::FleetLimits::new(fleet.clone())),
            sessions,
            platform_host: cfg.platform_host(),
            shop_host: cfg.shop_host(),
            trusted_proxies,
            demo_url,
            health,
            providers,
            traffic,
            limits: kapu_core::fleet::limits::FleetLimits::new(fleet.clone()),
            fleet,
            flags,
            board,
            status: Default::default(),
            cfg,
            db,
            master,
            bus,
        })))
    }

    /// Cookies get `Secure` when the platform is served over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.cfg.public_scheme == "https"
    }

    /// The public URL of a shop. `port` is the port the dashboard was reached
    /// on (from its Host header); shops share it.
    pub fn shop_url(&self, slug: &str, port: Option<u16>) -> String {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{}://{slug}.{}{port}/", self.cfg.public_scheme, self.shop_host)
    }

    /// `scheme://host[:port]` of the platform as the browser sees it.
    pub fn platform_origin(&self, port: Option<u16>) -> String {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{}://{}{port}", self.cfg.public_scheme, self.platform_host)
    }
}
