//! Risk rules set in the dashboard and applied at checkout: block and allow
//! lists, the order-velocity rule (refuse, or a proof-of-work challenge that
//! is good once).

use crate::support;

use serde_json::{Value, json};
use support::TestApp;
use support::merchant::{create_product, merchant_with_shop};

async fn stocked_shop(app: &TestApp, slug: &str) -> (support::merchant::Browser, String) {
    let mut b = merchant_with_shop(app, &format!("{slug}@example.com"), slug).await;
    let id = create_product(&mut b, slug, "Key", "5").await;
    let text: String = (0..40).map(|i| format!("{slug}-{i}\n")).collect();
    let p = b.import_keys(&format!("/shops/{slug}/products/{id}/keys"), &text, None, "newline").await;
    let loc = p.location.clone().expect("import");
    assert!(
        app.eventually(30, || {
            let (b, loc) = (&b, loc.clone());
            async move { b.get(&format!("{loc}.json")).await.body.contains("\"done\"") }
        })
        .await
    );
    (b, id)
}

async fn order(app: &TestApp, slug: &str, product: &str, email: &str, ip: &str, pow: Option<&str>) -> (u16, Value) {
    let mut body = json!({"product_id": product, "quantity": 1, "email": email});
    if let Some(p) = pow {
        body["pow"] = json!(p);
    }
    let r = app
        .client
        .post(app.shop_url(slug, "/api/v1/orders"))
        .header("x-forwarded-for", ip)
        .header("accept-language", "en")
        .json(&body)
        .send()
        .await
        .expect("order");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn proxied() -> support::Options {
    support::Options { trusted_proxies: "127.0.0.1/32".into(), ..Default::default() }
}

#[tokio::test]
async fn block_and_allow_lists_decide_before_anything_else() {
    let app = TestApp::spawn_with(proxied()).await;
    let (mut b, product) = stocked_shop(&app, "lists").await;
    for (list, kind, value) in [
        ("block", "domain", "@Spam.Example"),
        ("block", "ip", "203.0.113.0/24"),
        ("block", "email", "bad@ok.example"),
        ("allow", "email", "vip@spam.example"),
    ] {
        b.post("/shops/lists/risk", &[("list", list), ("kind", kind), ("value", value)]).await.expect(303);
    }
    let p = b.post("/shops/lists/risk", &[("list", "block"), ("kind", "ip"), ("value", "300.1.1.1")]).await;
    p.expect(422);
    assert!(p.body.contains("CIDR"));
    b.post("/shops/lists/risk", &[("list", "block"), ("kind", "domain"), ("value", "spam.example")]).await.expect(409);

    let before = app.count_keys(&app.tenant_id("lists").await, "reserved").await;
    for (email, ip) in
        [("x@mail.spam.example", "198.51.100.1"), ("ok@ok.example", "203.0.113.77"), ("BAD@ok.example", "198.51.100.2")]
    {
        let (status, body) = order(&app, "lists", &product, email, ip, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("order_refused")), "{email} {ip}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("cannot be placed")));
    }
    assert_eq!(app.count_keys(&app.tenant_id("lists").await, "reserved").await, before, "refusals reserve nothing");
    // The allow list beats the block list.
    let (status, _) = order(&app, "lists", &product, "vip@spam.example", "203.0.113.5", None).await;
    assert_eq!(status, 201);
    // The merchant sees each stopped attempt with the rule that fired; the buyer saw none of it.
    let page = b.get("/shops/lists/risk").await;
    assert!(page.body.contains("spam.example") && page.body.contains("203.0.113.0/24"));
    let events = &page.body[page.body.find("id=\"risk-events\"").expect("events table")..];
    for needle in ["Block list: domain", "x@mail.spam.example", "Block list: IP", "203.0.113.77", "Block list: email"] {
        assert!(events.contains(needle), "{needle}");
    }
}

#[tokio::test]
async fn past_the_velocity_limit_buyers_solve_a_one_time_challenge_or_are_refused() {
    let app = TestApp::spawn_with(proxied()).await;
    let (mut b, product) = stocked_shop(&app, "fast").await;
    b.post(
        "/shops/fast/risk/velocity",
        &[("ip_max", "3"), ("email_max", "100"), ("window_minutes", "10"), ("action", "challenge")],
    )
    .await
    .expect(303);
    for i in 0..3 {
        let (status, _) = order(&app, "fast", &product, &format!("b{i}@example.com"), "198.51.100.9", None).await;
        assert_eq!(status, 201);
    }
    // The fourth from that address must answer a challenge.
    let (status, body) = order(&app, "fast", &product, "b4@example.com", "198.51.100.9", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (428, Some("challenge_required")), "{body}");
    let challenge = body["error"]["challenge"].as_str().expect("challenge").to_string();
    assert_eq!(body["error"]["difficulty"], 16);
    // Another address is not affected.
    assert_eq!(order(&app, "fast", &product, "c@example.com", "198.51.100.10", None).await.0, 201);

    // A wrong answer, or a solved challenge Kapu did not issue (expiry pushed out, easier difficulty), gets a new challenge.
    let wrong = format!("{challenge}:1");
    assert_eq!(order(&app, "fast", &product, "b4@example.com", "198.51.100.9", Some(&wrong)).await.0, 428);
    let mut parts: Vec<String> = challenge.split('.').map(str::to_string).collect();
    parts[0] = (parts[0].parse::<i64>().expect("expiry") + 3600).to_string();
    parts[2] = "4".into();
    let forged = kapu_runtime::checkout::challenge::solve(&parts.join("."));
    assert_eq!(order(&app, "fast", &product, "b4@example.com", "198.51.100.9", Some(&forged)).await.0, 428);
    let answer = kapu_runtime::checkout::challenge::solve(&challenge);
    // The right answer from the right address passes, once.
    assert_eq!(order(&app, "fast", &product, "b4@example.com", "198.51.100.9", Some(&answer)).await.0, 201);
    assert_eq!(order(&app, "fast", &product, "b5@example.com", "198.51.100.9", Some(&answer)).await.0, 428);

    // With "refuse", the same buyer is turned away with the window named.
    b.post(
        "/shops/fast/risk/velocity",
        &[("ip_max", "3"), ("email_max", "100"), ("window_minutes", "10"), ("action", "block")],
    )
    .await
    .expect(303);
    let (status, body) = order(&app, "fast", &product, "b6@example.com", "198.51.100.9", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("too_many_orders")));
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("10 minutes")));
    let page = b.get("/shops/fast/risk").await;
    assert!(page.body.contains("Velocity: refused") && page.body.contains("Velocity: challenged"));
}
