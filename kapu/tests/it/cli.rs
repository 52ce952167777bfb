//! The `kapu` binary as a newcomer runs it: `serve --demo` starts, serves the
//! demo shop, stops cleanly on SIGTERM, and restarting adds no demo data.

use crate::support;

use std::process::Command;
use std::time::{Duration, Instant};

use kapu_core::entities::{card_keys, tenants};
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::support::process::KapuProcess;
use crate::support::processes::order_on;

fn start(data_dir: &std::path::Path, db_url: &str, master_key: &str) -> KapuProcess {
    start_as(data_dir, db_url, master_key, "all")
}

/// `kapu serve --demo --role {role}`.
fn start_as(data_dir: &std::path::Path, db_url: &str, master_key: &str, role: &str) -> KapuProcess {
    KapuProcess::start(
        &["serve", "--demo", "--listen", "127.0.0.1:0", "--role", role],
        &[
            ("KAPU_DATA_DIR", data_dir.display().to_string()),
            ("KAPU_DATABASE_URL", db_url.to_string()),
            ("KAPU_MASTER_KEY", master_key.to_string()),
        ],
    )
}

/// Places an order for one win11-pro key on the demo shop served at `port`
/// and pays it in the sandbox; returns the order's JSON and the answer to the payment.
async fn buy_and_pay(client: &reqwest::Client, port: u16, email: &str) -> (serde_json::Value, reqwest::StatusCode) {
    let (_, order) = order_on(client, port, "demo", "win11-pro", email, None, serde_json::json!({})).await;
    let pay =
        client.post(order["pay_url"].as_str().expect("pay")).form(&[("outcome", "paid")]).send().await.expect("pay");
    (order, pay.status())
}

fn sigterm_and_wait(p: KapuProcess) -> std::process::ExitStatus {
    p.signal_and_wait("TERM").0
}

#[tokio::test]
async fn serve_demo_starts_serves_stops_on_sigterm_and_restarts_without_duplicating_demo_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = support::fresh_database(dir.path()).await;
    let db_url = database.url.clone();
    let master_key = kapu_core::crypto::MasterKey::generate().to_base64();

    let child = start(dir.path(), &db_url, &master_key);
    let port = child.port;
    let client = reqwest::Client::builder()
        .resolve("demo.localhost", std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .expect("client");
    let list: serde_json::Value = client
        .get(format!("http://demo.localhost:{port}/api/v1/products"))
        .send()
        .await
        .expect("products")
        .json()
        .await
        .expect("json");
    let stocks: Vec<u64> =
        list["products"].as_array().expect("list").iter().map(|p| p["stock"].as_u64().expect("n")).collect();
    assert!(stocks.len() >= 4);
    assert!(stocks.contains(&3) && stocks.contains(&0) && stocks.iter().any(|s| *s >= 20_000), "{stocks:?}");
    let home = client.get(format!("http://demo.localhost:{port}/")).send().await.expect("home");
    assert_eq!(home.status().as_u16(), 200);

    // A purchase, so that tokens and keys pass through the server.
    let (order, paid) = buy_and_pay(&client, port, "log@example.com").await;
    assert!(paid.is_success() || paid.is_redirection());
    let token = order["token"].as_str().expect("token").to_string();
    let view: serde_json::Value = client
        .get(format!(
            "http://demo.localhost:{port}/api/v1/orders/{}?token={token}",
            order["order_no"].as_str().expect("no")
        ))
        .send()
        .await
        .expect("view")
        .json()
        .await
        .expect("json");
    let key = view["keys"][0].as_str().expect("delivered key").to_string();
    let (exit, logs) = child.signal_and_wait("TERM");
    assert!(exit.success(), "clean exit on SIGTERM");

    // Logs are JSON with the request id and the shop, and never carry tokens or keys.
    assert!(logs.iter().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "every log line is JSON");
    let placed = logs.iter().find(|l| l.contains("order placed")).expect("order placed is logged");
    let placed: serde_json::Value = serde_json::from_str(placed).expect("json");
    assert_eq!(placed["span"]["tenant"], "demo", "{placed}");
    assert!(placed["span"]["request_id"].as_str().is_some_and(|id| id.len() >= 32), "{placed}");
    assert!(logs.iter().any(|l| l.contains("shutting down")));
    for line in &logs {
        assert!(!line.contains(&token), "a log line carries the order token: {line}");
        assert!(!line.contains(&key), "a log line carries a card key: {line}");
    }

    let child = start(dir.path(), &db_url, &master_key);
    assert!(sigterm_and_wait(child).success());
    let db = kapu_core::Db::connect(&db_url, 2).await.expect("db");
    assert_eq!(tenants::Entity::find().count(db.reader()).await.expect("count"), 1);
    let total_keys: usize = 3 + 20_000 + 25 + 10;
    assert_eq!(card_keys::Entity::find().count(db.reader()).await.expect("count") as usize, total_keys);
    db.close().await;
}

#[tokio::test]
async fn postgres_without_a_master_key_refuses_to_start_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = support::fresh_database(dir.path()).await;
    let db_url = database.url.clone();
    if !database.is_postgres() {
        // SQLite generates its key instead; covered by the test above and by core's crypto tests.
        return;
    }
    let cfg = kapu_core::Config {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(db_url),
        ..kapu_core::Config::default()
    };
    let err = kapu::App::build(cfg, false).await.err().expect("must refuse");
    assert!(err.to_string().contains("KAPU_MASTER_KEY is required with PostgreSQL"), "{err}");
}

#[tokio::test]
async fn concurrent_migrations_apply_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = support::fresh_database(dir.path()).await;
    let db_url = database.url.clone();
    let (a, b) =
        (kapu_core::Db::connect(&db_url, 2).await.expect("a"), kapu_core::Db::connect(&db_url, 2).await.expect("b"));
    let (ra, rb) = tokio::join!(kapu::migrate::run(&a), kapu::migrate::run(&b));
    ra.expect("first migrator");
    rb.expect("second migrator");
    assert_eq!(tenants::Entity::find().count(a.reader()).await.expect("schema in place"), 0);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn operator_create_prints_the_credentials_once_and_refuses_a_taken_email() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = support::fresh_database(dir.path()).await;
    let db_url = database.url.clone();
    let key = kapu_core::crypto::MasterKey::generate().to_base64();
    let run = |email: &str| {
        Command::new(env!("CARGO_BIN_EXE_kapu"))
            .args(["operator", "create", "--email", email])
            .env("KAPU_DATA_DIR", dir.path())
            .env("KAPU_DATABASE_URL", &db_url)
            .env("KAPU_MASTER_KEY", &key)
            .env_remove("KAPU_REDIS_URL")
            .output()
            .expect("run kapu")
    };
    let out = run("Ops@Example.com");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = |prefix: &str| {
        text.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("{prefix} in {text}")).to_string()
    };
    assert_eq!(line("operator created: "), "ops@example.com");
    assert!(line("password: ").len() >= 32);
    let secret = line("totp secret (base32): ");
    assert!(secret.len() >= 32 && secret.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
    assert!(line("totp uri: ").starts_with("otpauth://totp/"));

    let again = run("ops@example.com");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"), "{}", String::from_utf8_lossy(&again.stderr));
    let bad = run("not-an-email");
    assert!(!bad.status.success());
}

#[tokio::test]
async fn roles_serve_only_their_plane_and_only_the_worker_runs_jobs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = support::fresh_database(dir.path()).await;
    let master_key = kapu_core::crypto::MasterKey::generate().to_base64();
    if !database.is_postgres() {
        // One SQLite file belongs to one process: any other role is refused, saying why.
        let out = Command::new(env!("CARGO_BIN_EXE_kapu"))
            .args(["serve", "--listen", "127.0.0.1:0", "--role", "worker"])
            .env("KAPU_DATA_DIR", dir.path())
            .env("KAPU_DATABASE_URL", &database.url)
            .env("KAPU_MASTER_KEY", &master_key)
            .env_remove("KAPU_REDIS_URL")
            .output()
            .expect("run kapu");
        assert!(!out.status.success());
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("needs PostgreSQL") && said.contains("\"all\""), "{said}");
        println!("roles on one PostgreSQL database: covered by the PostgreSQL pass");
        return;
    }
    let shop_proc = start_as(dir.path(), &database.url, &master_key, "storefront");
    let shop_port = shop_proc.port;
    let platform_proc = start_as(dir.path(), &database.url, &master_key, "platform");
    let platform_port = platform_proc.port;
    let client = |port: u16| {
        reqwest::Client::builder()
            .resolve("demo.localhost", std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .resolve("localhost", std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    };
    let status =
        |c: reqwest::Client, url: String| async move { c.get(url).send().await.expect("get").status().as_u16() };
    // Each plane on its own process; the other's host gets a 421 naming the role.
    assert_eq!(status(client(shop_port), format!("http://demo.localhost:{shop_port}/")).await, 200);
    let r = client(shop_port).get(format!("http://localhost:{shop_port}/login")).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 421);
    assert!(r.text().await.expect("text").contains("role storefront"));
    assert_eq!(status(client(platform_port), format!("http://localhost:{platform_port}/login")).await, 200);
    assert_eq!(status(client(platform_port), format!("http://demo.localhost:{platform_port}/")).await, 421);
    assert_eq!(status(client(platform_port), format!("http://localhost:{platform_port}/healthz")).await, 200);

    // A purchase on the storefront process: delivered at once, its email
    // queued, and not sent while no process runs jobs.
    let (_, paid) = buy_and_pay(&client(shop_port), shop_port, "roles@example.com").await;
    assert!(paid.is_redirection(), "{paid}");
    let outbox = dir.path().join("outbox");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(support::read_outbox(&outbox).is_empty(), "no process runs jobs yet");

    // The worker serves health checks only, and sends the email.
    let worker_proc = start_as(dir.path(), &database.url, &master_key, "worker");
    let worker_port = worker_proc.port;
    assert_eq!(status(client(worker_port), format!("http://localhost:{worker_port}/healthz")).await, 200);
    assert_eq!(status(client(worker_port), format!("http://demo.localhost:{worker_port}/")).await, 421);
    assert_eq!(status(client(worker_port), format!("http://localhost:{worker_port}/login")).await, 421);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !support::read_outbox(&outbox).iter().any(|(to, _, _)| to == "roles@example.com") {
        assert!(Instant::now() < deadline, "the worker sent the delivery email");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for p in [shop_proc, platform_proc, worker_proc] {
        assert!(sigterm_and_wait(p).success(), "clean exit on SIGTERM");
    }
}

/// SIGTERM behind a load balancer: `/readyz` turns to 503 at once while
/// requests are still served for `KAPU_SHUTDOWN_DRAIN_MS`; then the listener
/// closes, and a request in flight all along (its body still arriving)
/// gets its answer before the process exits cleanly.
#[tokio::test]
async fn sigterm_turns_readiness_off_first_and_finishes_the_request_in_flight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("dir");
    let db = support::database::cloned_database(dir.path(), support::database::Seed::Demo).await;
    let p = KapuProcess::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &[
            ("KAPU_DATA_DIR", dir.path().display().to_string()),
            ("KAPU_DATABASE_URL", db.url.clone()),
            ("KAPU_MASTER_KEY", support::database::TEST_MASTER_KEY.to_string()),
            ("KAPU_SHUTDOWN_DRAIN_MS", "1500".into()),
        ],
    );
    let port = p.port;
    let http = support::processes::client();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    assert_eq!(http.get(&ready).send().await.expect("readyz").status(), 200);

    // An order whose body is half sent when SIGTERM arrives.
    let body = r#"{"product_id":"win11-pro","quantity":1,"email":"inflight@example.com"}"#;
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let head = format!(
        "POST /api/v1/orders HTTP/1.1\r\nHost: demo.localhost:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.expect("head");
    slow.write_all(&body.as_bytes()[..20]).await.expect("half the body");
    tokio::time::sleep(Duration::from_millis(200)).await;
    p.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Draining: not ready, still serving new requests.
    let r = http.get(&ready).send().await.expect("readyz while draining");
    assert_eq!(r.status(), 503);
    assert_eq!(r.text().await.expect("body"), r#"{"status":"draining"}"#);
    let (status, order) =
        order_on(&http, port, "demo", "win11-pro", "draining@example.com", None, serde_json::json!({})).await;
    assert_eq!(status, 201, "served while draining: {order}");

    // After the drain the listener is closed, and the request in flight completes.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "no new connection once the drain is over"
    );
    slow.write_all(&body.as_bytes()[20..]).await.expect("the rest of the body");
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 201"), "the request in flight was answered: {answer}");
    let (exit, _) = p.wait();
    assert!(exit.success(), "clean exit after SIGTERM");
}
