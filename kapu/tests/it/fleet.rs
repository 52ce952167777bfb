//! Kapu as a fleet: separate `kapu` processes on one PostgreSQL database
//! and one Redis behave as one platform — changes reach every process at
//! once, limits hold for the fleet, a payment confirms once, and a Redis
//! outage degrades without stopping sales. PostgreSQL + Redis only (the
//! SQLite pass prints why each is skipped).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use kapu_core::entities::{fee_ledger, plans};
use kapu_core::store::api_keys::{Scope, create_api_key_for_tenant};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::processes::{self, PrivateRedis, client, fleet_available, join, order_on, shop_url};
use crate::support::{self, Options, TestApp};

/// Storefront caches that only the bus can explain a change within a second.
fn long_caches() -> Vec<(&'static str, String)> {
    vec![("KAPU_CATALOG_CACHE_SECS", "600".into()), ("KAPU_HOST_CACHE_SECS", "600".into())]
}

async fn products(c: &reqwest::Client, port: u16) -> (u16, Value) {
    let r = c.get(shop_url(port, "demo", "/api/v1/products")).send().await.expect("products");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn product<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list["products"].as_array()?.iter().find(|p| p["id"] == id)
}

/// Waits up to `within` for `cond` on every storefront; returns the time it took.
async fn on_every<F>(c: &reqwest::Client, ports: &[u16], within: Duration, cond: F) -> Option<Duration>
where
    F: Fn(u16, &Value) -> bool,
{
    let started = Instant::now();
    let mut pending: Vec<u16> = ports.to_vec();
    while started.elapsed() < within {
        let mut still = Vec::new();
        for port in pending {
            let (status, list) = products(c, port).await;
            if !cond(status, &list) {
                still.push(port);
            }
        }
        if still.is_empty() {
            return Some(started.elapsed());
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

async fn plan_of(app: &TestApp, tenant_id: &str) -> String {
    let t = kapu_core::entities::tenants::Entity::find_by_id(tenant_id.to_string()).one(app.db.reader()).await;
    t.expect("tenant").expect("exists").plan_id
}

/// A merchant-API client of `tenant_id` on the platform served at `port`.
async fn merchant_api(app: &TestApp, tenant_id: &str) -> String {
    create_api_key_for_tenant(app.db.writer(), tenant_id, "fleet test", Scope::Write, None)
        .await
        .expect("api key")
        .secret
}

#[tokio::test]
async fn a_change_on_the_platform_reaches_every_storefront_within_a_second() {
    if !fleet_available() {
        return;
    }
    let app = TestApp::spawn().await;
    let (s1, s2) = (join(&app, "storefront", &long_caches()), join(&app, "storefront", &long_caches()));
    let ports = [s1.port, s2.port];
    let c = client();
    let tenant = app.tenant_id("demo").await;
    let key = merchant_api(&app, &tenant).await;
    app.set_plan_limit(&plan_of(&app, &tenant).await, plans::Column::MaxKeysInStock, None).await;
    // Both storefronts have the catalog cached (for ten minutes).
    let (_, list) = products(&c, s1.port).await;
    // The product with the fewest keys (the free plan caps keys in stock).
    let id = list["products"]
        .as_array()
        .expect("products")
        .iter()
        .min_by_key(|p| p["stock"].as_u64())
        .and_then(|p| p["id"].as_str())
        .expect("a product")
        .to_string();
    let stock_before = product(&list, &id).expect("product")["stock"].as_u64().expect("stock");
    assert!(on_every(&c, &ports, Duration::from_secs(5), |s, l| s == 200 && product(l, &id).is_some()).await.is_some());

    let api = |method: reqwest::Method, path: &str, body: Value| {
        c.request(method, app.platform_url(&format!("/api/merchant/v1{path}"))).bearer_auth(&key).json(&body).send()
    };
    // A new price.
    let r = api(reqwest::Method::PATCH, &format!("/products/{id}"), json!({"price": "12.34"})).await.expect("patch");
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap_or_default());
    let took =
        on_every(&c, &ports, Duration::from_secs(1), |_, l| product(l, &id).is_some_and(|p| p["price_minor"] == 1234))
            .await;
    println!("new price on both storefronts after {took:?}");
    assert!(took.is_some(), "the price change reached both storefronts within a second");

    // Keys imported.
    let r = api(reqwest::Method::POST, &format!("/products/{id}/keys"), json!(["FLEET-1", "FLEET-2", "FLEET-3"]))
        .await
        .expect("import");
    let status = r.status();
    let said = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "{status} {said}");
    let took = on_every(&c, &ports, Duration::from_secs(1), |_, l| {
        product(l, &id).is_some_and(|p| p["stock"].as_u64() == Some(stock_before + 3))
    })
    .await;
    assert!(took.is_some(), "new stock on both storefronts within a second");

    // A sale on one storefront lowers the stock the other shows, without a reload.
    let (status, order) = order_on(&c, s1.port, "demo", &id, "fleet@example.com", None, json!({})).await;
    assert_eq!(status, 201, "{order}");
    let took = on_every(&c, &[s2.port], Duration::from_secs(1), |_, l| {
        product(l, &id).is_some_and(|p| p["stock"].as_u64() == Some(stock_before + 2))
    })
    .await;
    assert!(took.is_some(), "the other storefront shows the sale within a second");

    // Hidden.
    let r = api(reqwest::Method::PATCH, &format!("/products/{id}"), json!({"visible": false})).await.expect("hide");
    assert_eq!(r.status().as_u16(), 200);
    let took = on_every(&c, &ports, Duration::from_secs(1), |_, l| product(l, &id).is_none()).await;
    assert!(took.is_some(), "the hidden product left both storefronts within a second");

    // Suspended by an operator: closed on every process.
    let (mut ops, _) = support::operator::signed_in_operator(&app, "ops@example.com").await;
    let p =
        ops.post(&format!("/ops/tenants/{tenant}/status"), &[("status", "suspended"), ("reason", "fleet drill")]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let took = on_every(&c, &ports, Duration::from_secs(1), |s, _| s != 200).await;
    assert!(took.is_some(), "the suspended shop closed on both storefronts within a second");
    let (status, body) = products(&c, s2.port).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("shop_closed")), "{body}");
}

/// Sends `n` requests to the product list, spread over `ports` in turn,
/// from `ip` (through the trusted-proxy header); returns how many were admitted.
async fn admitted(c: &reqwest::Client, ports: &[u16], slug: &str, ip: &str, n: usize) -> usize {
    let mut ok = 0;
    for i in 0..n {
        let port = ports[i % ports.len()];
        let r = c
            .get(shop_url(port, slug, "/api/v1/products"))
            .header("x-forwarded-for", ip)
            .send()
            .await
            .expect("request");
        match r.status().as_u16() {
            200 => ok += 1,
            429 => {}
            other => panic!("unexpected {other}"),
        }
    }
    ok
}

/// Sends requests to the product list for `span`, in turn to each of
/// `ports`, the i-th from `ip(i)`; returns how many were admitted, how many
/// were sent, and the time from the first request to the last.
async fn admitted_for(
    c: &reqwest::Client,
    ports: &[u16],
    slug: &str,
    ip: impl Fn(usize) -> String,
    span: Duration,
) -> (usize, usize, Duration) {
    let started = Instant::now();
    let (mut ok, mut i) = (0, 0);
    while started.elapsed() < span {
        ok += admitted(c, &ports[i % ports.len()..=i % ports.len()], slug, &ip(i), 1).await;
        i += 1;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    (ok, i, started.elapsed())
}

/// Admitted `ok` of `sent` in `took` under a limit of `rate` per second with
/// a burst of `burst`: at most the fleet-wide allowance (+10 %), and at
/// least 90 % of what the sender could have been given (a slow machine
/// may send fewer requests than the allowance).
fn within_the_fleet_allowance(ok: usize, sent: usize, took: Duration, rate: f64, burst: f64) {
    let allowance = burst + rate * took.as_secs_f64();
    let reachable = allowance.min(sent as f64);
    assert!(
        (ok as f64) <= allowance * 1.1 + 1.0 && (ok as f64) >= reachable * 0.9 - 1.0,
        "{ok} admitted of {sent} sent in {took:?}; the fleet's allowance was {allowance:.0}"
    );
}

#[tokio::test]
async fn a_client_limit_and_a_plan_cap_hold_across_two_storefronts() {
    if !fleet_available() {
        return;
    }
    let app = TestApp::spawn().await;
    app.create_shop("other", "test", 5).await;
    let demo_plan = plan_of(&app, &app.tenant_id("demo").await).await;
    // 20 requests per second per client with a burst of 20; the demo
    // shop's plan caps it at 40 per second for all clients together.
    app.set_plan_limit(&demo_plan, plans::Column::StorefrontRps, Some(40)).await;
    let env = [
        ("KAPU_RATE_LIMIT_PER_SECOND", "20".to_string()),
        ("KAPU_RATE_LIMIT_BURST", "20".to_string()),
        ("KAPU_SHOP_RATE_LIMITS", "true".to_string()),
        ("KAPU_TRUSTED_PROXIES", "127.0.0.1/32".to_string()),
    ];
    let (s1, s2) = (join(&app, "storefront", &env), join(&app, "storefront", &env));
    let ports = [s1.port, s2.port];
    let c = client();
    // Connections open and both processes warm before the clock starts.
    for port in ports {
        assert_eq!(admitted(&c, &[port], "other", "192.0.2.1", 2).await, 2);
        assert_eq!(admitted(&c, &[port], "demo", "192.0.2.1", 2).await, 2);
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    // One client, its requests spread over both processes for 1.5 s: the
    // fleet admits its burst of 20 plus 20 per second, not twice that.
    let (ok, sent, took) =
        admitted_for(&c, &ports, "other", |_| "198.51.100.7".into(), Duration::from_millis(1_500)).await;
    println!("one client over two processes: {ok} of {sent} admitted in {took:?}");
    within_the_fleet_allowance(ok, sent, took, 20.0, 20.0);
    // Another client of the same shop is not affected.
    assert_eq!(admitted(&c, &ports, "other", "198.51.100.8", 10).await, 10);

    // The plan's cap: many clients of the demo shop, spread over both
    // processes, share 40 per second (and a burst of 40).
    let many = |i: usize| format!("203.0.113.{}", i % 200);
    let (ok, sent, took) = admitted_for(&c, &ports, "demo", many, Duration::from_millis(1_500)).await;
    println!("plan cap over two processes: {ok} of {sent} admitted in {took:?}");
    within_the_fleet_allowance(ok, sent, took, 40.0, 40.0);
    // The other shop on the same processes is untouched.
    assert_eq!(admitted(&c, &ports, "other", "198.51.100.9", 10).await, 10);
}

#[tokio::test]
async fn a_merchant_api_key_of_sixty_a_minute_gets_sixty_across_two_platform_processes() {
    if !fleet_available() {
        return;
    }
    let app = TestApp::spawn().await;
    let tenant = app.tenant_id("demo").await;
    let plan = plan_of(&app, &tenant).await;
    app.set_plan_limit(&plan, plans::Column::ApiRequestsPerMinute, Some(60)).await;
    let key = merchant_api(&app, &tenant).await;
    let other = join(&app, "platform", &[]);
    let c = client();
    let mut ok = 0;
    let mut by_port = std::collections::BTreeMap::new();
    let started = Instant::now();
    for i in 0..130 {
        let port = if i % 2 == 0 { app.addr.port() } else { other.port };
        let r = c
            .get(format!("http://localhost:{port}/api/merchant/v1/products"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("api");
        *by_port.entry((port, r.status().as_u16())).or_insert(0) += 1;
        match r.status().as_u16() {
            200 => ok += 1,
            429 => assert!(r.headers().contains_key("retry-after")),
            s => panic!("unexpected {s}"),
        }
    }
    let took = started.elapsed();
    println!("merchant API over two processes: {ok} of 130 admitted in {took:?} ({by_port:?})");
    // 60 at once, plus one a second while the test runs (two processes each
    // keeping their own count would admit up to 120).
    let most = 60 + took.as_secs() as usize + 1;
    assert!((60..=most).contains(&ok), "{ok} admitted, at most {most} expected");
}

#[tokio::test]
async fn one_payment_notification_sent_twenty_times_across_two_storefronts_delivers_once() {
    if !fleet_available() {
        return;
    }
    let app = TestApp::spawn().await;
    let (s1, s2) = (join(&app, "storefront", &[]), join(&app, "storefront", &[]));
    let c = client();
    let (_, order) = order_on(&c, s1.port, "demo", "win11-pro", "twenty@example.com", None, json!({})).await;
    let order_no = support::order_no(&order).to_string();
    let tenant = app.tenant_id("demo").await;
    let payment = app.payment_of(&tenant, &order_no).await;
    let fields = support::sandbox_fields(
        &app.master.tenant(&tenant),
        &payment.id,
        "paid",
        payment.amount_minor,
        &payment.currency,
    );
    let sends = (0..20).map(|i| {
        let port = if i % 2 == 0 { s1.port } else { s2.port };
        c.post(shop_url(port, "demo", &format!("/api/v1/payments/{}/notify", payment.id))).form(&fields).send()
    });
    for r in futures::future::join_all(sends).await {
        let r = r.expect("notify");
        assert!(r.status().is_success(), "every copy is acknowledged: {}", r.status());
    }
    assert!(app.jobs_settled(20).await);
    let row = app.order_row(&tenant, &order_no).await;
    assert_eq!(row.status, "delivered");
    let emails =
        support::read_outbox(&app.outbox()).into_iter().filter(|(to, _, _)| to == "twenty@example.com").count();
    assert_eq!(emails, 1, "one delivery email");
    let fees = fee_ledger::Entity::find()
        .filter(fee_ledger::Column::OrderNo.eq(&order_no))
        .count(app.db.reader())
        .await
        .expect("fees");
    assert_eq!(fees, 1, "one fee-ledger row");
    assert_eq!(app.count_keys(&tenant, "sold").await, 1);
}

/// Places and pays one order on the storefront at `port`; returns its number.
async fn buy(c: &reqwest::Client, port: u16, email: &str) -> (String, Value) {
    let (status, order) = order_on(c, port, "demo", "win11-pro", email, None, json!({})).await;
    assert_eq!(status, 201, "{order}");
    let pay =
        c.post(order["pay_url"].as_str().expect("pay url")).form(&[("outcome", "paid")]).send().await.expect("pay");
    assert!(pay.status().is_redirection(), "{}", pay.status());
    (support::order_no(&order).to_string(), order)
}

async fn readiness(c: &reqwest::Client, port: u16) -> (u16, Value) {
    let r = c.get(format!("http://localhost:{port}/readyz")).send().await.expect("readyz");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn with_redis_down_the_fleet_keeps_selling_and_shares_again_when_it_is_back() {
    if !fleet_available() {
        return;
    }
    let mut redis = PrivateRedis::start().await;
    let app = TestApp::spawn_with(Options { redis_url: Some(redis.url()), ..Options::default() }).await;
    // One request per second per client with a burst of 1,000: each request
    // leaves its client's limit in Redis for about a second (to look at).
    let mut env = long_caches();
    env.extend([
        ("KAPU_RATE_LIMIT_PER_SECOND", "1".to_string()),
        ("KAPU_RATE_LIMIT_BURST", "1000".to_string()),
        ("KAPU_METRICS_TOKEN", "scrape".to_string()),
    ]);
    let s1 = join(&app, "storefront", &env);
    let c = client();
    let tenant = app.tenant_id("demo").await;
    let (no, _) = buy(&c, s1.port, "before@example.com").await;
    assert_eq!(readiness(&c, s1.port).await, (200, json!({"database": "ok", "redis": "ok"})));

    redis.stop();
    // Orders are placed, paid and delivered on both processes.
    let mut placed = vec![no];
    for (i, port) in [s1.port, app.addr.port(), s1.port].into_iter().enumerate() {
        let started = Instant::now();
        let (no, _) = buy(&c, port, &format!("during-{i}@example.com")).await;
        assert!(started.elapsed() < Duration::from_secs(5), "a purchase took {:?}", started.elapsed());
        placed.push(no);
    }
    let (status, ready) = readiness(&c, s1.port).await;
    assert_eq!((status, ready["redis"].as_str()), (200, Some("degraded")), "{ready}");
    let metrics = |port: u16| {
        let c = c.clone();
        async move {
            let r = c.get(format!("http://localhost:{port}/internal/metrics")).bearer_auth("scrape").send().await;
            r.expect("metrics").text().await.expect("text")
        }
    };
    assert!(metrics(s1.port).await.contains("kapu_redis_degraded 1"), "the outage is a metric");
    assert!(app.jobs_settled(20).await);
    for no in &placed {
        assert_eq!(app.order_row(&tenant, no).await.status, "delivered", "{no}");
    }

    // Back: shared again. The storefront dropped its caches (it may have
    // missed events), and a change reaches it through the bus again.
    redis.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while readiness(&c, s1.port).await.1["redis"] != "ok" {
        assert!(Instant::now() < deadline, "the storefront never saw Redis back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(metrics(s1.port).await.contains("kapu_redis_degraded 0"));
    // The relay resubscribes within a second or two.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let key = merchant_api(&app, &tenant).await;
    let r = c
        .patch(app.platform_url("/api/merchant/v1/products/win11-pro"))
        .bearer_auth(&key)
        .json(&json!({"price": "77.77"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status().as_u16(), 200);
    let took = on_every(&c, &[s1.port], Duration::from_secs(1), |_, l| {
        product(l, "win11-pro").is_some_and(|p| p["price_minor"] == 7777)
    })
    .await;
    assert!(took.is_some(), "after the outage, changes reach the storefront through the bus again");
    // Limits are kept in Redis again.
    let _ = products(&c, s1.port).await;
    let mut conn = redis::Client::open(redis.url()).expect("url").get_multiplexed_async_connection().await.expect("c");
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}rl:client:*", app.redis_prefix)).query_async(&mut conn).await.expect("keys");
    assert!(!keys.is_empty(), "the per-client limit is in Redis again");
    let (_, logs) = s1.signal_and_wait("TERM");
    assert!(logs.iter().any(|l| l.contains("dropping caches that may have missed events")), "{logs:?}");
    assert_eq!(logs.iter().filter(|l| l.contains("Redis unavailable")).count(), 1, "one line per transition");
}

#[tokio::test]
async fn a_purchase_through_caddy_lands_on_both_storefronts_and_completes() {
    if !fleet_available() || !caddy_available() {
        return;
    }
    let app = TestApp::spawn().await;
    // Links are built from configuration: the storefronts are told the
    // balancer's port, as a deployment sets KAPU_PUBLIC_PORT (or https).
    let port = processes::free_port();
    let public = [("KAPU_PUBLIC_PORT", port.to_string())];
    let (s1, s2) = (join(&app, "storefront", &public), join(&app, "storefront", &public));
    let caddy = Caddy::start_on(port, &[s1.port, s2.port]).await;
    let c = client();
    let port = caddy.port;
    let mut upstreams = HashSet::new();
    let mut seen = |r: &reqwest::Response| {
        if let Some(u) = r.headers().get("x-kapu-upstream").and_then(|v| v.to_str().ok()) {
            upstreams.insert(u.to_string());
        }
    };
    let home = c.get(shop_url(port, "demo", "/")).send().await.expect("home");
    assert_eq!(home.status().as_u16(), 200);
    seen(&home);
    let page = c.get(shop_url(port, "demo", "/products/win11-pro")).send().await.expect("product page");
    assert_eq!(page.status().as_u16(), 200);
    seen(&page);
    let r = c
        .post(shop_url(port, "demo", "/api/v1/orders"))
        .json(&json!({"product_id": "win11-pro", "quantity": 1, "email": "caddy@example.com"}))
        .send()
        .await
        .expect("order");
    assert_eq!(r.status().as_u16(), 201);
    seen(&r);
    let order: Value = r.json().await.expect("json");
    let pay_url = order["pay_url"].as_str().expect("pay url");
    assert!(pay_url.contains(&format!(":{port}/")), "links keep the balancer's address: {pay_url}");
    let pay = c.post(pay_url).form(&[("outcome", "paid")]).send().await.expect("pay");
    assert!(pay.status().is_redirection());
    seen(&pay);
    let view = c
        .get(shop_url(
            port,
            "demo",
            &format!("/api/v1/orders/{}?token={}", support::order_no(&order), order["token"].as_str().expect("token")),
        ))
        .send()
        .await
        .expect("view");
    seen(&view);
    let view: Value = view.json().await.expect("json");
    assert_eq!(view["status"], "delivered", "{view}");
    assert_eq!(view["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(upstreams.len(), 2, "the purchase's requests went to both processes: {upstreams:?}");
}

/// Whether `caddy` is installed (CI always installs it); prints why not.
fn caddy_available() -> bool {
    if std::process::Command::new("caddy").arg("version").output().is_ok() {
        return true;
    }
    assert!(std::env::var("CI").is_err(), "CI installs caddy (Debian package)");
    println!("skipped: caddy is not installed (apt-get install caddy)");
    false
}

/// Caddy as a round-robin reverse proxy in front of `upstreams`.
struct Caddy {
    port: u16,
    _dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Caddy {
    async fn start_on(port: u16, upstreams: &[u16]) -> Self {
        Self::start_with(port, upstreams, "").await
    }

    /// As deploy/Caddyfile runs it in front of a fleet: upstreams checked
    /// on `/readyz` and a request whose upstream cannot be reached tried
    /// on another (for up to 5 s).
    async fn start_checking_readiness(port: u16, upstreams: &[u16]) -> Self {
        let health = "    health_uri /readyz\n    health_interval 250ms\n    health_timeout 1s\n    \
                      lb_try_duration 5s\n    lb_try_interval 100ms\n";
        Self::start_with(port, upstreams, health).await
    }

    async fn start_with(port: u16, upstreams: &[u16], extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let to: Vec<String> = upstreams.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let config = format!(
            "{{\n  admin off\n  auto_https off\n  storage file_system {storage}\n}}\n\
             http://:{port} {{\n  reverse_proxy {to} {{\n    lb_policy round_robin\n{extra}    \
             header_down X-Kapu-Upstream {{http.reverse_proxy.upstream.hostport}}\n  }}\n}}\n",
            storage = dir.path().join("caddy").display(),
            to = to.join(" "),
        );
        let file = dir.path().join("Caddyfile");
        std::fs::write(&file, config).expect("caddyfile");
        let child = std::process::Command::new("caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("caddy");
        assert!(processes::listening(port, 20).await, "caddy did not start");
        Self { port, _dir: dir, child }
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The velocity rule asks for a challenge from the fourth order of one address.
async fn challenged_shop(app: &TestApp) -> String {
    use kapu_core::entities::tenants;
    app.set_tenant("demo", tenants::Column::VelocityAction, "challenge").await;
    let t = tenants::Entity::find_by_id(app.tenant_id("demo").await).one(app.db.reader()).await;
    let mut t: tenants::ActiveModel = t.expect("tenant").expect("demo").into();
    t.velocity_ip_max = sea_orm::Set(1);
    t.velocity_email_max = sea_orm::Set(100);
    sea_orm::ActiveModelTrait::update(t, app.db.writer()).await.expect("velocity");
    app.tenant_id("demo").await
}

async fn order_from(c: &reqwest::Client, port: u16, ip: &str, email: &str, pow: Option<&str>) -> (u16, Value) {
    let extra = pow.map_or(json!({}), |p| json!({"pow": p}));
    order_on(c, port, "demo", "win11-pro", email, Some(ip), extra).await
}

#[tokio::test]
async fn a_proof_of_work_answer_accepted_on_one_storefront_is_refused_on_the_other() {
    if !fleet_available() {
        return;
    }
    let app = TestApp::spawn().await;
    challenged_shop(&app).await;
    let env = [("KAPU_TRUSTED_PROXIES", "127.0.0.1/32".to_string())];
    let (s1, s2) = (join(&app, "storefront", &env), join(&app, "storefront", &env));
    let c = client();
    let ip = "198.51.100.44";
    assert_eq!(order_from(&c, s1.port, ip, "a@example.com", None).await.0, 201);
    let (status, body) = order_from(&c, s1.port, ip, "b@example.com", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (428, Some("challenge_required")), "{body}");
    let answer = kapu_runtime::checkout::challenge::solve(body["error"]["challenge"].as_str().expect("challenge"));
    // Spent on process A…
    assert_eq!(order_from(&c, s1.port, ip, "b@example.com", Some(&answer)).await.0, 201);
    // …so process B, which never saw it, refuses it with a new challenge.
    let (status, body) = order_from(&c, s2.port, ip, "c@example.com", Some(&answer)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (428, Some("challenge_required")), "{body}");
}

#[tokio::test]
async fn a_provider_failing_on_one_storefront_opens_the_breaker_for_both_and_one_trial_is_made() {
    use crate::support::fakes::epay::FakeEpay;
    use crate::support::fakes::epusdt::FakeEpusdt;
    use std::sync::atomic::Ordering::SeqCst;
    if !fleet_available() {
        return;
    }
    let app = TestApp::spawn().await;
    let (epay, usdt) = (FakeEpay::start("1001", "k-fleet").await, FakeEpusdt::start("t-fleet").await);
    let (tenant, product) = app.create_shop("br", "live", 50).await;
    app.configure_channel(&tenant, "epay", 1, true, &epay.credentials()).await;
    app.configure_channel(&tenant, "epusdt", 2, true, &usdt.credentials()).await;
    epay.faults().set(|f| f.create_status = Some(503));
    let env = [("KAPU_BREAKER_FAILURES", "2".to_string()), ("KAPU_BREAKER_COOLDOWN_SECS", "3".to_string())];
    let (s1, s2) = (join(&app, "storefront", &env), join(&app, "storefront", &env));
    let c = client();
    let buy = |port: u16| order_on(&c, port, "br", &product, "b@example.com", None, json!({}));
    // Two failures seen by process A open the breaker.
    for _ in 0..2 {
        assert_eq!(buy(s1.port).await.0, 201);
    }
    assert_eq!(epay.inner.create_calls.load(SeqCst), 2);
    // Process B never called epay and does not call it now.
    for _ in 0..3 {
        assert_eq!(buy(s2.port).await.0, 201);
    }
    assert_eq!(epay.inner.create_calls.load(SeqCst), 2, "process B called a provider the fleet knows is down");
    // After the cool-down, orders on both processes at once: one trial, fleet-wide.
    tokio::time::sleep(Duration::from_millis(3_300)).await;
    let (a, b) = tokio::join!(buy(s1.port), buy(s2.port));
    assert_eq!((a.0, b.0), (201, 201));
    assert_eq!(epay.inner.create_calls.load(SeqCst), 3, "exactly one trial call");
}

async fn lease_holder(app: &TestApp, name: &str) -> Option<(String, chrono::DateTime<chrono::Utc>)> {
    use sea_orm::{ConnectionTrait, Statement};
    let row = app
        .db
        .reader()
        .query_one_raw(Statement::from_sql_and_values(
            app.db.reader().get_database_backend(),
            "SELECT holder, expires_at FROM sweep_leases WHERE name = $1",
            [name.into()],
        ))
        .await
        .expect("lease")?;
    Some((row.try_get("", "holder").expect("holder"), row.try_get("", "expires_at").expect("expires")))
}

#[tokio::test]
async fn two_workers_run_each_job_once_and_a_dead_lease_holder_hands_its_sweep_over() {
    use kapu_core::entities::jobs;
    use kapu_core::jobs::{NewJob, enqueue};
    if !fleet_available() {
        return;
    }
    // The test server serves the platform only: the two processes are the workers.
    let app = TestApp::spawn_with(Options { role: kapu_core::config::Role::Platform, ..Options::default() }).await;
    let tenant = app.tenant_id("demo").await;
    let env = [("KAPU_RECONCILE_EVERY_SECS", "1".to_string())];
    let (w1, w2) = (join(&app, "worker", &env), join(&app, "worker", &env));
    for i in 0..1_000 {
        let job = NewJob::now(
            kapu_runtime::jobs::EXPIRE_ORDER,
            Some(tenant.clone()),
            json!({"order_id": format!("no-such-order-{i}")}),
        );
        enqueue(app.db.writer(), job).await.expect("enqueue");
    }
    assert!(app.jobs_settled(60).await, "the workers drained the queue");
    let all = jobs::Entity::find()
        .filter(jobs::Column::Kind.eq(kapu_runtime::jobs::EXPIRE_ORDER))
        .all(app.db.reader())
        .await
        .expect("jobs");
    assert_eq!(all.len(), 1_000);
    assert!(all.iter().all(|j| j.status == "done" && j.attempts == 1), "every job ran exactly once");

    // The reconciliation sweep: held by one worker at a time.
    let ids = [w1.process_id.clone(), w2.process_id.clone()];
    let deadline = Instant::now() + Duration::from_secs(10);
    let holder = loop {
        if let Some((h, _)) = lease_holder(&app, "reconcile").await {
            break h;
        }
        assert!(Instant::now() < deadline, "nobody took the reconciliation lease");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(ids.contains(&holder), "{holder} is one of {ids:?}");
    for _ in 0..5 {
        let (h, _) = lease_holder(&app, "reconcile").await.expect("lease");
        assert_eq!(h, holder, "the lease stays with its live holder");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // Kill the holder: the other worker takes the sweep once the lease expires.
    let (dead, survivor) = if holder == w1.process_id { (w1, w2) } else { (w2, w1) };
    let (_, expires) = lease_holder(&app, "reconcile").await.expect("lease");
    dead.signal_and_wait("KILL");
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let (h, _) = lease_holder(&app, "reconcile").await.expect("lease");
        if h == survivor.process_id {
            break;
        }
        assert!(Instant::now() < deadline, "the sweep never moved to the surviving worker");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let moved_after = chrono::Utc::now() - expires;
    println!("the sweep moved {moved_after} after the dead holder's lease expired");
    assert!(moved_after < chrono::Duration::seconds(3), "taken over within a pass of the expiry");
}

/// A rolling restart of both storefronts behind Caddy while buyers browse
/// and order: each process is sent SIGTERM (its `/readyz` turns 503 and it
/// keeps serving for the drain, then closes), started again on its port,
/// and only then is the next one restarted. No request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_behind_caddy_fails_no_request() {
    if !fleet_available() || !caddy_available() {
        return;
    }
    let app = TestApp::spawn().await;
    let port = processes::free_port();
    let env = [("KAPU_PUBLIC_PORT", port.to_string()), ("KAPU_SHUTDOWN_DRAIN_MS", "1500".to_string())];
    let mut storefronts = vec![join(&app, "storefront", &env), join(&app, "storefront", &env)];
    let ports: Vec<u16> = storefronts.iter().map(|p| p.port).collect();
    let _caddy = Caddy::start_checking_readiness(port, &ports).await;
    assert!(processes::listening(port, 10).await);
    tokio::time::sleep(Duration::from_millis(600)).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for buyer in 0..4 {
        let stop = stop.clone();
        load.push(tokio::spawn(async move {
            let c = client();
            let (mut ok, mut failed) = (0u32, Vec::new());
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let r = if n % 4 == 0 {
                    let body = json!({"product_id": "video-vip-month", "quantity": 1, "email": format!("rolling-{buyer}-{n}@example.com")});
                    c.post(shop_url(port, "demo", "/api/v1/orders")).json(&body).send().await
                } else if n % 2 == 0 {
                    c.get(shop_url(port, "demo", "/products/video-vip-month")).send().await
                } else {
                    c.get(shop_url(port, "demo", "/api/v1/products")).send().await
                };
                match r {
                    Ok(r) if r.status().is_success() => ok += 1,
                    Ok(r) => failed.push(format!("{}", r.status())),
                    Err(e) => failed.push(e.to_string()),
                }
            }
            (ok, failed)
        }));
    }
    let restarted = Instant::now();
    for (i, at) in ports.iter().enumerate() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let old = storefronts.remove(i);
        let (exit, _) = tokio::task::block_in_place(|| old.signal_and_wait("TERM"));
        assert!(exit.success(), "storefront {i} exited cleanly");
        let again = tokio::task::block_in_place(|| processes::join_at(&app, "storefront", *at, &env));
        storefronts.insert(i, again);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let took = restarted.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, Vec::new());
    for l in load {
        let (o, f) = l.await.expect("load");
        ok += o;
        failed.extend(f);
    }
    println!(
        "rolling restart of 2 storefronts behind Caddy in {took:.1?}: {ok} requests answered, {} failed",
        failed.len()
    );
    assert!(ok > 100, "{ok} requests during the restart");
    assert!(failed.is_empty(), "failed requests: {failed:?}");
}
