//! One Kapu process: configuration, database, master key, the HTTP app
//! (platform host + every shop host) and the job worker.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kapu_core::bus::Bus;
use kapu_core::config::Role;
use kapu_core::config::normalize_host;
use kapu_core::crypto::MasterKey;
use kapu_core::db::Engine;
use kapu_core::fleet::Fleet;
use kapu_core::jobs::{ClaimedJob, Concurrency, JobHandler, OutsideKind, Worker};
use kapu_core::mail::Mailer;
use kapu_core::{Config, Db};
use kapu_platform::PlatformState;
use kapu_platform::auth::session_store::SessionStore;
use kapu_platform::jobs::PlatformJobs;
use kapu_runtime::RuntimeState;
use kapu_runtime::http::context::request_host;
use kapu_runtime::jobs::RuntimeJobs;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// A configured, migrated Kapu ready to serve.
pub struct App {
    pub cfg: Config,
    pub db: Db,
    pub state: RuntimeState,
    pub platform: PlatformState,
    pub bus: Bus,
    pub mailer: Mailer,
    /// Redis shared by every process (or none).
    pub fleet: Fleet,
    /// Set once shutdown began: `/readyz` answers 503 from then on.
    draining: Arc<std::sync::atomic::AtomicBool>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl App {
    /// Connects, loads or creates the master key, migrates, and (with `demo`) provisions the demo shop.
    pub async fn build(cfg: Config, demo: bool) -> anyhow::Result<Self> {
        install_crypto_provider();
        crate::metrics::handle();
        kapu_core::fleet::limits::set_ipv6_client_prefix(cfg.ipv6_client_prefix);
        let url = cfg.effective_database_url();
        if cfg.role != Role::All && !url.starts_with("postgres") {
            anyhow::bail!(
                "role {:?} needs PostgreSQL (KAPU_DATABASE_URL=postgres://…): a SQLite file belongs to one process, \
                 so the embedded default serves every plane and runs the jobs itself (role \"all\")",
                cfg.role.name()
            );
        }
        let acquire = Duration::from_millis(cfg.db_acquire_timeout_ms.max(1));
        let db = Db::connect_with(&url, cfg.db_max_connections, acquire).await?;
        let master = load_master_key(&cfg, db.engine())?;
        crate::migrate::run(&db).await.context("migrating the database")?;
        kapu_core::store::plans::ensure_builtin_plans(db.writer()).await.context("creating the built-in plans")?;
        if demo && kapu_platform::demo::ensure_demo_shop(&db, &master).await? {
            tracing::info!("demo shop created");
        }
        let mailer = match &cfg.smtp_url {
            Some(url) => Mailer::smtp(url.expose(), &cfg.mail_from)?,
            None => Mailer::outbox(cfg.outbox_dir(), &cfg.mail_from)?,
        };
        let redis = match &cfg.redis_url {
            Some(url) if !url.is_empty() => Some(redis::Client::open(url.as_str()).context("KAPU_REDIS_URL")?),
            _ => None,
        };
        let fleet = match &cfg.redis_url {
            Some(url) if !url.is_empty() => {
                Fleet::redis(url, &cfg.redis_prefix, Duration::from_millis(cfg.redis_timeout_ms.max(1)))
                    .context("KAPU_REDIS_URL")?
            }
            _ => Fleet::local(),
        };
        let health = kapu_runtime::state::channel_health(&cfg, &fleet);
        let providers = kapu_runtime::state::providers(&cfg)?;
        let traffic = Arc::new(kapu_core::traffic::TenantTraffic::default());
        let state = RuntimeState::new(
            cfg.clone(),
            fleet.clone(),
            db.clone(),
            master.clone(),
            health.clone(),
            providers.clone(),
            traffic.clone(),
        )?;
        let bus = Bus::new();
        // Connected lazily: a Redis that is down at start does not stop the process.
        let sessions = match &redis {
            Some(client) => SessionStore::Redis {
                conn: redis::aio::ConnectionManager::new_lazy_with_config(
                    client.clone(),
                    redis::aio::ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(Duration::from_secs(1)))
                        .set_response_timeout(Some(Duration::from_secs(1)))
                        .set_number_of_retries(1),
                )
                .context("KAPU_REDIS_URL for dashboard sessions")?,
                prefix: cfg.redis_prefix.clone(),
            },
            None => SessionStore::Database,
        };
        let shared = kapu_platform::state::SharedWithRuntime {
            health,
            providers,
            traffic,
            fleet: fleet.clone(),
            flags: state.flags.clone(),
            board: state.board.clone(),
        };
        let platform = PlatformState::new(cfg.clone(), db.clone(), master, bus.clone(), sessions, shared)?;
        Ok(Self { cfg, db, state, platform, bus, mailer, fleet, draining: Arc::default() })
    }

    /// The HTTP app of this process's role: health checks on every host,
    /// then the platform host's routes and every shop's storefront, each
    /// only where the role serves it. A host the role does not serve gets a
    /// plain 421 naming the role, never another plane's page.
    pub fn router(&self) -> Router {
        let role = self.cfg.role;
        let shops = role.serves_storefront().then(|| kapu_runtime::storefront_router(self.state.clone()));
        let platform = role.serves_platform().then(|| kapu_platform::platform_router(self.platform.clone()));
        let platform_host = self.cfg.platform_host();
        let health = self.health_state();
        let planes = crate::metrics::Planes { platform_host: platform_host.clone() };
        let mut checks = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .route("/internal/metrics", get(metrics));
        if role.serves_platform() {
            // Caddy asks the platform whether to get a certificate for a domain.
            checks = checks.route("/internal/tls/ask", get(tls_ask));
        }
        checks
            .with_state(health)
            .fallback(move |req: Request| {
                let host = request_host(req.headers(), req.uri()).map(|h| normalize_host(&h));
                let to_platform = host.as_deref() == Some(platform_host.as_str());
                let plane = if to_platform { platform.clone() } else { shops.clone() };
                async move {
                    match plane {
                        Some(plane) => plane.oneshot(req).await.into_response(),
                        None => not_served(role, to_platform),
                    }
                }
            })
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                // The path only: query strings can carry order tokens.
                let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                let path = loggable_path(req.uri().path());
                tracing::info_span!("request", method = %req.method(), path = %path, request_id = %id, tenant = tracing::field::Empty)
            }))
            .layer(axum::middleware::from_fn_with_state(planes, crate::metrics::track))
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
    }

    /// The router of `KAPU_METRICS_LISTEN`: `/metrics`, no token (bind it
    /// where only the scraper reaches).
    pub fn metrics_router(&self) -> Router {
        let h = self.health_state();
        Router::new().route(
            "/metrics",
            get(move || {
                let h = h.clone();
                async move { metrics_response(&h).await }
            }),
        )
    }

    /// Where the canary buys: `KAPU_CANARY_URL`, or this process's own
    /// listener when it serves both planes; none otherwise.
    fn canary_target(&self, listener: &TcpListener) -> Option<crate::canary::Target> {
        let base = match &self.cfg.canary_url {
            Some(url) if !url.is_empty() => url.trim_end_matches('/').to_string(),
            _ if self.cfg.role == Role::All => {
                let mut addr = listener.local_addr().ok()?;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{addr}")
            }
            _ => return None,
        };
        let email =
            self.cfg.mail_from.rsplit('<').next().unwrap_or(&self.cfg.mail_from).trim_end_matches('>').to_string();
        Some(crate::canary::Target {
            base,
            shop_host: self.cfg.shop_host(),
            platform_host: self.cfg.platform_host(),
            email,
        })
    }

    fn health_state(&self) -> HealthState {
        HealthState {
            db: self.db.clone(),
            fleet: self.fleet.clone(),
            channels: self.state.health.clone(),
            metrics_token: self.cfg.metrics_token.as_ref().map(|t| t.expose().to_string()).filter(|t| !t.is_empty()),
            platform_host: self.cfg.platform_host(),
            shop_host: self.cfg.shop_host(),
            draining: self.draining.clone(),
            database: self.state.database.clone(),
        }
    }

    /// The job worker for this app: runtime and platform jobs.
    pub fn worker(&self) -> Worker {
        let handler = Arc::new(AllJobs {
            runtime: RuntimeJobs { state: self.state.clone(), mailer: self.mailer.clone() },
            platform: PlatformJobs { state: self.platform.clone(), mailer: self.mailer.clone() },
        });
        let per_tenant = self.cfg.job_concurrency_per_shop;
        let core = Concurrency { total: self.cfg.job_concurrency, per_tenant };
        // Jobs that wait on the outside world (merchants' endpoints, payment
        // providers asked from the dashboard) share a lane of their own.
        let outside = OutsideKind {
            kinds: &[kapu_core::store::webhooks::DELIVER_WEBHOOK, kapu_core::jobs::kinds::CHECK_PAYMENT],
            concurrency: Concurrency { total: self.cfg.webhook_concurrency, per_tenant },
        };
        Worker::new(self.db.clone(), handler, Duration::from_millis(self.cfg.job_poll_ms)).lanes(core, vec![outside])
    }

    /// Serves on `listener` with the job worker until `shutdown` is cancelled;
    /// then turns `/readyz` to 503 `draining`, keeps serving for
    /// `shutdown_drain_ms` (a load balancer's time to notice), stops
    /// accepting, finishes in-flight requests and the jobs in hand.
    /// Jobs and periodic sweeps run only where the role says so (`all`,
    /// `worker`); the platform's in-memory upkeep wherever it serves.
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
        let role = self.cfg.role;
        tracing::info!(role = role.name(), "serving");
        let worker_stop = CancellationToken::new();
        let mut background = Vec::new();
        let mut finishing = Vec::new();
        if role.runs_jobs() {
            finishing.push(tokio::spawn(self.worker().run(worker_stop.clone())));
            finishing
                .push(kapu_runtime::payments::reconcile::spawn_reconciler(self.state.clone(), worker_stop.clone()));
            finishing.push(kapu_runtime::supplier::spawn_stock_poller(self.state.clone(), worker_stop.clone()));
            background.push(kapu_platform::subscriptions::sweep::spawn_billing_sweep(self.platform.clone()));
            background.push(kapu_platform::affiliates::spawn_commission_sweep(self.platform.clone()));
            background.push(spawn_statistics_keeper(self.db.clone()));
            if self.cfg.canary_interval_secs > 0 {
                let target = self.canary_target(&listener);
                let every = Duration::from_secs(self.cfg.canary_interval_secs);
                let channels = self.state.health.clone();
                background.push(crate::canary::spawn(
                    self.db.clone(),
                    self.platform.master.clone(),
                    channels,
                    target,
                    every,
                ));
            }
        }
        if role.serves_platform() || role.runs_jobs() {
            let upkeep = kapu_platform::Upkeep { memory: role.serves_platform(), sweeps: role.runs_jobs() };
            background.push(kapu_platform::spawn_housekeeping(self.platform.clone(), upkeep));
        }
        background.push(self.state.follow(&self.bus));
        background.push(self.state.flags.spawn_follow(self.db.clone(), &self.bus));
        background.push(self.state.board.spawn_follow(self.db.clone(), &self.bus));
        if role.serves_storefront() {
            background.push(self.state.database.spawn(self.db.clone(), Duration::from_secs(1)));
        }
        if let Some((outbound, inbound)) = kapu_core::fleet::bus_relay::spawn(&self.fleet, &self.bus) {
            background.extend([outbound, inbound]);
        }
        background.extend(kapu_core::traffic::spawn_flush(self.state.traffic.clone(), self.fleet.clone()));
        if let Some(addr) = self.cfg.metrics_listen {
            let listener = TcpListener::bind(addr).await.with_context(|| format!("KAPU_METRICS_LISTEN {addr}"))?;
            tracing::info!(%addr, "metrics on /metrics");
            let router = self.metrics_router();
            background.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::warn!(error = %e, "the metrics listener stopped");
                }
            }));
        }
        let deadlines = crate::http_server::Deadlines {
            header_read: Duration::from_millis(self.cfg.header_read_timeout_ms.max(1)),
            body_read: Duration::from_millis(self.cfg.body_read_timeout_ms.max(1)),
        };
        let stop_accepting = CancellationToken::new();
        {
            let (draining, stop, drain) =
                (self.draining.clone(), stop_accepting.clone(), Duration::from_millis(self.cfg.shutdown_drain_ms));
            tokio::spawn(async move {
                shutdown.cancelled().await;
                draining.store(true, std::sync::atomic::Ordering::SeqCst);
                tracing::info!(drain_ms = drain.as_millis() as u64, "draining: /readyz answers 503, still serving");
                tokio::time::sleep(drain).await;
                stop.cancel();
            });
        }
        crate::http_server::serve(listener, self.router(), deadlines, stop_accepting).await;
        worker_stop.cancel();
        for task in finishing {
            let _ = task.await;
        }
        for task in background {
            task.abort();
        }
        self.db.close().await;
        Ok(())
    }
}

/// A request path as logged: payment attempt ids (in Kapu's pay pages and
/// the providers' notification addresses) are left out, so logs hold no
/// handle on a buyer's payment.
fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["", "pay", kind, _id] => format!("/pay/{kind}/…").into(),
        ["", "api", "v1", "payments", _id, rest @ ..] => format!("/api/v1/payments/…/{}", rest.join("/")).into(),
        _ => path.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn payment_ids_stay_out_of_logged_paths() {
        assert_eq!(loggable_path("/pay/sandbox/0193abc"), "/pay/sandbox/…");
        assert_eq!(loggable_path("/pay/qr/0193abc"), "/pay/qr/…");
        assert_eq!(loggable_path("/api/v1/payments/0193abc/notify"), "/api/v1/payments/…/notify");
        assert_eq!(loggable_path("/orders/2026113000001"), "/orders/2026113000001");
        assert_eq!(loggable_path("/"), "/");
    }
}

/// The answer on a host this process's role does not serve.
fn not_served(role: Role, platform_host: bool) -> Response {
    let plane = if platform_host { "the platform (dashboard, merchant API)" } else { "shop storefronts" };
    let body = format!("421 Misdirected Request: this Kapu process (role {}) does not serve {plane}\n", role.name());
    (StatusCode::MISDIRECTED_REQUEST, body).into_response()
}

/// Every 10 s, analyzes the sale tables that changed a lot since their last
/// analysis (PostgreSQL; see `kapu_core::store::planner_statistics`).
fn spawn_statistics_keeper(db: Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if db.engine() != kapu_core::db::Engine::Postgres {
            return;
        }
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            if !kapu_core::store::sweep_leases::may_sweep(db.writer(), "planner_statistics", Duration::from_secs(30))
                .await
            {
                continue;
            }
            match kapu_core::store::planner_statistics::analyze_changed_sale_tables(db.writer()).await {
                Ok(tables) if !tables.is_empty() => tracing::debug!(?tables, "planner statistics refreshed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "refreshing planner statistics failed"),
            }
        }
    })
}

/// Sends each job to the plane that owns its kind.
struct AllJobs {
    runtime: RuntimeJobs,
    platform: PlatformJobs,
}

#[async_trait::async_trait]
impl JobHandler for AllJobs {
    async fn run(&self, job: &ClaimedJob) -> anyhow::Result<()> {
        if PlatformJobs::handles(&job.kind) { self.platform.run(job).await } else { self.runtime.run(job).await }
    }
}

#[derive(Clone)]
struct HealthState {
    db: Db,
    fleet: Fleet,
    channels: Arc<kapu_billing::health::ChannelHealth>,
    metrics_token: Option<String>,
    platform_host: String,
    shop_host: String,
    draining: Arc<std::sync::atomic::AtomicBool>,
    database: kapu_runtime::http::database_watch::DatabaseWatch,
}

#[derive(serde::Deserialize)]
struct AskQuery {
    #[serde(default)]
    domain: String,
}

/// Caddy's on-demand TLS `ask`: 200 only for names Kapu serves (the platform
/// host, an existing shop's `{slug}.{shop domain}`, a verified custom
/// domain), 404 otherwise, so nobody can make Kapu request certificates for
/// names it does not serve.
async fn tls_ask(State(h): State<HealthState>, axum::extract::Query(q): axum::extract::Query<AskQuery>) -> Response {
    let domain = normalize_host(&q.domain);
    if domain.is_empty() {
        return (StatusCode::BAD_REQUEST, "domain is required").into_response();
    }
    let known = {
        match kapu_core::tenant::classify_host(&domain, &h.platform_host, &h.shop_host) {
            kapu_core::tenant::HostKind::ShopSlug(slug) => kapu_core::tenant::find_tenant_by_slug(h.db.reader(), &slug)
                .await
                .map(|t| t.is_some_and(|t| t.status != kapu_core::tenant::TenantStatus::Closed)),
            kapu_core::tenant::HostKind::Custom(host) => {
                kapu_core::store::domains::is_verified_domain(h.db.reader(), &host).await
            }
            kapu_core::tenant::HostKind::Platform => Ok(true),
        }
    };
    match known {
        Ok(true) => (StatusCode::OK, "ok").into_response(),
        Ok(false) => (StatusCode::NOT_FOUND, "not a domain Kapu serves").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "tls ask: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response()
        }
    }
}

/// Every metric as Prometheus text (`kapu::metrics`), for a scraper
/// holding `KAPU_METRICS_TOKEN`.
async fn metrics(State(h): State<HealthState>, headers: axum::http::HeaderMap) -> Response {
    let Some(token) = h.metrics_token.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !kapu_core::crypto::constant_time_eq(given, token) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    metrics_response(&h).await
}

async fn metrics_response(h: &HealthState) -> Response {
    let text = crate::metrics::render(crate::metrics::Scrape {
        db: &h.db,
        channels: &h.channels,
        fleet: &h.fleet,
        database_up: h.database.is_up(),
    })
    .await;
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// 200 while the database answers; Redis being down shows as `degraded`
/// without taking the process out of rotation (it keeps selling).
async fn readyz(State(h): State<HealthState>) -> Response {
    if h.draining.load(std::sync::atomic::Ordering::SeqCst) {
        let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
        return (StatusCode::SERVICE_UNAVAILABLE, json, r#"{"status":"draining"}"#).into_response();
    }
    let r = kapu_core::readiness::check(&h.db, &h.fleet).await;
    let status = if r.ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(r)).into_response()
}

fn load_master_key(cfg: &Config, engine: Engine) -> anyhow::Result<MasterKey> {
    if let Some(k) = &cfg.master_key {
        return MasterKey::from_base64(k.expose()).context("KAPU_MASTER_KEY");
    }
    match engine {
        Engine::Postgres => anyhow::bail!(
            "KAPU_MASTER_KEY is required with PostgreSQL (every process must share it). \
             Generate one with: head -c 32 /dev/urandom | base64"
        ),
        Engine::Sqlite => {
            let path = cfg.data_dir.join("master.key");
            let (key, created) = MasterKey::load_or_create(&path)?;
            if created {
                tracing::warn!(path = %path.display(), "no KAPU_MASTER_KEY: generated one; back this file up, it decrypts every card key");
            }
            Ok(key)
        }
    }
}

/// Picks rustls's ring backend once per process, so that no crate choosing
/// another backend can make rustls panic at its first TLS connection.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
