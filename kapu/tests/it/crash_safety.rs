//! The crash drill: the real `kapu` binary, killed with SIGKILL at random
//! moments and started again, while buyers order and pay from several
//! clients (on the pay page and through signed provider notifications,
//! each retried until acknowledged, as a provider and a buyer do) and a
//! merchant script imports keys. Afterwards, with the server up and its
//! jobs drained:
//!
//! - every order whose payment was acknowledged is delivered, with its
//!   quantity of keys, the same keys each time it is looked at;
//! - no key reached two buyers; no key was lost (available + reserved +
//!   sold = the demo's keys + every imported batch, and a batch is in
//!   whole or not at all);
//! - every delivered order has exactly one delivery email;
//! - `kapu check`'s promises hold (`store::integrity`), no job stuck.
//!
//! `KAPU_CHAOS_KILLS` kills (10 by default, as in CI); `bench/chaos.sh`
//! runs the long drill.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kapu_core::entities::{card_keys, jobs, plans, tenants};
use kapu_core::store::api_keys::{Scope, create_api_key_for_tenant};
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use support::database::{Seed, TEST_MASTER_KEY, cloned_database, test_master_key};
use support::process::KapuProcess;
use support::processes::{client, free_port, shop_url};
use tokio::sync::Mutex;

const PRODUCT: &str = "video-vip-month";
const BATCH: usize = 50;

/// A buyer's order and what the buyer was told about it.
struct Bought {
    no: String,
    token: String,
    email: String,
    quantity: usize,
    /// The keys shown the first time the delivered order was looked at.
    keys_seen: Option<Vec<String>>,
}

/// The server under the drill: one data directory and port across restarts.
struct Server {
    port: u16,
    env: Vec<(&'static str, String)>,
    process: Option<KapuProcess>,
}

impl Server {
    fn start(&mut self) {
        let listen = format!("127.0.0.1:{}", self.port);
        self.process = Some(KapuProcess::start(&["serve", "--listen", &listen], &self.env));
    }

    fn kill(&mut self) {
        if let Some(p) = self.process.take() {
            let (status, _) = p.signal_and_wait("KILL");
            assert!(!status.success(), "killed, not exited");
        }
    }
}

/// Retries `f` (a request that may meet a dead server) until it answers
/// with something `done` accepts, for at most `secs`.
async fn until_answered<F, Fut>(secs: u64, mut f: F, done: impl Fn(u16, &str) -> bool) -> Option<(u16, String)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Ok(r) = f().await {
            let status = r.status().as_u16();
            if let Ok(text) = r.text().await
                && done(status, &text)
            {
                return Some((status, text));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_at_random_the_server_loses_no_paid_order_and_sells_no_key_twice() {
    let kills: usize = std::env::var("KAPU_CHAOS_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(10);
    let dir = tempfile::tempdir().expect("dir");
    let database = cloned_database(dir.path(), Seed::Demo).await;
    let db = kapu_core::Db::connect(&database.url, 4).await.expect("db");
    // No plan limit stands in the way of the drill.
    plans::Entity::update_many()
        .col_expr(plans::Column::MaxKeysInStock, Expr::value(Option::<i32>::None))
        .col_expr(plans::Column::ApiRequestsPerMinute, Expr::value(Option::<i32>::None))
        .col_expr(plans::Column::MaxOrdersPerMonth, Expr::value(Option::<i32>::None))
        .exec(db.writer())
        .await
        .expect("plans");
    let tenant = tenants::Entity::find()
        .filter(tenants::Column::Slug.eq("demo"))
        .one(db.reader())
        .await
        .expect("db")
        .expect("demo shop")
        .id;
    let script_key =
        create_api_key_for_tenant(db.writer(), &tenant, "chaos import", Scope::Write, None).await.expect("key").secret;
    let keys_of_product = || {
        card_keys::Entity::find()
            .filter(card_keys::Column::TenantId.eq(&tenant))
            .filter(card_keys::Column::ProductId.eq(PRODUCT))
            .count(db.reader())
    };
    let demo_keys = keys_of_product().await.expect("count");

    let port = free_port();
    let env: Vec<(&str, String)> = vec![
        ("KAPU_DATA_DIR", dir.path().display().to_string()),
        ("KAPU_DATABASE_URL", database.url.clone()),
        ("KAPU_MASTER_KEY", TEST_MASTER_KEY.to_string()),
        ("KAPU_RATE_LIMIT_PER_SECOND", "10000".into()),
        ("KAPU_RATE_LIMIT_BURST", "10000".into()),
        ("KAPU_SHOP_RATE_LIMITS", "false".into()),
        ("KAPU_MAX_UNPAID_ORDERS", "100000".into()),
        ("KAPU_JOB_POLL_MS", "50".into()),
        // Unpaid orders expire within the drill, so expiry is killed too.
        ("KAPU_ORDER_TTL_SECS", "4".into()),
        ("KAPU_REFUSAL_DELAY_MS", "0".into()),
    ];
    let server = Arc::new(Mutex::new(Server { port, env, process: None }));
    server.lock().await.start();

    let http = client();
    let stop = Arc::new(AtomicBool::new(false));
    let bought: Arc<Mutex<Vec<Bought>>> = Arc::default();
    let imported = Arc::new(AtomicUsize::new(0));
    let attempted = Arc::new(AtomicUsize::new(0));
    let keys = test_master_key().tenant(&tenant);
    let mut tasks = Vec::new();
    for buyer in 0..4 {
        let (http, stop, bought, keys) = (http.clone(), stop.clone(), bought.clone(), keys.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let email = format!("chaos-{buyer}-{n}@example.com");
                let quantity = rand::thread_rng().gen_range(1..=2);
                let body = json!({"product_id": PRODUCT, "quantity": quantity, "email": email});
                let placed = http.post(shop_url(port, "demo", "/api/v1/orders")).json(&body).send().await;
                let Ok(placed) = placed else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                if placed.status().as_u16() != 201 {
                    continue;
                }
                let Ok(order) = placed.json::<Value>().await else { continue };
                let no = order["order_no"].as_str().expect("order_no").to_string();
                let token = order["token"].as_str().expect("token").to_string();
                let pay_url = order["pay_url"].as_str().expect("pay_url").to_string();
                let payment_id = pay_url.rsplit('/').next().and_then(|p| p.split('?').next()).expect("id").to_string();
                // One in five is never paid and expires.
                let how = rand::thread_rng().gen_range(0..5);
                let acked = match how {
                    0 => false,
                    // The buyer on the pay page, until the page answers.
                    1 | 2 => {
                        until_answered(60, || http.post(&pay_url).form(&[("outcome", "paid")]).send(), |s, _| s == 303)
                            .await
                            .is_some()
                    }
                    // The provider's notification, retried until acknowledged.
                    _ => {
                        let fields = support::sandbox_fields(
                            &keys,
                            &payment_id,
                            "paid",
                            order["amount_minor"].as_i64().expect("amount"),
                            "CNY",
                        );
                        let url = shop_url(port, "demo", &format!("/api/v1/payments/{payment_id}/notify"));
                        until_answered(60, || http.post(&url).form(&fields).send(), |s, _| s == 200).await.is_some()
                    }
                };
                if acked {
                    let mut b = Bought { no, token, email, quantity, keys_seen: None };
                    let view = shop_url(port, "demo", &format!("/api/v1/orders/{}?token={}", b.no, b.token));
                    if let Ok(r) = http.get(&view).send().await
                        && let Ok(v) = r.json::<Value>().await
                        && v["status"] == "delivered"
                    {
                        b.keys_seen = serde_json::from_value(v["keys"].clone()).ok();
                    }
                    bought.lock().await.push(b);
                }
            }
        }));
    }
    // A merchant's script imports keys in batches, retrying a batch it got
    // no answer for (a batch is stored whole or not at all).
    {
        let (http, stop, imported, attempted) = (http.clone(), stop.clone(), imported.clone(), attempted.clone());
        tasks.push(tokio::spawn(async move {
            let url = format!("http://localhost:{port}/api/merchant/v1/products/{PRODUCT}/keys");
            let mut batch = 0;
            while !stop.load(Ordering::Relaxed) {
                batch += 1;
                let lines: String = (0..BATCH).map(|i| format!("CHAOS-{batch:05}-{i:03}\n")).collect();
                attempted.fetch_add(1, Ordering::SeqCst);
                let sent = http
                    .post(&url)
                    .bearer_auth(&script_key)
                    .header("content-type", "text/plain")
                    .body(lines)
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status().as_u16() == 200) {
                    imported.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }));
    }

    // The killer.
    for _ in 0..kills {
        let wait = rand::thread_rng().gen_range(200..1500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let mut s = server.lock().await;
        s.kill();
        s.start();
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("client task");
    }

    // Drained: nothing due in the queue (expiry jobs of the last orders included).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let drain_started = Instant::now();
    // The backlog grows with the drill (each process lives too briefly to
    // work much off): two minutes, or half a second per kill if longer.
    let drain_limit = Duration::from_secs(120.max(kills as u64 / 2));
    let drained = drain_started + drain_limit;
    let mut last_report = Instant::now();
    let drain = loop {
        let due = jobs::Entity::find()
            .filter(jobs::Column::Status.is_in(["queued", "running"]))
            .filter(jobs::Column::RunAt.lte(chrono::Utc::now()))
            .count(db.reader())
            .await
            .expect("jobs");
        if due == 0 {
            break drain_started.elapsed();
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            println!("draining: {due} jobs due after {:?}", drain_started.elapsed());
            last_report = Instant::now();
        }
        assert!(Instant::now() < drained, "{due} jobs still due {drain_limit:?} after the drill");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (checked, broken) =
        kapu_core::store::integrity::check(db.reader(), chrono::Utc::now(), chrono::Duration::seconds(10))
            .await
            .expect("check");
    assert!(broken.is_empty(), "broken promises: {broken:#?}");

    // Every acknowledged order: delivered, its keys unchanged, no key twice.
    let bought = bought.lock().await;
    let mut owner_of: BTreeMap<String, String> = BTreeMap::new();
    for b in bought.iter() {
        let view = shop_url(port, "demo", &format!("/api/v1/orders/{}?token={}", b.no, b.token));
        let v: Value = http.get(&view).send().await.expect("view").json().await.expect("json");
        assert_eq!(v["status"], "delivered", "order {} was acknowledged as paid: {v}", b.no);
        let shown: Vec<String> = serde_json::from_value(v["keys"].clone()).expect("keys");
        assert_eq!(shown.len(), b.quantity, "order {}", b.no);
        if let Some(first) = &b.keys_seen {
            assert_eq!(&shown, first, "order {}'s keys changed after a restart", b.no);
        }
        for k in shown {
            if let Some(other) = owner_of.insert(k.clone(), b.no.clone()) {
                panic!("key {k} went to orders {other} and {}", b.no);
            }
        }
    }
    // Stock: nothing lost, batches whole.
    let total = keys_of_product().await.expect("count");
    let added = (total - demo_keys) as usize;
    let (acked, tried) = (imported.load(Ordering::SeqCst), attempted.load(Ordering::SeqCst));
    assert_eq!(added % BATCH, 0, "{added} keys added: a batch was stored in part");
    assert!(
        (acked..=tried).contains(&(added / BATCH)),
        "{} batches stored, {acked} acknowledged, {tried} sent",
        added / BATCH
    );
    // One delivery email per delivered order.
    let outbox = support::read_outbox(&dir.path().join("outbox"));
    let emails: BTreeSet<&str> = bought.iter().map(|b| b.email.as_str()).collect();
    for b in bought.iter() {
        let to_buyer = outbox.iter().filter(|(to, _, body)| to == &b.email && body.contains(&b.no)).count();
        assert_eq!(to_buyer, 1, "delivery emails for order {}", b.no);
    }
    println!(
        "{kills} kills: jobs drained {drain:.1?} after the last restart; {} paid orders delivered ({} emails to buyers), {} keys sold, {acked}/{tried} key batches acknowledged, {} checked: {checked:?}",
        bought.len(),
        outbox.iter().filter(|(to, _, _)| emails.contains(to.as_str())).count(),
        owner_of.len(),
        added / BATCH,
    );
    server.lock().await.kill();
    db.close().await;
    drop(database);
}
