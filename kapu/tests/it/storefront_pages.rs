//! The buyer's pages over HTTP: security headers, CSRF, checkout errors in
//! the buyer's language, order lookup, escaping of hostile merchant text.

use crate::support;

use serde_json::json;
use support::{Options, TestApp, read_outbox};

fn has_inline_script(html: &str) -> bool {
    html.match_indices("<script").any(|(i, _)| !html[i..].split('>').next().unwrap_or("").contains(" src="))
}

#[tokio::test]
async fn every_page_carries_security_headers_and_no_inline_script() {
    let app = TestApp::spawn().await;
    let (_, order) =
        app.order("demo", json!({"product_id": "win11-pro", "quantity": 1, "email": "h@example.com"})).await;
    let order_page =
        format!("/orders/{}?token={}", order["order_no"].as_str().expect("no"), order["token"].as_str().expect("t"));
    let pay = order["pay_url"].as_str().expect("pay").to_string();
    for path in ["/", "/products/win11-pro", "/lookup", order_page.as_str(), "/nope"] {
        let r = app.client.get(app.url(path)).send().await.expect("get");
        let h = r.headers().clone();
        let csp = h["content-security-policy"].to_str().expect("csp");
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        let html = r.text().await.expect("html");
        assert!(!has_inline_script(&html), "{path} has an inline script");
    }
    for url in [app.url(&order_page), pay.clone()] {
        let r = app.client.get(&url).send().await.expect("get");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer", "{url}");
    }
    // Assets: content-hashed names, cached for a year.
    let home = app.client.get(app.url("/")).send().await.expect("get").text().await.expect("html");
    let css = home.split("href=\"").nth(1).and_then(|s| s.split('"').next()).expect("stylesheet link");
    assert!(css.starts_with("/assets/classic.") && css.ends_with(".css"), "{css}");
    let r = app.client.get(app.url(css)).send().await.expect("css");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["cache-control"].to_str().expect("cc").contains("immutable"));
    assert!(r.headers()["content-type"].to_str().expect("ct").starts_with("text/css"));
    assert_eq!(
        app.client.get(app.url("/assets/classic.0000000000.css")).send().await.expect("get").status().as_u16(),
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn the_checkout_form_places_orders_refuses_cross_site_posts_and_explains_errors() {
    let app = TestApp::spawn().await;
    let origin = format!("http://demo.localhost:{}", app.addr.port());
    let post = |origin: String, form: Vec<(&'static str, &'static str)>| {
        app.client
            .post(app.url("/checkout"))
            .header("origin", origin)
            .header("accept-language", "zh-CN")
            .form(&form)
            .send()
    };
    let good = vec![
        ("product_id", "win11-pro"),
        ("quantity", "2"),
        ("email", "form@example.com"),
        ("lookup_password", ""),
        ("channel", "sandbox"),
    ];

    // From another site: refused, nothing reserved.
    let r = post("http://evil.example".into(), good.clone()).await.expect("post");
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.expect("html").contains("请在本店页面内提交表单"));
    let r = app.client.post(app.url("/checkout")).form(&good).send().await.expect("post without origin");
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(app.stock("demo", "win11-pro").await, 25);

    // From the shop: 303 to the sandbox, two keys reserved.
    let r = post(origin.clone(), good.clone()).await.expect("post");
    assert_eq!(r.status().as_u16(), 303);
    assert!(r.headers()["location"].to_str().expect("loc").contains("/pay/sandbox/"));
    assert_eq!(app.stock("demo", "win11-pro").await, 23);

    // Bad input: the product page again, the error in the buyer's language, input kept.
    let r = post(
        origin.clone(),
        vec![("product_id", "win11-pro"), ("quantity", "1"), ("email", "nope"), ("channel", "sandbox")],
    )
    .await
    .expect("post");
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.expect("html");
    assert!(html.contains("邮箱地址无效"), "localized error shown");
    assert!(html.contains("value=\"nope\""), "input kept");
    let r = post(
        origin.clone(),
        vec![("product_id", "steam-wallet-50"), ("quantity", "5"), ("email", "a@example.com"), ("channel", "sandbox")],
    )
    .await
    .expect("post");
    assert_eq!(r.status().as_u16(), 409);
    assert!(r.text().await.expect("html").contains("库存不足，仅剩 3 件"));
    let r = post(origin, vec![("product_id", "no-such"), ("quantity", "1"), ("email", "a@example.com")])
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(app.stock("demo", "steam-wallet-50").await, 3);
    app.stop().await;
}

#[tokio::test]
async fn sold_out_products_say_so_and_offer_no_form() {
    let app = TestApp::spawn().await;
    let en =
        app.client.get(app.url("/products/netease-100")).header("accept-language", "en").send().await.expect("get");
    let html = en.text().await.expect("html");
    assert!(html.contains("Sold out"));
    assert!(!html.contains("action=\"/checkout\""));
    let home = app
        .client
        .get(app.url("/"))
        .header("accept-language", "zh-CN")
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    assert!(home.contains("已售罄") && home.contains("库存 3"), "live stock and sold-out state on the home page");
    // The cached home and product pages follow the stock as soon as an order reserves keys.
    let product =
        app.client.get(app.url("/products/steam-wallet-50")).send().await.expect("get").text().await.expect("html");
    assert!(product.contains("max=\"3\""), "the quantity selector is bounded by the stock");
    let (status, _) =
        app.order("demo", json!({"product_id": "steam-wallet-50", "quantity": 2, "email": "c@example.com"})).await;
    assert_eq!(status, 201);
    let home = app
        .client
        .get(app.url("/"))
        .header("accept-language", "zh-CN")
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    assert!(home.contains("库存 1") && !home.contains("库存 3"), "home page shows the new stock");
    let product =
        app.client.get(app.url("/products/steam-wallet-50")).send().await.expect("get").text().await.expect("html");
    assert!(product.contains("max=\"1\""), "the quantity selector is bounded by the stock");
    app.stop().await;
}

#[tokio::test]
async fn lookup_by_password_opens_the_order_and_lookup_by_email_only_sends_links() {
    let app = TestApp::spawn().await;
    let origin = format!("http://demo.localhost:{}", app.addr.port());
    let (_, order) = app
        .order("demo", json!({"product_id": "win11-pro", "quantity": 1, "email": "look@example.com", "lookup_password": "s3cret-pass"}))
        .await;
    let order_no = order["order_no"].as_str().expect("no").to_string();
    let lookup = |no: String, pw: &'static str| {
        app.client
            .post(app.url("/lookup"))
            .header("origin", origin.clone())
            .header("accept-language", "en")
            .form(&[("order_no", no), ("lookup_password", pw.to_string())])
            .send()
    };
    let r = lookup(order_no.clone(), "s3cret-pass").await.expect("post");
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        r.headers()["location"].to_str().expect("loc"),
        format!("/orders/{order_no}?token={}", order["token"].as_str().expect("t"))
    );
    let r = lookup(order_no.clone(), "wrong").await.expect("post");
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.expect("html").contains("order number or lookup password is not correct"));
    // Throttled per order: 5 per 10 minutes (2 used).
    let mut last = 0;
    for _ in 0..4 {
        last = lookup(order_no.clone(), "wrong").await.expect("post").status().as_u16();
    }
    assert_eq!(last, 429);

    // Email lookup: same answer whether or not orders exist; links only by email.
    let by_email = |email: &'static str| {
        app.client
            .post(app.url("/lookup/email"))
            .header("origin", origin.clone())
            .header("accept-language", "en")
            .form(&[("email", email)])
            .send()
    };
    let known = by_email("look@example.com").await.expect("post").text().await.expect("html");
    let unknown = by_email("nobody@example.com").await.expect("post").text().await.expect("html");
    assert!(known.contains("links are on the way") && unknown.contains("links are on the way"));
    assert!(!known.contains("DEMO-"), "no keys on the page");
    let outbox = app.outbox();
    assert!(app.eventually(5, || async { read_outbox(&outbox).iter().any(|(to, ..)| to == "look@example.com") }).await);
    assert!(app.jobs_settled(10).await, "the lookup jobs ran");
    let mails = read_outbox(&outbox);
    assert!(mails.iter().all(|(to, ..)| to != "nobody@example.com"));
    let (_, _, body) = mails.iter().find(|(to, ..)| to == "look@example.com").expect("mail");
    assert!(body.contains(&format!("/orders/{order_no}?token=")), "{body}");
    // Each order's status in words, never its code.
    assert!(body.contains("Awaiting payment") && !body.contains("pending"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn hostile_merchant_text_is_escaped_on_every_page() {
    let app = TestApp::spawn().await;
    let evil = "<script>alert(1)</script>";
    let (tenant, product) = app.create_shop("evil", "test", 3).await;
    use kapu_core::entities::{products, tenants};
    use sea_orm::{EntityTrait, sea_query::Expr};
    app.set_tenant("evil", tenants::Column::Name, evil).await;
    app.set_tenant("evil", tenants::Column::Announcement, evil).await;
    products::Entity::update_many()
        .col_expr(products::Column::Name, Expr::value(evil))
        .col_expr(products::Column::Description, Expr::value(evil))
        .exec(app.db.writer())
        .await
        .expect("rename");
    app.state.shop_changed(&tenant).await;
    let (_, order) = app.order("evil", json!({"product_id": product, "quantity": 1, "email": "e@example.com"})).await;
    let order_page =
        format!("/orders/{}?token={}", order["order_no"].as_str().expect("no"), order["token"].as_str().expect("t"));
    let pay = order["pay_url"].as_str().expect("pay").to_string();
    for url in [
        app.shop_url("evil", "/"),
        app.shop_url("evil", &format!("/products/{product}")),
        app.shop_url("evil", &order_page),
        pay,
        app.shop_url("evil", "/nope"),
    ] {
        let html = app.client.get(&url).send().await.expect("get").text().await.expect("html");
        assert!(!html.contains(evil), "{url} renders raw markup");
        assert!(html.contains("&lt;script&gt;"), "{url} shows the escaped text");
    }
    let _ = tenant;
    app.stop().await;
}

#[tokio::test]
async fn pages_follow_the_buyers_language_and_the_switch_never_redirects_off_site() {
    let app =
        TestApp::spawn_with(Options { rate_limit_per_second: 1, rate_limit_burst: 8, ..Options::default() }).await;
    let en = app.client.get(app.url("/lookup")).header("accept-language", "en-GB,en;q=0.9").send().await.expect("get");
    assert!(en.text().await.expect("html").contains("Find my order"));
    let zh = app
        .client
        .get(app.url("/lookup"))
        .header("accept-language", "en")
        .header("cookie", "kapu_lang=zh-CN")
        .send()
        .await
        .expect("get");
    assert!(zh.text().await.expect("html").contains("查询订单"), "the cookie wins over Accept-Language");
    let r = app.client.get(app.url("/lang/en?back=//evil.example/x")).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/");
    assert!(r.headers()["set-cookie"].to_str().expect("cookie").starts_with("kapu_lang=en;"));
    // Rate limited pages are pages, in the shop's look, with Retry-After.
    let mut last = None;
    for _ in 0..10 {
        last = Some(app.client.get(app.url("/")).header("accept-language", "en").send().await.expect("get"));
    }
    let last = last.expect("response");
    assert_eq!(last.status().as_u16(), 429);
    assert!(last.headers().contains_key("retry-after"));
    assert!(last.headers()["content-type"].to_str().expect("ct").starts_with("text/html"));
    assert!(last.text().await.expect("html").contains("Too many requests"));
    app.stop().await;
}

/// The products API's price of `win11-pro` on the demo shop.
async fn listed_price(app: &TestApp) -> i64 {
    let (_, list) = app.get_json(&app.url("/api/v1/products")).await;
    let p = list["products"].as_array().expect("list").iter().find(|p| p["id"] == "win11-pro").cloned();
    p.expect("win11-pro")["price_minor"].as_i64().expect("price")
}

#[tokio::test]
async fn a_busy_shops_catalog_is_refreshed_in_the_background_before_it_expires() {
    use kapu_core::entities::products;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    // A 4 s lifetime: past 3 s the cached catalog is still served while a
    // fresh one loads; it would expire only at 4 s.
    let app = TestApp::spawn_with(Options { catalog_cache_secs: Some(4), ..Options::default() }).await;
    let before = listed_price(&app).await;
    let loaded = std::time::Instant::now();
    // A change behind the cache's back (no event): only a reload can show it.
    products::Entity::update_many()
        .col_expr(products::Column::PriceMinor, Expr::value(before + 100))
        .filter(products::Column::Id.eq("win11-pro"))
        .exec(app.db.writer())
        .await
        .expect("price");
    tokio::time::sleep(std::time::Duration::from_millis(3_200).saturating_sub(loaded.elapsed())).await;
    // Past ¾ of the lifetime: answered from the cache at once (the old price)…
    assert_eq!(listed_price(&app).await, before, "served from the cache while the refresh runs");
    // …and the fresh catalog is in place well before the old one would expire.
    let mut fresh = false;
    while loaded.elapsed() < std::time::Duration::from_millis(3_900) {
        if listed_price(&app).await == before + 100 {
            fresh = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(fresh, "the background refresh replaced the catalog before it expired");
    app.stop().await;
}

#[tokio::test]
async fn the_language_switch_goes_back_only_to_paths_on_this_site() {
    let app = TestApp::spawn().await;
    // Each of these is a way browsers can be led to another site.
    for back in ["//evil.example/x", "/\t/evil.example", "/\n/evil.example", "/\\evil.example", "/%09/evil.example"] {
        let q = serde_urlencoded::to_string([("back", back)]).expect("query");
        let r = app.client.get(app.url(&format!("/lang/en?{q}"))).send().await.expect("get");
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(r.headers()["location"], "/", "{back:?} must not leave the site");
    }
    let r = app.client.get(app.url("/lang/en?back=%2Fproducts%2Fwin11-pro")).send().await.expect("get");
    assert_eq!(r.headers()["location"], "/products/win11-pro", "a path on this site is kept");
    app.stop().await;
}

#[tokio::test]
async fn reloading_a_refused_checkout_returns_to_the_product_not_a_blank_405() {
    let app = TestApp::spawn().await;
    let checkout = app.url("/checkout");
    let back = |referer: Option<String>| {
        let (app, checkout) = (&app, checkout.clone());
        async move {
            let mut req = app.client.get(&checkout);
            if let Some(r) = referer {
                req = req.header("referer", r);
            }
            let r = req.send().await.expect("get");
            assert_eq!(r.status().as_u16(), 303);
            r.headers()["location"].to_str().expect("location").to_string()
        }
    };
    assert_eq!(back(Some(app.url("/products/win11-pro"))).await, "/products/win11-pro");
    assert_eq!(back(None).await, "/", "no referer: the shop's home");
    assert_eq!(back(Some("https://evil.example/products/x".into())).await, "/", "another site: home");
    assert_eq!(back(Some(app.url("/products/a?b=//evil.example"))).await, "/", "only a plain product path");
    app.stop().await;
}

#[tokio::test]
async fn the_product_page_shows_the_total_before_buying_with_the_wholesale_tier() {
    let app = TestApp::spawn().await;
    let page = app.client.get(app.url("/products/win11-pro")).send().await.expect("page").text().await.expect("html");
    assert!(page.contains("<span class=\"total-amount\">39.90</span>"), "one key at the base price: {page}");
    // Refused (bad email) with 10 in the form: the page comes back with the total for 10 at the tier price.
    let form = [("product_id", "win11-pro"), ("quantity", "10"), ("email", "not-an-email"), ("channel", "sandbox")];
    let origin = app.url("");
    let r = app
        .client
        .post(app.url("/checkout"))
        .header("origin", origin.trim_end_matches('/'))
        .form(&form)
        .send()
        .await
        .expect("post");
    let html = r.text().await.expect("html");
    assert!(html.contains("<span class=\"total-amount\">329.00</span>"), "10 × 32.90: {html}");
    assert!(html.contains("<span class=\"total-qty\">10</span>"));
    // The script's figures: base price, tiers, minor units per major.
    assert!(html.contains("&quot;tiers&quot;:[[5,3590],[10,3290]]"), "{html}");

    // A coupon that applies is in the total (and in the script's figures); one that does not says why.
    app.add_percent_coupon("demo", "SAVE10", 10).await;
    let refused = |coupon: &'static str| {
        let form = [
            ("product_id", "win11-pro"),
            ("quantity", "10"),
            ("email", "not-an-email"),
            ("channel", "sandbox"),
            ("coupon", coupon),
        ];
        app.client.post(app.url("/checkout")).header("origin", origin.trim_end_matches('/')).form(&form).send()
    };
    let html = refused("save10").await.expect("post").text().await.expect("html");
    assert!(html.contains("<span class=\"total-amount\">296.10</span>"), "329.00 less 10 %: {html}");
    assert!(html.contains("<span class=\"total-discount-amount\">32.90</span>"), "{html}");
    assert!(html.contains("&quot;coupon&quot;:{&quot;kind&quot;:&quot;percent&quot;,&quot;value&quot;:10}"), "{html}");
    let html = refused("NOPE").await.expect("post").text().await.expect("html");
    assert!(html.contains("<span class=\"total-amount\">329.00</span>"), "{html}");
    assert!(html.contains("id=\"coupon-note\" aria-live=\"polite\">优惠码不存在"), "{html}");
    // What the script asks: the terms, or the refusal in the buyer's language.
    let (status, terms) = app.get_json(&app.url("/products/win11-pro/coupon?code=save10")).await;
    assert_eq!((status, terms["kind"].as_str(), terms["value"].as_i64()), (200, Some("percent"), Some(10)), "{terms}");
    let r = app
        .client
        .get(app.url("/products/win11-pro/coupon?code=NOPE"))
        .header("accept-language", "en")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 422);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "coupon_not_found");
    assert_eq!(body["error"]["message"], "No such coupon code; please check it.");
    assert_eq!(app.get_json(&app.url("/products/nope/coupon?code=SAVE10")).await.0, 404);
    app.stop().await;
}

#[tokio::test]
async fn prices_carry_the_shops_currency_sign() {
    let app = TestApp::spawn().await;
    let (_, product) = app.create_shop("dollars", "test", 1).await;
    app.set_tenant("dollars", kapu_core::entities::tenants::Column::Currency, "USD").await;
    for path in ["/".to_string(), format!("/products/{product}")] {
        let html =
            app.client.get(app.shop_url("dollars", &path)).send().await.expect("get").text().await.expect("html");
        assert!(html.contains("$10.00") && !html.contains("¥10.00"), "{path}: {html}");
    }
    // The demo shop prices in CNY.
    let html = app.client.get(app.url("/products/win11-pro")).send().await.expect("get").text().await.expect("html");
    assert!(html.contains("¥39.90"), "{html}");
    app.stop().await;
}
