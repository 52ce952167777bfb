//! Test harness: every test gets its own database (a SQLite file, or a
//! PostgreSQL database when `KAPU_TEST_DATABASE_URL` names a server, cloned
//! from a template migrated once per run: see `database`), its own data
//! directory, and a real Kapu server on 127.0.0.1 port 0. Nothing is shared
//! between tests, so they run in parallel.

pub mod chromium;
pub mod database;
pub mod fakes;
pub mod merchant;
pub mod operator;
pub mod process;
pub mod processes;
pub mod smtp_sink;
pub mod tcp_proxy;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use database::{Seed, TestDatabase, cloned_database, fresh_database};
use kapu::App;
use kapu_core::crypto::{MasterKey, TenantKeys};
use kapu_core::entities::{card_keys, orders, payments, tenants};
use kapu_core::ids::new_id;
use kapu_core::store::card_keys::import_keys_for_tenant;
use kapu_core::{Config, Db};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Knobs a test may turn.
#[derive(Clone)]
pub struct Options {
    pub order_ttl_secs: u64,
    pub max_unpaid_orders: u32,
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    pub demo: bool,
    pub trusted_proxies: String,
    /// Provider calls: timeout, extra tries, first backoff.
    pub channel_timeout_ms: u64,
    pub channel_retries: u32,
    pub breaker_failures: u32,
    pub breaker_cooldown_secs: u64,
    /// Reconciliation asks after this many seconds, and again every this many.
    pub reconcile_secs: u64,
    /// Where Alipay and WeChat Pay calls go (local fakes).
    pub alipay_gateway: Option<String>,
    pub wechatpay_base: Option<String>,
    /// Where Stripe calls go (a local fake).
    pub stripe_api_base: Option<String>,
    /// Whether merchant gateways may be loopback addresses (the fakes are).
    pub allow_private_gateways: bool,
    /// Bearer token of `/internal/metrics`.
    pub metrics_token: Option<String>,
    /// The platform's own Stripe account (merchant subscriptions): secret key and webhook secret.
    pub billing_stripe: Option<(String, String)>,
    pub dunning_grace_days: i64,
    pub closed_retention_days: i64,
    /// Apply the plans' storefront requests-per-second caps (tests place many
    /// orders quickly, so they are off unless a test is about them).
    pub plan_rps_caps: bool,
    /// DNS server (`ip:port`) that verifies custom domains (a local fake).
    pub dns_resolver: Option<String>,
    /// Tries to buy an order's keys from an external supplier.
    pub supplier_buy_attempts: u32,
    /// Seconds before each webhook retry.
    pub webhook_retry_secs: String,
    /// Each shop's share of the process: requests at once and how many
    /// milliseconds more wait for a turn (`None`: the configuration's defaults).
    pub shop_share: Option<(u32, u64)>,
    /// What the process serves (`all` unless a fleet test says otherwise).
    pub role: kapu_core::config::Role,
    /// Redis to use instead of `KAPU_REDIS_URL` (a test's private server).
    pub redis_url: Option<String>,
    /// Seconds a shop's catalog is cached (`None`: the default).
    pub catalog_cache_secs: Option<u64>,
    /// Milliseconds a client has to send a request's headers (`None`: the default).
    pub header_read_timeout_ms: Option<u64>,
    /// Send mail over SMTP to this URL instead of the outbox files.
    pub smtp_url: Option<String>,
    /// Seconds between canary purchases (0, no canary, unless a test is about it).
    pub canary_secs: u64,
    /// `KAPU_METRICS_LISTEN`.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            order_ttl_secs: 900,
            max_unpaid_orders: 1000,
            rate_limit_per_second: 10_000,
            rate_limit_burst: 10_000,
            demo: true,
            trusted_proxies: String::new(),
            channel_timeout_ms: 1_500,
            channel_retries: 1,
            breaker_failures: 3,
            breaker_cooldown_secs: 2,
            reconcile_secs: 1,
            alipay_gateway: None,
            wechatpay_base: None,
            stripe_api_base: None,
            allow_private_gateways: true,
            metrics_token: None,
            billing_stripe: None,
            dunning_grace_days: 7,
            closed_retention_days: 90,
            plan_rps_caps: false,
            supplier_buy_attempts: 8,
            dns_resolver: None,
            webhook_retry_secs: "1,1".into(),
            shop_share: None,
            role: kapu_core::config::Role::All,
            redis_url: None,
            catalog_cache_secs: None,
            header_read_timeout_ms: None,
            smtp_url: None,
            canary_secs: 0,
            metrics_listen: None,
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db: Db,
    pub master: MasterKey,
    pub data_dir: tempfile::TempDir,
    pub state: kapu_runtime::RuntimeState,
    pub platform: kapu_platform::PlatformState,
    /// What other processes of this test's fleet connect to.
    pub database_url: String,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    /// Declared last: the database is dropped after the server has stopped.
    _database: TestDatabase,
}

/// Resolves every name to loopback, so `demo.localhost:PORT` reaches the test server.
pub struct Loopback;

impl reqwest::dns::Resolve for Loopback {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async {
            let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(SocketAddr::from(([127, 0, 0, 1], 0))));
            Ok(addrs)
        })
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(opts: Options) -> Self {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let seed = if opts.demo { Seed::Demo } else { Seed::Schema };
        let database = cloned_database(data_dir.path(), seed).await;
        let master = database::test_master_key();
        let redis_url =
            opts.redis_url.clone().or_else(|| std::env::var("KAPU_REDIS_URL").ok()).filter(|u| !u.is_empty());
        let redis_prefix = format!("kapu-test:{}:", new_id());
        // Bound first: links in emails carry the port buyers reach us on.
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let cfg = Config {
            data_dir: data_dir.path().to_path_buf(),
            database_url: Some(database.url.clone()),
            listen: addr,
            master_key: Some(kapu_core::secret::Secret::new(master.to_base64())),
            redis_url: redis_url.clone(),
            // Tests share one Redis: each keeps its limits, breakers and bus to itself.
            redis_prefix: redis_prefix.clone(),
            redis_timeout_ms: 2_000,
            role: opts.role,
            catalog_cache_secs: opts.catalog_cache_secs.unwrap_or(Config::default().catalog_cache_secs),
            header_read_timeout_ms: opts.header_read_timeout_ms.unwrap_or(Config::default().header_read_timeout_ms),
            smtp_url: opts.smtp_url.clone().map(kapu_core::secret::Secret::new),
            order_ttl_secs: opts.order_ttl_secs,
            supplier_buy_attempts: opts.supplier_buy_attempts,
            max_unpaid_orders: opts.max_unpaid_orders,
            rate_limit_per_second: opts.rate_limit_per_second,
            rate_limit_burst: opts.rate_limit_burst,
            job_poll_ms: 50,
            trusted_proxies: opts.trusted_proxies.clone(),
            db_max_connections: 10,
            channel_timeout_ms: opts.channel_timeout_ms,
            channel_retries: opts.channel_retries,
            channel_backoff_ms: 20,
            breaker_failures: opts.breaker_failures,
            breaker_cooldown_secs: opts.breaker_cooldown_secs,
            reconcile_after_secs: opts.reconcile_secs,
            reconcile_every_secs: opts.reconcile_secs,
            alipay_gateway: opts.alipay_gateway.clone(),
            wechatpay_base: opts.wechatpay_base.clone(),
            stripe_api_base: opts.stripe_api_base.clone(),
            // The fake gateways listen on loopback.
            allow_private_gateways: opts.allow_private_gateways,
            metrics_token: opts.metrics_token.clone().map(kapu_core::secret::Secret::new),
            billing_stripe_secret_key: opts
                .billing_stripe
                .as_ref()
                .map(|b| kapu_core::secret::Secret::new(b.0.clone())),
            billing_stripe_webhook_secret: opts
                .billing_stripe
                .as_ref()
                .map(|b| kapu_core::secret::Secret::new(b.1.clone())),
            dunning_grace_days: opts.dunning_grace_days,
            closed_retention_days: opts.closed_retention_days,
            // Tests run the sweep themselves (`sweep_once`).
            billing_sweep_secs: 3_600,
            shop_rate_limits: opts.plan_rps_caps,
            dns_resolver: opts.dns_resolver.clone(),
            webhook_retry_secs: opts.webhook_retry_secs.clone(),
            shop_max_in_flight: opts.shop_share.map(|s| s.0),
            shop_queue_wait_ms: opts.shop_share.map_or(Config::default().shop_queue_wait_ms, |s| s.1),
            canary_interval_secs: opts.canary_secs,
            metrics_listen: opts.metrics_listen,
            ..Config::default()
        };
        let app = App::build(cfg.clone(), opts.demo).await.expect("app builds");
        let db = app.db.clone();
        let state = app.state.clone();
        let platform = app.platform.clone();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let server = tokio::spawn(async move { app.serve(listener, stop).await.expect("serve") });
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(Loopback))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let database_url = database.url.clone();
        Self {
            addr,
            client,
            db,
            master,
            data_dir,
            state,
            platform,
            database_url,
            redis_url,
            redis_prefix,
            shutdown,
            server,
            _database: database,
        }
    }

    /// `http://{slug}.localhost:{port}{path}`.
    pub fn shop_url(&self, slug: &str, path: &str) -> String {
        format!("http://{slug}.localhost:{}{path}", self.addr.port())
    }

    /// `http://localhost:{port}{path}`: the platform host (dashboard).
    pub fn platform_url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.addr.port())
    }

    pub fn url(&self, path: &str) -> String {
        self.shop_url("demo", path)
    }

    pub fn outbox(&self) -> PathBuf {
        self.data_dir.path().join("outbox")
    }

    pub async fn tenant_count(&self) -> u64 {
        tenants::Entity::find().count(self.db.reader()).await.expect("count")
    }

    pub async fn account_count(&self) -> u64 {
        kapu_core::entities::accounts::Entity::find().count(self.db.reader()).await.expect("count")
    }

    /// The dashboard language an account chose, if any.
    pub async fn account_lang(&self, email: &str) -> Option<String> {
        use kapu_core::entities::accounts;
        accounts::Entity::find()
            .filter(accounts::Column::Email.eq(email))
            .one(self.db.reader())
            .await
            .expect("account")
            .expect("account exists")
            .lang
    }

    pub async fn tenant_id(&self, slug: &str) -> String {
        tenants::Entity::find()
            .filter(tenants::Column::Slug.eq(slug))
            .one(self.db.reader())
            .await
            .expect("query")
            .expect("tenant exists")
            .id
    }

    pub async fn keys_of(&self, slug: &str) -> TenantKeys {
        self.master.tenant(&self.tenant_id(slug).await)
    }

    /// Creates a shop (through the platform's provisioning) with one product
    /// holding `keys` keys; returns (tenant id, product id).
    /// Moves a shop to a plan (as an operator would).
    pub async fn set_plan(&self, slug: &str, plan_id: &str) {
        self.set_tenant(slug, tenants::Column::PlanId, plan_id).await;
    }

    /// Sets one column of a plan (`None`: unlimited).
    pub async fn set_plan_limit(&self, plan_id: &str, column: kapu_core::entities::plans::Column, value: Option<i32>) {
        use kapu_core::entities::plans;
        plans::Entity::update_many()
            .col_expr(column, sea_orm::sea_query::Expr::value(value))
            .filter(plans::Column::Id.eq(plan_id))
            .exec(self.db.writer())
            .await
            .expect("set plan limit");
        let ids: Vec<String> = tenants::Entity::find()
            .filter(tenants::Column::PlanId.eq(plan_id))
            .all(self.db.reader())
            .await
            .expect("tenants")
            .into_iter()
            .map(|t| t.id)
            .collect();
        for id in ids {
            self.platform.bus.shop_changed(&id);
        }
    }

    /// Audit entries of a shop (or all with `None`), oldest first.
    pub async fn audit_of(&self, tenant_id: Option<&str>) -> Vec<kapu_core::entities::audit_log::Model> {
        use kapu_core::store::audit::{AuditQuery, list_audit};
        let q = AuditQuery { tenant_id: tenant_id.map(str::to_string), limit: 500, ..Default::default() };
        let mut v = list_audit(self.db.reader(), &q).await.expect("audit");
        v.reverse();
        v
    }

    pub async fn create_shop(&self, slug: &str, mode: &str, keys: usize) -> (String, String) {
        use kapu_platform::provision::{NewShop, create_tenant, enable_channel};
        let name = format!("Shop {slug}");
        let shop = NewShop { slug, name: &name, announcement: "", default_locale: "zh-CN", currency: "CNY" };
        let tenant_id = create_tenant(self.db.writer(), &shop).await.expect("tenant");
        enable_channel(self.db.writer(), &tenant_id, "sandbox", 0).await.expect("channel");
        if mode == "test" {
            self.open_to_everyone(slug).await;
        } else {
            self.set_tenant(slug, tenants::Column::Mode, mode).await;
        }
        let product_id = self.add_product(&tenant_id, "Test product", 1000, keys).await;
        (tenant_id, product_id)
    }

    pub async fn add_product(&self, tenant_id: &str, name: &str, price_minor: i64, keys: usize) -> String {
        use kapu_platform::provision::{NewProduct, add_product};
        let product_id = new_id();
        let product = NewProduct {
            id: &product_id,
            category_id: None,
            name,
            description: "",
            price_minor,
            currency: "CNY",
            wholesale_tiers: None,
            min_qty: 1,
            max_qty: 10,
            sort_order: 0,
        };
        add_product(self.db.writer(), tenant_id, &product).await.expect("product");
        let tk = self.master.tenant(tenant_id);
        let lines: Vec<String> = (0..keys).map(|i| format!("KEY-{}-{i:05}", &product_id[20..])).collect();
        let txn = self.db.begin().await.expect("txn");
        import_keys_for_tenant(&txn, &tk, tenant_id, &product_id, lines.iter().map(String::as_str))
            .await
            .expect("import");
        txn.commit().await.expect("commit");
        // What the dashboard does after adding a product and its keys.
        self.state.stock_changed(tenant_id).await;
        product_id
    }

    /// Opens a test-mode shop to everyone, as its merchant may choose on the
    /// settings page (without the audit entry), so tests buy without a preview link.
    pub async fn open_to_everyone(&self, slug: &str) {
        let tenant_id = self.tenant_id(slug).await;
        kapu_core::store::shop_settings::set_test_public_for_tenant(self.db.writer(), &tenant_id, true)
            .await
            .expect("open to everyone");
        self.state.shop_changed(&tenant_id).await;
    }

    pub async fn set_tenant(&self, slug: &str, column: tenants::Column, value: &str) {
        tenants::Entity::update_many()
            .col_expr(column, sea_orm::sea_query::Expr::value(value))
            .filter(tenants::Column::Slug.eq(slug))
            .exec(self.db.writer())
            .await
            .expect("update tenant");
        // What the control plane does after changing a shop.
        self.state.shop_changed(&self.tenant_id(slug).await).await;
    }

    /// POSTs an order; returns (status, body).
    pub async fn order(&self, slug: &str, body: Value) -> (u16, Value) {
        let r = self.client.post(self.shop_url(slug, "/api/v1/orders")).json(&body).send().await.expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_json(&self, url: &str) -> (u16, Value) {
        let r = self.client.get(url).send().await.expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn order_view(&self, slug: &str, order_no: &str, token: &str) -> (u16, Value) {
        self.get_json(&self.shop_url(slug, &format!("/api/v1/orders/{order_no}?token={token}"))).await
    }

    pub async fn stock(&self, slug: &str, product_id: &str) -> u64 {
        let (_, body) = self.get_json(&self.shop_url(slug, "/api/v1/products")).await;
        body["products"]
            .as_array()
            .expect("products")
            .iter()
            .find(|p| p["id"] == product_id)
            .map(|p| p["stock"].as_u64().expect("stock"))
            .expect("product listed")
    }

    /// The payment attempt id of an order.
    pub async fn payment_of(&self, tenant_id: &str, order_no: &str) -> payments::Model {
        let order = self.order_row(tenant_id, order_no).await;
        payments::Entity::find()
            .filter(payments::Column::TenantId.eq(tenant_id))
            .filter(payments::Column::OrderId.eq(order.id))
            .one(self.db.reader())
            .await
            .expect("query")
            .expect("payment exists")
    }

    /// Every payment attempt of an order, oldest first.
    pub async fn payments_of(&self, tenant_id: &str, order_no: &str) -> Vec<payments::Model> {
        use sea_orm::QueryOrder;
        let order = self.order_row(tenant_id, order_no).await;
        payments::Entity::find()
            .filter(payments::Column::TenantId.eq(tenant_id))
            .filter(payments::Column::OrderId.eq(order.id))
            .order_by_asc(payments::Column::CreatedAt)
            .order_by_asc(payments::Column::Id)
            .all(self.db.reader())
            .await
            .expect("query")
    }

    /// Saves a shop's channel as the dashboard does (credentials sealed).
    pub async fn configure_channel(
        &self,
        tenant_id: &str,
        kind: &str,
        priority: i32,
        enabled: bool,
        credentials: &str,
    ) {
        use kapu_core::store::channels::{ChannelSettings, save_channel_for_tenant};
        let keys = self.master.tenant(tenant_id);
        let settings =
            ChannelSettings { kind: kind.into(), enabled, priority, credentials_json: Some(credentials.into()) };
        save_channel_for_tenant(self.db.writer(), &keys, tenant_id, &settings).await.expect("save channel");
        // What the dashboard does after saving a channel.
        self.state.shop_changed(tenant_id).await;
    }

    pub async fn order_row(&self, tenant_id: &str, order_no: &str) -> orders::Model {
        orders::Entity::find()
            .filter(orders::Column::TenantId.eq(tenant_id))
            .filter(orders::Column::OrderNo.eq(order_no))
            .one(self.db.reader())
            .await
            .expect("query")
            .expect("order exists")
    }

    pub async fn count_keys(&self, tenant_id: &str, status: &str) -> u64 {
        card_keys::Entity::find()
            .filter(card_keys::Column::TenantId.eq(tenant_id))
            .filter(card_keys::Column::Status.eq(status))
            .count(self.db.reader())
            .await
            .expect("count")
    }

    /// Adds a shop-wide percent-off coupon, as the coupons page does.
    pub async fn add_percent_coupon(&self, slug: &str, code: &str, percent: i64) {
        let coupon = kapu_core::store::coupons::NewCoupon {
            code: code.into(),
            kind: "percent",
            value: percent,
            product_id: None,
            usage_limit: None,
            expires_at: None,
        };
        let tenant = self.tenant_id(slug).await;
        kapu_core::store::coupons::create_coupon_for_tenant(self.db.writer(), &tenant, &coupon).await.expect("coupon");
    }

    /// Keys of one product of a shop in one status.
    pub async fn count_keys_of(&self, tenant_id: &str, product_id: &str, status: &str) -> u64 {
        card_keys::Entity::find()
            .filter(card_keys::Column::TenantId.eq(tenant_id))
            .filter(card_keys::Column::ProductId.eq(product_id))
            .filter(card_keys::Column::Status.eq(status))
            .count(self.db.reader())
            .await
            .expect("count")
    }

    /// Sends a notification (form fields) to the notify URL of `payment_id` on `slug`'s host.
    pub async fn notify(&self, slug: &str, payment_id: &str, fields: &[(String, String)]) -> (u16, String) {
        let r = self
            .client
            .post(self.shop_url(slug, &format!("/api/v1/payments/{payment_id}/notify")))
            .form(fields)
            .send()
            .await
            .expect("send");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// Waits until `cond` holds (checked every 50 ms, for at most `secs`).
    pub async fn eventually<F, Fut>(&self, secs: u64, mut cond: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if cond().await {
                return true;
            }
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (at most `secs`) until no job is running and none is due: every
    /// job caused so far has run, or waits for a later time (a retry, an
    /// expiry). What a test asserts did *not* happen is settled then.
    pub async fn jobs_settled(&self, secs: u64) -> bool {
        use kapu_core::entities::jobs;
        use sea_orm::Condition;
        self.eventually(secs, || async {
            let busy = Condition::any().add(jobs::Column::Status.eq("running")).add(
                Condition::all()
                    .add(jobs::Column::Status.eq("queued"))
                    .add(jobs::Column::RunAt.lte(chrono::Utc::now())),
            );
            jobs::Entity::find().filter(busy).count(self.db.reader()).await.expect("count jobs") == 0
        })
        .await
    }

    /// Stops the server and worker; the test's database goes with `self`.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
        self.db.close().await;
    }
}

/// Sandbox notification fields for a payment, signed with `keys`.
pub fn sandbox_fields(
    keys: &TenantKeys,
    payment_id: &str,
    outcome: &str,
    amount_minor: i64,
    currency: &str,
) -> Vec<(String, String)> {
    let outcome_v =
        if outcome == "paid" { kapu_billing::PaymentOutcome::Paid } else { kapu_billing::PaymentOutcome::Failed };
    let n = kapu_billing::channels::sandbox::sign_notification(keys, payment_id, outcome_v, amount_minor, currency);
    n.fields.into_iter().collect()
}

/// Every `.eml` in the outbox, decoded: (to, subject, text body).
pub fn read_outbox(dir: &std::path::Path) -> Vec<(String, String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .filter_map(|e| {
            let raw = std::fs::read(e.path()).ok()?;
            let msg = mail_parser::MessageParser::default().parse(&raw)?;
            let to = msg.to()?.first()?.address()?.to_string();
            let subject = msg.subject().unwrap_or("").to_string();
            let body = msg.body_text(0).map(|b| b.to_string()).unwrap_or_default();
            Some((to, subject, body))
        })
        .collect()
}

/// The `From` of each email to `to` in the outbox: (display name, address).
pub fn senders_in_outbox(dir: &std::path::Path, to: &str) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let raw = std::fs::read(e.path()).ok()?;
            let msg = mail_parser::MessageParser::default().parse(&raw)?;
            if msg.to()?.first()?.address()? != to {
                return None;
            }
            let from = msg.from()?.first()?;
            Some((from.name().unwrap_or("").to_string(), from.address()?.to_string()))
        })
        .collect()
}

/// A migrated database with no server: (db, its data dir, its guard).
pub async fn migrated_db() -> (Db, tempfile::TempDir, TestDatabase) {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = cloned_database(dir.path(), Seed::Schema).await;
    let db = Db::connect(&database.url, 4).await.expect("connect");
    (db, dir, database)
}

/// Places an order for one unit of `product` on `slug`, paying by `method` if given.
pub async fn place_order(app: &TestApp, slug: &str, product: &str, method: Option<&str>) -> (u16, Value) {
    let mut body = serde_json::json!({"product_id": product, "quantity": 1, "email": "buyer@example.com"});
    if let Some(m) = method {
        body["channel"] = serde_json::json!(m);
    }
    app.order(slug, body).await
}

/// Places an order that must be accepted; returns its JSON.
pub async fn placed(app: &TestApp, slug: &str, product: &str, method: &str) -> Value {
    let (status, order) = place_order(app, slug, product, Some(method)).await;
    assert_eq!(status, 201, "{order}");
    order
}

/// The order number of a placed order's JSON.
pub fn order_no(order: &Value) -> &str {
    order["order_no"].as_str().expect("order_no")
}

/// An order's status as its buyer sees it.
pub async fn status_of(app: &TestApp, slug: &str, order: &Value) -> String {
    let token = order["token"].as_str().expect("token");
    app.order_view(slug, order_no(order), token).await.1["status"].as_str().unwrap_or_default().to_string()
}
