//! The merchant REST API (`/api/merchant/v1/`) over real HTTP: keys made on
//! the dashboard (shown once, hashed, scoped, revocable, audited), 401 in
//! the standard error shape, another shop's resources are 404, products,
//! key import (JSON and text), stock, orders, coupons, Idempotency-Key
//! replay, cursor pages, the per-key rate limit of the plan, and the
//! OpenAPI document matching the routes.

use crate::support;

use kapu_core::entities::{api_keys, plans, products};
use reqwest::header::HeaderMap;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use support::merchant::{create_product, make_api_key, merchant_with_shop};
use support::{TestApp, order_no, sandbox_fields};

/// A caller of the merchant API with one key (or none).
struct Api {
    client: reqwest::Client,
    base: String,
    key: Option<String>,
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Api {
    fn new(app: &TestApp, key: Option<&str>) -> Self {
        Self { client: app.client.clone(), base: app.platform_url("/api/merchant/v1"), key: key.map(str::to_string) }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let req = match &self.key {
            Some(k) => req.bearer_auth(k),
            None => req,
        };
        let r = req.send().await.expect("send");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        Answer { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(self.client.get(format!("{}{path}", self.base))).await
    }

    async fn post(&self, path: &str, body: Value, idem: Option<&str>) -> Answer {
        let mut req = self.client.post(format!("{}{path}", self.base)).json(&body);
        if let Some(k) = idem {
            req = req.header("idempotency-key", k);
        }
        self.send(req).await
    }

    async fn post_text(&self, path: &str, content_type: &str, body: &str) -> Answer {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .header("content-type", content_type)
                .body(body.to_string()),
        )
        .await
    }
}

fn assert_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.body["error"]["code"], code, "{}", a.body);
    assert!(a.body["error"]["message"].as_str().is_some_and(|m| m.len() > 10), "{}", a.body);
}

async fn unlimited_api(app: &TestApp) {
    app.set_plan_limit("free", plans::Column::ApiRequestsPerMinute, None).await;
}

async fn product_count(app: &TestApp, tenant: &str) -> u64 {
    products::Entity::find().filter(products::Column::TenantId.eq(tenant)).count(app.db.reader()).await.expect("count")
}

#[tokio::test]
async fn keys_are_shown_once_stored_hashed_scoped_revocable_and_audited() {
    let app = TestApp::spawn().await;
    unlimited_api(&app).await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "apishop").await;
    let tenant = app.tenant_id("apishop").await;
    let read = make_api_key(&mut b, "apishop", "dashboard reader", "read").await;
    let write = make_api_key(&mut b, "apishop", "restock script", "write").await;
    assert_ne!(read, write);
    // Shown once: the list shows only the start of each key.
    let list = b.get("/shops/apishop/api-keys").await;
    assert!(!list.body.contains(&read) && !list.body.contains(&write));
    assert!(list.body.contains(&read[..14]) && list.body.contains("restock script"));
    // Stored as a hash only.
    let rows = api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(&tenant))
        .all(app.db.reader())
        .await
        .expect("keys");
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r.key_hash.len(), 64);
        assert!(r.key_hash != read && r.key_hash != write && !read.contains(&r.key_hash));
    }
    // Bad form: no name, unknown scope.
    let bad = b.post("/shops/apishop/api-keys", &[("name", " "), ("scope", "admin")]).await;
    bad.expect(422);
    assert!(bad.body.contains("Name the key") && bad.body.contains("Choose a scope"), "{}", bad.body);

    // A query string the API cannot read is a documented 422 in the API's
    // JSON shape, not a plain-text 400 (found by schemathesis).
    let api = Api::new(&app, Some(&read));
    for path in ["/products?limit=1&limit=2", "/coupons?limit=1&limit=2", "/orders?status=a&status=b"] {
        assert_error(&api.get(path).await, 422, "invalid_query");
    }
    // An empty limit is not "the default": the schema says integer.
    assert_error(&api.get("/products?limit=").await, 422, "invalid_request");

    // No key, a malformed header, an unknown key, a key-shaped guess: 401 in the standard shape.
    for key in [None, Some("nonsense"), Some("kapu_sk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] {
        let a = Api::new(&app, key).get("/products").await;
        assert_error(&a, 401, "unauthorized");
        assert!(a.headers.contains_key("www-authenticate"));
    }
    let basic = app
        .client
        .get(app.platform_url("/api/merchant/v1/products"))
        .header("authorization", format!("Basic {write}"))
        .send()
        .await
        .expect("send");
    assert_eq!(basic.status().as_u16(), 401);

    let reader = Api::new(&app, Some(&read));
    let writer = Api::new(&app, Some(&write));
    assert_eq!(reader.get("/products").await.status, 200);
    // Read-only keys change nothing.
    let before = product_count(&app, &tenant).await;
    let refused = reader.post("/products", json!({"name": "From reader", "price": "5.00"}), None).await;
    assert_error(&refused, 403, "insufficient_scope");
    assert_eq!(product_count(&app, &tenant).await, before);
    let made = writer.post("/products", json!({"name": "From writer", "price": "5.00"}), None).await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(product_count(&app, &tenant).await, before + 1);
    // Last use is recorded.
    let used = api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(&tenant))
        .all(app.db.reader())
        .await
        .expect("keys");
    assert!(used.iter().all(|k| k.last_used_at.is_some()));

    // Revoke the writer: its next call is 401, the reader still works.
    let id = used.iter().find(|k| k.scope == "write").expect("write key").id.clone();
    b.post(&format!("/shops/apishop/api-keys/{id}/revoke"), &[]).await.expect(303);
    assert_error(&writer.get("/products").await, 401, "unauthorized");
    assert_eq!(reader.get("/products").await.status, 200);
    // Revoking twice, or a key of no shop of ours: 404.
    b.post(&format!("/shops/apishop/api-keys/{id}/revoke"), &[]).await.expect(404);

    let audit = app.audit_of(Some(&tenant)).await;
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "apikey.create").count(), 2, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == "apikey.revoke").count(), 1, "{actions:?}");
    let created = audit.iter().find(|e| e.action == "apikey.create").expect("entry");
    assert_eq!(created.actor_email, "owner@example.com");
    assert!(audit.iter().all(|e| !e.detail.contains(&write) && !e.target.contains(&write)));
    app.stop().await;
}

#[tokio::test]
async fn a_key_of_one_shop_finds_nothing_of_another() {
    let app = TestApp::spawn().await;
    unlimited_api(&app).await;
    let mut a = merchant_with_shop(&app, "a@example.com", "shopa").await;
    let (_, product_b) = app.create_shop("shopb", "test", 3).await;
    let (status, order) = app
        .order(
            "shopb",
            json!({"product_id": product_b, "quantity": 1, "email": "buyer@example.com", "channel": "sandbox"}),
        )
        .await;
    assert_eq!(status, 201);
    let b_order = order_no(&order).to_string();
    let key = make_api_key(&mut a, "shopa", "a", "write").await;
    let api = Api::new(&app, Some(&key));

    assert_error(&api.get(&format!("/products/{product_b}")).await, 404, "not_found");
    assert_error(&api.get(&format!("/orders/{b_order}")).await, 404, "not_found");
    let import = api.post(&format!("/products/{product_b}/keys"), json!(["STOLEN-1"]), None).await;
    assert_error(&import, 404, "not_found");
    assert_eq!(app.stock("shopb", &product_b).await, 2);
    let coupon = api
        .post("/coupons", json!({"code": "EVIL10", "kind": "percent", "value": 10, "product_id": product_b}), None)
        .await;
    assert_error(&coupon, 422, "invalid_request");
    // Lists hold this shop's rows only.
    let listed = api.get("/products").await;
    assert_eq!(listed.body["data"], json!([]), "{}", listed.body);
    assert_eq!(api.get("/orders").await.body["data"], json!([]));
    assert_eq!(api.get("/stock").await.body["data"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn products_keys_stock_orders_and_coupons_through_the_api() {
    let app = TestApp::spawn().await;
    unlimited_api(&app).await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "driven").await;
    let tenant = app.tenant_id("driven").await;
    let api = Api::new(&app, Some(&make_api_key(&mut b, "driven", "erp", "write").await));

    // Every bad field is named; nothing is created.
    let bad = api.post("/products", json!({"name": "", "price": "abc", "min_qty": 0}), None).await;
    assert_error(&bad, 422, "invalid_request");
    let details = bad.body["error"]["details"].as_array().expect("details");
    assert_eq!(details.len(), 3, "{details:?}");
    assert!(details.iter().any(|d| d.as_str().expect("text").contains("price")));
    assert_error(&api.post_text("/products", "application/json", "{not json").await, 400, "invalid_json");
    assert_error(
        &api.post("/products", json!({"name": "X", "price": "1.00", "colour": "red"}), None).await,
        400,
        "invalid_json",
    );
    assert_eq!(product_count(&app, &tenant).await, 0);

    let made = api
        .post(
            "/products",
            json!({"name": "Steam ¥50 <gift>", "price": "48.50", "low_stock_threshold": 2, "max_qty": 5}),
            None,
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let pid = made.body["id"].as_str().expect("id").to_string();
    assert_eq!(made.body["price"], "48.50");
    assert_eq!(made.body["price_minor"], 4850);
    assert_eq!(made.body["name"], "Steam ¥50 <gift>");
    assert_eq!(api.get(&format!("/products/{pid}")).await.body["max_qty"], 5);
    // A change touches only the fields sent; bad values are named and change nothing.
    let patch = |body: Value| {
        let req = app.client.patch(format!("{}/products/{pid}", api.base)).json(&body);
        api.send(req)
    };
    let changed = patch(json!({"price": "45.00", "visible": false})).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!((changed.body["price"].as_str(), changed.body["visible"].as_bool()), (Some("45.00"), Some(false)));
    assert_eq!(changed.body["max_qty"], 5);
    let hidden = app
        .eventually(5, || async {
            let (_, listed) = app.get_json(&app.shop_url("driven", "/api/v1/products")).await;
            !listed.to_string().contains(&pid)
        })
        .await;
    assert!(hidden, "hidden from the storefront");
    assert_error(&patch(json!({"price": "-1", "min_qty": 9, "max_qty": 2})).await, 422, "invalid_request");
    assert_eq!(api.get(&format!("/products/{pid}")).await.body["price"], "45.00");
    assert_eq!(patch(json!({"price": 48.5, "visible": true})).await.status, 200);
    // The storefront lists it at once.
    let (_, listed) = app.get_json(&app.shop_url("driven", "/api/v1/products")).await;
    assert!(listed.to_string().contains(&pid), "{listed}");

    // Keys as a JSON array: blanks dropped, a repeat in the batch counted.
    let imported = api.post(&format!("/products/{pid}/keys"), json!(["K-1", "K-2", " ", "K-1", "K-3"]), None).await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert_eq!(
        (imported.body["imported"].as_u64(), imported.body["duplicate"].as_u64()),
        (Some(3), Some(1)),
        "{}",
        imported.body
    );
    assert_eq!(imported.body["problems"][0], json!({"line": 4, "reason": "duplicate_in_file"}));
    // As {"keys": [...]} and as text; keys already there are skipped.
    let again = api.post(&format!("/products/{pid}/keys"), json!({"keys": ["K-3", "K-4"]}), None).await;
    assert_eq!(
        (again.body["imported"].as_u64(), again.body["duplicate"].as_u64()),
        (Some(1), Some(1)),
        "{}",
        again.body
    );
    let text = api.post_text(&format!("/products/{pid}/keys"), "text/plain; charset=utf-8", "K-5\r\nK-6\n\n").await;
    assert_eq!(text.body["imported"], 2, "{}", text.body);
    assert_error(
        &api.post_text(&format!("/products/{pid}/keys"), "application/xml", "<k/>").await,
        415,
        "unsupported_media_type",
    );
    assert_error(&api.post(&format!("/products/{pid}/keys"), json!([]), None).await, 422, "invalid_request");
    assert_error(
        &api.post("/products/0193a1b2c3d4e5f60718293a4b5c6d7e/keys", json!(["x"]), None).await,
        404,
        "not_found",
    );
    assert_eq!(app.stock("driven", &pid).await, 6);
    let stock = api.get("/stock").await;
    let row = &stock.body["data"][0];
    assert_eq!(
        (row["product_id"].as_str(), row["available"].as_u64(), row["low"].as_bool()),
        (Some(pid.as_str()), Some(6), Some(false))
    );

    // The plan's key limit refuses the whole batch.
    app.set_plan_limit("free", plans::Column::MaxKeysInStock, Some(7)).await;
    let over = api.post(&format!("/products/{pid}/keys"), json!(["K-7", "K-8"]), None).await;
    assert_error(&over, 422, "plan_limit");
    assert!(over.body["error"]["message"].as_str().expect("message").contains("上限"), "{}", over.body);
    assert_eq!(app.stock("driven", &pid).await, 6);
    app.set_plan_limit("free", plans::Column::MaxKeysInStock, None).await;

    // A buyer pays; the order shows up, filtered, without its keys.
    let (status, order) = app
        .order("driven", json!({"product_id": pid, "quantity": 2, "email": "buyer@example.com", "channel": "sandbox"}))
        .await;
    assert_eq!(status, 201, "{order}");
    let no = order_no(&order).to_string();
    let (_, pending) = app
        .order("driven", json!({"product_id": pid, "quantity": 1, "email": "later@example.com", "channel": "sandbox"}))
        .await;
    let pending_no = order_no(&pending).to_string();
    let payment = app.payment_of(&tenant, &no).await;
    let fields = sandbox_fields(&app.keys_of("driven").await, &payment.id, "paid", payment.amount_minor, "CNY");
    assert_eq!(app.notify("driven", &payment.id, &fields).await.0, 200);
    assert!(app.eventually(10, || async { app.order_row(&tenant, &no).await.status == "delivered" }).await);

    let delivered = api.get("/orders?status=delivered").await;
    assert_eq!(delivered.status, 200, "{}", delivered.body);
    let data = delivered.body["data"].as_array().expect("data");
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["order_no"], no);
    assert_eq!(data[0]["amount"], "97.00");
    let all = api.get("/orders").await.body;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(api.get("/orders?q=later@").await.body["data"][0]["order_no"], pending_no);
    let one = api.get(&format!("/orders/{no}")).await;
    assert_eq!((one.body["status"].as_str(), one.body["quantity"].as_i64()), (Some("delivered"), Some(2)));
    for k in ["K-1", "K-2", "K-3", "K-4", "K-5", "K-6"] {
        assert!(!one.body.to_string().contains(k) && !all.to_string().contains(k));
    }
    let bad_filter = api.get("/orders?status=shipped&created_from=yesterday").await;
    assert_error(&bad_filter, 422, "invalid_request");
    assert_eq!(bad_filter.body["error"]["details"].as_array().map(Vec::len), Some(2));
    let future = api.get("/orders?created_from=2099-01-01T00:00:00Z").await;
    assert_eq!(future.body["data"], json!([]));

    // Coupons.
    let c =
        api.post("/coupons", json!({"code": "vip-10", "kind": "percent", "value": 10, "usage_limit": 5}), None).await;
    assert_eq!(c.status, 201, "{}", c.body);
    assert_eq!((c.body["code"].as_str(), c.body["value"].as_str()), (Some("VIP-10"), Some("10")));
    assert_error(
        &api.post("/coupons", json!({"code": "VIP-10", "kind": "fixed", "value": "5.00"}), None).await,
        409,
        "coupon_exists",
    );
    let bad = api
        .post("/coupons", json!({"code": "x", "kind": "percent", "value": 150, "expires_on": "31/12/2026"}), None)
        .await;
    assert_error(&bad, 422, "invalid_request");
    assert_eq!(bad.body["error"]["details"].as_array().map(Vec::len), Some(3), "{}", bad.body);
    let fixed = api
        .post(
            "/coupons",
            json!({"code": "MINUS5", "kind": "fixed", "value": "5.00", "product_id": pid, "expires_on": "2099-12-31"}),
            None,
        )
        .await;
    assert_eq!(fixed.status, 201, "{}", fixed.body);
    let coupons = api.get("/coupons").await.body;
    assert_eq!(coupons["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(coupons["data"][0]["code"], "MINUS5");
    // The coupon works at the storefront.
    let (status, discounted) = app
        .order("driven", json!({"product_id": pid, "quantity": 1, "email": "c@example.com", "channel": "sandbox", "coupon": "minus5"}))
        .await;
    assert_eq!(status, 201, "{discounted}");
    assert_eq!(discounted["amount"], "43.50", "{discounted}");
    app.stop().await;
}

#[tokio::test]
async fn idempotency_keys_replay_and_cursors_page_without_gaps() {
    let app = TestApp::spawn().await;
    unlimited_api(&app).await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "paged").await;
    let tenant = app.tenant_id("paged").await;
    let api = Api::new(&app, Some(&make_api_key(&mut b, "paged", "erp", "write").await));

    let body = json!({"name": "Once", "price": "1.00"});
    let first = api.post("/products", body.clone(), Some("create-once-1")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(!first.headers.contains_key("idempotent-replayed"));
    let second = api.post("/products", body.clone(), Some("create-once-1")).await;
    assert_eq!(second.status, 201);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(second.body, first.body);
    assert_eq!(product_count(&app, &tenant).await, 1);
    // The same key with another request is refused; a new key creates.
    let other = api.post("/products", json!({"name": "Twice", "price": "1.00"}), Some("create-once-1")).await;
    assert_error(&other, 422, "idempotency_key_reused");
    assert_eq!(product_count(&app, &tenant).await, 1);
    assert_error(
        &api.post("/products", body.clone(), Some("bad key with spaces")).await,
        400,
        "invalid_idempotency_key",
    );
    // A refused request is replayed as refused (the same answer, not a second try).
    let invalid = api.post("/products", json!({"name": "", "price": "1"}), Some("create-bad-1")).await;
    assert_error(&invalid, 422, "invalid_request");
    let replay = api.post("/products", json!({"name": "", "price": "1"}), Some("create-bad-1")).await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body, invalid.body);
    // Keys are per API key: another key may use the same Idempotency-Key.
    let api2 = Api::new(&app, Some(&make_api_key(&mut b, "paged", "other", "write").await));
    assert_eq!(api2.post("/products", body.clone(), Some("create-once-1")).await.status, 201);
    assert_eq!(product_count(&app, &tenant).await, 2);
    // A key import replayed does not import twice (and says so the same way).
    let pid = first.body["id"].as_str().expect("id").to_string();
    let k1 = api.post(&format!("/products/{pid}/keys"), json!(["A", "B"]), Some("import-1")).await;
    let k2 = api.post(&format!("/products/{pid}/keys"), json!(["A", "B"]), Some("import-1")).await;
    assert_eq!((k1.body["imported"].as_u64(), k2.body["imported"].as_u64()), (Some(2), Some(2)));
    assert_eq!(k2.headers["idempotent-replayed"], "true");

    // Pages: 7 products, 3 per page, each seen once, in order.
    for i in 0..5 {
        assert_eq!(api.post("/products", json!({"name": format!("P{i}"), "price": "2.00"}), None).await.status, 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/products?limit=3&cursor={c}"),
            None => "/products?limit=3".to_string(),
        };
        let page = api.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        pages += 1;
        seen.extend(
            page.body["data"].as_array().expect("data").iter().map(|p| p["id"].as_str().expect("id").to_string()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10, "runaway paging");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "ids in order, none twice");
    assert_error(&api.get("/products?cursor=garbage!").await, 422, "invalid_request");
    assert_error(&api.get("/products?limit=0").await, 422, "invalid_request");
    assert_error(&api.get("/products?limit=101").await, 422, "invalid_request");
    app.stop().await;
}

#[tokio::test]
async fn each_key_is_held_to_its_plans_requests_per_minute() {
    let app = TestApp::spawn().await;
    app.set_plan_limit("free", plans::Column::ApiRequestsPerMinute, Some(3)).await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "limited").await;
    let one = Api::new(&app, Some(&make_api_key(&mut b, "limited", "one", "read").await));
    let two = Api::new(&app, Some(&make_api_key(&mut b, "limited", "two", "read").await));
    for _ in 0..3 {
        assert_eq!(one.get("/stock").await.status, 200);
    }
    let limited = one.get("/stock").await;
    assert_error(&limited, 429, "rate_limited");
    let retry: u64 = limited.headers["retry-after"].to_str().expect("retry-after").parse().expect("secs");
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(limited.body["error"]["message"].as_str().expect("message").contains("3 per minute"), "{}", limited.body);
    // Another key of the same shop has its own allowance.
    assert_eq!(two.get("/stock").await.status, 200);
    // Raising the plan's limit applies at once.
    app.set_plan_limit("free", plans::Column::ApiRequestsPerMinute, Some(600)).await;
    assert_eq!(one.get("/stock").await.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::spawn().await;
    let anon = Api::new(&app, None);
    let doc = anon.get("/openapi.json").await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let paths = doc.body["paths"].as_object().expect("paths");
    assert_eq!(paths.len(), 17, "{:?}", paths.keys());
    for (path, ops) in paths {
        let concrete = path
            .replace("{id}", "0193a1b2c3d4e5f60718293a4b5c6d7e")
            .replace("{product_id}", "0193a1b2c3d4e5f60718293a4b5c6d7e")
            .replace("{order_no}", "202611300000000001")
            .replace("{reference}", "0193a1b2c3d4e5f60718293a4b5c6d7e");
        for method in ops.as_object().expect("ops").keys() {
            let req = match method.as_str() {
                "get" => app.client.get(format!("{}{concrete}", anon.base)),
                "post" => app.client.post(format!("{}{concrete}", anon.base)).json(&json!({})),
                "patch" => app.client.patch(format!("{}{concrete}", anon.base)).json(&json!({})),
                "put" => app.client.put(format!("{}{concrete}", anon.base)).json(&json!({})),
                m => panic!("unexpected method {m}"),
            };
            // Every documented operation exists and asks for a key.
            assert_error(&anon.send(req).await, 401, "unauthorized");
        }
    }
    // Undocumented paths and methods are not there.
    assert_error(&anon.get("/customers").await, 404, "not_found");
    let del = anon.send(app.client.delete(format!("{}/products", anon.base))).await;
    assert_error(&del, 405, "method_not_allowed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_imports_sent_at_once_never_pass_the_plans_stock_limit_together() {
    let app = TestApp::spawn().await;
    unlimited_api(&app).await;
    app.set_plan_limit("free", plans::Column::MaxKeysInStock, Some(10)).await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "racing").await;
    let tenant = app.tenant_id("racing").await;
    let admin = make_api_key(&mut b, "racing", "importer", "write").await;
    let pid = create_product(&mut b, "racing", "Card", "1.00").await;
    // Eight calls of three keys each, at once: room for three of them (9 of 10).
    let calls = (0..8).map(|i| {
        let api = Api::new(&app, Some(&admin));
        let path = format!("/products/{pid}/keys");
        async move {
            let body = format!("R{i}-A\nR{i}-B\nR{i}-C\n");
            api.post_text(&path, "text/plain; charset=utf-8", &body).await
        }
    });
    let answers = futures::future::join_all(calls).await;
    let ok = answers.iter().filter(|a| a.status == 200).count();
    let refused = answers.iter().filter(|a| a.status == 422 && a.body["error"]["code"] == "plan_limit").count();
    assert_eq!((ok, refused), (3, 5), "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    assert_eq!(app.count_keys(&tenant, "available").await, 9, "the limit held");
    app.stop().await;
}
