//! Typed configuration, loaded once at start-up from `KAPU_*` environment
//! variables and, optionally, a TOML file named by `KAPU_CONFIG`.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// What one process does (`kapu serve --role`, `KAPU_ROLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything: the single-process default.
    #[default]
    All,
    /// Shop hosts: storefront pages and API, payment notifications, shops' Stripe webhooks.
    Storefront,
    /// The platform host: dashboard, merchant API, `/ops`, the platform's Stripe webhook, the TLS ask.
    Platform,
    /// No traffic but health checks and metrics: the job queue and every periodic sweep.
    Worker,
}

impl Role {
    pub fn serves_storefront(self) -> bool {
        matches!(self, Self::All | Self::Storefront)
    }
    pub fn serves_platform(self) -> bool {
        matches!(self, Self::All | Self::Platform)
    }
    /// Runs the job queue and the periodic sweeps.
    pub fn runs_jobs(self) -> bool {
        matches!(self, Self::All | Self::Worker)
    }
    /// The role named `name` (`all`, `storefront`, `platform`, `worker`).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::All, Self::Storefront, Self::Platform, Self::Worker].into_iter().find(|r| r.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Storefront => "storefront",
            Self::Platform => "platform",
            Self::Worker => "worker",
        }
    }
}

/// Everything Kapu reads from its environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Where the embedded default keeps its state (SQLite file, master key, outbox).
    pub data_dir: PathBuf,
    /// What this process does; every role but `all` needs PostgreSQL.
    pub role: Role,
    /// `sqlite://…` or `postgres://…`; defaults to a SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Host of the dashboard and platform APIs.
    pub platform_domain: String,
    /// Shops live at `{slug}.{shop_domain}`.
    pub shop_domain: String,
    /// `http` or `https`: the scheme of every absolute link Kapu builds.
    pub public_scheme: String,
    /// The port in every absolute link Kapu builds (emails, provider return
    /// addresses). Unset: none with `https` (a proxy on 443 in front), the
    /// listen port with `http` (a developer's machine). Never taken from a
    /// request's `Host`, which the client chooses.
    pub public_port: Option<u16>,
    /// Bits of an IPv6 address that name one client for rate limits (64: a
    /// subscriber's `/64` is one client, however many addresses it uses).
    pub ipv6_client_prefix: u8,
    /// Comma-separated CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: String,
    /// Base64 of 32 bytes; derives per-tenant encryption keys.
    pub master_key: Option<Secret<String>>,
    /// Optional Redis: with it, rate limits, spent challenges, channel
    /// breakers, traffic figures, dashboard sessions and cache invalidation
    /// are shared by every process (see `kapu_core::fleet`).
    pub redis_url: Option<String>,
    /// Deadline of one Redis call, in milliseconds; past it the process
    /// falls back to its own state for a second.
    pub redis_timeout_ms: u64,
    /// Start of every Redis key and channel (deployments sharing a Redis
    /// use different prefixes).
    pub redis_prefix: String,
    /// Seconds a shop's catalog, rendered pages and setup are cached. Every
    /// change drops them at once through the invalidation bus (with Redis,
    /// on every process; sales lower the cached stock in place); the
    /// lifetime only bounds what a process cut off from Redis can miss.
    pub catalog_cache_secs: u64,
    /// Seconds a host's shop (or "no shop here") is cached.
    pub host_cache_secs: u64,
    /// Milliseconds a client has to send a request's headers, counted from
    /// the connection's first byte or the end of its previous request; an
    /// idle or slow connection is closed after it.
    pub header_read_timeout_ms: u64,
    /// Milliseconds a client has to send a whole request body (a 16 MB key
    /// file on a slow line included); a body with nothing arriving for
    /// `header_read_timeout_ms` fails sooner.
    pub body_read_timeout_ms: u64,
    /// Milliseconds between SIGTERM and closing the listener: `/readyz`
    /// answers 503 `draining` at once while requests are still served, so a
    /// load balancer takes the process out of rotation before it stops
    /// accepting. Set it to the balancer's readiness interval (or a little
    /// more) behind one; 0 stops accepting at once.
    pub shutdown_drain_ms: u64,
    /// Days finished jobs are kept (see `store::retention`).
    pub retain_done_jobs_days: u32,
    /// Days payment checks, risk events, dead jobs, finished webhook
    /// deliveries and Stripe event ids are kept.
    pub retain_records_days: u32,
    /// Days finished key-import reports are kept.
    pub retain_key_imports_days: u32,
    /// `smtp://…` / `smtps://…`; when absent mail is written to `data_dir/outbox`.
    pub smtp_url: Option<Secret<String>>,
    /// Sender address of buyer emails.
    pub mail_from: String,
    /// Whom merchants contact to change plans when online subscriptions are
    /// off (`KAPU_SALES_CONTACT`: an email address or a URL; empty: the plan
    /// page says to ask the platform's operators).
    pub sales_contact: String,
    /// `json` for JSON logs; anything else gives human-readable logs.
    pub log_format: String,
    /// How long an unpaid order keeps its keys reserved, in seconds.
    pub order_ttl_secs: u64,
    /// Tries to buy a paid order's keys from an external supplier before the
    /// order needs the merchant (backing off 2, 4, 8… s: 8 tries span ~4 min).
    pub supplier_buy_attempts: u32,
    /// How often each external supplier's stock is polled, in seconds.
    pub supplier_poll_secs: u64,
    /// Unpaid orders one client IP (and one email) may hold per shop.
    pub max_unpaid_orders: u32,
    /// Storefront requests per second allowed per (shop, client IP), sustained.
    pub rate_limit_per_second: u32,
    /// Burst allowance on top of the sustained rate.
    pub rate_limit_burst: u32,
    /// How often the job worker polls for due jobs, in milliseconds.
    pub job_poll_ms: u64,
    /// Core jobs (expiry, emails) run at once by one process.
    pub job_concurrency: usize,
    /// Jobs of one shop run at once in each lane of one process.
    pub job_concurrency_per_shop: usize,
    /// Webhook deliveries in flight at once in one process (their own lane).
    pub webhook_concurrency: usize,
    /// Connections in the database pool (PostgreSQL; SQLite readers).
    pub db_max_connections: u32,
    /// Milliseconds a request waits for a PostgreSQL connection (and a new
    /// connection for its handshake) before it is answered 503
    /// `service_unavailable`: while the database is away requests fail
    /// within this instead of hanging. 5 s by default: at 1 s a burst of
    /// 200 concurrent orders, then their notifications five times over,
    /// already met 503s on a 2-core test machine.
    pub db_acquire_timeout_ms: u64,
    /// Upper bound of one call to a payment provider, in milliseconds.
    pub channel_timeout_ms: u64,
    /// Extra tries of a provider call after a transient failure, before failing over.
    pub channel_retries: u32,
    /// Wait before the first retry, in milliseconds; doubles each retry.
    pub channel_backoff_ms: u64,
    /// Consecutive transient failures that open a channel's circuit breaker.
    pub breaker_failures: u32,
    /// Seconds an open breaker waits before letting one trial call through.
    pub breaker_cooldown_secs: u64,
    /// A payment attempt still unpaid after this many seconds is asked about at its provider.
    pub reconcile_after_secs: u64,
    /// Seconds between two reconciliation checks of the same attempt (and between sweeps).
    pub reconcile_every_secs: u64,
    /// Alipay OpenAPI gateway override (tests point it at a local fake).
    pub alipay_gateway: Option<String>,
    /// WeChat Pay API v3 base URL override.
    pub wechatpay_base: Option<String>,
    /// Stripe API base URL override.
    pub stripe_api_base: Option<String>,
    /// Let merchant-chosen payment gateways (epay, epusdt) be loopback or
    /// private-network addresses. Off by default: a merchant must not make
    /// Kapu call into the network it runs in.
    pub allow_private_gateways: bool,
    /// Bearer token of `GET /internal/metrics` (Prometheus text); the route answers 404 without one.
    pub metrics_token: Option<Secret<String>>,
    /// A second address serving only `/metrics` (Prometheus text, no token),
    /// so the scraper never shares the public port: e.g. `127.0.0.1:9464`.
    pub metrics_listen: Option<SocketAddr>,
    /// Where the canary purchase reaches the storefront and the platform
    /// (`http://host:port`); unset, a process serving both uses its own
    /// listener, and a worker-only process runs no canary.
    pub canary_url: Option<String>,
    /// Seconds between canary purchases (0: none).
    pub canary_interval_secs: u64,
    /// The platform's own Stripe account (merchant subscriptions): secret API key.
    pub billing_stripe_secret_key: Option<Secret<String>>,
    /// Signing secret of the platform's Stripe webhook endpoint (`whsec_…`).
    pub billing_stripe_webhook_secret: Option<Secret<String>>,
    /// Days a shop keeps its paid plan after a failed subscription payment.
    pub dunning_grace_days: i64,
    /// Days a closed shop's data is kept before it is purged.
    pub closed_retention_days: i64,
    /// Seconds between two passes of the billing sweep (grace periods, purges).
    pub billing_sweep_secs: u64,
    /// Apply each plan's shop-wide storefront requests-per-second cap
    /// (benchmarks turn it off to measure the path, not the guard).
    pub shop_rate_limits: bool,
    /// Requests of one shop (browsing and checkout) that run at once; more
    /// wait in the shop's own queue. Unset: three quarters of
    /// `db_max_connections` (at least 2), so one shop never holds the whole
    /// pool; 0: no limit.
    pub shop_max_in_flight: Option<u32>,
    /// Milliseconds a request waits for its shop's turn before a 429.
    pub shop_queue_wait_ms: u64,
    /// Milliseconds a request over its shop's plan cap is held before its
    /// 429, so that a client sending one request after another slows down to
    /// that pace instead of taking the process's time (at most
    /// `MAX_HELD_REFUSALS` are held at once; beyond that refusals are
    /// immediate); 0 answers at once.
    pub refusal_delay_ms: u64,
    /// DNS server (`ip:port`) asked to verify custom domains; the system's resolvers when unset.
    pub dns_resolver: Option<String>,
    /// Seconds before each retry of a failed webhook delivery (comma-separated);
    /// the default spreads seven retries over about 27 hours.
    pub webhook_retry_secs: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./kapu-data"),
            role: Role::All,
            database_url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            platform_domain: "localhost".into(),
            shop_domain: "localhost".into(),
            public_scheme: "http".into(),
            public_port: None,
            ipv6_client_prefix: 64,
            trusted_proxies: String::new(),
            master_key: None,
            redis_url: None,
            redis_timeout_ms: 250,
            redis_prefix: "kapu:".into(),
            catalog_cache_secs: 30,
            host_cache_secs: 30,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 120_000,
            shutdown_drain_ms: 0,
            retain_done_jobs_days: 7,
            retain_records_days: 30,
            retain_key_imports_days: 90,
            smtp_url: None,
            mail_from: "Kapu <no-reply@kapu.localhost>".into(),
            sales_contact: String::new(),
            log_format: "text".into(),
            order_ttl_secs: 15 * 60,
            supplier_buy_attempts: 8,
            supplier_poll_secs: 60,
            max_unpaid_orders: 5,
            rate_limit_per_second: 50,
            rate_limit_burst: 200,
            job_poll_ms: 500,
            job_concurrency: 4,
            job_concurrency_per_shop: 2,
            webhook_concurrency: 8,
            db_max_connections: 16,
            db_acquire_timeout_ms: 5_000,
            channel_timeout_ms: 8_000,
            channel_retries: 2,
            channel_backoff_ms: 200,
            breaker_failures: 3,
            breaker_cooldown_secs: 30,
            reconcile_after_secs: 120,
            reconcile_every_secs: 60,
            alipay_gateway: None,
            wechatpay_base: None,
            stripe_api_base: None,
            allow_private_gateways: false,
            metrics_token: None,
            metrics_listen: None,
            canary_url: None,
            canary_interval_secs: 60,
            billing_stripe_secret_key: None,
            billing_stripe_webhook_secret: None,
            dunning_grace_days: 7,
            closed_retention_days: 90,
            billing_sweep_secs: 300,
            shop_rate_limits: true,
            shop_max_in_flight: None,
            shop_queue_wait_ms: 10_000,
            refusal_delay_ms: 500,
            dns_resolver: None,
            webhook_retry_secs: "5,300,1800,7200,18000,36000,36000".into(),
        }
    }
}

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// How many requests of one shop run at once (see `shop_max_in_flight`).
    pub fn shop_share(&self) -> usize {
        match self.shop_max_in_flight {
            Some(n) => n as usize,
            None => (self.db_max_connections as usize * 3 / 4).max(2),
        }
    }

    /// Defaults, then the TOML file named by `KAPU_CONFIG` (if any), then `KAPU_*` variables.
    pub fn load() -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Ok(path) = std::env::var("KAPU_CONFIG") {
            fig = fig.merge(Toml::file(path));
        }
        let cfg: Config = fig
            .merge(Env::prefixed("KAPU_").ignore(&["config", "test_database_url"]))
            .extract()
            .map_err(|e| ConfigError(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values that would otherwise fail later and less clearly.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(self.public_scheme.as_str(), "http" | "https") {
            return Err(ConfigError(format!("KAPU_PUBLIC_SCHEME must be http or https, not {:?}", self.public_scheme)));
        }
        self.trusted_proxy_nets()?;
        if self.order_ttl_secs == 0 {
            return Err(ConfigError("KAPU_ORDER_TTL_SECS must be at least 1".into()));
        }
        if self.rate_limit_per_second == 0 || self.rate_limit_burst == 0 {
            return Err(ConfigError("KAPU_RATE_LIMIT_PER_SECOND and KAPU_RATE_LIMIT_BURST must be at least 1".into()));
        }
        Ok(())
    }

    /// The database URL in force: the configured one or the embedded SQLite file.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!("sqlite://{}?mode=rwc", self.data_dir.join("kapu.db").display()),
        }
    }

    /// Parsed `trusted_proxies`.
    pub fn trusted_proxy_nets(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| ConfigError(format!("KAPU_TRUSTED_PROXIES: {s:?} is not a CIDR")))
            })
            .collect()
    }

    /// `scheme://host[:port]` for links to `host` (a normalized host without
    /// a port), from configuration only.
    pub fn public_origin(&self, host: &str) -> String {
        let https = self.public_scheme == "https";
        let port = match self.public_port {
            Some(p) => Some(p),
            None if !https => Some(self.listen.port()).filter(|p| *p != 0),
            None => None,
        };
        match port {
            Some(p) if !(p == 443 && https || p == 80 && !https) => format!("{}://{host}:{p}", self.public_scheme),
            _ => format!("{}://{host}", self.public_scheme),
        }
    }

    /// Where `.eml` files go when no SMTP server is configured.
    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }

    /// Normalized (lowercase, no trailing dot) platform domain.
    pub fn platform_host(&self) -> String {
        normalize_host(&self.platform_domain)
    }

    /// Normalized shop domain.
    pub fn shop_host(&self) -> String {
        normalize_host(&self.shop_domain)
    }
}

/// Lowercases a host and drops its port and any trailing dot.
pub fn normalize_host(raw: &str) -> String {
    let raw = raw.trim();
    let without_port = if let Some(rest) = raw.strip_prefix('[') {
        // [v6]:port
        rest.split(']').next().unwrap_or(rest)
    } else if raw.matches(':').count() == 1 {
        raw.split(':').next().unwrap_or(raw)
    } else {
        raw
    };
    without_port.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_take_their_port_from_configuration_only() {
        let mut cfg = Config { listen: "127.0.0.1:8080".parse().expect("addr"), ..Config::default() };
        assert_eq!(cfg.public_origin("demo.localhost"), "http://demo.localhost:8080");
        cfg.public_scheme = "https".into();
        assert_eq!(cfg.public_origin("shop.example"), "https://shop.example");
        cfg.public_port = Some(8443);
        assert_eq!(cfg.public_origin("shop.example"), "https://shop.example:8443");
        cfg.public_port = Some(443);
        assert_eq!(cfg.public_origin("shop.example"), "https://shop.example");
        cfg.public_scheme = "http".into();
        cfg.public_port = Some(80);
        assert_eq!(cfg.public_origin("shop.example"), "http://shop.example");
    }

    #[test]
    fn roles_are_named_alike_on_the_command_line_and_in_the_environment() {
        for role in [Role::All, Role::Storefront, Role::Platform, Role::Worker] {
            assert_eq!(Role::from_name(role.name()), Some(role));
            // KAPU_ROLE is read through serde: the same names.
            assert_eq!(serde_json::to_value(role).expect("json"), serde_json::json!(role.name()));
        }
        assert_eq!(Role::from_name("workers"), None);
    }

    #[test]
    fn hosts_are_normalized() {
        assert_eq!(normalize_host("Demo.LocalHost:8080"), "demo.localhost");
        assert_eq!(normalize_host("shop.example.com."), "shop.example.com");
        assert_eq!(normalize_host("[::1]:80"), "::1");
    }

    #[test]
    fn bad_scheme_is_refused() {
        let cfg = Config { public_scheme: "ftp".into(), ..Config::default() };
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn proxies_parse() {
        let cfg = Config { trusted_proxies: "10.0.0.0/8, 127.0.0.1".into(), ..Config::default() };
        assert_eq!(cfg.trusted_proxy_nets().expect("parse").len(), 2);
        let bad = Config { trusted_proxies: "nonsense".into(), ..Config::default() };
        assert!(bad.validate().is_err());
    }
}
