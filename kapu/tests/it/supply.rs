//! In-platform supply: a supplier opens a product for resale, other shops
//! sell it; their orders reserve the supplier's keys in the same
//! transaction (never oversold, expiry gives them back), delivery hands the
//! buyer the supplier's key, the ledger books each resale and reverses each
//! refund, and neither side sees what belongs to the other.

use crate::support;

use std::collections::HashSet;

use chrono::Utc;
use futures::future::join_all;
use kapu_core::entities::supply_ledger;
use kapu_core::store::catalog_admin::{ProductFields, create_product_for_tenant};
use kapu_core::store::supply::{
    Audience, ListingTerms, balances_for_tenant, link_resale_product_for_tenant, save_listing_for_supplier,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use support::merchant::merchant_with_shop;
use support::{Options, TestApp, sandbox_fields};

fn terms(wholesale_minor: i64) -> ListingTerms {
    ListingTerms {
        wholesale_minor,
        min_resale_minor: None,
        audience: Audience::Any,
        allowed_shops: Vec::new(),
        per_order_cap: None,
        daily_cap: None,
        exact_stock: false,
        open: true,
    }
}

/// Opens `product` of `supplier` for resale at `wholesale_minor` and adds it
/// to `reseller` at `price_minor`, as the two dashboards do; returns the
/// reseller's product id.
async fn resell(app: &TestApp, supplier: &str, product: &str, reseller: &str, wholesale: i64, price: i64) -> String {
    let w = app.db.writer();
    save_listing_for_supplier(w, supplier, product, &terms(wholesale), Utc::now()).await.expect("listing");
    add_resale(app, supplier, product, reseller, price).await
}

async fn add_resale(app: &TestApp, supplier: &str, product: &str, reseller: &str, price: i64) -> String {
    let w = app.db.writer();
    let fields = ProductFields {
        category_id: None,
        slug: None,
        name: "Resold key".into(),
        description: String::new(),
        price_minor: price,
        wholesale_tiers: None,
        min_qty: 1,
        max_qty: 10,
        visible: true,
        sort_order: 0,
        low_stock_threshold: 0,
        kind: "auto_key",
        input_fields: None,
    };
    let id = create_product_for_tenant(w, reseller, "CNY", &fields).await.expect("product");
    link_resale_product_for_tenant(w, reseller, &id, supplier, product).await.expect("link");
    app.state.shop_changed(reseller).await;
    id
}

async fn pay(app: &TestApp, slug: &str, tenant: &str, order: &Value) -> Value {
    let no = order["order_no"].as_str().expect("no");
    let payment = app.payment_of(tenant, no).await;
    let fields = sandbox_fields(&app.master.tenant(tenant), &payment.id, "paid", payment.amount_minor, "CNY");
    let (status, body) = app.notify(slug, &payment.id, &fields).await;
    assert_eq!((status, body.as_str()), (200, "success"));
    app.order_view(slug, no, order["token"].as_str().expect("token")).await.1
}

fn buy(product: &str, quantity: u32, email: &str) -> Value {
    json!({"product_id": product, "quantity": quantity, "email": email})
}

#[tokio::test]
async fn a_merchant_resells_a_suppliers_product_the_buyer_gets_the_suppliers_key_and_the_ledger_books_it() {
    let app = TestApp::spawn().await;
    let mut sup = merchant_with_shop(&app, "supplier@example.com", "key-wholesale").await;
    let supplier = app.tenant_id("key-wholesale").await;
    let product = app.add_product(&supplier, "Steam 100", 1000, 5).await;

    // Bad terms: each problem named, nothing opened.
    let resale_url = format!("/shops/key-wholesale/products/{product}/resale");
    let p =
        sup.post(&resale_url, &[("open", "1"), ("wholesale", "abc"), ("min_resale", "1.00"), ("daily_cap", "0")]).await;
    p.expect(422);
    for needle in ["wholesale price must be an amount", "Daily cap", "whole number"] {
        assert!(p.body.contains(needle), "missing {needle:?}");
    }
    let p = sup
        .post(
            &resale_url,
            &[("open", "1"), ("wholesale", "6.00"), ("audience", "listed"), ("allowed_shops", "nobody-here")],
        )
        .await;
    p.expect(422);
    assert!(p.body.contains("No shop has these addresses: nobody-here"), "{}", p.body);
    // Good terms.
    sup.post(&resale_url, &[("open", "1"), ("wholesale", "6.00"), ("audience", "any")]).await.expect(303);
    let page = sup.get(&format!("/shops/key-wholesale/products/{product}")).await;
    assert!(page.body.contains("value=\"6.00\""), "the terms are shown back");

    // The reseller finds it in the supply catalog, with a stock band (not the exact 5).
    let mut res = merchant_with_shop(&app, "reseller@example.com", "game-corner").await;
    let reseller = app.tenant_id("game-corner").await;
    let catalog = res.get("/shops/game-corner/supply").await;
    catalog.expect(200);
    assert!(catalog.body.contains("Steam 100") && catalog.body.contains("Shop key-wholesale"));
    assert!(catalog.body.contains("1–9"), "a band, not the count");
    let searched = res.get("/shops/game-corner/supply?q=nothing-like-it").await;
    assert!(!searched.body.contains("Steam 100"));
    // The supplier does not see its own listing in its catalog.
    assert!(!sup.get("/shops/key-wholesale/supply").await.body.contains("Steam 100"));

    // Below the wholesale price: refused, nothing added.
    let add = |price: &'static str| {
        vec![
            ("supplier_id", supplier.clone()),
            ("product_id", product.clone()),
            ("name", "Steam 充值卡 100".to_string()),
            ("price", price.to_string()),
        ]
    };
    let fields = add("5.00");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = res.post("/shops/game-corner/supply/add", &fields).await;
    p.expect(422);
    assert!(p.body.contains("may not be below 6.00"), "{}", p.body);
    let fields = add("9.00");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = res.post("/shops/game-corner/supply/add", &fields).await;
    p.expect(303);
    let resold =
        p.location.clone().expect("location").split('/').nth(4).expect("id").split('?').next().expect("id").to_string();
    let page = res.get(&format!("/shops/game-corner/products/{resold}")).await;
    assert!(page.body.contains("id=\"resale-margin\">3.00"), "the margin is shown");
    // Adding it twice is refused.
    let p = res.post("/shops/game-corner/supply/add", &fields).await;
    p.expect(422);
    assert!(p.body.contains("already sells this product"));
    // Its keys are the supplier's: the keys page points to the product, an import is refused.
    res.get(&format!("/shops/game-corner/products/{resold}/keys")).await.expect(303);

    // A buyer on the reseller's shop: the supplier's key is reserved with the order.
    assert_eq!(app.stock("game-corner", &resold).await, 5);
    let (status, order) = app.order("game-corner", buy(&resold, 1, "fan@example.com")).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["amount_minor"], 900);
    assert_eq!(app.count_keys_of(&supplier, &product, "reserved").await, 1);
    let row = app.order_row(&reseller, order["order_no"].as_str().expect("no")).await;
    assert_eq!(row.stock_tenant_id.as_deref(), Some(supplier.as_str()));
    assert_eq!(row.supply_unit_minor, Some(600));

    // Paid: delivered with the supplier's key; the resale is booked.
    let view = pay(&app, "game-corner", &reseller, &order).await;
    assert_eq!(view["status"], "delivered", "{view}");
    let keys = view["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert!(keys[0].as_str().expect("key").starts_with(&format!("KEY-{}", &product[20..])), "{keys:?}");
    assert_eq!(app.count_keys_of(&supplier, &product, "sold").await, 1);
    let b = balances_for_tenant(app.db.reader(), &supplier).await.expect("balances");
    assert_eq!((b.len(), b[0].owed_to_me_minor, b[0].other_tenant_id.as_str()), (1, 600, reseller.as_str()));
    let b = balances_for_tenant(app.db.reader(), &reseller).await.expect("balances");
    assert_eq!(b[0].owed_to_me_minor, -600);
    let ledger = sup.get("/shops/key-wholesale/supply/ledger").await;
    assert!(ledger.body.contains("+6.00") && ledger.body.contains("Shop game-corner"), "{}", ledger.body);
    assert!(res.get("/shops/game-corner/supply/ledger").await.body.contains("−6.00"));
    // The delivery email went out with the key.
    assert!(app.jobs_settled(20).await);

    // The supplier sees the order of its stock, not the buyer.
    let sellers = sup.get("/shops/key-wholesale/supply/resellers").await;
    assert!(sellers.body.contains(order["order_no"].as_str().expect("no")));
    assert!(sellers.body.contains("Shop game-corner"));
    assert!(!sellers.body.contains("fan@example.com"), "the buyer is the reseller's");
    assert!(sellers.body.contains(">Delivered<"), "the status in words, not its code");
    // Neither shop opens the other's pages.
    res.get(&format!("/shops/key-wholesale/products/{product}/keys")).await.expect(404);
    res.get(&format!("/shops/game-corner/products/{product}")).await.expect(404);
    sup.get(&format!("/shops/key-wholesale/orders/{}", order["order_no"].as_str().expect("no"))).await.expect(404);
    // The supplier's own storefront stock dropped by one.
    assert!(app.eventually(5, || async { app.stock("key-wholesale", &product).await == 4 }).await);

    // A refund reverses the booking: the balance is back to zero, both entries kept.
    res.post(&format!("/shops/game-corner/orders/{}/refunded", order["order_no"].as_str().expect("no")), &[])
        .await
        .expect(303);
    let b = balances_for_tenant(app.db.reader(), &supplier).await.expect("balances");
    assert_eq!((b[0].owed_to_me_minor, b[0].entries), (0, 2));
    // Operators export every entry.
    let (ops, _) = support::operator::signed_in_operator(&app, "ops@kapu.example").await;
    let csv = ops.get("/ops/supply-ledger.csv").await;
    csv.expect(200);
    let rows: Vec<&str> = csv.body.lines().collect();
    assert_eq!(rows.len(), 3, "a header and two entries: {}", csv.body);
    assert!(rows[1].contains(",resale,key-wholesale,game-corner,"), "{}", csv.body);
    assert!(rows[1].ends_with(",1,6.00,,CNY") && rows[2].ends_with(",1,,6.00,CNY"), "{}", csv.body);
    assert!(res.get("/ops/supply-ledger.csv").await.status == 404, "merchants do not get it");
    // Every change is audited on the shop that made it.
    let sup_audit: Vec<String> = app.audit_of(Some(&supplier)).await.into_iter().map(|a| a.action).collect();
    assert!(sup_audit.contains(&"supply.listing_saved".to_string()), "{sup_audit:?}");
    let res_audit: Vec<String> = app.audit_of(Some(&reseller)).await.into_iter().map(|a| a.action).collect();
    assert!(res_audit.contains(&"supply.product_added".to_string()), "{res_audit:?}");
    app.stop().await;
}

#[tokio::test]
async fn an_expired_resale_order_gives_the_key_back_to_the_supplier() {
    let app = TestApp::spawn_with(Options { order_ttl_secs: 2, ..Options::default() }).await;
    let (supplier, product) = app.create_shop("source", "test", 2).await;
    let (reseller, _) = app.create_shop("outlet", "test", 0).await;
    let resold = resell(&app, &supplier, &product, &reseller, 500, 800).await;

    let (status, order) = app.order("outlet", buy(&resold, 2, "slow@example.com")).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(app.count_keys_of(&supplier, &product, "available").await, 0);
    // The supplier's own buyers find it sold out meanwhile.
    let (status, _) = app.order("source", buy(&product, 1, "own@example.com")).await;
    assert_eq!(status, 409);
    let no = order["order_no"].as_str().expect("no").to_string();
    let token = order["token"].as_str().expect("t").to_string();
    assert!(
        app.eventually(15, || async { app.order_view("outlet", &no, &token).await.1["status"] == "expired" }).await
    );
    assert_eq!(app.count_keys_of(&supplier, &product, "available").await, 2, "back in the supplier's stock");
    // Nothing was booked for an order that was never paid.
    assert_eq!(supply_ledger::Entity::find().count(app.db.reader()).await.expect("count"), 0);
    // A late payment still delivers while the supplier has the keys, and books it.
    let view = pay(&app, "outlet", &reseller, &order).await;
    assert_eq!(view["status"], "delivered", "{view}");
    assert_eq!(view["keys"].as_array().expect("keys").len(), 2);
    let b = balances_for_tenant(app.db.reader(), &supplier).await.expect("balances");
    assert_eq!(b[0].owed_to_me_minor, 1000);
    app.stop().await;
}

#[tokio::test]
async fn the_suppliers_terms_bind_resellers_caps_pauses_prices_and_audience() {
    let app = TestApp::spawn().await;
    let mut sup = merchant_with_shop(&app, "terms@example.com", "terms-source").await;
    let supplier = app.tenant_id("terms-source").await;
    let product = app.add_product(&supplier, "Capped key", 1000, 20).await;
    let resale_url = format!("/shops/terms-source/products/{product}/resale");
    sup.post(
        &resale_url,
        &[("open", "1"), ("wholesale", "6.00"), ("per_order_cap", "2"), ("daily_cap", "3"), ("audience", "any")],
    )
    .await
    .expect(303);
    let mut res = merchant_with_shop(&app, "terms-res@example.com", "terms-outlet").await;
    let reseller = app.tenant_id("terms-outlet").await;
    let resold = add_resale(&app, &supplier, &product, &reseller, 900).await;

    // Per-order cap, then the daily cap: refused with what binds, nothing reserved.
    let (status, body) = app.order("terms-outlet", buy(&resold, 3, "a@example.com")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("quantity_over_order_cap")), "{body}");
    let (status, _) = app.order("terms-outlet", buy(&resold, 2, "b@example.com")).await;
    assert_eq!(status, 201);
    let (status, body) = app.order("terms-outlet", buy(&resold, 2, "c@example.com")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("daily_allowance_used")), "{body}");
    assert!(body["error"]["message"].as_str().expect("msg").contains('1'), "{body}");
    assert_eq!(app.count_keys_of(&supplier, &product, "reserved").await, 2);

    // The supplier pauses this reseller: its buyers are told it is temporarily unavailable.
    sup.post(&format!("/shops/terms-source/supply/resellers/{reseller}/pause"), &[]).await.expect(303);
    let (status, body) = app.order("terms-outlet", buy(&resold, 1, "d@example.com")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("temporarily_unavailable")), "{body}");
    assert!(
        res.get(&format!("/shops/terms-outlet/products/{resold}"))
            .await
            .body
            .contains("The supplier paused your resale")
    );
    // A shop that does not resell for it cannot be paused through this supplier.
    let (other, _) = app.create_shop("bystander", "test", 0).await;
    sup.post(&format!("/shops/terms-source/supply/resellers/{other}/pause"), &[]).await.expect(404);
    sup.post(&format!("/shops/terms-source/supply/resellers/{reseller}/resume"), &[]).await.expect(303);

    // The wholesale price rises above the reseller's price: paused, and the reseller is emailed.
    sup.post(&resale_url, &[("open", "1"), ("wholesale", "9.50"), ("per_order_cap", "2"), ("audience", "any")])
        .await
        .expect(303);
    let (status, body) = app.order("terms-outlet", buy(&resold, 1, "e@example.com")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("temporarily_unavailable")), "{body}");
    assert!(app.jobs_settled(20).await);
    let mails = support::read_outbox(&app.outbox());
    assert!(
        mails.iter().any(|(to, subject, body)| to == "terms-res@example.com"
            && subject.contains("paused")
            && body.contains("9.50")),
        "{mails:?}"
    );
    // Raising the price below the new wholesale price is refused; above it, sales resume.
    let edit = |price: &'static str| {
        vec![
            ("name", "Resold key"),
            ("price", price),
            ("min_qty", "1"),
            ("max_qty", "10"),
            ("sort_order", "0"),
            ("low_stock_threshold", "0"),
            ("visible", "1"),
            ("kind", "auto_key"),
        ]
    };
    let p = res.post(&format!("/shops/terms-outlet/products/{resold}"), &edit("9.00")).await;
    p.expect(422);
    assert!(p.body.contains("may not be below 9.50"));
    res.post(&format!("/shops/terms-outlet/products/{resold}"), &edit("12.00")).await.expect(303);
    let (status, body) = app.order("terms-outlet", buy(&resold, 1, "f@example.com")).await;
    assert_eq!(status, 201, "{body}");

    // Listed shops only: another shop neither sees it nor can add it with a forged form.
    sup.post(
        &resale_url,
        &[("open", "1"), ("wholesale", "6.00"), ("audience", "listed"), ("allowed_shops", "terms-outlet")],
    )
    .await
    .expect(303);
    let mut stranger = merchant_with_shop(&app, "stranger@example.com", "stranger").await;
    assert!(!stranger.get("/shops/stranger/supply").await.body.contains("Capped key"));
    let p = stranger
        .post("/shops/stranger/supply/add", &[("supplier_id", &supplier), ("product_id", &product), ("price", "12.00")])
        .await;
    p.expect(422);
    assert!(p.body.contains("no longer offers this product"));
    // The listed reseller still sells; closing the listing stops it.
    let (status, body) = app.order("terms-outlet", buy(&resold, 1, "g@example.com")).await;
    assert_eq!(status, 201, "{body}");
    sup.post(&resale_url, &[("wholesale", "6.00"), ("audience", "any")]).await.expect(303);
    let (status, body) = app.order("terms-outlet", buy(&resold, 1, "h@example.com")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("temporarily_unavailable")), "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_hundred_buyers_on_four_shops_race_for_fifty_supplier_keys_each_sold_once_and_the_ledger_adds_up() {
    let app = TestApp::spawn_with(Options { trusted_proxies: "127.0.0.1/32".into(), ..Default::default() }).await;
    let (supplier, product) = app.create_shop("hub", "test", 50).await;
    let mut shops = vec![("hub".to_string(), supplier.clone(), product.clone())];
    for i in 0..3 {
        let slug = format!("branch-{i}");
        let (reseller, _) = app.create_shop(&slug, "test", 0).await;
        let resold = if i == 0 {
            resell(&app, &supplier, &product, &reseller, 700, 900).await
        } else {
            add_resale(&app, &supplier, &product, &reseller, 950).await
        };
        shops.push((slug, reseller, resold));
    }
    let orders = join_all((0..400).map(|i| {
        let (slug, tenant, pid) = shops[i % 4].clone();
        let request = app
            .client
            .post(app.shop_url(&slug, "/api/v1/orders"))
            .header("x-forwarded-for", format!("10.9.{}.{}", i / 250, i % 250 + 1))
            .json(&buy(&pid, 1, &format!("racer{i}@example.com")));
        async move {
            let r = request.send().await.expect("send");
            (slug, tenant, r.status().as_u16(), r.json::<Value>().await.unwrap_or_default())
        }
    }))
    .await;
    let odd: Vec<_> = orders.iter().filter(|(_, _, s, _)| *s != 201 && *s != 409).take(3).collect();
    assert!(odd.is_empty(), "only orders and 'sold out': {odd:?}");
    let made: Vec<_> = orders.iter().filter(|(_, _, s, _)| *s == 201).collect();
    assert_eq!(made.len(), 50, "exactly the supplier's 50 keys were reserved");
    assert_eq!(app.count_keys_of(&supplier, &product, "available").await, 0);

    // Pay every order: 50 delivered, no key twice, the ledger books each resale.
    let mut seen = HashSet::new();
    let mut resales = 0i64;
    let mut owed = 0i64;
    for (slug, tenant, _, order) in &made {
        let view = pay(&app, slug, tenant, order).await;
        assert_eq!(view["status"], "delivered", "{view}");
        let key = view["keys"][0].as_str().expect("key").to_string();
        assert!(seen.insert(key), "a key was delivered twice");
        if slug != "hub" {
            resales += 1;
            owed += 700;
        }
    }
    assert_eq!(seen.len(), 50);
    assert_eq!(app.count_keys_of(&supplier, &product, "sold").await, 50);
    let entries = supply_ledger::Entity::find().all(app.db.reader()).await.expect("ledger");
    assert_eq!(entries.len() as i64, resales);
    assert_eq!(entries.iter().map(|e| e.amount_minor).sum::<i64>(), owed);
    let b = balances_for_tenant(app.db.reader(), &supplier).await.expect("balances");
    assert_eq!(b.iter().map(|b| b.owed_to_me_minor).sum::<i64>(), owed);
    assert!(resales > 0, "some sales went through resellers");
    // The integrity check finds every key where its order says (the
    // supplier's keys held by the resellers' orders included).
    let (_, broken) = kapu_core::store::integrity::check(app.db.reader(), Utc::now(), chrono::Duration::seconds(10))
        .await
        .expect("check");
    assert!(broken.is_empty(), "{broken:#?}");
    app.stop().await;
}

#[tokio::test]
async fn the_supply_api_and_the_suppliers_webhook_tell_each_side_only_its_part() {
    use kapu_core::entities::webhook_deliveries;
    let app = TestApp::spawn().await;
    let mut sup = merchant_with_shop(&app, "api-sup@example.com", "api-source").await;
    let supplier = app.tenant_id("api-source").await;
    let product = app.add_product(&supplier, "API key product", 1000, 4).await;
    let mut res = merchant_with_shop(&app, "api-res@example.com", "api-outlet").await;
    let reseller = app.tenant_id("api-outlet").await;
    let resold = resell(&app, &supplier, &product, &reseller, 650, 990).await;
    // The supplier listens for resale events (and the reseller for nothing).
    let (secret, _) = kapu_core::store::webhooks::new_secret();
    kapu_core::store::webhooks::create_endpoint_for_tenant(
        app.db.writer(),
        &app.master.tenant(&supplier),
        &supplier,
        "https://hooks.example.com/kapu",
        &["resale.delivered", "resale.refunded"],
        &secret,
    )
    .await
    .expect("endpoint");

    let (status, order) = app.order("api-outlet", buy(&resold, 2, "private-buyer@example.com")).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(pay(&app, "api-outlet", &reseller, &order).await["status"], "delivered");
    let no = order["order_no"].as_str().expect("no").to_string();

    // The supplier's webhook: the order number, quantity and wholesale amount, never the buyer.
    let events = webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::TenantId.eq(&supplier))
        .all(app.db.reader())
        .await
        .expect("deliveries");
    assert_eq!(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(), vec!["resale.delivered"]);
    let payload: Value = serde_json::from_str(&events[0].payload).expect("json");
    assert_eq!(payload["data"]["order_no"], no.as_str());
    assert_eq!((payload["data"]["quantity"].clone(), payload["data"]["amount"].clone()), (json!(2), json!("13.00")));
    assert_eq!(payload["data"]["reseller"], "api-outlet");
    assert!(!events[0].payload.contains("private-buyer"), "{}", events[0].payload);

    // The API: each side reads its own side of the ledger.
    let sup_key = support::merchant::make_api_key(&mut sup, "api-source", "books", "read").await;
    let res_key = support::merchant::make_api_key(&mut res, "api-outlet", "books", "read").await;
    let get = |key: String, path: &'static str| {
        let req = app.client.get(app.platform_url(&format!("/api/merchant/v1{path}"))).bearer_auth(key);
        async move {
            let r = req.send().await.expect("send");
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or_default())
        }
    };
    let (status, ledger) = get(sup_key.clone(), "/supply/ledger").await;
    assert_eq!(status, 200, "{ledger}");
    assert_eq!(ledger["balances"][0]["shop"], "api-outlet");
    assert_eq!(ledger["balances"][0]["owed_to_you"], "13.00");
    assert_eq!(ledger["data"][0]["role"], "supplier");
    let (_, ledger) = get(res_key.clone(), "/supply/ledger").await;
    assert_eq!(ledger["balances"][0]["owed_to_you"], "-13.00");
    assert_eq!(ledger["data"][0]["order_no"], no.as_str());
    let (_, listings) = get(sup_key.clone(), "/supply/listings").await;
    assert_eq!(
        (listings["data"][0]["wholesale"].clone(), listings["data"][0]["resellers"].clone()),
        (json!("6.50"), json!(1))
    );
    let (_, none) = get(res_key.clone(), "/supply/listings").await;
    assert_eq!(none["data"], json!([]), "the reseller offers nothing of its own");
    // The supplier reads the orders of its stock on the reseller's shop, without the buyer.
    let (status, resales) = get(sup_key.clone(), "/supply/resale-orders").await;
    assert_eq!(status, 200, "{resales}");
    assert_eq!(
        (resales["data"][0]["order_no"].clone(), resales["data"][0]["reseller"].clone()),
        (json!(no), json!("api-outlet"))
    );
    assert_eq!(resales["data"][0]["quantity"], 2);
    assert!(!resales.to_string().contains("private-buyer"), "{resales}");
    let (_, theirs) = get(res_key.clone(), "/supply/resale-orders").await;
    assert_eq!(theirs["data"], json!([]), "the reseller supplies nothing");
    let (_, catalog) = get(res_key, "/supply/catalog").await;
    assert_eq!(catalog["data"][0]["added_as"], resold.as_str());
    assert_eq!(catalog["data"][0]["stock"], "1–9");
    let (_, own) = get(sup_key, "/supply/catalog").await;
    assert_eq!(own["data"], json!([]), "a supplier's own offers are not in its catalog");
    let (status, _) = app.get_json(&app.platform_url("/api/merchant/v1/supply/ledger")).await;
    assert_eq!(status, 401);

    // A refund tells the supplier too.
    res.post(&format!("/shops/api-outlet/orders/{no}/refunded"), &[]).await.expect(303);
    let kinds: Vec<String> = webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::TenantId.eq(&supplier))
        .all(app.db.reader())
        .await
        .expect("deliveries")
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert!(kinds.contains(&"resale.refunded".to_string()), "{kinds:?}");
    app.stop().await;
}

#[tokio::test]
async fn an_invited_merchant_opens_a_reseller_shop_with_the_suppliers_offers_at_its_discount() {
    let app = TestApp::spawn().await;
    let mut sup = merchant_with_shop(&app, "inv-sup@example.com", "inv-source").await;
    let supplier = app.tenant_id("inv-source").await;
    let open = app.add_product(&supplier, "Open offer", 1200, 5).await;
    let listed = app.add_product(&supplier, "Listed offer", 2000, 5).await;
    let w = app.db.writer();
    save_listing_for_supplier(w, &supplier, &open, &terms(800), Utc::now()).await.expect("listing");
    let only_listed = ListingTerms { audience: Audience::Listed, ..terms(1500) };
    save_listing_for_supplier(w, &supplier, &listed, &only_listed, Utc::now()).await.expect("listing");

    // An invitation with 10 % off wholesale; the link is shown once.
    let p = sup.post("/shops/inv-source/supply/invites", &[("discount", "95")]).await;
    p.expect(422);
    assert!(p.body.contains("from 0 to 90"), "{}", p.body);
    let p = sup.post("/shops/inv-source/supply/invites", &[("discount", "10")]).await;
    p.expect(200);
    let at = p.body.find("id=\"invite-link\">").expect("link shown") + "id=\"invite-link\">".len();
    let link = p.body[at..at + p.body[at..].find('<').expect("end")].replace("&#x2f;", "/");
    let path = link.split_once("://").map(|(_, rest)| &rest[rest.find('/').expect("path")..]).expect("url").to_string();
    assert!(path.starts_with("/invites/"), "{link}");
    assert!(!sup.get("/shops/inv-source/supply/resellers").await.body.contains(&path), "shown once");

    // A merchant without a shop opens it: both offers at the discounted wholesale price.
    let mut res = support::merchant::verified_merchant(&app, "inv-res@example.com").await;
    let invite = res.get(&path).await;
    invite.expect(200);
    for needle in ["Open offer", "Listed offer", "7.20 CNY", "13.50 CNY", "12.00 CNY", "20.00 CNY", "10.00%"] {
        assert!(invite.body.contains(needle), "{needle}: {}", invite.body);
    }
    let p = res.post(&path, &[("name", "Branch"), ("slug", "inv-source")]).await;
    p.expect(422);
    assert!(p.body.contains("taken"), "{}", p.body);
    let p = res.post(&path, &[("name", "Branch"), ("slug", "inv-branch")]).await;
    p.expect(303);
    assert_eq!(p.location.as_deref(), Some("/shops/inv-branch/products?m=invite_accepted"));
    let products = res.get("/shops/inv-branch/products").await;
    assert!(products.body.contains("Open offer") && products.body.contains("Listed offer"), "{}", products.body);
    // The link is used up.
    let mut other = support::merchant::verified_merchant(&app, "late@example.com").await;
    let gone = other.get(&path).await;
    gone.expect(404);
    assert!(gone.body.contains("no longer works"));
    assert_eq!(other.post(&path, &[("name", "Late"), ("slug", "late-shop")]).await.status, 404);
    assert!(kapu_core::tenant::find_tenant_by_slug(app.db.reader(), "late-shop").await.expect("db").is_none());

    // A buyer on the new shop: the supplier's key, booked at the discounted wholesale price.
    app.open_to_everyone("inv-branch").await;
    let branch = app.tenant_id("inv-branch").await;
    let branch_listed = kapu_core::store::supply::resale_product_of(app.db.reader(), &branch, &supplier, &listed)
        .await
        .expect("db")
        .expect("the listed offer was added");
    let (status, order) = app.order("inv-branch", buy(&branch_listed, 1, "inv-buyer@example.com")).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["amount_minor"], 2000);
    assert_eq!(pay(&app, "inv-branch", &branch, &order).await["status"], "delivered");
    let b = balances_for_tenant(app.db.reader(), &supplier).await.expect("balances");
    assert_eq!(b[0].owed_to_me_minor, 1350, "15.00 less 10 %");

    // The supplier changes this reseller's discount: the next order books the new price.
    let page = sup.get("/shops/inv-source/supply/resellers").await;
    assert!(page.body.contains("Accepted · Branch"), "{}", page.body);
    sup.post(&format!("/shops/inv-source/supply/resellers/{branch}/discount"), &[("discount", "0")]).await.expect(303);
    let (_, order) = app.order("inv-branch", buy(&branch_listed, 1, "inv-buyer2@example.com")).await;
    assert_eq!(pay(&app, "inv-branch", &branch, &order).await["status"], "delivered");
    let b = balances_for_tenant(app.db.reader(), &supplier).await.expect("balances");
    assert_eq!(b[0].owed_to_me_minor, 1350 + 1500);
    // Not a reseller of this supplier: no discount to set.
    let (stranger, _) = app.create_shop("inv-stranger", "test", 0).await;
    sup.post(&format!("/shops/inv-source/supply/resellers/{stranger}/discount"), &[("discount", "5")])
        .await
        .expect(404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_concurrent_buyers_never_pass_the_suppliers_daily_cap() {
    let app = TestApp::spawn_with(Options { trusted_proxies: "127.0.0.1/32".into(), ..Default::default() }).await;
    let (supplier, product) = app.create_shop("capped-hub", "test", 100).await;
    let (reseller, _) = app.create_shop("capped-branch", "test", 0).await;
    // The supplier allows this product 7 a day per reseller.
    let capped = ListingTerms { daily_cap: Some(7), ..terms(600) };
    save_listing_for_supplier(app.db.writer(), &supplier, &product, &capped, Utc::now()).await.expect("listing");
    let resold = add_resale(&app, &supplier, &product, &reseller, 900).await;
    let orders = join_all((0..60).map(|i| {
        let request = app
            .client
            .post(app.shop_url("capped-branch", "/api/v1/orders"))
            .header("x-forwarded-for", format!("10.7.0.{}", i + 1))
            .json(&buy(&resold, 1, &format!("capped{i}@example.com")));
        async move {
            let r = request.send().await.expect("send");
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or_default())
        }
    }))
    .await;
    let made = orders.iter().filter(|(s, _)| *s == 201).count();
    let refused: Vec<_> = orders.iter().filter(|(s, _)| *s != 201).collect();
    assert_eq!(made, 7, "exactly the daily cap, however many buy at once");
    assert!(
        refused.iter().all(|(s, b)| *s == 409 && b["error"]["code"] == "daily_allowance_used"),
        "every other buyer is told the day's allowance is used: {:?}",
        refused.iter().find(|(s, b)| *s != 409 || b["error"]["code"] != "daily_allowance_used")
    );
    assert_eq!(app.count_keys_of(&supplier, &product, "reserved").await, 7);
    app.stop().await;
}

#[tokio::test]
async fn supply_balances_are_settled_by_the_supplier_or_by_the_platform_as_the_platform_setting_says() {
    let app = TestApp::spawn().await;
    let mut sup = merchant_with_shop(&app, "settle-sup@example.com", "settle-sup").await;
    let mut res = merchant_with_shop(&app, "settle-res@example.com", "settle-res").await;
    let (supplier, reseller) = (app.tenant_id("settle-sup").await, app.tenant_id("settle-res").await);
    let product = app.add_product(&supplier, "Steam 100", 1000, 5).await;
    let resold = resell(&app, &supplier, &product, &reseller, 600, 900).await;
    for email in ["one@example.com", "two@example.com"] {
        let (status, order) = app.order("settle-res", buy(&resold, 1, email)).await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(pay(&app, "settle-res", &reseller, &order).await["status"], "delivered");
    }
    let owed = |app: &TestApp| {
        let supplier = supplier.clone();
        let db = app.db.clone();
        async move { balances_for_tenant(db.reader(), &supplier).await.expect("balances")[0].owed_to_me_minor }
    };
    assert_eq!(owed(&app).await, 1200);

    // The default: shops settle directly; the supplier records what it received.
    let page = sup.get("/shops/settle-sup/supply/ledger").await;
    assert!(page.body.contains("data-mode=\"direct\"") && page.body.contains("Record a payment received"));
    assert!(
        !res.get("/shops/settle-res/supply/ledger").await.body.contains("Record a payment received"),
        "only for what is owed to the shop"
    );
    let settle = |amount: &'static str| {
        vec![
            ("reseller", reseller.clone()),
            ("currency", "CNY".to_string()),
            ("amount", amount.to_string()),
            ("note", "bank transfer 42".to_string()),
        ]
    };
    for (amount, needle) in
        [("0", "more than 0"), ("12.01", "more than the 12.00 CNY owed"), ("x", "not a valid amount")]
    {
        let f = settle(amount);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let p = sup.post("/shops/settle-sup/supply/ledger/settle", &f).await;
        assert_eq!(p.status, 422, "{amount}");
        assert!(p.body.contains(needle), "{amount}: {needle}");
    }
    assert_eq!(owed(&app).await, 1200, "refused settlements change nothing");
    // The reseller cannot record a payment to itself: it is owed nothing.
    let f = [("reseller", supplier.clone()), ("currency", "CNY".to_string()), ("amount", "1.00".to_string())];
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(res.post("/shops/settle-res/supply/ledger/settle", &f).await.status, 422);
    let f = settle("5.00");
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sup.post("/shops/settle-sup/supply/ledger/settle", &f).await.expect(303);
    assert_eq!(owed(&app).await, 700);
    let reseller_view = res.get("/shops/settle-res/supply/ledger").await.body;
    assert!(
        reseller_view.contains("Settlement")
            && reseller_view.contains("bank transfer 42")
            && reseller_view.contains("7.00")
    );

    // Operators switch to settling through the platform: suppliers no longer record, operators do.
    let (mut ops, _) = support::operator::signed_in_operator(&app, "ops@kapu.example").await;
    ops.post("/ops/supply/settlement", &[("mode", "sideways")]).await.expect(400);
    ops.post("/ops/supply/settlement", &[("mode", "platform")]).await.expect(303);
    let page = sup.get("/shops/settle-sup/supply/ledger").await;
    assert!(page.body.contains("data-mode=\"platform\"") && !page.body.contains("Record a payment received"));
    let f = settle("1.00");
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = sup.post("/shops/settle-sup/supply/ledger/settle", &f).await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("operators record settlements"));
    let console = ops.get("/ops/supply").await;
    console.expect(200);
    assert!(
        console.body.contains("7.00 CNY") && console.body.contains("settle-sup") && console.body.contains("settle-res")
    );
    let too_much =
        [("supplier", supplier.as_str()), ("reseller", reseller.as_str()), ("currency", "CNY"), ("amount", "7.01")];
    assert_eq!(ops.post("/ops/supply/settle", &too_much).await.status, 422);
    let all = [
        ("supplier", supplier.as_str()),
        ("reseller", reseller.as_str()),
        ("currency", "CNY"),
        ("amount", "7.00"),
        ("note", "payout P-7"),
    ];
    ops.post("/ops/supply/settle", &all).await.expect(303);
    assert_eq!(owed(&app).await, 0);
    // Merchants never reach the console.
    assert_eq!(sup.get("/ops/supply").await.status, 404);
    // Both settlements are on the ledger and in the export; both are audited.
    let csv = ops.get("/ops/supply-ledger.csv").await.body;
    assert_eq!(csv.lines().filter(|l| l.contains(",settlement,")).count(), 2, "{csv}");
    let actions: Vec<String> = app.audit_of(Some(&supplier)).await.into_iter().map(|a| a.action).collect();
    assert_eq!(actions.iter().filter(|a| *a == "supply.settlement_recorded").count(), 2, "{actions:?}");
    assert!(app.audit_of(None).await.iter().any(|a| a.action == "supply.settlement_mode" && a.target == "platform"));
    app.stop().await;
}

#[tokio::test]
async fn a_reseller_takes_payments_through_its_suppliers_channels_and_the_ledger_owes_it_the_margin() {
    use kapu_core::entities::tenants;
    use support::fakes::epay::FakeEpay;
    let app = TestApp::spawn().await;
    let epay = FakeEpay::start("1001", "epay-merchant-key").await;
    let mut sup = merchant_with_shop(&app, "coll-sup@example.com", "coll-sup").await;
    let mut res = merchant_with_shop(&app, "coll-res@example.com", "coll-res").await;
    let (supplier, reseller) = (app.tenant_id("coll-sup").await, app.tenant_id("coll-res").await);
    let product = app.add_product(&supplier, "Steam 100", 1000, 5).await;
    let resold = resell(&app, &supplier, &product, &reseller, 600, 900).await;
    for slug in ["coll-sup", "coll-res"] {
        app.set_tenant(slug, tenants::Column::Mode, "live").await;
    }
    app.configure_channel(&supplier, "epay", 1, true, &epay.credentials()).await;

    // The reseller has no live channel of its own: nothing takes its buyers' money.
    let (status, refused) = app
        .order("coll-res", json!({"product_id": resold, "quantity": 1, "email": "a@example.com", "channel": "alipay"}))
        .await;
    assert_eq!(status, 503, "{refused}");
    // Nor may it use the supplier's before the supplier offers them.
    let page = res.get("/shops/coll-res/channels").await;
    assert!(!page.body.contains("id=\"payment-source\""));
    assert_eq!(res.post("/shops/coll-res/channels/source", &[("source", &supplier)]).await.status, 400);
    // Another shop cannot offer channels to a shop that does not resell for it.
    let mut stranger = merchant_with_shop(&app, "coll-x@example.com", "coll-x").await;
    assert_eq!(
        stranger.post(&format!("/shops/coll-x/supply/resellers/{reseller}/channels"), &[("on", "1")]).await.status,
        404
    );

    // The supplier offers; the reseller chooses them.
    sup.post(&format!("/shops/coll-sup/supply/resellers/{reseller}/channels"), &[("on", "1")]).await.expect(303);
    assert!(sup.get("/shops/coll-sup/supply/resellers").await.body.contains("data-offered=\"true\""));
    assert!(res.get("/shops/coll-res/channels").await.body.contains("Supplier collects: Shop coll-sup"));
    res.post("/shops/coll-res/channels/source", &[("source", &supplier)]).await.expect(303);
    assert!(
        res.get("/shops/coll-res/channels")
            .await
            .body
            .contains("Buyers pay through the live channels of Shop coll-sup")
    );

    // A buyer on the reseller's shop pays through the supplier's epay account.
    let (status, order) = app
        .order("coll-res", json!({"product_id": resold, "quantity": 1, "email": "b@example.com", "channel": "alipay"}))
        .await;
    assert_eq!(status, 201, "{order}");
    let no = order["order_no"].as_str().expect("no").to_string();
    let p = app.payments_of(&reseller, &no).await.remove(0);
    let at_gateway = epay.order(&p.id).expect("the supplier's gateway got the attempt");
    assert_eq!(at_gateway.params["pid"], "1001", "the supplier's merchant id");
    assert!(at_gateway.params["notify_url"].contains("coll-res.localhost"), "notified on the reseller's shop");
    // A notification signed with another key is refused; the supplier's key is the one checked.
    let forged = epay.notification(&p.id, "the-resellers-guess");
    let forged: Vec<(String, String)> = forged.into_iter().collect();
    assert_ne!(app.notify("coll-res", &p.id, &forged).await.0, 200);
    let (code, ack) = epay.pay(&p.id).await.expect("notified");
    assert_eq!((code, ack.as_str()), (200, "success"));
    assert_eq!(support::status_of(&app, "coll-res", &order).await, "delivered");

    // The supplier holds 9.00 and is owed 6.00: it owes the reseller its 3.00 margin.
    let b = balances_for_tenant(app.db.reader(), &supplier).await.expect("balances");
    assert_eq!((b[0].other_tenant_id.as_str(), b[0].owed_to_me_minor), (reseller.as_str(), -300));
    let ledger = res.get("/shops/coll-res/supply/ledger").await.body;
    assert!(ledger.contains("Payment collected") && ledger.contains("by them"), "{ledger}");
    // The reseller cannot refund the supplier's money at the provider; it marks the order refunded after the supplier did.
    let refund = res.post(&format!("/shops/coll-res/orders/{no}/payments/{}/refund", p.id), &[]).await;
    assert_eq!(refund.status, 400);
    assert!(refund.body.contains("taken through Shop coll-sup"), "{}", refund.body);
    res.post(&format!("/shops/coll-res/orders/{no}/refunded"), &[]).await.expect(303);
    let b = balances_for_tenant(app.db.reader(), &supplier).await.expect("balances");
    assert_eq!((b[0].owed_to_me_minor, b[0].entries), (0, 4), "resale, collected and both reversals");

    // Withdrawn: the reseller is back on its own channels at once.
    sup.post(&format!("/shops/coll-sup/supply/resellers/{reseller}/channels"), &[("on", "0")]).await.expect(303);
    assert!(!res.get("/shops/coll-res/channels").await.body.contains("id=\"payment-source\""));
    let (status, _) = app
        .order("coll-res", json!({"product_id": resold, "quantity": 1, "email": "c@example.com", "channel": "alipay"}))
        .await;
    assert_eq!(status, 503);
    let actions: Vec<String> = app.audit_of(Some(&supplier)).await.into_iter().map(|a| a.action).collect();
    assert!(
        actions.contains(&"supply.channels_offered".into()) && actions.contains(&"supply.channels_withdrawn".into())
    );
    assert!(app.audit_of(Some(&reseller)).await.iter().any(|a| a.action == "channel.source"));
    app.stop().await;
}
