//! Every status code the two OpenAPI documents promise is one a client can
//! meet. Each (method, path, status) of the storefront and merchant
//! documents, as the running server serves them, is caused here by the
//! request that causes it; the set caused must equal the set documented, so
//! a code documented but unreachable (or reachable but undocumented among
//! these triggers) fails the test.

use crate::support;

use std::collections::BTreeSet;

use kapu_core::entities::{api_keys, plans, tenants};
use kapu_core::store::api_idempotency::{Claim, claim_idempotency_key_for_tenant};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use support::merchant::{make_api_key, merchant_with_shop};
use support::{Options, TestApp, sandbox_fields};

type Operation = (String, String, u16);

/// Every (method, path, status) of the OpenAPI document at `url`, paths
/// prefixed with `prefix`.
async fn documented(app: &TestApp, url: &str, prefix: &str) -> BTreeSet<Operation> {
    let (status, doc) = app.get_json(url).await;
    assert_eq!(status, 200, "{url}");
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            for code in op["responses"].as_object().into_iter().flat_map(|r| r.keys()) {
                ops.insert((method.to_uppercase(), format!("{prefix}{path}"), code.parse().expect("status code")));
            }
        }
    }
    ops
}

/// A request and what it caused.
struct Caller {
    caused: BTreeSet<Operation>,
}

impl Caller {
    /// Sends `req` as operation (`method`, `path`) and records the status it met.
    async fn call(&mut self, method: &str, path: &str, req: reqwest::RequestBuilder) -> (u16, Value) {
        let r = req.send().await.expect("send");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        self.caused.insert((method.to_string(), path.to_string(), status));
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_status_code_is_reachable() {
    let app = TestApp::spawn().await;
    let mut expected = documented(&app, &app.url("/api/v1/openapi.json"), "").await;
    expected.extend(documented(&app, &app.platform_url("/api/merchant/v1/openapi.json"), "/api/merchant/v1").await);
    let http = reqwest::Client::builder()
        .dns_resolver(std::sync::Arc::new(support::Loopback))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut c = Caller { caused: BTreeSet::new() };

    // Shops in every state a storefront request can meet before its handler.
    app.create_shop("suspended", "test", 1).await;
    app.set_tenant("suspended", tenants::Column::Status, "suspended").await;
    app.create_shop("unopened", "test", 1).await;
    tenants::Entity::update_many()
        .col_expr(tenants::Column::TestPublic, sea_orm::sea_query::Expr::value(false))
        .filter(tenants::Column::Slug.eq("unopened"))
        .exec(app.db.writer())
        .await
        .expect("close the preview");
    app.state.shop_changed(&app.tenant_id("unopened").await).await;

    // The storefront API, on the demo shop.
    let shop = |slug: &str, path: &str| app.shop_url(slug, path);
    let products = "/api/v1/products";
    for (slug, status) in [("demo", 200), ("no-such-shop", 404), ("unopened", 403), ("suspended", 503)] {
        assert_eq!(c.call("GET", products, http.get(shop(slug, products))).await.0, status, "{slug}");
    }
    let orders = "/api/v1/orders";
    let order =
        |body: &str| http.post(shop("demo", orders)).header("content-type", "application/json").body(body.to_string());
    let good = r#"{"product_id":"win11-pro","quantity":1,"email":"codes@example.com"}"#;
    for (body, status) in [
        (good, 201),
        ("{not json", 400),
        (r#"{"product_id":"nope","quantity":1,"email":"a@example.com"}"#, 404),
        (r#"{"product_id":"netease-100","quantity":1,"email":"a@example.com"}"#, 409),
        (r#"{"product_id":"win11-pro","quantity":1,"email":"not-an-email"}"#, 422),
    ] {
        assert_eq!(c.call("POST", orders, order(body)).await.0, status, "{body}");
    }
    for (slug, status) in [("unopened", 403), ("suspended", 503)] {
        let req = http.post(shop(slug, orders)).json(&json!({"product_id": "x", "quantity": 1, "email": "a@b.co"}));
        assert_eq!(c.call("POST", orders, req).await.0, status, "{slug}");
    }
    let (_, placed) = c.call("POST", orders, order(good)).await;
    let (no, token) = (support::order_no(&placed).to_string(), placed["token"].as_str().expect("token").to_string());
    let one = "/api/v1/orders/{order_no}";
    let req = http.get(shop("demo", &format!("/api/v1/orders/{no}?token={token}")));
    assert_eq!(c.call("GET", one, req).await.0, 200);
    let req = http.get(shop("demo", &format!("/api/v1/orders/{no}?token=wrong")));
    assert_eq!(c.call("GET", one, req).await.0, 404);

    // Payment notifications: signed, forged, and for no payment.
    let tenant = app.tenant_id("demo").await;
    let payment = app.payment_of(&tenant, &no).await;
    let keys = app.keys_of("demo").await;
    let signed = sandbox_fields(&keys, &payment.id, "paid", payment.amount_minor, &payment.currency);
    let mut forged = signed.clone();
    forged.iter_mut().find(|(k, _)| k == "sign").expect("sign").1 = "0".repeat(64);
    let notify = "/api/v1/payments/{payment_id}/notify";
    let at = |id: &str| shop("demo", &format!("/api/v1/payments/{id}/notify"));
    for (method, fields, id, status) in [
        ("POST", &forged, payment.id.as_str(), 400),
        ("GET", &forged, payment.id.as_str(), 400),
        ("POST", &signed, "no-such-payment", 404),
        ("GET", &signed, "no-such-payment", 404),
        ("POST", &signed, payment.id.as_str(), 200),
        ("GET", &signed, payment.id.as_str(), 200),
    ] {
        let req = if method == "POST" { http.post(at(id)).form(fields) } else { http.get(at(id)).query(fields) };
        assert_eq!(c.call(method, notify, req).await.0, status, "{method} {id}");
    }
    let stripe = "/api/v1/channels/stripe/webhook";
    let event = |body: String| http.post(shop("demo", stripe)).header("content-type", "application/json").body(body);
    let unknown = json!({"type": "checkout.session.completed", "data": {"object": {"client_reference_id": "nope"}}});
    for (body, status) in [
        (json!({"type": "customer.created", "data": {"object": {}}}).to_string(), 200),
        ("not json".to_string(), 400),
        (unknown.to_string(), 404),
    ] {
        assert_eq!(c.call("POST", stripe, event(body.clone())).await.0, status, "{body}");
    }

    // The merchant API, with a write key, a read key and none.
    let mut owner = merchant_with_shop(&app, "codes@example.com", "codes").await;
    let write = make_api_key(&mut owner, "codes", "write", "write").await;
    let read = make_api_key(&mut owner, "codes", "read", "read").await;
    app.set_plan_limit("free", plans::Column::ApiRequestsPerMinute, None).await;
    let api = |p: &str| app.platform_url(&format!("/api/merchant/v1{p}"));
    let m = |p: &str| format!("/api/merchant/v1{p}");
    let json_body = |req: reqwest::RequestBuilder, body: &str| {
        req.header("content-type", "application/json").body(body.to_string())
    };
    let (_, product) = c
        .call(
            "POST",
            &m("/products"),
            json_body(http.post(api("/products")), r#"{"name":"Codes","price":"9.90"}"#).bearer_auth(&write),
        )
        .await;
    let id = product["id"].as_str().expect("product id").to_string();
    let keys_path = format!("/products/{id}/keys");
    let too_many: String = (0..10_001).map(|i| format!("K-{i}\n")).collect();
    // Key imports: text, JSON, too many, the wrong type.
    let keys_op = m("/products/{id}/keys");
    for (content_type, body, key, status) in [
        ("text/plain", "CODES-1\nCODES-2".to_string(), &write, 200),
        ("application/json", "{bad".to_string(), &write, 400),
        ("text/plain", "CODES-3".to_string(), &read, 403),
        ("text/plain", too_many, &write, 413),
        ("image/png", "CODES-4".to_string(), &write, 415),
        ("application/json", r#"{"keys":[]}"#.to_string(), &write, 422),
    ] {
        let req = http.post(api(&keys_path)).header("content-type", content_type).body(body).bearer_auth(key);
        assert_eq!(c.call("POST", &keys_op, req).await.0, status, "{content_type} {status}");
    }
    let req = http.post(api("/products/nope/keys")).header("content-type", "text/plain").body("X").bearer_auth(&write);
    assert_eq!(c.call("POST", &keys_op, req).await.0, 404);
    let (status, sold) = app.order("codes", json!({"product_id": id, "quantity": 1, "email": "b@example.com"})).await;
    assert_eq!(status, 201, "{sold}");
    let sold_no = support::order_no(&sold).to_string();

    // An outside reseller's supply key, 2.00 prepaid; the product offered at 1.00 (one key left).
    let supply = make_api_key(&mut owner, "codes", "supply", "supply").await;
    let codes = app.tenant_id("codes").await;
    let terms = kapu_core::store::supply::ListingTerms {
        wholesale_minor: 100,
        min_resale_minor: None,
        audience: kapu_core::store::supply::Audience::Any,
        allowed_shops: Vec::new(),
        per_order_cap: None,
        daily_cap: None,
        exact_stock: true,
        open: true,
    };
    kapu_core::store::supply::save_listing_for_supplier(app.db.writer(), &codes, &id, &terms, chrono::Utc::now())
        .await
        .expect("listing");
    let supply_key = api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(&codes))
        .filter(api_keys::Column::Name.eq("supply"))
        .one(app.db.reader())
        .await
        .expect("db")
        .expect("supply key");
    kapu_core::store::supply_prepaid::record_topup(
        app.db.writer(),
        &codes,
        &supply_key.id,
        200,
        "CNY",
        chrono::Utc::now(),
    )
    .await
    .expect("top-up");
    let buy = |reference: &str, sku: &str, quantity: i64| {
        json!({"reference": reference, "sku": sku, "quantity": quantity}).to_string()
    };
    let (bought, no_stock, too_dear, unknown, zero) =
        (buy("r1", &id, 1), buy("r2", &id, 1), buy("r3", &id, 2), buy("r4", "nope", 1), buy("r5", &id, 0));
    let product_path = format!("/products/{id}");
    type Case<'a> = (&'a str, &'a str, String, Option<&'a str>, &'a str, u16);
    let cases: Vec<Case> = vec![
        // (method, documented path, concrete path, content type + body, key, status)
        ("GET", "/products", "/products".into(), None, &read, 200),
        ("GET", "/products", "/products?limit=abc".into(), None, &read, 422),
        ("POST", "/products", "/products".into(), Some("{bad"), &write, 400),
        ("POST", "/products", "/products".into(), Some(r#"{"name":"R","price":"1.00"}"#), &read, 403),
        ("POST", "/products", "/products".into(), Some(r#"{"name":"","price":"-1"}"#), &write, 422),
        ("GET", "/products/{id}", product_path.clone(), None, &read, 200),
        ("GET", "/products/{id}", "/products/nope".into(), None, &read, 404),
        ("PATCH", "/products/{id}", product_path.clone(), Some(r#"{"name":"Codes 2"}"#), &write, 200),
        ("PATCH", "/products/{id}", product_path.clone(), Some("{bad"), &write, 400),
        ("PATCH", "/products/{id}", product_path.clone(), Some(r#"{"name":"x"}"#), &read, 403),
        ("PATCH", "/products/{id}", "/products/nope".into(), Some(r#"{"name":"x"}"#), &write, 404),
        ("PATCH", "/products/{id}", product_path.clone(), Some(r#"{"price":"abc"}"#), &write, 422),
        ("GET", "/stock", "/stock".into(), None, &read, 200),
        ("GET", "/orders", "/orders".into(), None, &read, 200),
        ("GET", "/orders", "/orders?status=bogus".into(), None, &read, 422),
        ("GET", "/orders/{order_no}", format!("/orders/{sold_no}"), None, &read, 200),
        ("GET", "/orders/{order_no}", "/orders/nope".into(), None, &read, 404),
        ("GET", "/coupons", "/coupons".into(), None, &read, 200),
        ("GET", "/coupons", "/coupons?limit=abc".into(), None, &read, 422),
        ("GET", "/supply/listings", "/supply/listings".into(), None, &read, 200),
        ("GET", "/supply/catalog", "/supply/catalog?q=steam".into(), None, &read, 200),
        ("GET", "/supply/ledger", "/supply/ledger".into(), None, &read, 200),
        ("GET", "/supply/ledger", "/supply/ledger?limit=abc".into(), None, &read, 422),
        ("GET", "/supply/resale-orders", "/supply/resale-orders".into(), None, &read, 200),
        ("GET", "/supply/resale-orders", "/supply/resale-orders?limit=abc".into(), None, &read, 422),
        ("GET", "/affiliates", "/affiliates".into(), None, &read, 200),
        ("GET", "/affiliates/commissions", "/affiliates/commissions?limit=5".into(), None, &read, 200),
        ("GET", "/affiliates/commissions", "/affiliates/commissions?limit=abc".into(), None, &read, 422),
        (
            "PUT",
            "/supply/listings/{product_id}",
            format!("/supply/listings/{id}"),
            Some(r#"{"open":true,"wholesale":"1.00","exact_stock":true}"#),
            &write,
            200,
        ),
        ("PUT", "/supply/listings/{product_id}", format!("/supply/listings/{id}"), Some("{bad"), &write, 400),
        (
            "PUT",
            "/supply/listings/{product_id}",
            format!("/supply/listings/{id}"),
            Some(r#"{"open":true,"wholesale":"1.00"}"#),
            &read,
            403,
        ),
        (
            "PUT",
            "/supply/listings/{product_id}",
            "/supply/listings/nope".into(),
            Some(r#"{"open":true,"wholesale":"1.00"}"#),
            &write,
            404,
        ),
        (
            "PUT",
            "/supply/listings/{product_id}",
            format!("/supply/listings/{id}"),
            Some(r#"{"open":true,"wholesale":"-1","daily_cap":0}"#),
            &write,
            422,
        ),
        ("GET", "/supply/products", "/supply/products".into(), None, &supply, 200),
        ("GET", "/supply/products", "/supply/products".into(), None, &read, 403),
        ("POST", "/supply/orders", "/supply/orders".into(), Some(&bought), &supply, 200),
        ("POST", "/supply/orders", "/supply/orders".into(), Some(&no_stock), &supply, 409),
        ("POST", "/supply/orders", "/supply/orders".into(), Some(&too_dear), &supply, 402),
        ("POST", "/supply/orders", "/supply/orders".into(), Some(&unknown), &supply, 404),
        ("POST", "/supply/orders", "/supply/orders".into(), Some(&zero), &supply, 422),
        ("POST", "/supply/orders", "/supply/orders".into(), Some("{bad"), &supply, 400),
        ("POST", "/supply/orders", "/supply/orders".into(), Some(&bought), &read, 403),
        ("GET", "/supply/orders/{reference}", "/supply/orders/r1".into(), None, &supply, 200),
        ("GET", "/supply/orders/{reference}", "/supply/orders/r2".into(), None, &supply, 404),
        ("GET", "/supply/orders/{reference}", "/supply/orders/r1".into(), None, &read, 403),
        ("POST", "/coupons", "/coupons".into(), Some(r#"{"code":"SAVE1","kind":"percent","value":10}"#), &write, 201),
        ("POST", "/coupons", "/coupons".into(), Some(r#"{"code":"SAVE1","kind":"percent","value":10}"#), &write, 409),
        ("POST", "/coupons", "/coupons".into(), Some("{bad"), &write, 400),
        ("POST", "/coupons", "/coupons".into(), Some(r#"{"code":"S2","kind":"percent","value":10}"#), &read, 403),
        ("POST", "/coupons", "/coupons".into(), Some(r#"{"code":"S3","kind":"bogus","value":10}"#), &write, 422),
    ];
    for (method, doc_path, path, body, key, status) in &cases {
        let mut req = http.request(method.parse().expect("method"), api(path)).bearer_auth(key);
        if let Some(b) = body {
            req = json_body(req, b);
        }
        let (got, answer) = c.call(method, &m(doc_path), req).await;
        assert_eq!(got, *status, "{method} {path}: {answer}");
    }
    // An Idempotency-Key used with another body; and one whose first
    // request is still being served (claimed as that request claims it).
    let create = |body: &str, key: &str| {
        json_body(http.post(api("/products")), body).bearer_auth(&write).header("idempotency-key", key.to_string())
    };
    let write_key = api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(app.tenant_id("codes").await))
        .filter(api_keys::Column::Name.eq("write"))
        .one(app.db.reader())
        .await
        .expect("db")
        .expect("write key");
    let in_flight = r#"{"name":"In flight","price":"1.00"}"#;
    let fingerprint = {
        use sha2::Digest;
        let text = format!("POST /products\napplication/json\n{in_flight}");
        kapu_core::crypto::hex(&sha2::Sha256::digest(text.as_bytes()))
    };
    let claim = claim_idempotency_key_for_tenant(
        app.db.writer(),
        &write_key.tenant_id,
        &write_key.id,
        "codes-in-flight",
        &fingerprint,
        chrono::Utc::now(),
    )
    .await
    .expect("claim");
    assert!(matches!(claim, Claim::Claimed));
    for (body, key, status) in [
        (r#"{"name":"Once","price":"1.00"}"#, "codes-once", 201),
        (r#"{"name":"Twice","price":"1.00"}"#, "codes-once", 422),
        (in_flight, "codes-in-flight", 409),
    ] {
        let (got, answer) = c.call("POST", &m("/products"), create(body, key)).await;
        assert_eq!(got, status, "{body}: {answer}");
    }

    // Every merchant operation without a key, then over the plan's quota.
    let merchant_ops: Vec<(String, String)> = expected
        .iter()
        .filter(|(_, p, _)| p.starts_with("/api/merchant/v1"))
        .map(|(method, p, _)| (method.clone(), p.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let concrete = |p: &str| {
        p.trim_start_matches("/api/merchant/v1")
            .replace("{id}", &id)
            .replace("{product_id}", &id)
            .replace("{order_no}", &sold_no)
    };
    for (method, p) in &merchant_ops {
        let req = http.request(method.parse().expect("method"), api(&concrete(p)));
        assert_eq!(c.call(method, p, json_body(req, "{}")).await.0, 401, "{method} {p}");
    }
    app.set_plan_limit("free", plans::Column::ApiRequestsPerMinute, Some(1)).await;
    // The minute's one request.
    http.get(api("/stock")).bearer_auth(&read).send().await.expect("send");
    for (method, p) in &merchant_ops {
        let req = http.request(method.parse().expect("method"), api(&concrete(p))).bearer_auth(&read);
        assert_eq!(c.call(method, p, json_body(req, "{}")).await.0, 429, "{method} {p}");
    }
    let caused = std::mem::take(&mut c.caused);
    app.stop().await;

    // The storefront's client limit, on a server that allows one request.
    let limited =
        TestApp::spawn_with(Options { rate_limit_per_second: 1, rate_limit_burst: 1, ..Options::default() }).await;
    let mut c = Caller { caused };
    let (_, placed) = c
        .call(
            "POST",
            orders,
            http.post(limited.shop_url("demo", orders)).header("content-type", "application/json").body(good),
        )
        .await;
    let no = support::order_no(&placed).to_string();
    for (method, doc_path, path) in [
        ("GET", products, products.to_string()),
        ("POST", orders, orders.to_string()),
        ("GET", one, format!("/api/v1/orders/{no}")),
    ] {
        let req = http.request(method.parse().expect("method"), limited.shop_url("demo", &path)).json(&json!({}));
        assert_eq!(c.call(method, doc_path, req).await.0, 429, "{method} {path}");
    }
    limited.stop().await;

    // What was caused is what is documented: nothing more, nothing less.
    let missing: Vec<_> = expected.difference(&c.caused).collect();
    let undocumented: Vec<_> = c.caused.difference(&expected).collect();
    assert!(
        missing.is_empty() && undocumented.is_empty(),
        "documented, never caused: {missing:?}\ncaused, not documented: {undocumented:?}"
    );
    println!("{} documented status codes, each caused", expected.len());
}
