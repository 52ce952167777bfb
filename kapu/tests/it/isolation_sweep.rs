//! The isolation sweep: every route of the platform and the storefront, read
//! from the routers as they are built (`platform_paths`, `storefront_routes`,
//! so a new route cannot be left out), called with shop A's ids.
//!
//! - Those who must reach nothing of shop A, in every method: an anonymous
//!   client, the owner of shop B (signed in, with CSRF tokens), shop B's API
//!   key, and anyone on shop B's host. No answer shows A's private data and
//!   A's rows are exactly as before.
//! - Those who may reach part of it: staff of A (never the owner's pages:
//!   webhooks, channels, team, API keys, settings), a buyer of A holding
//!   their own order's token (never another buyer's order), and an operator
//!   (the tenant and its owner, never buyers, keys or credentials). Each is
//!   checked against what they must not see, and A's rows they must not
//!   change are compared before and after.

use crate::support;

use std::collections::BTreeMap;

use kapu_core::entities::{
    api_keys, card_keys, categories, channel_configs, coupons, jobs, key_imports, memberships, orders, payments,
    products, risk_entries, shop_themes, tenants, webhook_endpoints,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use support::TestApp;
use support::merchant::{Browser, make_api_key, merchant_with_shop, verified_merchant};
use support::operator::signed_in_operator;

/// Everything of shop A in the database, as JSON.
async fn rows_of(app: &TestApp, tenant: &str) -> BTreeMap<&'static str, Vec<Value>> {
    let db = app.db.reader();
    // A's rows of `$e`, in a stable order (by `$by`, the id where there is one).
    macro_rules! rows {
        ($e:ident) => {
            rows!($e, Id)
        };
        ($e:ident, $by:ident) => {
            $e::Entity::find()
                .filter($e::Column::TenantId.eq(tenant))
                .order_by_asc($e::Column::$by)
                .into_json()
                .all(db)
                .await
                .expect(stringify!($e))
        };
    }
    BTreeMap::from([
        ("tenants", tenants::Entity::find_by_id(tenant.to_string()).into_json().all(db).await.expect("tenant")),
        ("products", rows!(products)),
        ("card_keys", rows!(card_keys)),
        ("orders", rows!(orders)),
        ("payments", rows!(payments)),
        ("coupons", rows!(coupons)),
        ("categories", rows!(categories)),
        ("api_keys", rows!(api_keys)),
        ("webhook_endpoints", rows!(webhook_endpoints)),
        ("channel_configs", rows!(channel_configs)),
        ("risk_entries", rows!(risk_entries)),
        ("key_imports", rows!(key_imports)),
        ("memberships", rows!(memberships, AccountId)),
        ("shop_themes", rows!(shop_themes, TenantId)),
    ])
}

/// A route's path with shop A's ids in its parameters.
fn with_ids(path: &str, ids: &BTreeMap<&str, String>) -> String {
    path.split('/')
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                // `{id}` means the thing the path is about: the segment before it.
                let before = path.split('/').take_while(|s| *s != seg).last().unwrap_or("");
                let key = if name == "id" { format!("id:{before}") } else { name.to_string() };
                ids.get(key.as_str()).or_else(|| ids.get(name)).cloned().unwrap_or_else(|| "x".into())
            }
            None => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Shop A with something behind every kind of id, and what only its owner sees.
struct ShopA {
    owner: Browser,
    tenant: String,
    ids: BTreeMap<&'static str, String>,
    /// Seen on the owner's pages and by no one outside the shop.
    private: Vec<String>,
    /// The key delivered to A's first buyer (seen by that buyer and A's
    /// members) and A's channel credentials (shown to no one once saved).
    sealed: Vec<String>,
}

const CHANNEL_SECRET: &str = "alpha-channel-secret-5d1f";

async fn shop_a(app: &TestApp) -> ShopA {
    let mut a = merchant_with_shop(app, "alpha-owner@example.com", "alpha").await;
    let tenant_a = app.tenant_id("alpha").await;
    let product = app.add_product(&tenant_a, "Alpha Secret Product", 1000, 5).await;
    let (status, order) =
        app.order("alpha", json!({"product_id": product, "quantity": 1, "email": "alpha-buyer@example.com"})).await;
    assert_eq!(status, 201, "{order}");
    let order_no = support::order_no(&order).to_string();
    let payment = app.payment_of(&tenant_a, &order_no).await;
    // The order is paid, so it holds a delivered key.
    let paid = app.client.post(order["pay_url"].as_str().expect("pay_url")).form(&[("outcome", "paid")]).send().await;
    assert_eq!(paid.expect("pay").status().as_u16(), 303);
    let (_, view) = app.order_view("alpha", &order_no, order["token"].as_str().expect("token")).await;
    let keys: Vec<String> = serde_json::from_value(view["keys"].clone()).expect("delivered keys");
    assert_eq!(keys.len(), 1, "{view}");
    app.configure_channel(&tenant_a, "epay", 5, false, &json!({"pid": "1001", "key": CHANNEL_SECRET}).to_string())
        .await;
    a.post("/shops/alpha/webhooks", &[("url", "http://127.0.0.1:9/alpha-hook"), ("event", "order.paid")])
        .await
        .expect(200);
    a.post("/shops/alpha/coupons", &[("code", "ALPHASAVE"), ("kind", "percent"), ("value", "10")]).await;
    a.post("/shops/alpha/api-keys", &[("name", "alpha script"), ("scope", "write")]).await.expect(200);
    // A's one row of `$e` (each was just made above).
    macro_rules! one_of_a {
        ($e:ident) => {
            $e::Entity::find()
                .filter($e::Column::TenantId.eq(&tenant_a))
                .one(app.db.reader())
                .await
                .expect("db")
                .expect(stringify!($e))
        };
    }
    let (endpoint, coupon, key_a, owner_a) =
        (one_of_a!(webhook_endpoints), one_of_a!(coupons), one_of_a!(api_keys), one_of_a!(memberships));
    let ids: BTreeMap<&str, String> = BTreeMap::from([
        ("slug", "alpha".to_string()),
        ("id:products", product.clone()),
        ("product_id", product.clone()),
        ("no", order_no.clone()),
        ("order_no", order_no.clone()),
        ("payment_id", payment.id.clone()),
        ("id:webhooks", endpoint.id.clone()),
        ("id:tenants", tenant_a.clone()),
        ("account_id", owner_a.account_id.clone()),
        ("kind", "epay".to_string()),
        ("name", "home.html".to_string()),
        ("tag", "en".to_string()),
        ("id:coupons", coupon.id),
        ("id:api-keys", key_a.id),
        ("id", product.clone()),
    ]);
    let private: Vec<String> =
        ["alpha-buyer@example.com", "alpha-hook", "ALPHASAVE", "alpha-owner@example.com"].map(String::from).to_vec();
    // Its owner sees each of them, so their absence below means something.
    let mut seen_by_owner = String::new();
    for p in ["/shops/alpha/orders", "/shops/alpha/webhooks", "/shops/alpha/coupons", "/shops/alpha/team"] {
        seen_by_owner.push_str(&a.get(p).await.body);
    }
    for s in &private {
        assert!(seen_by_owner.contains(s.as_str()), "A's owner sees {s:?}");
    }
    let mut sealed = keys;
    sealed.push(CHANNEL_SECRET.to_string());
    ShopA { owner: a, tenant: tenant_a, ids, private, sealed }
}

/// Fails if `body` shows any of `secrets`.
fn no_leak(who: &str, url: &str, body: &str, secrets: &[&String]) {
    for s in secrets {
        assert!(!body.contains(s.as_str()), "{who} saw {s:?} at {url}: {}", &body[..body.len().min(400)]);
    }
}

/// Every platform path as a signed-in `browser`: read, then posted with a
/// valid CSRF token and no fields. Sign-out paths are only read, so the whole
/// sweep runs signed in (checked at the end on `own_page`).
async fn sweep_signed_in(
    who: &str,
    browser: &mut Browser,
    ids: &BTreeMap<&str, String>,
    secrets: &[&String],
    own_page: &str,
) -> usize {
    let mut calls = 0;
    for path in kapu_platform::platform_paths() {
        let concrete = with_ids(&path, ids);
        no_leak(who, &concrete, &browser.get(&concrete).await.body, secrets);
        if !concrete.ends_with("/logout") {
            no_leak(who, &concrete, &browser.post(&concrete, &[]).await.body, secrets);
        }
        calls += 2;
    }
    assert_eq!(browser.get(own_page).await.status, 200, "{who} stayed signed in through the sweep");
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_shows_or_changes_shop_a_to_anyone_outside_it() {
    let app = TestApp::spawn().await;
    let ShopA { tenant: tenant_a, ids, private, sealed, .. } = shop_a(&app).await;
    let secrets: Vec<&String> = private.iter().chain(&sealed).collect();

    // Those outside: shop B's owner and API key, and an anonymous client.
    let mut b = merchant_with_shop(&app, "bravo-owner@example.com", "bravo").await;
    let key_b = make_api_key(&mut b, "bravo", "b", "write").await;
    let anonymous = &app.client;
    let before = rows_of(&app, &tenant_a).await;

    let platform = kapu_platform::platform_paths();
    let storefront: Vec<String> = kapu_runtime::storefront_routes().paths().to_vec();
    assert!(platform.len() > 80 && storefront.len() > 15, "{} {}", platform.len(), storefront.len());
    // Shop B's owner, signed in, with valid CSRF tokens.
    let mut calls = sweep_signed_in("B's owner", &mut b, &ids, &secrets, "/shops/bravo/orders").await;
    for path in &platform {
        let concrete = with_ids(path, &ids);
        // Anyone, and B's API key, in every method.
        for method in [reqwest::Method::GET, reqwest::Method::POST, reqwest::Method::PATCH, reqwest::Method::DELETE] {
            let url = app.platform_url(&concrete);
            let r = anonymous.request(method.clone(), &url).json(&json!({})).send().await.expect("send");
            no_leak("anonymous", &url, &r.text().await.unwrap_or_default(), &secrets);
            let r = anonymous.request(method, &url).bearer_auth(&key_b).json(&json!({})).send().await.expect("send");
            no_leak("B's API key", &url, &r.text().await.unwrap_or_default(), &secrets);
            calls += 2;
        }
    }
    for path in &storefront {
        let concrete = with_ids(path, &ids);
        for method in [reqwest::Method::GET, reqwest::Method::POST] {
            // A's ids on B's host, and on A's own host without A's tokens.
            for host in ["bravo", "alpha"] {
                let url = app.shop_url(host, &concrete);
                let r = anonymous
                    .request(method.clone(), &url)
                    .json(&json!({"outcome": "paid"}))
                    .send()
                    .await
                    .expect("send");
                no_leak(&format!("anyone on {host}"), &url, &r.text().await.unwrap_or_default(), &secrets);
                calls += 1;
            }
        }
    }
    println!("{} platform and {} storefront paths, {calls} calls", platform.len(), storefront.len());
    assert!(app.jobs_settled(10).await);
    let after = rows_of(&app, &tenant_a).await;
    for (table, rows) in &before {
        assert_eq!(&after[table], rows, "shop A's {table} changed");
    }
    app.stop().await;
}

/// The tables only A's owner may change.
const OWNERS_TABLES: [&str; 7] =
    ["tenants", "api_keys", "webhook_endpoints", "channel_configs", "memberships", "shop_themes", "risk_entries"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_buyers_and_operators_reach_only_their_part_of_shop_a() {
    let app = TestApp::spawn().await;
    let ShopA { mut owner, tenant: tenant_a, ids, private, sealed } = shop_a(&app).await;
    let mut calls = 0;

    // A buyer of A with their own paid order's token reaches none of the
    // first buyer's order, on any storefront path, and changes nothing.
    let product = &ids["product_id"];
    let (status, own) =
        app.order("alpha", json!({"product_id": product, "quantity": 1, "email": "alpha-second@example.com"})).await;
    assert_eq!(status, 201, "{own}");
    let (own_no, own_token) = (support::order_no(&own).to_string(), own["token"].as_str().expect("token").to_string());
    let paid = app.client.post(own["pay_url"].as_str().expect("pay_url")).form(&[("outcome", "paid")]).send().await;
    assert_eq!(paid.expect("pay").status().as_u16(), 303);
    let buyer = reqwest::Client::builder()
        .cookie_store(true)
        .dns_resolver(std::sync::Arc::new(support::Loopback))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let own_page = buyer.get(app.shop_url("alpha", &format!("/orders/{own_no}?token={own_token}"))).send().await;
    assert_eq!(own_page.expect("own order").status().as_u16(), 200);
    // Its payment's webhook goes to a dead endpoint: let the retries run
    // out (the endpoint is turned off) before anything is compared.
    let all_done = || async {
        let waiting = jobs::Entity::find()
            .filter(jobs::Column::Kind.eq(kapu_core::store::webhooks::DELIVER_WEBHOOK))
            .filter(jobs::Column::Status.is_in(["queued", "running"]));
        waiting.count(app.db.reader()).await.expect("jobs") == 0
    };
    assert!(app.eventually(30, all_done).await, "the webhook's retries ran out");
    let everything: Vec<&String> = private.iter().chain(&sealed).collect();
    let before = rows_of(&app, &tenant_a).await;
    for path in kapu_runtime::storefront_routes().paths() {
        let url = app.shop_url("alpha", &format!("{}?token={own_token}", with_ids(path, &ids)));
        let fields = [("outcome", "paid"), ("token", own_token.as_str())];
        for r in [
            buyer.get(&url).send().await,
            buyer.post(&url).form(&fields).send().await,
            buyer.post(&url).json(&json!({"outcome": "paid", "token": own_token})).send().await,
        ] {
            no_leak("A's other buyer", &url, &r.expect("send").text().await.unwrap_or_default(), &everything);
            calls += 1;
        }
    }
    assert!(app.jobs_settled(10).await);
    assert_eq!(rows_of(&app, &tenant_a).await, before, "a buyer changed shop A");

    // An operator sees the tenant, its owner and its audit trail (which
    // names its webhook endpoints), never its buyers, keys, coupons or
    // credentials, and an empty form changes nothing.
    let (mut operator, _) = signed_in_operator(&app, "ops@kapu.example").await;
    let not_the_owner: Vec<&String> =
        everything.iter().copied().filter(|s| !s.contains("owner") && !s.contains("hook")).collect();
    calls += sweep_signed_in("an operator", &mut operator, &ids, &not_the_owner, "/ops/tenants").await;
    assert!(app.jobs_settled(10).await);
    assert_eq!(rows_of(&app, &tenant_a).await, before, "an operator's empty forms changed shop A");

    // Staff of A run the shop (orders, products, keys) but never see or
    // change what is the owner's: endpoints, credentials, the team.
    let mut staff = verified_merchant(&app, "alpha-staff@example.com").await;
    owner.post("/shops/alpha/team", &[("email", "alpha-staff@example.com")]).await.expect(303);
    let owners_only: Vec<&String> = everything
        .iter()
        .copied()
        .filter(|s| s.contains("hook") || s.contains("owner") || **s == CHANNEL_SECRET)
        .collect();
    let before = rows_of(&app, &tenant_a).await;
    calls += sweep_signed_in("A's staff", &mut staff, &ids, &owners_only, "/shops/alpha/orders").await;
    let after = rows_of(&app, &tenant_a).await;
    for table in OWNERS_TABLES {
        assert_eq!(after[table], before[table], "A's staff changed the owner's {table}");
    }
    println!("{calls} calls as another buyer, an operator and staff");
    app.stop().await;
}
