//! Dependency outages, with the dependency really taken away: the real
//! `kapu` binary reaches its PostgreSQL database through a proxy the test
//! cuts (every connection dropped, new ones refused) and restores. Nothing
//! else using that PostgreSQL server notices. PostgreSQL runs only (SQLite
//! has no server to lose).

use crate::support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::database::{Seed, TEST_MASTER_KEY, cloned_database, test_master_key};
use support::process::KapuProcess;
use support::processes::{client, order_on, shop_url};
use support::tcp_proxy::TcpProxy;

/// Sends `req` and returns (status, body, how long the answer took).
async fn timed(req: reqwest::RequestBuilder) -> (u16, String, Duration) {
    let started = Instant::now();
    let r = req.send().await.expect("an answer, not a dropped connection");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default(), started.elapsed())
}

/// The real binary on a fresh demo database, reaching PostgreSQL through a
/// proxy the test controls; `None` (and why, printed) without PostgreSQL.
struct Proxied {
    server: KapuProcess,
    proxy: TcpProxy,
    database_url: String,
    _database: support::database::TestDatabase,
    _dir: tempfile::TempDir,
}

async fn behind_a_proxy(drill: &str, env: &[(&'static str, &str)]) -> Option<Proxied> {
    if !std::env::var("KAPU_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        println!("skipped: the {drill} drill needs PostgreSQL (KAPU_TEST_DATABASE_URL)");
        return None;
    }
    let dir = tempfile::tempdir().expect("dir");
    let database = cloned_database(dir.path(), Seed::Demo).await;
    let mut url = url::Url::parse(&database.url).expect("url");
    let upstream = (url.host_str().expect("host").to_string(), url.port().unwrap_or(5432));
    let upstream = tokio::net::lookup_host(upstream).await.expect("resolve").next().expect("address");
    let proxy = TcpProxy::start(upstream).await;
    url.set_host(Some("127.0.0.1")).expect("host");
    url.set_port(Some(proxy.port)).expect("port");
    let mut all = vec![
        ("KAPU_DATA_DIR", dir.path().display().to_string()),
        ("KAPU_DATABASE_URL", url.to_string()),
        ("KAPU_MASTER_KEY", TEST_MASTER_KEY.to_string()),
    ];
    all.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
    let server = KapuProcess::start(&["serve", "--listen", "127.0.0.1:0"], &all);
    Some(Proxied { server, proxy, database_url: database.url.clone(), _database: database, _dir: dir })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_down_requests_fail_fast_and_clearly_and_all_resumes_when_it_is_back() {
    // Bound whole: its database and directory live as long as the test.
    let Some(drill) = behind_a_proxy("database outage", &[("KAPU_DB_ACQUIRE_TIMEOUT_MS", "1000")]).await else {
        return;
    };
    let (server, proxy, database_url) = (&drill.server, &drill.proxy, drill.database_url.clone());
    let (port, c) = (server.port, client());

    // An order placed before the outage, paid by the provider during it.
    let (status, order) = order_on(&c, port, "demo", "win11-pro", "outage@example.com", None, json!({})).await;
    assert_eq!(status, 201, "{order}");
    let pay_url = order["pay_url"].as_str().expect("pay_url");
    let payment_id = pay_url.rsplit('/').next().and_then(|p| p.split('?').next()).expect("payment id").to_string();
    let keys = test_master_key().tenant(&order_tenant(&database_url).await);
    let notification =
        support::sandbox_fields(&keys, &payment_id, "paid", order["amount_minor"].as_i64().expect("amount"), "CNY");
    let notify_url = shop_url(port, "demo", &format!("/api/v1/payments/{payment_id}/notify"));

    // Pages the caches hold, seen once before the outage.
    let cached = ["/", "/products/win11-pro"];
    for p in cached {
        assert_eq!(c.get(shop_url(port, "demo", p)).send().await.expect("warm").status(), 200, "{p}");
    }

    proxy.cut();
    // Cached pages keep being served, saying that ordering is paused (the
    // storefront checks the database every second, and two failures in a
    // row mark it away).
    tokio::time::sleep(Duration::from_millis(4000)).await;
    for p in cached {
        let (status, body, _) = timed(c.get(shop_url(port, "demo", p)).header("accept-language", "en")).await;
        assert_eq!(status, 200, "{p} from the cache: {body}");
        assert!(body.contains("id=\"ordering-paused\"") && body.contains("Ordering is paused"), "{p}: {body}");
    }
    let order_body = json!({"product_id": "win11-pro", "quantity": 1, "email": "during@example.com"});
    // Ordering: 503 service_unavailable, in the buyer's language, fast.
    let (status, body, took) =
        timed(c.post(shop_url(port, "demo", "/api/v1/orders")).header("accept-language", "zh-CN").json(&order_body))
            .await;
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!((status, v["error"]["code"].as_str()), (503, Some("service_unavailable")), "{body}");
    assert!(v["error"]["message"].as_str().expect("message").contains("订单不会丢失"), "{body}");
    assert!(took < Duration::from_millis(2500), "answered in {took:?}");
    // The provider's notification: 503, so the provider retries it.
    let (status, body, took) = timed(c.post(&notify_url).form(&notification)).await;
    assert_eq!(status, 503, "{body}");
    assert!(took < Duration::from_millis(2500), "answered in {took:?}");
    // The buyer's order page: a page that says what is wrong, not a 500.
    let page = shop_url(
        port,
        "demo",
        &format!("/orders/{}?token={}", support::order_no(&order), order["token"].as_str().expect("t")),
    );
    let (status, body, took) = timed(c.get(&page).header("accept-language", "zh-CN")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("服务暂时繁忙"), "{body}");
    assert!(took < Duration::from_millis(2500), "answered in {took:?}");
    // The merchant API and readiness.
    let (status, body, _) =
        timed(c.get(format!("http://localhost:{port}/api/merchant/v1/products")).bearer_auth("kapu_sk_x")).await;
    assert!(status == 503 || status == 401, "{status} {body}");
    let (status, body, took) = timed(c.get(format!("http://127.0.0.1:{port}/readyz"))).await;
    assert_eq!(status, 503, "{body}");
    assert!(took < Duration::from_millis(2500), "readyz answered in {took:?}");
    let (status, _, _) = timed(c.get(format!("http://127.0.0.1:{port}/healthz"))).await;
    assert_eq!(status, 200, "the process itself is alive");

    // Back: serving within 5 s, without a restart; the provider's retry delivers.
    proxy.restore().await;
    let back = Instant::now();
    loop {
        let (status, _) = order_on(&c, port, "demo", "win11-pro", "after@example.com", None, json!({})).await;
        if status == 201 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(5), "still {status} 5 s after the database came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("ordering again {:?} after the database came back", back.elapsed());
    let notice_gone = Instant::now();
    loop {
        let (_, body, _) = timed(c.get(shop_url(port, "demo", "/"))).await;
        if !body.contains("id=\"ordering-paused\"") {
            break;
        }
        assert!(notice_gone.elapsed() < Duration::from_secs(3), "the notice stays after the database came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body, _) = timed(c.post(&notify_url).form(&notification)).await;
    assert_eq!(status, 200, "{body}");
    let view = shop_url(
        port,
        "demo",
        &format!("/api/v1/orders/{}?token={}", support::order_no(&order), order["token"].as_str().expect("t")),
    );
    let v: Value = c.get(view).send().await.expect("view").json().await.expect("json");
    assert_eq!(v["status"], "delivered", "{v}");
    let (exit, _) = drill.server.signal_and_wait("TERM");
    assert!(exit.success());
}

/// The demo shop's tenant id, read directly (not through the proxy).
async fn order_tenant(url: &str) -> String {
    use kapu_core::entities::tenants;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let db = kapu_core::Db::connect(url, 2).await.expect("db");
    let t = tenants::Entity::find().filter(tenants::Column::Slug.eq("demo")).one(db.reader()).await.expect("db");
    db.close().await;
    t.expect("demo").id
}

/// The mail server down, then back; and a mailbox refused for good. Both
/// engines: the server under test is the app itself, mail goes over SMTP
/// to a sink the test stops and starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_mail_server_down_keys_show_at_once_and_the_email_follows_when_it_is_back() {
    use support::smtp_sink::SmtpSink;
    let port = support::processes::free_port();
    let app = support::TestApp::spawn_with(support::Options {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        ..support::Options::default()
    })
    .await;
    // The sink writes into the app's outbox, so the usual helpers read it.
    let mut smtp = SmtpSink::on(port, app.outbox(), "refused.example");
    smtp.start().await;
    let owner = support::merchant::merchant_with_shop(&app, "mailer@example.com", "mailshop").await;
    let tenant = app.tenant_id("mailshop").await;
    let product = app.add_product(&tenant, "Mailed key", 500, 5).await;

    // Down: the buyer pays and sees the keys; the email waits its turn.
    smtp.stop();
    let sent_before = smtp.accepted();
    let (status, order) =
        app.order("mailshop", json!({"product_id": product, "quantity": 1, "email": "waiting@example.com"})).await;
    assert_eq!(status, 201, "{order}");
    let pay = app.client.post(order["pay_url"].as_str().expect("pay")).form(&[("outcome", "paid")]).send().await;
    assert_eq!(pay.expect("pay").status().as_u16(), 303);
    let (no, token) = (support::order_no(&order).to_string(), order["token"].as_str().expect("t").to_string());
    let (_, view) = app.order_view("mailshop", &no, &token).await;
    assert_eq!(view["status"], "delivered");
    assert_eq!(view["keys"].as_array().map(Vec::len), Some(1), "keys on the order page while mail is down");
    let tried = || async {
        let jobs = kapu_core::store::order_admin::list_jobs_of_order_for_tenant(
            app.db.reader(),
            &tenant,
            &app.order_row(&tenant, &no).await,
        )
        .await
        .expect("jobs");
        jobs.into_iter()
            .find(|j| j.kind == "send_delivery_email")
            .is_some_and(|j| j.attempts >= 1 && j.status == "queued")
    };
    assert!(app.eventually(10, tried).await, "the email was tried and is queued again");

    // Back: the email arrives with the next retry.
    smtp.start().await;
    let back = Instant::now();
    let arrived = || async {
        support::read_outbox(&app.outbox())
            .iter()
            .any(|(to, _, body)| to == "waiting@example.com" && body.contains(&no))
    };
    assert!(app.eventually(30, arrived).await, "the delivery email arrived after the mail server came back");
    println!("delivery email sent {:?} after the mail server came back", back.elapsed());
    assert_eq!(smtp.accepted() - sent_before, 1, "exactly one email for the order");

    // Refused for good: the job ends at once, and the merchant is told on the order.
    let (_, refused) =
        app.order("mailshop", json!({"product_id": product, "quantity": 1, "email": "nobody@refused.example"})).await;
    let pay = app.client.post(refused["pay_url"].as_str().expect("pay")).form(&[("outcome", "paid")]).send().await;
    assert_eq!(pay.expect("pay").status().as_u16(), 303);
    let refused_no = support::order_no(&refused).to_string();
    let dead = || async {
        let row = app.order_row(&tenant, &refused_no).await;
        let jobs = kapu_core::store::order_admin::list_jobs_of_order_for_tenant(app.db.reader(), &tenant, &row)
            .await
            .expect("jobs");
        jobs.into_iter().any(|j| j.kind == "send_delivery_email" && j.status == "dead" && j.attempts == 1)
    };
    assert!(app.eventually(10, dead).await, "a refused address is not retried");
    let page = owner.get(&format!("/shops/mailshop/orders/{refused_no}")).await;
    assert!(page.body.contains("id=\"email-refused\""), "{}", page.body);
    assert!(page.body.contains("550"), "the merchant sees what the buyer's server said");
    let page = owner.get(&format!("/shops/mailshop/orders/{no}")).await;
    assert!(!page.body.contains("id=\"email-refused\""), "no notice on an order whose email went out");
    app.stop().await;
}

/// A slow database (every answer held 400 ms): pages a buyer browses come
/// from the storefront's caches and do not wait for it, while ordering
/// (which must write) does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_slow_cached_storefront_pages_do_not_wait_for_it() {
    let long_caches = [("KAPU_CATALOG_CACHE_SECS", "600"), ("KAPU_HOST_CACHE_SECS", "600")];
    let Some(drill) = behind_a_proxy("slow-database", &long_caches).await else {
        return;
    };
    let (server, proxy) = (&drill.server, &drill.proxy);
    let (port, c) = (server.port, client());
    let pages = ["/", "/products/win11-pro", "/api/v1/products"];
    for p in pages {
        assert_eq!(c.get(shop_url(port, "demo", p)).send().await.expect("warm").status(), 200, "{p}");
    }
    proxy.slow_down(Duration::from_millis(400));
    let mut took = Vec::new();
    for round in 0..10 {
        for p in pages {
            let (status, body, t) = timed(c.get(shop_url(port, "demo", p))).await;
            assert_eq!(status, 200, "{p}: {body}");
            assert!(t < Duration::from_millis(300), "round {round}: {p} waited {t:?} with the database 400 ms slow");
            took.push(t);
        }
    }
    took.sort();
    // The delay is real: an order, which writes, waits for it.
    let (status, _, order_took) = timed(
        c.post(shop_url(port, "demo", "/api/v1/orders"))
            .json(&json!({"product_id": "win11-pro", "quantity": 1, "email": "slow@example.com"})),
    )
    .await;
    assert_eq!(status, 201);
    assert!(order_took >= Duration::from_millis(400), "the order took {order_took:?}");
    println!(
        "database 400 ms slow: {} cached page views, median {:?}, slowest {:?}; an order took {order_took:?}",
        took.len(),
        took[took.len() / 2],
        took[took.len() - 1]
    );
    proxy.slow_down(Duration::ZERO);
    let (exit, _) = drill.server.signal_and_wait("TERM");
    assert!(exit.success());
}

/// Redis away, for merchants whose dashboard sessions live there: a clear
/// "temporarily unavailable" page (never a 500) while it is down; when it
/// comes back empty, the sign-in page; buyers keep buying throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_merchants_get_a_clear_page_then_sign_in_again_and_buyers_keep_buying() {
    if std::process::Command::new("redis-server").arg("--version").output().is_err() {
        println!("skipped: redis-server is not installed");
        return;
    }
    let mut redis = support::processes::PrivateRedis::start().await;
    let app =
        support::TestApp::spawn_with(support::Options { redis_url: Some(redis.url()), ..support::Options::default() })
            .await;
    let merchant = support::merchant::merchant_with_shop(&app, "redisless@example.com", "redisless").await;
    assert_eq!(merchant.get("/shops").await.status, 200, "signed in, session in Redis");

    redis.stop();
    let page = merchant.get("/shops").await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("Temporarily unavailable") || page.body.contains("暂时不可用"), "{}", page.body);
    let (status, order) =
        app.order("demo", json!({"product_id": "win11-pro", "quantity": 1, "email": "still@example.com"})).await;
    assert_eq!(status, 201, "buyers keep buying without Redis: {order}");

    // Back, empty (Redis kept nothing): the merchant is asked to sign in again.
    redis.restart().await;
    let back = Instant::now();
    loop {
        let page = merchant.get("/shops").await;
        if page.status == 303 {
            assert!(page.location.as_deref().is_some_and(|l| l.starts_with("/login")), "{:?}", page.location);
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(10), "still {} after Redis came back", page.status);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}
