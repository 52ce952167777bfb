//! Merchant accounts over HTTP: sign up, verify, log in and out, throttling,
//! password reset, CSRF, and shop creation.

use crate::support;

use sea_orm::{EntityTrait, PaginatorTrait};
use support::TestApp;
use support::merchant::{Browser, link_in_outbox, merchant_with_shop, verified_merchant};

#[tokio::test]
async fn sign_up_verify_and_open_a_shop_that_serves_buyers_at_once() {
    let app = TestApp::spawn().await;
    let mut b = Browser::new(&app);
    // Signing up signs in, but a shop needs a verified email.
    b.post("/signup", &[("email", "Owner@Example.com"), ("password", "correct horse battery")]).await.expect(303);
    let shops = b.get("/shops").await;
    shops.expect(200);
    assert!(shops.body.contains("verify-banner"), "unverified banner");
    let refused = b.post("/shops", &[("name", "Early"), ("slug", "early-shop")]).await;
    refused.expect(403);
    assert!(refused.body.contains("Verify your email"));
    assert_eq!(app.tenant_count().await, 1, "only the demo shop exists");

    // The emailed link verifies (the address was lowercased).
    let link = {
        let mut l = None;
        app.eventually(10, || {
            l = link_in_outbox(&app, "owner@example.com", "/verify");
            let f = l.is_some();
            async move { f }
        })
        .await;
        l.expect("verification email")
    };
    b.client.get(&link).send().await.expect("verify");
    // A link works once.
    let again = b.client.get(&link).send().await.expect("verify again");
    assert_eq!(again.status().as_u16(), 400);
    assert!(again.text().await.expect("body").contains("already used"));

    let created = b.post("/shops", &[("name", "卡卡小铺 <b>"), ("slug", "kaka")]).await;
    created.expect(303);
    assert_eq!(created.location.as_deref(), Some("/shops/kaka?m=shop_created"));
    let dash = b.get("/shops/kaka").await;
    dash.expect(200);
    assert!(dash.body.contains("卡卡小铺 &lt;b&gt;"), "shop name escaped");
    assert!(dash.body.contains("TEST MODE"));
    assert!(dash.body.contains("Launch checklist"));

    // The storefront is served at once, in test mode, to holders of its preview link only.
    let front = app.client.get(app.shop_url("kaka", "/")).send().await.expect("storefront");
    assert_eq!(front.status().as_u16(), 403);
    let settings = b.get("/shops/kaka/settings").await;
    let token = settings.body.split("?preview=").nth(1).expect("preview link").split('"').next().expect("token");
    let front = app.client.get(app.shop_url("kaka", &format!("/?preview={token}"))).send().await.expect("preview");
    assert_eq!(front.status().as_u16(), 303);
    let cookie = front.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_string();
    let front = app.client.get(app.shop_url("kaka", "/")).header("cookie", cookie).send().await.expect("storefront");
    assert_eq!(front.status().as_u16(), 200);
    assert!(front.text().await.expect("html").contains("TEST MODE"));
}

#[tokio::test]
async fn storefront_forgets_a_cached_miss_when_the_shop_is_created() {
    let app = TestApp::spawn().await;
    // A buyer (or a bot) asks for the host before the shop exists: 404, and the miss is cached.
    let before = app.client.get(app.shop_url("fresh", "/")).send().await.expect("get");
    assert_eq!(before.status().as_u16(), 404);
    let _b = merchant_with_shop(&app, "fresh@example.com", "fresh").await;
    let after = app.client.get(app.shop_url("fresh", "/")).send().await.expect("get");
    assert_eq!(after.status().as_u16(), 200, "the new shop serves at once, not after the cache expires");
}

#[tokio::test]
async fn bad_sign_ups_and_bad_shop_addresses_get_specific_errors_and_change_nothing() {
    let app = TestApp::spawn().await;
    let mut b = Browser::new(&app);
    let p = b.post("/signup", &[("email", "not-an-email"), ("password", "correct horse battery")]).await;
    p.expect(422);
    assert!(p.body.contains("valid email"));
    let p = b.post("/signup", &[("email", "short@example.com"), ("password", "short")]).await;
    p.expect(422);
    assert!(p.body.contains("at least 10 characters"));
    assert_eq!(app.account_count().await, 0);

    let mut m = verified_merchant(&app, "taken@example.com").await;
    let mut other = Browser::new(&app);
    let p = other.post("/signup", &[("email", "TAKEN@example.com"), ("password", "another long password")]).await;
    p.expect(409);
    assert!(p.body.contains("already has an account"));
    // The way on is right there: a reset link for that address, one click.
    assert!(p.body.contains("id=\"account-exists\"") && p.body.contains("value=\"taken@example.com\""), "{}", p.body);
    let sent = other.post("/forgot", &[("email", "taken@example.com")]).await;
    assert!(sent.status == 200 || sent.status == 303, "{}", sent.status);
    let reset = app
        .eventually(10, || async { support::merchant::link_in_outbox(&app, "taken@example.com", "/reset").is_some() });
    assert!(reset.await, "the reset link was emailed");

    for (slug, why) in [
        ("ab", "3–32"),
        ("Bad_Slug", "lowercase"),
        ("-edge", "Hyphens"),
        ("admin", "reserved"),
        ("www", "reserved"),
        ("demo", "reserved"),
    ] {
        let p = m.post("/shops", &[("name", "X"), ("slug", slug)]).await;
        p.expect(422);
        assert!(p.body.contains(why), "{slug}: {}", p.body);
    }
    // The currency is chosen here (it locks once products exist): one not offered is refused.
    let form = m.get("/shops").await;
    assert!(form.body.contains("name=\"currency\"") && form.body.contains("Fixed once the shop has products"));
    let p = m.post("/shops", &[("name", "Odd"), ("slug", "odd-money"), ("currency", "XYZ")]).await;
    p.expect(422);
    assert!(p.body.contains("Choose a currency from the list"), "{}", p.body);
    m.post("/shops", &[("name", "Dollar"), ("slug", "dollar"), ("currency", "USD")]).await.expect(303);
    let dollar = kapu_core::tenant::find_tenant_by_slug(app.db.reader(), "dollar").await.expect("db").expect("shop");
    assert_eq!(dollar.currency, "USD");
    m.post("/shops", &[("name", "First"), ("slug", "mine")]).await.expect(303);
    let mut rival = verified_merchant(&app, "rival@example.com").await;
    let p = rival.post("/shops", &[("name", "Second"), ("slug", "mine")]).await;
    p.expect(409);
    assert!(p.body.contains("taken"));
    assert_eq!(app.tenant_count().await, 3, "demo + dollar + mine");
}

#[tokio::test]
async fn login_logout_and_throttling() {
    let app = TestApp::spawn().await;
    let mut b = verified_merchant(&app, "login@example.com").await;
    b.post("/logout", &[]).await.expect(303);
    let p = b.get("/shops").await;
    p.expect(303);
    assert_eq!(p.location.as_deref(), Some("/login?next=%2Fshops"));

    // Wrong password and unknown email get the same answer.
    let wrong = b.post("/login", &[("email", "login@example.com"), ("password", "wrong password!")]).await;
    wrong.expect(401);
    let unknown = b.post("/login", &[("email", "nobody@example.com"), ("password", "wrong password!")]).await;
    unknown.expect(401);
    assert!(wrong.body.contains("Wrong email or password") && unknown.body.contains("Wrong email or password"));

    // Right password: back to where the merchant was going, never off-site.
    let ok = b
        .post(
            "/login",
            // A tab after the first slash: browsers drop it and go to //evil.example.
            &[("email", "login@example.com"), ("password", "correct horse battery"), ("next", "/\t/evil.example/")],
        )
        .await;
    ok.expect(303);
    assert_eq!(ok.location.as_deref(), Some("/shops"));
    b.get("/shops").await.expect(200);

    // Five tries per email (two were used above), then 429 — even with the right password.
    let mut c = Browser::new(&app);
    for _ in 0..3 {
        c.post("/login", &[("email", "login@example.com"), ("password", "guess guess guess")]).await.expect(401);
    }
    let throttled = c.post("/login", &[("email", "login@example.com"), ("password", "correct horse battery")]).await;
    throttled.expect(429);
    assert!(throttled.body.contains("Too many attempts"));
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_or_from_another_origin_are_refused() {
    let app = TestApp::spawn().await;
    let mut b = verified_merchant(&app, "csrf@example.com").await;
    let token = b.csrf().await;
    let base = app.platform_url("");
    // No token.
    let p = b.post_raw("/shops", &[("name", "A"), ("slug", "nocsrf")], Some(&base)).await;
    p.expect(403);
    assert!(p.body.contains("Form expired"));
    // Right token, but posted from another site.
    let p =
        b.post_raw("/shops", &[("csrf", &token), ("name", "A"), ("slug", "nocsrf")], Some("http://evil.example")).await;
    p.expect(403);
    // Another browser's token (bound to another cookie).
    let mut other = Browser::new(&app);
    let foreign = other.csrf().await;
    let p = b.post_raw("/shops", &[("csrf", &foreign), ("name", "A"), ("slug", "nocsrf")], Some(&base)).await;
    p.expect(403);
    assert_eq!(app.tenant_count().await, 1, "nothing was created");
    // The real thing works.
    b.post_raw("/shops", &[("csrf", &token), ("name", "A"), ("slug", "withcsrf")], Some(&base)).await.expect(303);
}

#[tokio::test]
async fn password_reset_by_email_signs_out_other_sessions() {
    let app = TestApp::spawn().await;
    let mut old = verified_merchant(&app, "reset@example.com").await;
    let mut b = Browser::new(&app);
    let sent = b.post("/forgot", &[("email", "reset@example.com")]).await;
    sent.expect(200);
    // Unknown addresses get the same page and no email.
    let unknown = b.post("/forgot", &[("email", "ghost@example.com")]).await;
    unknown.expect(200);
    assert_eq!(sent.body.replace(&b.csrf().await, ""), unknown.body.replace(&b.csrf().await, ""));

    let mut link = None;
    assert!(
        app.eventually(10, || {
            link = link_in_outbox(&app, "reset@example.com", "/reset");
            let f = link.is_some();
            async move { f }
        })
        .await
    );
    let link = link.expect("reset link");
    let token = link.split("token=").nth(1).expect("token").to_string();
    let form = b.client.get(&link).send().await.expect("reset page");
    assert_eq!(form.status().as_u16(), 200);
    let p = b.post("/reset", &[("token", &token), ("password", "short")]).await;
    p.expect(422);
    b.post("/reset", &[("token", &token), ("password", "a brand new password")]).await.expect(303);
    b.get("/shops").await.expect(200);
    // The old session is gone; the token is spent; the new password works.
    old.get("/shops").await.expect(303);
    b.post("/reset", &[("token", &token), ("password", "yet another password")]).await.expect(400);
    let mut fresh = Browser::new(&app);
    fresh.post("/login", &[("email", "reset@example.com"), ("password", "a brand new password")]).await.expect(303);
    assert!(read_outbox_count(&app, "ghost@example.com") == 0);
    let _ = old.csrf().await;
}

fn read_outbox_count(app: &TestApp, to: &str) -> usize {
    support::read_outbox(&app.outbox()).iter().filter(|(a, _, _)| a == to).count()
}

#[tokio::test]
async fn a_merchant_cannot_reach_another_merchants_shop() {
    let app = TestApp::spawn().await;
    let mut alice = merchant_with_shop(&app, "alice@example.com", "alice").await;
    let product = support::merchant::create_product(&mut alice, "alice", "Alice Key", "9.90").await;
    let mut bob = merchant_with_shop(&app, "bob@example.com", "bobshop").await;

    for path in [
        "/shops/alice".to_string(),
        "/shops/alice/products".to_string(),
        format!("/shops/alice/products/{product}"),
        format!("/shops/alice/products/{product}/keys"),
        "/shops/alice/orders".to_string(),
        "/shops/alice/orders.csv".to_string(),
        "/shops/alice/settings".to_string(),
        // Alice's product id under Bob's own shop.
        format!("/shops/bobshop/products/{product}"),
        format!("/shops/bobshop/products/{product}/keys/export"),
        "/shops/demo".to_string(),
    ] {
        let p = bob.get(&path).await;
        assert_eq!(p.status, 404, "{path}");
    }
    let p = bob.post(&format!("/shops/alice/products/{product}/delete"), &[]).await;
    p.expect(404);
    let p = bob.post(&format!("/shops/bobshop/products/{product}/delete"), &[]).await;
    p.expect(404);
    assert!(alice.get(&format!("/shops/alice/products/{product}")).await.status == 200, "still there");
    // Anonymous visitors are sent to log in.
    let anon = Browser::new(&app);
    let p = anon.get("/shops/alice/products").await;
    p.expect(303);
    assert_eq!(p.location.as_deref(), Some("/login?next=%2Fshops%2Falice%2Fproducts"));
}

#[tokio::test]
async fn dashboard_paths_do_not_exist_on_shop_hosts() {
    let app = TestApp::spawn().await;
    for path in ["/signup", "/login", "/shops", "/shops/demo"] {
        let r = app.client.get(app.url(path)).send().await.expect("get");
        assert_eq!(r.status().as_u16(), 404, "{path} on a shop host");
    }
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html.find(start).unwrap_or_else(|| panic!("{start} not in page")) + start.len();
    &html[at..at + html[at..].find(end).expect("end")]
}

fn code_at(secret_b32: &str, unix: u64) -> String {
    let secret = totp_rs::Secret::Encoded(secret_b32.to_string()).to_bytes().expect("base32");
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret).generate(unix)
}

#[tokio::test]
async fn two_factor_sign_in_needs_a_fresh_code_after_the_password() {
    let app = TestApp::spawn().await;
    let mut b = verified_merchant(&app, "2fa@example.com").await;
    let setup = b.get("/account/2fa").await;
    setup.expect(200);
    assert!(setup.body.contains("<svg"), "QR code shown");
    let secret = between(&setup.body, "id=\"totp-secret\">", "<").to_string();
    let sig = between(&setup.body, "name=\"sig\" value=\"", "\"").to_string();
    let now = chrono::Utc::now().timestamp() as u64;

    let wrong = b.post("/account/2fa/enable", &[("secret", &secret), ("sig", &sig), ("code", "000000")]).await;
    wrong.expect(422);
    // A secret the page did not issue is refused.
    let forged =
        b.post("/account/2fa/enable", &[("secret", "MZXW6YTBOIMZXW6YTBOI"), ("sig", &sig), ("code", "123456")]).await;
    forged.expect(403);
    b.post("/account/2fa/enable", &[("secret", &secret), ("sig", &sig), ("code", &code_at(&secret, now))])
        .await
        .expect(303);
    assert!(b.get("/account/2fa").await.body.contains("On: signing in asks"));

    // Password alone no longer signs in.
    b.post("/logout", &[]).await.expect(303);
    let mut c = Browser::new(&app);
    let step1 = c
        .post("/login", &[("email", "2fa@example.com"), ("password", "correct horse battery"), ("next", "/shops")])
        .await;
    step1.expect(303);
    assert_eq!(step1.location.as_deref(), Some("/login/2fa?next=%2Fshops"));
    c.get("/shops").await.expect(303);
    c.get("/login/2fa?next=%2Fshops").await.expect(200);
    c.post("/login/2fa", &[("code", "999999"), ("next", "/shops")]).await.expect(401);
    // The code used to turn it on is spent; the next step's code works, once.
    c.post("/login/2fa", &[("code", &code_at(&secret, now)), ("next", "/shops")]).await.expect(401);
    let next_code = code_at(&secret, now + 30);
    let ok = c.post("/login/2fa", &[("code", &next_code), ("next", "/shops")]).await;
    ok.expect(303);
    assert_eq!(ok.location.as_deref(), Some("/shops"));
    c.get("/shops").await.expect(200);

    let mut d = Browser::new(&app);
    d.post("/login", &[("email", "2fa@example.com"), ("password", "correct horse battery")]).await.expect(303);
    d.post("/login/2fa", &[("code", &next_code)]).await.expect(401);
    // Without the password step there is nothing to answer.
    let mut e = Browser::new(&app);
    let p = e.post("/login/2fa", &[("code", &next_code)]).await;
    p.expect(303);
    assert!(p.location.as_deref().is_some_and(|l| l.starts_with("/login")));
    // Turning it off needs a valid code too, under the same budget as codes at sign-in.
    c.post("/account/2fa/disable", &[("code", "000000")]).await.expect(422);
    assert!(c.get("/account/2fa").await.body.contains("On: signing in asks"));
    let guessed = c.post("/account/2fa/disable", &[("code", &code_at(&secret, now + 60))]).await;
    guessed.expect(429);
    assert!(c.get("/account/2fa").await.body.contains("On: signing in asks"), "throttled: nothing changed");
}

#[tokio::test]
async fn a_password_reset_link_does_not_skip_the_second_factor() {
    let app = TestApp::spawn().await;
    let mut b = verified_merchant(&app, "reset2fa@example.com").await;
    let setup = b.get("/account/2fa").await;
    let secret = between(&setup.body, "id=\"totp-secret\">", "<").to_string();
    let sig = between(&setup.body, "name=\"sig\" value=\"", "\"").to_string();
    let now = chrono::Utc::now().timestamp() as u64;
    b.post("/account/2fa/enable", &[("secret", &secret), ("sig", &sig), ("code", &code_at(&secret, now))])
        .await
        .expect(303);

    // Someone with the mailbox (and not the phone) resets the password.
    let mut m = Browser::new(&app);
    m.post("/forgot", &[("email", "reset2fa@example.com")]).await.expect(200);
    let mut link = None;
    assert!(
        app.eventually(10, || {
            link = link_in_outbox(&app, "reset2fa@example.com", "/reset");
            let f = link.is_some();
            async move { f }
        })
        .await
    );
    let token = link.expect("reset link").split("token=").nth(1).expect("token").to_string();
    let reset = m.post("/reset", &[("token", &token), ("password", "a brand new password")]).await;
    reset.expect(303);
    assert_eq!(reset.location.as_deref(), Some("/login/2fa?next=%2Fshops%3Fm%3Dpassword_changed"));
    // The password changed and every session ended, but the link signed no one in.
    m.get("/shops").await.expect(303);
    b.get("/shops").await.expect(303);
    m.post("/login/2fa", &[("code", "000000"), ("next", "/shops")]).await.expect(401);
    m.get("/shops").await.expect(303);
    // With the code, in.
    let ok =
        m.post("/login/2fa", &[("code", &code_at(&secret, now + 30)), ("next", "/shops?m=password_changed")]).await;
    ok.expect(303);
    assert_eq!(ok.location.as_deref(), Some("/shops?m=password_changed"));
    m.get("/shops").await.expect(200);
}

#[tokio::test]
async fn sessions_live_in_redis_when_configured_and_in_the_database_otherwise() {
    let app = TestApp::spawn().await;
    let mut b = verified_merchant(&app, "where@example.com").await;
    b.get("/shops").await.expect(200);
    let rows = kapu_core::entities::sessions::Entity::find().count(app.db.reader()).await.expect("count");
    match std::env::var("KAPU_REDIS_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => {
            assert_eq!(rows, 0, "no session rows when Redis holds them");
            let client = redis::Client::open(url).expect("redis url");
            let mut c = client.get_multiplexed_async_connection().await.expect("redis");
            let account = kapu_core::store::accounts::find_account_by_email(app.db.reader(), "where@example.com")
                .await
                .expect("db")
                .expect("account");
            // Under the fleet's key prefix, like every other key, so two
            // platforms sharing one Redis never read each other's sessions.
            let n: u64 = redis::cmd("SCARD")
                .arg(format!("{}account-sessions:{}", app.redis_prefix, account.id))
                .query_async(&mut c)
                .await
                .expect("scard");
            assert_eq!(n, 1, "one session for the account");
            let unprefixed: u64 = redis::cmd("EXISTS")
                .arg(format!("kapu:account-sessions:{}", account.id))
                .query_async(&mut c)
                .await
                .expect("exists");
            assert_eq!(unprefixed, 0, "nothing outside the prefix");
        }
        None => assert_eq!(rows, 1, "one session row"),
    }
    // Logging out ends it wherever it lives.
    b.post("/logout", &[]).await.expect(303);
    b.get("/shops").await.expect(303);
}

#[tokio::test]
async fn sign_ups_and_reset_requests_are_counted_when_they_arrive() {
    let app = TestApp::spawn().await;
    let mut b = Browser::new(&app);
    // A burst of reset requests for one address: five pass, the sixth is
    // refused at once (before, all passed: the cap counted tokens the worker
    // had issued, and the burst outran it). Unknown addresses count alike.
    for _ in 0..5 {
        b.post("/forgot", &[("email", "someone@example.com")]).await.expect(200);
    }
    let refused = b.post("/forgot", &[("email", "someone@example.com")]).await;
    refused.expect(429);
    // Another address is not held back by that one.
    b.post("/forgot", &[("email", "other@example.com")]).await.expect(200);

    // Ten sign-ups from one client address, then a wait.
    let before = app.account_count().await;
    for i in 0..10 {
        let mut s = Browser::new(&app);
        let email = format!("new{i}@example.com");
        s.post("/signup", &[("email", &email), ("password", "correct horse battery")]).await.expect(303);
    }
    let mut s = Browser::new(&app);
    let p = s.post("/signup", &[("email", "eleventh@example.com"), ("password", "correct horse battery")]).await;
    p.expect(429);
    assert_eq!(app.account_count().await, before + 10, "the refused sign-up created nothing");
}
