//! Custom domains, verified through a real DNS lookup against a local DNS
//! server: the TXT challenge, wrong tokens, takeover attempts, routing only
//! once verified, removal stopping routing at once, the plan's limit, and
//! the TLS `ask` endpoint.

use crate::support;

use kapu_core::entities::plans::Column;
use support::fakes::dns::FakeDns;
use support::merchant::{Browser, merchant_with_shop};
use support::{Options, TestApp};

fn token_of(page: &str, host: &str) -> String {
    let row = page.split(&format!("data-domain=\"{host}\"")).nth(1).expect("domain row");
    let at = row.find("<code class=\"token\">").expect("token") + "<code class=\"token\">".len();
    row[at..at + row[at..].find('<').expect("end")].to_string()
}

/// GET `/` with `Host: {host}:{port}` (how a browser on the custom domain arrives).
async fn home_on(app: &TestApp, host: &str) -> (u16, String) {
    let r = app
        .client
        .get(format!("http://127.0.0.1:{}/api/v1/products", app.addr.port()))
        .header("host", format!("{host}:{}", app.addr.port()))
        .send()
        .await
        .expect("get");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

async fn ask(app: &TestApp, domain: &str) -> u16 {
    let r = app
        .client
        .get(format!("http://127.0.0.1:{}/internal/tls/ask", app.addr.port()))
        .query(&[("domain", domain)])
        .send()
        .await
        .expect("ask");
    r.status().as_u16()
}

async fn app_with_dns() -> (TestApp, FakeDns) {
    let dns = FakeDns::start().await;
    let app = TestApp::spawn_with(Options { dns_resolver: Some(dns.addr.to_string()), ..Default::default() }).await;
    // The free plan has no custom domains; these shops are on Pro (3).
    (app, dns)
}

#[tokio::test]
async fn a_domain_serves_the_shop_only_once_its_txt_record_proves_control() {
    let (app, dns) = app_with_dns().await;
    let mut a = merchant_with_shop(&app, "a@example.com", "alpha").await;
    app.set_plan("alpha", "pro").await;
    let alpha = app.tenant_id("alpha").await;
    app.add_product(&alpha, "Alpha card", 100, 2).await;

    // Bad input changes nothing.
    for bad in ["", "localhost", "1.2.3.4", "shop.example.com:8443", "alpha.localhost"] {
        let p = a.post("/shops/alpha/domains", &[("hostname", bad)]).await;
        assert_eq!(p.status, 422, "{bad:?}: {}", p.body);
    }
    a.post("/shops/alpha/domains", &[("hostname", "Shop.Alpha-Games.com.")]).await.expect(303);
    let page = a.get("/shops/alpha/domains").await;
    page.expect(200);
    assert!(page.body.contains("_kapu-challenge.shop.alpha-games.com") && page.body.contains("alpha.localhost"));
    let token = token_of(&page.body, "shop.alpha-games.com");
    assert!(token.starts_with("kapu-"));
    assert_eq!(a.post("/shops/alpha/domains", &[("hostname", "shop.alpha-games.com")]).await.status, 409);

    // Not verified yet: the domain serves nothing and gets no certificate.
    assert_eq!(home_on(&app, "shop.alpha-games.com").await.0, 404);
    assert_eq!(ask(&app, "shop.alpha-games.com").await, 404);

    // No record, then a wrong one: refused with the reason, still not routed.
    let p = a.post("/shops/alpha/domains/verify", &[("hostname", "shop.alpha-games.com")]).await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("No TXT record at _kapu-challenge.shop.alpha-games.com"), "{}", p.body);
    assert_eq!(p.body.matches("No TXT record at").count(), 1, "the reason is shown once: {}", p.body);
    // The records to create, as Host / Type / Value rows with copy buttons.
    assert!(p.body.contains("<th>Host</th><th>Type</th><th>Value</th>"), "{}", p.body);
    assert!(p.body.contains(&format!("data-copy=\"{token}\"")), "{}", p.body);
    dns.set_txt("_kapu-challenge.shop.alpha-games.com", &["kapu-not-the-token"]);
    let p = a.post("/shops/alpha/domains/verify", &[("hostname", "shop.alpha-games.com")]).await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("does not match"), "{}", p.body);
    assert_eq!(home_on(&app, "shop.alpha-games.com").await.0, 404);
    assert!(dns.queries.lock().expect("q").iter().any(|q| q == "_kapu-challenge.shop.alpha-games.com"));

    // The right token (among other TXT strings): verified, routed, certificate allowed.
    dns.set_txt("_kapu-challenge.shop.alpha-games.com", &["v=spf1 -all", &token]);
    a.post("/shops/alpha/domains/verify", &[("hostname", "shop.alpha-games.com")]).await.expect(303);
    let (status, body) = home_on(&app, "shop.alpha-games.com").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Alpha card"));
    assert_eq!(ask(&app, "shop.alpha-games.com").await, 200);
    assert_eq!(ask(&app, "SHOP.ALPHA-GAMES.COM").await, 200);

    // Removing it stops routing at once (the cached host is dropped).
    a.post("/shops/alpha/domains/remove", &[("hostname", "shop.alpha-games.com")]).await.expect(303);
    assert_eq!(home_on(&app, "shop.alpha-games.com").await.0, 404);
    assert_eq!(ask(&app, "shop.alpha-games.com").await, 404);

    let actions: Vec<String> = app.audit_of(Some(&alpha)).await.into_iter().map(|e| e.action).collect();
    for expected in ["domain.add", "domain.verify", "domain.remove"] {
        assert!(actions.contains(&expected.to_string()), "{expected}: {actions:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_domain_verified_by_one_shop_cannot_be_claimed_by_another() {
    let (app, dns) = app_with_dns().await;
    let mut a = merchant_with_shop(&app, "a@example.com", "alpha").await;
    let mut b = merchant_with_shop(&app, "b@example.com", "bravo").await;
    app.set_plan("alpha", "pro").await;
    app.set_plan("bravo", "pro").await;
    let alpha = app.tenant_id("alpha").await;
    app.add_product(&alpha, "Alpha card", 100, 2).await;

    a.post("/shops/alpha/domains", &[("hostname", "games.example.net")]).await.expect(303);
    // While A's claim is pending, B cannot take the name.
    let p = b.post("/shops/bravo/domains", &[("hostname", "games.example.net")]).await;
    assert_eq!(p.status, 409);
    assert!(p.body.contains("Another shop is verifying"), "{}", p.body);
    let token = token_of(&a.get("/shops/alpha/domains").await.body, "games.example.net");
    dns.set_txt("_kapu-challenge.games.example.net", &[&token]);
    a.post("/shops/alpha/domains/verify", &[("hostname", "games.example.net")]).await.expect(303);

    // B tries to add it, and to verify or remove A's domain through its own shop: refused, nothing changes.
    let p = b.post("/shops/bravo/domains", &[("hostname", "games.example.net")]).await;
    assert_eq!(p.status, 409);
    assert!(p.body.contains("verified by another shop"));
    assert_eq!(b.post("/shops/bravo/domains/verify", &[("hostname", "games.example.net")]).await.status, 404);
    assert_eq!(b.post("/shops/bravo/domains/remove", &[("hostname", "games.example.net")]).await.status, 404);
    // A's pages are not B's.
    assert_eq!(b.get("/shops/alpha/domains").await.status, 404);
    let (status, body) = home_on(&app, "games.example.net").await;
    assert_eq!(status, 200);
    assert!(body.contains("Alpha card"));

    // A stale unverified claim (older than the hold) does not block others.
    a.post("/shops/alpha/domains", &[("hostname", "old.example.org")]).await.expect(303);
    use kapu_core::entities::domains;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    domains::Entity::update_many()
        .col_expr(domains::Column::CreatedAt, Expr::value(chrono::Utc::now() - chrono::Duration::hours(72)))
        .filter(domains::Column::Hostname.eq("old.example.org"))
        .exec(app.db.writer())
        .await
        .expect("age claim");
    b.post("/shops/bravo/domains", &[("hostname", "old.example.org")]).await.expect(303);
    assert!(!a.get("/shops/alpha/domains").await.body.contains("data-domain=\"old.example.org\""));
    app.stop().await;
}

#[tokio::test]
async fn custom_domains_follow_the_plan_and_staff_cannot_manage_them() {
    let (app, _dns) = app_with_dns().await;
    let mut owner = merchant_with_shop(&app, "owner@example.com", "capped").await;
    // The free plan allows none: the page says so (and where to upgrade) before anything is typed.
    let page = owner.get("/shops/capped/domains").await;
    assert!(page.body.contains("includes no custom domains"), "{}", page.body);
    assert!(page.body.contains("href=\"/shops/capped/plan\"") && page.body.contains("disabled"), "{}", page.body);
    let plan = owner.get("/shops/capped/plan").await;
    assert!(plan.body.contains("Custom domains: "), "the Plan page lists the domain limit");
    assert!(plan.body.contains("contact") && plan.body.contains("the platform's operators"), "{}", plan.body);
    let p = owner.post("/shops/capped/domains", &[("hostname", "a.example.com")]).await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("allows 0 custom domains"), "{}", p.body);
    assert!(p.body.contains("Upgrade on the Plan page"), "a menu path that exists: {}", p.body);
    app.set_plan_limit("free", Column::MaxCustomDomains, Some(1)).await;
    assert!(!owner.get("/shops/capped/domains").await.body.contains("id=\"domain-room\""), "room for one");
    owner.post("/shops/capped/domains", &[("hostname", "a.example.com")]).await.expect(303);
    assert!(owner.get("/shops/capped/domains").await.body.contains("all in use"));
    assert_eq!(owner.post("/shops/capped/domains", &[("hostname", "b.example.com")]).await.status, 422);

    support::merchant::verified_merchant(&app, "staff@example.com").await;
    owner.post("/shops/capped/team", &[("email", "staff@example.com")]).await.expect(303);
    let mut staff = Browser::new(&app);
    staff.post("/login", &[("email", "staff@example.com"), ("password", "correct horse battery")]).await.expect(303);
    assert_eq!(staff.get("/shops/capped/domains").await.status, 403);
    assert_eq!(staff.post("/shops/capped/domains/remove", &[("hostname", "a.example.com")]).await.status, 403);

    // The TLS ask endpoint: the platform host and existing shops yes, unknown names no.
    assert_eq!(ask(&app, "localhost").await, 200);
    assert_eq!(ask(&app, "capped.localhost").await, 200);
    assert_eq!(ask(&app, "nosuchshop.localhost").await, 404);
    assert_eq!(ask(&app, "a.example.com").await, 404, "unverified");
    assert_eq!(ask(&app, "").await, 400);
    app.stop().await;
}
