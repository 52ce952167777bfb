//! The isolation sweep: every route of the platform and the storefront, read
//! from the routers as they are built (`platform_paths`, `storefront_routes`,
//! so a new route cannot be left out), called with shop A's ids in every
//! method by those who must reach nothing of shop A: an anonymous client,
//! the owner of shop B (signed in, with CSRF tokens), shop B's API key, and
//! anyone on shop B's host. No answer may show A's private data, and A's
//! rows must be exactly as before.
//!
//! Not covered here: staff of A, a buyer of A and operators, who may reach
//! some of A's data; which parts is each route's own test.

use crate::support;

use std::collections::BTreeMap;

use kapu_core::entities::{
    api_keys, card_keys, categories, channel_configs, coupons, key_imports, memberships, orders, payments, products,
    risk_entries, shop_themes, tenants, webhook_endpoints,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use support::TestApp;
use support::merchant::merchant_with_shop;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_shows_or_changes_shop_a_to_anyone_outside_it() {
    let app = TestApp::spawn().await;
    // Shop A, with something behind every kind of id.
    let mut a = merchant_with_shop(&app, "alpha-owner@example.com", "alpha").await;
    let tenant_a = app.tenant_id("alpha").await;
    let product = app.add_product(&tenant_a, "Alpha Secret Product", 1000, 3).await;
    let (status, order) =
        app.order("alpha", json!({"product_id": product, "quantity": 1, "email": "alpha-buyer@example.com"})).await;
    assert_eq!(status, 201, "{order}");
    let order_no = support::order_no(&order).to_string();
    let payment = app.payment_of(&tenant_a, &order_no).await;
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
    // What must never reach anyone outside shop A; its owner sees each of
    // them, so their absence below means something.
    let secrets = ["alpha-buyer@example.com", "alpha-hook", "ALPHASAVE", "alpha-owner@example.com"];
    let mut seen_by_owner = String::new();
    for p in ["/shops/alpha/orders", "/shops/alpha/webhooks", "/shops/alpha/coupons", "/shops/alpha/team"] {
        seen_by_owner.push_str(&a.get(p).await.body);
    }
    for s in secrets {
        assert!(seen_by_owner.contains(s), "A's owner sees {s:?}");
    }

    // Those outside: shop B's owner and API key, and an anonymous client.
    let mut b = merchant_with_shop(&app, "bravo-owner@example.com", "bravo").await;
    let key_page = b.post("/shops/bravo/api-keys", &[("name", "b"), ("scope", "write")]).await;
    let at = key_page.body.find("id=\"api-key-secret\">").expect("key") + "id=\"api-key-secret\">".len();
    let key_b = key_page.body[at..at + key_page.body[at..].find('<').expect("end")].to_string();
    let anonymous = &app.client;
    let before = rows_of(&app, &tenant_a).await;

    let platform = kapu_platform::platform_paths();
    let storefront: Vec<String> = kapu_runtime::storefront_routes().paths().to_vec();
    assert!(platform.len() > 80 && storefront.len() > 15, "{} {}", platform.len(), storefront.len());
    let mut calls = 0;
    let leak = |who: &str, url: &str, body: &str| {
        for s in secrets {
            assert!(!body.contains(s), "{who} saw {s:?} at {url}: {}", &body[..body.len().min(400)]);
        }
    };
    for path in &platform {
        let concrete = with_ids(path, &ids);
        // Shop B's owner, signed in, with valid CSRF tokens.
        let page = b.get(&concrete).await;
        leak("B's owner", &concrete, &page.body);
        let page = b.post(&concrete, &[]).await;
        leak("B's owner", &concrete, &page.body);
        // Anyone, and B's API key, in every method.
        for method in [reqwest::Method::GET, reqwest::Method::POST, reqwest::Method::PATCH, reqwest::Method::DELETE] {
            let url = app.platform_url(&concrete);
            let r = anonymous.request(method.clone(), &url).json(&json!({})).send().await.expect("send");
            leak("anonymous", &url, &r.text().await.unwrap_or_default());
            let r = anonymous.request(method, &url).bearer_auth(&key_b).json(&json!({})).send().await.expect("send");
            leak("B's API key", &url, &r.text().await.unwrap_or_default());
            calls += 2;
        }
        calls += 2;
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
                leak(&format!("anyone on {host}"), &url, &r.text().await.unwrap_or_default());
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
