//! Fleet tests: real `kapu` processes joining a test's server on its
//! PostgreSQL database and its Redis (same key prefix), each with its own
//! data directory. The test's own server (`TestApp`, the same `App` in the
//! test process) plays the platform and worker, or whatever its role says;
//! the processes started here are separate binaries with their own memory,
//! so only the database and Redis connect them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::TestApp;
use super::process::KapuProcess;

/// Whether this run has PostgreSQL and Redis for fleet tests; prints why not.
pub fn fleet_available() -> bool {
    let pg = std::env::var("KAPU_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"));
    let redis = std::env::var("KAPU_REDIS_URL").is_ok_and(|u| !u.is_empty());
    if !(pg && redis) {
        println!(
            "skipped: fleet tests need PostgreSQL and Redis (KAPU_TEST_DATABASE_URL, KAPU_REDIS_URL); \
             CI's PostgreSQL + Redis pass runs them"
        );
    }
    pg && redis
}

/// Starts `kapu serve --role {role}` on `app`'s database and Redis. Limits
/// are as loose as the test server's unless `env` says otherwise (later
/// entries win).
pub fn join(app: &TestApp, role: &str, env: &[(&str, String)]) -> KapuProcess {
    join_at(app, role, 0, env)
}

/// [`join`] listening on `port` (0: any free one), e.g. to start a process
/// again where a balancer expects it.
pub fn join_at(app: &TestApp, role: &str, port: u16, env: &[(&str, String)]) -> KapuProcess {
    let dir = app.data_dir.path().join(format!("process-{}", kapu_core::ids::new_id()));
    std::fs::create_dir_all(&dir).expect("process dir");
    let mut all: Vec<(&str, String)> = vec![
        ("KAPU_DATA_DIR", dir.display().to_string()),
        ("KAPU_DATABASE_URL", app.database_url.clone()),
        ("KAPU_MASTER_KEY", app.master.to_base64()),
        ("KAPU_REDIS_URL", app.redis_url.clone().unwrap_or_default()),
        ("KAPU_REDIS_PREFIX", app.redis_prefix.clone()),
        // Many processes start at once on a small machine: a generous
        // deadline keeps a slow first connection from degrading Redis.
        ("KAPU_REDIS_TIMEOUT_MS", "2000".into()),
        ("KAPU_DB_MAX_CONNECTIONS", "8".into()),
        ("KAPU_RATE_LIMIT_PER_SECOND", "10000".into()),
        ("KAPU_RATE_LIMIT_BURST", "10000".into()),
        ("KAPU_SHOP_RATE_LIMITS", "false".into()),
        ("KAPU_MAX_UNPAID_ORDERS", "1000".into()),
        ("KAPU_JOB_POLL_MS", "50".into()),
        ("KAPU_ALLOW_PRIVATE_GATEWAYS", "true".into()),
        ("KAPU_CHANNEL_TIMEOUT_MS", "1500".into()),
        ("KAPU_CHANNEL_RETRIES", "0".into()),
        ("KAPU_BREAKER_COOLDOWN_SECS", "2".into()),
        ("KAPU_REFUSAL_DELAY_MS", "0".into()),
    ];
    all.extend(env.iter().cloned());
    let listen = format!("127.0.0.1:{port}");
    KapuProcess::start(&["serve", "--listen", &listen, "--role", role], &all)
}

/// An HTTP client that reaches every `*.localhost` name on loopback.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(super::Loopback))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `http://{slug}.localhost:{port}{path}`.
pub fn shop_url(port: u16, slug: &str, path: &str) -> String {
    format!("http://{slug}.localhost:{port}{path}")
}

/// Places an order for one `product` on shop `slug` served at `port`, from
/// `forwarded_for` when given (through the trusted-proxy header), with any
/// `extra` fields (a proof-of-work answer…); returns the status and JSON.
pub async fn order_on(
    c: &reqwest::Client,
    port: u16,
    slug: &str,
    product: &str,
    email: &str,
    forwarded_for: Option<&str>,
    extra: serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut body = serde_json::json!({"product_id": product, "quantity": 1, "email": email});
    if let (Some(body), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    let mut req = c.post(shop_url(port, slug, "/api/v1/orders")).json(&body);
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    let r = req.send().await.expect("order");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// A free TCP port on loopback (for servers a test starts itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind").local_addr().expect("addr").port()
}

/// Waits up to `secs` for something to listen on `port`.
pub async fn listening(port: u16, secs: u64) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A private `redis-server` on a free port, stopped (and restartable) by
/// the test alone, so an outage disturbs nothing else.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    pub async fn start() -> Self {
        let mut r = Self { port: free_port(), child: None };
        r.restart().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again on the same port (empty: nothing is persisted).
    pub async fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server)");
        self.child = Some(child);
        assert!(listening(self.port, 10).await, "private redis-server did not start");
    }

    /// Stops it (SIGKILL: an outage, not a goodbye).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
