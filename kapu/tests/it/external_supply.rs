//! External suppliers (the generic contract, `docs/SUPPLIER_PROTOCOL.md`),
//! against a fake supplier on loopback that checks every request's HMAC
//! signature itself and has fault switches: answers 500 a number of times,
//! sends the wrong number of keys, sends a key it sent before, refuses as
//! out of stock, or is down for good.

use crate::support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use kapu_core::entities::orders;
use serde_json::{Value, json};
use sha2::Sha256;
use support::merchant::{Browser, merchant_with_shop};
use support::{Options, TestApp, sandbox_fields};

const SECRET: &str = "a-shared-secret-of-32-characters";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Normal,
    /// One key fewer than asked.
    WrongCount,
    /// Always the same key.
    SameKey,
    OutOfStock,
    /// An order is answered `pending`; asking for it (`GET /orders/{reference}`)
    /// answers `pending` once more, then the keys.
    Pending,
    /// An order is sold at once but answered only after 2.5 s (past Kapu's timeout).
    Slow,
    /// 500 to everything.
    Down,
}

struct FakeSupplier {
    mode: std::sync::Mutex<Mode>,
    /// Answer 500 to this many order requests first.
    fail_next: AtomicU32,
    stock: AtomicI64,
    next_key: AtomicU32,
    /// reference → keys sold for it (the same reference sells once).
    sold: std::sync::Mutex<HashMap<String, Vec<String>>>,
    order_calls: AtomicU32,
    /// `GET /orders/{reference}` calls, and the references still pending (with how often they answer so).
    query_calls: AtomicU32,
    pending: std::sync::Mutex<HashMap<String, u32>>,
    bad_signatures: AtomicU32,
}

impl FakeSupplier {
    fn set(&self, mode: Mode) {
        *self.mode.lock().expect("mode") = mode;
    }
    fn mode(&self) -> Mode {
        *self.mode.lock().expect("mode")
    }
}

/// The contract's signature, computed here independently of Kapu's client.
fn signed(headers: &HeaderMap, method: &Method, path: &str, body: &str) -> bool {
    let ts = headers.get("x-kapu-timestamp").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let sig = headers.get("x-kapu-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(ts) = ts else { return false };
    if (chrono::Utc::now().timestamp() - ts).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(format!("{ts}\n{method}\n{path}\n{body}").as_bytes());
    let want: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    want == sig
}

async fn handle(
    State(f): State<Arc<FakeSupplier>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !signed(&headers, &method, uri.path(), &body) {
        f.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    if f.mode() == Mode::Down {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
    }
    match (method.as_str(), uri.path()) {
        ("GET", "/kapu/products") => axum::Json(json!({"products": [
            {"sku": "STEAM-50", "name": "Steam ¥50", "stock": f.stock.load(Ordering::SeqCst), "price": "45.00", "currency": "CNY"},
            {"sku": "XBOX-100", "name": "Xbox $100", "stock": 3, "price": "650.00", "currency": "CNY"},
        ]}))
        .into_response(),
        ("POST", "/kapu/orders") => {
            f.order_calls.fetch_add(1, Ordering::SeqCst);
            if f.fail_next.load(Ordering::SeqCst) > 0 {
                f.fail_next.fetch_sub(1, Ordering::SeqCst);
                return (StatusCode::BAD_GATEWAY, "upstream hiccup").into_response();
            }
            let req: Value = serde_json::from_str(&body).unwrap_or_default();
            let reference = req["reference"].as_str().unwrap_or_default().to_string();
            let quantity = req["quantity"].as_u64().unwrap_or(0) as usize;
            if f.mode() == Mode::OutOfStock {
                return (StatusCode::CONFLICT, axum::Json(json!({"error": "out_of_stock"}))).into_response();
            }
            let keys = f
                .sold
                .lock()
                .expect("sold")
                .entry(reference.clone())
                .or_insert_with(|| {
                    let n = if f.mode() == Mode::WrongCount { quantity.saturating_sub(1) } else { quantity };
                    (0..n)
                        .map(|_| match f.mode() {
                            Mode::SameKey => "SAME-KEY-0001".to_string(),
                            _ => format!("SUP-{:04}", f.next_key.fetch_add(1, Ordering::SeqCst)),
                        })
                        .collect()
                })
                .clone();
            if f.mode() == Mode::Slow {
                tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
            }
            if f.mode() == Mode::Pending {
                f.pending.lock().expect("pending").entry(reference.clone()).or_insert(1);
                return axum::Json(json!({"reference": reference, "status": "pending"})).into_response();
            }
            axum::Json(json!({"reference": reference, "status": "delivered", "keys": keys})).into_response()
        }
        ("GET", path) if path.starts_with("/kapu/orders/") => {
            f.query_calls.fetch_add(1, Ordering::SeqCst);
            let reference = path.trim_start_matches("/kapu/orders/").to_string();
            let Some(keys) = f.sold.lock().expect("sold").get(&reference).cloned() else {
                return (StatusCode::NOT_FOUND, axum::Json(json!({"error": "unknown_reference"}))).into_response();
            };
            let mut pending = f.pending.lock().expect("pending");
            if let Some(left) = pending.get_mut(&reference)
                && *left > 0
            {
                *left -= 1;
                return axum::Json(json!({"reference": reference, "status": "pending"})).into_response();
            }
            axum::Json(json!({"reference": reference, "status": "delivered", "keys": keys})).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn start_fake() -> (String, Arc<FakeSupplier>) {
    let fake = Arc::new(FakeSupplier {
        mode: std::sync::Mutex::new(Mode::Normal),
        fail_next: AtomicU32::new(0),
        stock: AtomicI64::new(120),
        next_key: AtomicU32::new(1),
        sold: std::sync::Mutex::new(HashMap::new()),
        order_calls: AtomicU32::new(0),
        query_calls: AtomicU32::new(0),
        pending: std::sync::Mutex::new(HashMap::new()),
        bad_signatures: AtomicU32::new(0),
    });
    let app = axum::Router::new().fallback(handle).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("fake supplier") });
    (format!("http://{addr}/kapu"), fake)
}

/// Docks the fake on the dashboard and sells its STEAM-50 at 59.00; returns the product id.
async fn dock(app: &TestApp, b: &mut Browser, slug: &str, base: &str) -> String {
    dock_and_add(
        app,
        b,
        slug,
        &[("name", "Fake Wholesale"), ("base_url", base), ("secret", SECRET)],
        "STEAM-50",
        "59.00",
    )
    .await
}

/// Docks a supplier (the connection form's `fields`) and sells its `sku` as
/// "Steam card 50" at `price`; returns the product id.
async fn dock_and_add(
    app: &TestApp,
    b: &mut Browser,
    slug: &str,
    fields: &[(&str, &str)],
    sku: &str,
    price: &str,
) -> String {
    b.post(&format!("/shops/{slug}/supply/external"), fields).await.expect(303);
    let page = b.get(&format!("/shops/{slug}/supply/external")).await;
    page.expect(200);
    let at = page.body.find("/supply/external/").expect("connection form") + "/supply/external/".len();
    let connection = page.body[at..at + 32].to_string();
    let p = b
        .post(
            &format!("/shops/{slug}/supply/external/{connection}/add"),
            &[("sku", sku), ("name", "Steam card 50"), ("price", price)],
        )
        .await;
    p.expect(303);
    let product = p
        .location
        .clone()
        .expect("to the product")
        .split('/')
        .nth(4)
        .expect("id")
        .split('?')
        .next()
        .expect("id")
        .to_string();
    app.state.shop_changed(&app.tenant_id(slug).await).await;
    product
}

/// Places and pays an order; returns its row once its job has settled.
async fn buy_and_pay(app: &TestApp, slug: &str, product: &str, qty: u32, email: &str) -> (Value, orders::Model) {
    let (status, order) = app.order(slug, json!({"product_id": product, "quantity": qty, "email": email})).await;
    assert_eq!(status, 201, "{order}");
    let tenant = app.tenant_id(slug).await;
    let no = order["order_no"].as_str().expect("no").to_string();
    let payment = app.payment_of(&tenant, &no).await;
    let fields = sandbox_fields(&app.keys_of(slug).await, &payment.id, "paid", payment.amount_minor, &payment.currency);
    assert_eq!(app.notify(slug, &payment.id, &fields).await.0, 200);
    let settled = app
        .eventually(40, || {
            let (tenant, no) = (tenant.clone(), no.clone());
            async move { app.order_row(&tenant, &no).await.status != "paid" }
        })
        .await;
    assert!(settled, "the supplier job settled the order");
    (order, app.order_row(&tenant, &no).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_docks_a_supplier_and_a_paid_order_gets_the_suppliers_keys() {
    let app = TestApp::spawn().await;
    let (base, fake) = start_fake().await;
    let mut b = merchant_with_shop(&app, "dock@example.com", "dock").await;

    // Bad input is refused with every problem named, and nothing is saved.
    let p = b.post("/shops/dock/supply/external", &[("name", ""), ("base_url", "ftp://x"), ("secret", "short")]).await;
    p.expect(422);
    for needle in ["1–100 characters", "must be an http(s):", "at least 16 characters"] {
        assert!(p.body.contains(needle), "missing {needle:?}");
    }
    // A wrong secret is found before saving: the supplier refuses its signature.
    let p = b
        .post(
            "/shops/dock/supply/external",
            &[("name", "Wrong"), ("base_url", &base), ("secret", "not-the-right-secret-at-all")],
        )
        .await;
    p.expect(422);
    assert!(p.body.contains("401"), "{}", p.body);
    assert_eq!(fake.bad_signatures.load(Ordering::SeqCst), 1);

    let product = dock(&app, &mut b, "dock", &base).await;
    let page = b.get("/shops/dock/supply/external").await;
    assert!(
        page.body.contains("Steam card 50") && page.body.contains("Xbox $100"),
        "sold here, and what else it offers"
    );
    // The storefront shows the supplier's stock; the keys page sends to the product page.
    assert_eq!(app.stock("dock", &product).await, 120);
    assert_eq!(b.get(&format!("/shops/dock/products/{product}/keys")).await.status, 303);
    let import = b.import_keys(&format!("/shops/dock/products/{product}/keys"), "OWN-KEY", None, "newline").await;
    assert_eq!(import.status, 422, "an external product takes no keys of its own");

    let (order, row) = buy_and_pay(&app, "dock", &product, 2, "buyer@example.com").await;
    assert_eq!(row.status, "delivered", "{:?}", row.attention_reason);
    let sold = fake.sold.lock().expect("sold").get(&row.id).cloned().expect("bought with the order's id as reference");
    assert_eq!(sold.len(), 2);
    let view = app.order_view("dock", &row.order_no, order["token"].as_str().expect("token")).await.1;
    let keys: Vec<String> =
        view["keys"].as_array().expect("keys").iter().map(|k| k.as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(keys, sold, "the buyer gets exactly the supplier's keys, one per line");
    assert_eq!(fake.bad_signatures.load(Ordering::SeqCst), 1, "every request from the shop was signed right");
    assert!(app.jobs_settled(20).await);
    let mails = support::read_outbox(&app.outbox());
    assert!(
        mails
            .iter()
            .any(|(to, _, body)| to == "buyer@example.com" && body.contains(&sold[0]) && body.contains(&sold[1]))
    );
    // The supplier's stock is polled: the storefront follows it.
    fake.stock.store(7, Ordering::SeqCst);
    assert_eq!(kapu_runtime::supplier::poll_stock_once(&app.state).await.expect("poll"), 1);
    // A poll that finds the same stock changes nothing (the shop's catalog is kept).
    assert_eq!(kapu_runtime::supplier::poll_stock_once(&app.state).await.expect("poll"), 0);
    assert!(app.eventually(10, || async { app.stock("dock", &product).await == 7 }).await, "the polled stock is shown");
    assert!(b.get("/shops/dock/supply/external").await.body.contains("seconds ago"), "with its age");
    // The merchant's audit log names the docking.
    assert!(b.get("/shops/dock/audit").await.body.contains("External supplier docked"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supplier_faults_are_retried_checked_and_handed_to_the_merchant_and_never_take_the_shop_down() {
    let app =
        TestApp::spawn_with(Options { supplier_buy_attempts: 3, breaker_failures: 3, ..Default::default() }).await;
    let (base, fake) = start_fake().await;
    let mut b = merchant_with_shop(&app, "faults@example.com", "faults").await;
    let product = dock(&app, &mut b, "faults", &base).await;

    // Two 5xx answers, then the keys: retried with backoff, delivered.
    fake.fail_next.store(2, Ordering::SeqCst);
    let (_, row) = buy_and_pay(&app, "faults", &product, 1, "retry@example.com").await;
    assert_eq!(row.status, "delivered", "{:?}", row.attention_reason);
    assert_eq!(fake.order_calls.load(Ordering::SeqCst), 3, "two failures and the sale");
    assert_eq!(fake.query_calls.load(Ordering::SeqCst), 2, "each retry first asks whether the order arrived");

    // A supplier still getting the keys answers "pending": Kapu asks for the
    // order (GET /orders/{reference}) instead of placing it again.
    fake.set(Mode::Pending);
    let (_, row) = buy_and_pay(&app, "faults", &product, 1, "pending@example.com").await;
    assert_eq!(row.status, "delivered", "{:?}", row.attention_reason);
    assert_eq!(fake.order_calls.load(Ordering::SeqCst), 4, "placed once");
    assert_eq!(fake.query_calls.load(Ordering::SeqCst), 4, "asked twice: pending, then the keys");

    // A slow supplier sells but answers after Kapu gave up waiting: the next
    // try asks for the order and gets the keys, without buying again.
    fake.set(Mode::Slow);
    let posts = fake.order_calls.load(Ordering::SeqCst);
    let (order, row) = buy_and_pay(&app, "faults", &product, 1, "slow@example.com").await;
    assert_eq!(row.status, "delivered", "{:?}", row.attention_reason);
    assert_eq!(fake.order_calls.load(Ordering::SeqCst), posts + 1, "placed once, however slow");
    let sold = fake.sold.lock().expect("sold").get(&row.id).cloned().expect("sold");
    let view = app.order_view("faults", &row.order_no, order["token"].as_str().expect("token")).await.1;
    assert_eq!(view["keys"], json!(sold), "the keys the slow answer carried");
    fake.set(Mode::Normal);

    // One key short: the buyer sees none, the merchant reads why.
    fake.set(Mode::WrongCount);
    let (order, row) = buy_and_pay(&app, "faults", &product, 2, "short@example.com").await;
    assert_eq!(row.status, "needs_attention");
    assert!(
        row.attention_reason.as_deref().is_some_and(|r| r.contains("sent 1 keys for an order of 2")),
        "{:?}",
        row.attention_reason
    );
    let view = app.order_view("faults", &row.order_no, order["token"].as_str().expect("token")).await.1;
    assert!(view.get("keys").is_none_or(|k| k.is_null() || k.as_array().is_some_and(|a| a.is_empty())), "{view}");
    let detail = b.get(&format!("/shops/faults/orders/{}", row.order_no)).await;
    assert!(detail.body.contains("sent 1 keys for an order of 2"), "the reason on the merchant's order page");

    // The same key twice (to two orders): the second is refused, never delivered twice.
    fake.set(Mode::SameKey);
    let (_, first) = buy_and_pay(&app, "faults", &product, 1, "same1@example.com").await;
    assert_eq!(first.status, "delivered");
    let (_, second) = buy_and_pay(&app, "faults", &product, 1, "same2@example.com").await;
    assert_eq!(second.status, "needs_attention");
    assert!(
        second.attention_reason.as_deref().is_some_and(|r| r.contains("delivered before")),
        "{:?}",
        second.attention_reason
    );

    // Out of stock at the supplier: a refusal goes to the merchant at once.
    fake.set(Mode::OutOfStock);
    let calls = fake.order_calls.load(Ordering::SeqCst);
    let (_, row) = buy_and_pay(&app, "faults", &product, 1, "oos@example.com").await;
    assert_eq!(row.status, "needs_attention");
    assert!(row.attention_reason.as_deref().is_some_and(|r| r.contains("409")), "{:?}", row.attention_reason);
    assert_eq!(fake.order_calls.load(Ordering::SeqCst), calls + 1, "a refusal is not retried");

    // Down for good: every try fails, the last hands the order to the merchant…
    fake.set(Mode::Down);
    let (_, row) = buy_and_pay(&app, "faults", &product, 1, "down@example.com").await;
    assert_eq!(row.status, "needs_attention");
    assert!(
        row.attention_reason.as_deref().is_some_and(|r| r.contains("gave up after the last try")),
        "{:?}",
        row.attention_reason
    );
    // …the supplier's breaker is open: its product is temporarily unavailable,
    // not sold out, and the rest of the shop answers.
    let (status, body) =
        app.order("faults", json!({"product_id": product, "quantity": 1, "email": "later@example.com"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("temporarily_unavailable")), "{body}");
    let home = app.client.get(app.shop_url("faults", "/")).send().await.expect("home");
    assert_eq!(home.status().as_u16(), 200);
    let tenant = app.tenant_id("faults").await;
    let own = app.add_product(&tenant, "Own key", 500, 3).await;
    let (status, _) = app.order("faults", json!({"product_id": own, "quantity": 1, "email": "own@example.com"})).await;
    assert_eq!(status, 201, "the shop's own products sell on");
    // Orders of external products hold no keys of Kapu's: nothing is broken.
    let (_, broken) =
        kapu_core::store::integrity::check(app.db.reader(), chrono::Utc::now(), chrono::Duration::seconds(10))
            .await
            .expect("check");
    assert!(broken.is_empty(), "{broken:#?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shop_on_another_kapu_platform_supplies_keys_from_a_prepaid_balance() {
    // Two platforms: A hosts the supplier, B the reseller.
    let a_app = TestApp::spawn().await;
    let b_app = TestApp::spawn().await;
    let mut a = merchant_with_shop(&a_app, "wholesaler@example.com", "wholesaler").await;
    let supplier = a_app.tenant_id("wholesaler").await;
    let product = a_app.add_product(&supplier, "Steam 50", 5000, 10).await;
    a.post(
        &format!("/shops/wholesaler/products/{product}/resale"),
        &[("open", "1"), ("wholesale", "6.00"), ("audience", "any"), ("exact_stock", "1")],
    )
    .await
    .expect(303);
    // The supplier gives the reseller a supply key and records 20.00 paid in advance.
    let key = support::merchant::make_api_key(&mut a, "wholesaler", "Reseller on platform B", "supply").await;
    let page = a.get("/shops/wholesaler/api-keys").await;
    let at = page.body.find("/topup\"").expect("top-up form");
    let key_id = page.body[..at].rsplit('/').next().expect("key id").to_string();
    a.post(&format!("/shops/wholesaler/api-keys/{key_id}/topup"), &[("amount", "-5")]).await.expect(422);
    a.post(&format!("/shops/wholesaler/api-keys/{key_id}/topup"), &[("amount", "20.00")]).await.expect(303);
    assert!(a.get("/shops/wholesaler/api-keys").await.body.contains("20.00 CNY"));

    // The supply key reaches the supply endpoints and nothing else of the shop's.
    let api = |path: &str| a_app.platform_url(&format!("/api/merchant/v1{path}"));
    let orders = a_app.client.get(api("/orders")).bearer_auth(&key).send().await.expect("orders");
    assert_eq!(orders.status().as_u16(), 403, "a supply key does not read the supplier's orders");
    let offered: Value = a_app
        .client
        .get(api("/supply/products"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("offer")
        .json()
        .await
        .expect("json");
    assert_eq!(offered["products"][0]["sku"], product.as_str(), "{offered}");
    assert_eq!(offered["products"][0]["stock"], 10);
    assert_eq!(offered["products"][0]["price"], "6.00");

    // B docks A's shop with the key and sells its product.
    let mut b = merchant_with_shop(&b_app, "outlet@example.com", "outlet").await;
    let supply = api("/supply");
    let fields =
        [("name", "Wholesaler on A"), ("kind", "kapu"), ("base_url", supply.as_str()), ("secret", key.as_str())];
    let resold = dock_and_add(&b_app, &mut b, "outlet", &fields, &product, "9.90").await;

    // A buyer on B pays for 2: B buys them from A's stock, paid from the balance.
    let (order, row) = buy_and_pay(&b_app, "outlet", &resold, 2, "buyer@example.com").await;
    assert_eq!(row.status, "delivered", "{:?}", row.attention_reason);
    assert_eq!(a_app.count_keys_of(&supplier, &product, "sold").await, 2, "sold from the supplier's own stock");
    let view = b_app.order_view("outlet", &row.order_no, order["token"].as_str().expect("token")).await.1;
    assert_eq!(view["keys"].as_array().map(Vec::len), Some(2), "{view}");
    assert!(a.get("/shops/wholesaler/api-keys").await.body.contains("8.00 CNY"), "20.00 less 2 × 6.00");

    // Asking again with the same reference returns the same keys and costs nothing.
    let again: Value = a_app
        .client
        .post(api("/supply/orders"))
        .bearer_auth(&key)
        .json(&json!({"reference": row.id, "sku": product, "quantity": 2}))
        .send()
        .await
        .expect("again")
        .json()
        .await
        .expect("json");
    assert_eq!(again["keys"], view["keys"], "{again}");
    assert!(a.get("/shops/wholesaler/api-keys").await.body.contains("8.00 CNY"));
    // The same reference for something else is refused.
    let reused = a_app
        .client
        .post(api("/supply/orders"))
        .bearer_auth(&key)
        .json(&json!({"reference": row.id, "sku": product, "quantity": 1}))
        .send()
        .await
        .expect("reused");
    assert_eq!(reused.status().as_u16(), 409);
    // The order query answers the same keys, and 404 for a reference never bought under.
    let asked =
        a_app.client.get(api(&format!("/supply/orders/{}", row.id))).bearer_auth(&key).send().await.expect("ask");
    assert_eq!(asked.status().as_u16(), 200);
    assert_eq!(asked.json::<Value>().await.expect("json")["keys"], view["keys"]);
    let unknown = a_app.client.get(api("/supply/orders/never-bought")).bearer_auth(&key).send().await.expect("ask");
    assert_eq!(unknown.status().as_u16(), 404);

    // The balance covers one more key, not two: B's order goes to its merchant, nothing sold.
    let (_, row) = buy_and_pay(&b_app, "outlet", &resold, 2, "second@example.com").await;
    assert_eq!(row.status, "needs_attention");
    assert!(row.attention_reason.as_deref().is_some_and(|r| r.contains("402")), "{:?}", row.attention_reason);
    assert_eq!(a_app.count_keys_of(&supplier, &product, "sold").await, 2);

    // Both platforms' books hold.
    for app in [&a_app, &b_app] {
        let (_, broken) =
            kapu_core::store::integrity::check(app.db.reader(), chrono::Utc::now(), chrono::Duration::seconds(10))
                .await
                .expect("check");
        assert!(broken.is_empty(), "{broken:#?}");
    }
    a_app.stop().await;
    b_app.stop().await;
}

/// The supplier is another Kapu platform running as its own process (the
/// real `kapu` binary, its own database and master key): a reseller on this
/// platform docks its shop with a supply key and sells its keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kapu_platform_in_another_process_supplies_keys_over_its_merchant_api() {
    use kapu_core::store::api_keys::{Scope, create_api_key_for_tenant};
    use kapu_core::store::card_keys::import_keys_for_tenant;
    use kapu_core::store::supply::{Audience, ListingTerms, save_listing_for_supplier};
    use kapu_core::store::supply_prepaid::{balance_of, record_topup};
    use kapu_platform::provision::{NewProduct, NewShop, add_product, create_tenant};

    // The supplier platform's own database and key, seeded as its dashboard would.
    let (db, dir, database) = support::migrated_db().await;
    let master = kapu_core::crypto::MasterKey::generate();
    let w = db.writer();
    let shop = NewShop {
        slug: "far-wholesale",
        name: "Far Wholesale",
        announcement: "",
        default_locale: "zh-CN",
        currency: "CNY",
    };
    let supplier = create_tenant(w, &shop).await.expect("tenant");
    let product = kapu_core::ids::new_id();
    let p = NewProduct {
        id: &product,
        category_id: None,
        name: "Steam 50",
        description: "",
        price_minor: 5000,
        currency: "CNY",
        wholesale_tiers: None,
        min_qty: 1,
        max_qty: 10,
        sort_order: 0,
    };
    add_product(w, &supplier, &p).await.expect("product");
    let txn = db.begin().await.expect("txn");
    let lines: Vec<String> = (0..6).map(|i| format!("FAR-KEY-{i:03}")).collect();
    import_keys_for_tenant(&txn, &master.tenant(&supplier), &supplier, &product, lines.iter().map(String::as_str))
        .await
        .expect("keys");
    txn.commit().await.expect("commit");
    let terms = ListingTerms {
        wholesale_minor: 600,
        min_resale_minor: None,
        audience: Audience::Any,
        allowed_shops: Vec::new(),
        per_order_cap: None,
        daily_cap: None,
        exact_stock: true,
        open: true,
    };
    save_listing_for_supplier(w, &supplier, &product, &terms, chrono::Utc::now()).await.expect("listing");
    let key = create_api_key_for_tenant(w, &supplier, "Reseller elsewhere", Scope::Supply, None).await.expect("key");
    record_topup(w, &supplier, &key.key.id, 2000, "CNY", chrono::Utc::now()).await.expect("top-up");

    let data = dir.path().join("supplier-process");
    std::fs::create_dir_all(&data).expect("data dir");
    let far = support::process::KapuProcess::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &[
            ("KAPU_DATA_DIR", data.display().to_string()),
            ("KAPU_DATABASE_URL", database.url.clone()),
            ("KAPU_MASTER_KEY", master.to_base64()),
        ],
    );
    let base = format!("http://localhost:{}/api/merchant/v1/supply", far.port);

    // This platform's merchant docks it and sells its product.
    let app = TestApp::spawn().await;
    let mut b = merchant_with_shop(&app, "near@example.com", "near").await;
    let bad = b
        .post(
            "/shops/near/supply/external",
            &[("name", "Far"), ("kind", "kapu"), ("base_url", &base), ("secret", "kapu_wrong-key-of-enough-length")],
        )
        .await;
    assert_eq!(bad.status, 422, "a wrong key is found before saving");
    let fields = [("name", "Far"), ("kind", "kapu"), ("base_url", base.as_str()), ("secret", key.secret.as_str())];
    let resold = dock_and_add(&app, &mut b, "near", &fields, &product, "9.90").await;
    let page = b.get("/shops/near/supply/external").await;
    assert!(page.body.contains("Steam 50"), "the other process's offer is listed");
    assert_eq!(app.stock("near", &resold).await, 6, "the other platform's exact stock");

    let (order, row) = buy_and_pay(&app, "near", &resold, 2, "buyer@example.com").await;
    assert_eq!(row.status, "delivered", "{:?}", row.attention_reason);
    let view = app.order_view("near", &row.order_no, order["token"].as_str().expect("token")).await.1;
    let keys: Vec<&str> = view["keys"].as_array().expect("keys").iter().filter_map(Value::as_str).collect();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.starts_with("FAR-KEY-")), "{keys:?}");
    // The supplier's process sold them from its own stock and took 12.00 off the balance.
    assert_eq!(balance_of(db.reader(), &supplier, &key.key.id).await.expect("balance"), 800);
    let sold = app_count_sold(&db, &supplier).await;
    assert_eq!(sold, 2);
    let (exit, _) = far.signal_and_wait("TERM");
    assert!(exit.success(), "the supplier's process stopped cleanly: {exit:?}");
    app.stop().await;
}

async fn app_count_sold(db: &kapu_core::Db, tenant: &str) -> u64 {
    use kapu_core::entities::card_keys;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    card_keys::Entity::find()
        .filter(card_keys::Column::TenantId.eq(tenant))
        .filter(card_keys::Column::Status.eq("sold"))
        .count(db.reader())
        .await
        .expect("count")
}
