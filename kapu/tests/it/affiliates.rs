//! Affiliates (issue 20, part 3): a merchant runs a referral programme, an
//! affiliate joins and signs in with an emailed link on the storefront,
//! buyers come through its link, and commissions are given after
//! delivery, refused for self-referral and for the affiliate's own
//! network, not given for clicks past the count per network, booked after
//! the holding period, cancelled or reversed by refunds, and paid out.

use crate::support;

use chrono::{Duration, Utc};
use kapu_core::store::affiliates::settle_commissions;
use serde_json::{Value, json};
use support::merchant::merchant_with_shop;
use support::{Options, TestApp, sandbox_fields};

/// A visitor of a shop from one client address, keeping its cookies by hand.
struct Visitor<'a> {
    app: &'a TestApp,
    slug: &'a str,
    ip: &'a str,
    cookies: Vec<(String, String)>,
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

impl<'a> Visitor<'a> {
    fn new(app: &'a TestApp, slug: &'a str, ip: &'a str) -> Self {
        Visitor { app, slug, ip, cookies: Vec::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    async fn answer(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let r = req
            .header("x-forwarded-for", self.ip)
            .header("accept-language", "en")
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("send");
        for v in r.headers().get_all("set-cookie") {
            let pair = v.to_str().expect("cookie").split(';').next().unwrap_or_default().to_string();
            let (k, val) = pair.split_once('=').expect("name=value");
            self.cookies.retain(|(n, _)| n != k);
            if !val.is_empty() {
                self.cookies.push((k.to_string(), val.to_string()));
            }
        }
        let status = r.status().as_u16();
        let location = r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
        Answer { status, location, body: r.text().await.unwrap_or_default() }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let url = self.app.shop_url(self.slug, path);
        let req = self.app.client.get(url);
        self.answer(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let url = self.app.shop_url(self.slug, path);
        let req = self.app.client.post(url).header("origin", self.app.shop_url(self.slug, "")).form(form);
        self.answer(req).await
    }

    /// Places an order through the storefront API (with this visitor's
    /// cookies), pays it in the sandbox and waits for delivery; its number.
    async fn buy(&mut self, product: &str, email: &str) -> String {
        let url = self.app.shop_url(self.slug, "/api/v1/orders");
        let body = json!({"product_id": product, "quantity": 1, "email": email});
        let a = self.answer(self.app.client.post(url).json(&body)).await;
        assert_eq!(a.status, 201, "{}", a.body);
        let order: Value = serde_json::from_str(&a.body).expect("json");
        let no = order["order_no"].as_str().expect("no").to_string();
        let tenant = self.app.tenant_id(self.slug).await;
        let payment = self.app.payment_of(&tenant, &no).await;
        let keys = self.app.keys_of(self.slug).await;
        let fields = sandbox_fields(&keys, &payment.id, "paid", payment.amount_minor, &payment.currency);
        assert_eq!(self.app.notify(self.slug, &payment.id, &fields).await.0, 200);
        let app = self.app;
        let delivered = app
            .eventually(20, || {
                let (tenant, no) = (tenant.clone(), no.clone());
                async move { app.order_row(&tenant, &no).await.status == "delivered" }
            })
            .await;
        assert!(delivered);
        no
    }
}

/// The sign-in link the outbox holds for `to` (the newest).
fn signin_path(app: &TestApp, to: &str) -> Option<String> {
    support::read_outbox(&app.outbox())
        .into_iter()
        .filter(|(addr, _, _)| addr == to)
        .filter_map(|(_, _, body)| {
            let at = body.find("/affiliate/signin/")?;
            let end = body[at..].find(char::is_whitespace).map_or(body.len(), |e| at + e);
            Some(body[at..end].to_string())
        })
        .next_back()
}

async fn commission_of(
    app: &TestApp,
    tenant: &str,
    order_no: &str,
) -> kapu_core::entities::affiliate_commissions::Model {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    kapu_core::entities::affiliate_commissions::Entity::find()
        .filter(kapu_core::entities::affiliate_commissions::Column::TenantId.eq(tenant))
        .filter(kapu_core::entities::affiliate_commissions::Column::OrderNo.eq(order_no))
        .one(app.db.reader())
        .await
        .expect("read")
        .expect("a commission for the order")
}

async fn signed_in_affiliate<'a>(app: &'a TestApp, slug: &'a str, ip: &'a str, email: &str) -> Visitor<'a> {
    let mut v = Visitor::new(app, slug, ip);
    let a = v.post("/affiliate/signin", &[("email", email)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("a sign-in link is on its way"), "{}", a.body);
    assert!(app.jobs_settled(20).await);
    let link = signin_path(app, email).expect("a sign-in link was emailed");
    // Opening the link spends nothing (a mail scanner may open it): it asks for a press.
    let shown = v.get(&link).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains(&format!("action=\"{link}\"")), "a form that spends the link: {}", shown.body);
    let pressed = v.post(&link, &[]).await;
    assert_eq!(pressed.status, 303, "{}", pressed.body);
    assert!(v.cookie("kapu_aff").is_some());
    // The link works once.
    let mut other = Visitor::new(app, slug, "198.51.100.99");
    let again = other.post(&link, &[]).await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("invalid, used or expired"));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referred_orders_earn_commissions_after_holding_and_abuse_earns_nothing() {
    let app = TestApp::spawn_with(Options { trusted_proxies: "127.0.0.1/32".into(), ..Default::default() }).await;
    let mut m = merchant_with_shop(&app, "owner@example.com", "aff").await;
    let tenant = app.tenant_id("aff").await;
    let product = app.add_product(&tenant, "Steam 50", 5_000, 20).await;
    let cheap = app.add_product(&tenant, "Steam 10", 1_000, 20).await;

    // No programme yet: the affiliates' page says so.
    let mut aff = Visitor::new(&app, "aff", "203.0.113.7");
    let off = aff.get("/affiliate").await;
    assert_eq!(off.status, 404);
    assert!(off.body.contains("This shop has no affiliate programme."));
    assert!(!aff.get("/").await.body.contains("href=\"/affiliate\""), "no link while there is no programme");

    // Bad terms are refused with each field named, and nothing is saved.
    let bad = m
        .post(
            "/shops/aff/affiliates/terms",
            &[
                ("enabled", "1"),
                ("rate", "95"),
                ("holding_days", "-1"),
                ("window_days", "0"),
                ("clicks_per_address", "x"),
                ("min_payout", "abc"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    for needle in ["from 0 to 90", "0 to 365 days", "1 to 365 days", "1 to 10000", "not a valid amount"] {
        assert!(bad.body.contains(needle), "missing {needle:?}");
    }
    assert!(!kapu_core::store::affiliates::terms_for_tenant(app.db.reader(), &tenant).await.expect("terms").enabled);
    let terms = [
        ("enabled", "1"),
        ("open_signup", "1"),
        ("rate", "10"),
        ("holding_days", "7"),
        ("window_days", "30"),
        ("clicks_per_address", "3"),
        ("min_payout", "1.00"),
    ];
    m.post("/shops/aff/affiliates/terms", &terms).await.expect(303);
    // The storefront now links to the affiliates' page.
    assert!(
        app.eventually(5, || async {
            let home = app.client.get(app.shop_url("aff", "/")).send().await.expect("home");
            home.text().await.unwrap_or_default().contains("href=\"/affiliate\"")
        })
        .await
    );
    // The cheap product pays 25 % instead.
    m.post("/shops/aff/affiliates/rates", &[("product_id", &cheap), ("rate", "25")]).await.expect(303);

    // An affiliate joins on the storefront and signs in with the emailed link.
    let mut aff = signed_in_affiliate(&app, "aff", "203.0.113.7", "partner@example.com").await;
    let page = aff.get("/affiliate").await;
    assert_eq!(page.status, 200);
    let at = page.body.find("?ref=").expect("the referral link") + "?ref=".len();
    let code: String = page.body[at..].chars().take_while(char::is_ascii_alphanumeric).collect();
    assert_eq!(code.len(), 8);

    // A buyer comes through the link: a click, a cookie, the address without ref.
    let mut buyer = Visitor::new(&app, "aff", "198.51.100.10");
    let landed = buyer.get(&format!("/products/{product}?ref={code}&utm=x")).await;
    assert_eq!(landed.status, 303);
    assert_eq!(landed.location.as_deref(), Some(format!("/products/{product}?utm=x").as_str()));
    assert!(buyer.cookie("kapu_ref").is_some());
    let referred = buyer.buy(&product, "buyer@example.com").await;
    let cheap_order = buyer.buy(&cheap, "buyer@example.com").await;
    let refunded_early = buyer.buy(&product, "buyer2@example.com").await;
    let refunded_late = buyer.buy(&cheap, "buyer3@example.com").await;

    // The affiliate buying for itself, by email or from its own network, earns nothing.
    let mut own = Visitor::new(&app, "aff", "198.51.100.20");
    own.get(&format!("/?ref={code}")).await;
    let self_bought = own.buy(&product, "Partner@Example.com").await;
    let mut same_net = Visitor::new(&app, "aff", "203.0.113.7");
    same_net.get(&format!("/?ref={code}")).await;
    let from_its_network = same_net.buy(&product, "friend@example.com").await;

    // Cookie stuffing: one network's clicks past the count (3 a day) set no cookie.
    let mut stuffer = Visitor::new(&app, "aff", "192.0.2.50");
    for _ in 0..3 {
        stuffer.get(&format!("/?ref={code}")).await;
        assert!(stuffer.cookie("kapu_ref").is_some());
        stuffer.cookies.clear();
    }
    let fourth = stuffer.get(&format!("/?ref={code}")).await;
    assert_eq!(fourth.status, 303);
    assert!(stuffer.cookie("kapu_ref").is_none(), "the fourth click a day from one network is not counted");
    // A forged cookie names no click of this shop: the order is nobody's.
    let mut forger = Visitor::new(&app, "aff", "192.0.2.60");
    forger.cookies.push(("kapu_ref".into(), "notaclickofthisshop".into()));
    let unreferred = forger.buy(&product, "forger@example.com").await;
    assert!(app.order_row(&tenant, &unreferred).await.affiliate_click_id.is_none());

    // The sweep gives each delivered referred order its commission.
    let now = Utc::now();
    let settled = settle_commissions(app.db.writer(), now).await.expect("settle");
    assert_eq!((settled.pending, settled.refused), (4, 2), "{settled:?}");
    let c = commission_of(&app, &tenant, &referred).await;
    assert_eq!((c.status.as_str(), c.base_minor, c.rate_bps, c.amount_minor), ("pending", 5_000, 1_000, 500));
    let c = commission_of(&app, &tenant, &cheap_order).await;
    assert_eq!((c.rate_bps, c.amount_minor), (2_500, 250), "the product's own rate");
    let c = commission_of(&app, &tenant, &self_bought).await;
    assert_eq!((c.status.as_str(), c.reason.as_deref()), ("refused", Some("self_referral")));
    let c = commission_of(&app, &tenant, &from_its_network).await;
    assert_eq!((c.status.as_str(), c.reason.as_deref()), ("refused", Some("same_address")));
    assert_eq!(settle_commissions(app.db.writer(), now).await.expect("again"), Default::default(), "once per order");

    // A refund while holding cancels the commission.
    m.post(&format!("/shops/aff/orders/{refunded_early}/refunded"), &[]).await;
    assert_eq!(app.order_row(&tenant, &refunded_early).await.status, "refunded");
    assert_eq!(commission_of(&app, &tenant, &refunded_early).await.status, "cancelled");

    // Nothing is booked before the holding period is over, everything after.
    assert_eq!(settle_commissions(app.db.writer(), now + Duration::days(6)).await.expect("early").booked, 0);
    let later = settle_commissions(app.db.writer(), now + Duration::days(8)).await.expect("later");
    assert_eq!(later.booked, 3, "{later:?}");
    // A refund after booking reverses it on the account.
    m.post(&format!("/shops/aff/orders/{refunded_late}/refunded"), &[]).await;
    assert_eq!(commission_of(&app, &tenant, &refunded_late).await.status, "reversed");

    // 5.00 + 2.50 (+ 2.50 − 2.50) = 7.50 available.
    let page = aff.get("/affiliate").await;
    assert!(page.body.contains("¥7.50"), "{}", page.body);
    assert!(page.body.contains("Not eligible") && page.body.contains("your own purchase"));
    let merchant_page = m.get("/shops/aff/affiliates").await;
    merchant_page.expect(200);
    assert!(merchant_page.body.contains("partner@example.com") && merchant_page.body.contains("7.50"));
    assert!(
        merchant_page.body.contains("Own purchase") && merchant_page.body.contains("From the affiliate&#x27;s network")
    );

    // Payouts: details are required; the whole balance is asked once.
    let refused = aff.post("/affiliate/payout", &[("details", " ")]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("Enter where to pay you."));
    let asked = aff.post("/affiliate/payout", &[("details", "Alipay partner@example.com")]).await;
    assert_eq!(asked.status, 303);
    let twice = aff.post("/affiliate/payout", &[("details", "Alipay partner@example.com")]).await;
    assert_eq!(twice.status, 422);
    assert!(twice.body.contains("There is nothing to pay out yet."));
    let payouts =
        kapu_core::store::affiliates::payouts_for_tenant(app.db.reader(), &tenant, None, 10).await.expect("payouts");
    assert_eq!(payouts.len(), 1);
    assert_eq!(payouts[0].amount_minor, 750);
    // Rejected: the amount comes back; asked again and paid.
    m.post(&format!("/shops/aff/affiliates/payouts/{}/reject", payouts[0].id), &[("note", "wrong account")])
        .await
        .expect(303);
    assert!(aff.get("/affiliate").await.body.contains("¥7.50"));
    assert_eq!(
        m.post(&format!("/shops/aff/affiliates/payouts/{}/paid", payouts[0].id), &[]).await.status,
        404,
        "answered once"
    );
    aff.post("/affiliate/payout", &[("details", "Alipay partner@example.com")]).await;
    let open =
        kapu_core::store::affiliates::payouts_for_tenant(app.db.reader(), &tenant, None, 10).await.expect("payouts");
    let second = open.iter().find(|p| p.status == "requested").expect("the second request");
    m.post(&format!("/shops/aff/affiliates/payouts/{}/paid", second.id), &[("note", "T-1001")]).await.expect(303);
    let page = aff.get("/affiliate").await;
    assert!(page.body.contains("¥0.00") && page.body.contains("T-1001"), "{}", page.body);

    // The merchant API reads the same figures.
    let key = support::merchant::make_api_key(&mut m, "aff", "reader", "read").await;
    let list = app
        .client
        .get(app.platform_url("/api/merchant/v1/affiliates/commissions?limit=50"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("api");
    assert_eq!(list.status(), 200);
    let body: Value = list.json().await.expect("json");
    let statuses: Vec<&str> =
        body["data"].as_array().expect("data").iter().filter_map(|c| c["status"].as_str()).collect();
    for s in ["booked", "cancelled", "reversed", "refused"] {
        assert!(statuses.contains(&s), "{s} in {statuses:?}");
    }
    // Every change is in the shop's audit log.
    let audit = m.get("/shops/aff/audit").await.body;
    for needle in
        ["Affiliate programme saved", "Product commission set", "Affiliate payout rejected", "Affiliate payout paid"]
    {
        assert!(audit.contains(needle), "{needle}");
    }
    // A blocked affiliate is signed out and earns nothing more.
    let id = &payouts[0].affiliate_id;
    m.post(&format!("/shops/aff/affiliates/{id}/block"), &[]).await.expect(303);
    assert!(aff.get("/affiliate").await.body.contains("Email me a sign-in link"), "signed out");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn affiliates_stay_inside_their_shop() {
    let app = TestApp::spawn().await;
    let mut a = merchant_with_shop(&app, "a@example.com", "shopa").await;
    let mut b = merchant_with_shop(&app, "b@example.com", "shopb").await;
    let on = [
        ("enabled", "1"),
        ("rate", "10"),
        ("holding_days", "7"),
        ("window_days", "30"),
        ("clicks_per_address", "20"),
        ("min_payout", ""),
    ];
    a.post("/shops/shopa/affiliates/terms", &on).await.expect(303);
    // Closed sign-up: only partners the merchant adds get a link.
    let mut stranger = Visitor::new(&app, "shopa", "127.0.0.1");
    stranger.post("/affiliate/signin", &[("email", "stranger@example.com")]).await;
    a.post("/shops/shopa/affiliates", &[("email", "Friend@Example.com")]).await.expect(303);
    assert!(app.jobs_settled(20).await);
    assert!(signin_path(&app, "stranger@example.com").is_none(), "closed sign-up sends nothing to a stranger");
    let link = signin_path(&app, "friend@example.com").expect("the added partner got a link");
    let mut friend = Visitor::new(&app, "shopa", "127.0.0.1");
    assert_eq!(friend.post(&link, &[]).await.status, 303);
    let session = friend.cookie("kapu_aff").expect("session");
    // Shop A's link and session mean nothing on shop B.
    let mut on_b = Visitor::new(&app, "shopb", "127.0.0.1");
    assert_eq!(on_b.post(&link, &[]).await.status, 404, "shop B runs no programme");
    on_b.cookies.push(("kapu_aff".into(), session));
    assert_eq!(on_b.get("/affiliate").await.status, 404);
    // Housekeeping deletes expired links and sessions: a month on, the session is gone.
    assert!(friend.get("/affiliate").await.body.contains("Request my whole balance"), "signed in");
    let month_on = chrono::Utc::now() + chrono::Duration::days(31);
    assert!(kapu_core::store::affiliates::purge_expired_tokens(app.db.writer(), month_on).await.expect("purge") >= 2);
    assert!(friend.get("/affiliate").await.body.contains("Email me a sign-in link"), "signed out");
    // Another merchant cannot open shop A's affiliates page or change its terms.
    assert_eq!(b.get("/shops/shopa/affiliates").await.status, 404);
    assert_eq!(b.post("/shops/shopa/affiliates/terms", &on).await.status, 404);
    // A form from another origin changes nothing.
    let forged = stranger
        .answer(
            app.client
                .post(app.shop_url("shopa", "/affiliate/signin"))
                .header("origin", "http://evil.example")
                .form(&[("email", "x@example.com")]),
        )
        .await;
    assert_eq!(forged.status, 403);
    app.stop().await;
}
