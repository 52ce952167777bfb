//! Plan limits bite where the merchant adds things, with a message naming
//! the plan, the counts and the way up; buyers never notice them.

use crate::support;

use kapu_core::entities::plans::Column;
use serde_json::json;
use support::merchant::{create_product, merchant_with_shop, verified_merchant};
use support::{Options, TestApp};

#[tokio::test]
async fn products_stop_at_the_plan_limit_with_a_clear_message() {
    let app = TestApp::spawn().await;
    app.set_plan_limit("free", Column::MaxProducts, Some(2)).await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "limits").await;
    create_product(&mut b, "limits", "One", "1.00").await;
    create_product(&mut b, "limits", "Two", "1.00").await;
    let p = b
        .post(
            "/shops/limits/products/new",
            &[
                ("name", "Three"),
                ("price", "1.00"),
                ("min_qty", "1"),
                ("max_qty", "10"),
                ("sort_order", "0"),
                ("low_stock_threshold", "5"),
                ("visible", "1"),
            ],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains("Your plan allows 2 products; you have 2 and are adding 1"), "{}", p.body);
    assert!(p.body.contains("Upgrade on the Plan page"));
    let tenant = app.tenant_id("limits").await;
    assert_eq!(kapu_core::store::plan_limits::count_products(app.db.reader(), &tenant).await.expect("count"), 2);
    // On a bigger plan the same form works.
    app.set_plan("limits", "pro").await;
    create_product(&mut b, "limits", "Three", "1.00").await;
    app.stop().await;
}

#[tokio::test]
async fn key_imports_past_the_cap_are_refused_with_counts_and_the_storefront_keeps_selling() {
    let app = TestApp::spawn().await;
    app.set_plan_limit("free", Column::MaxKeysInStock, Some(5)).await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "keycap").await;
    let product = create_product(&mut b, "keycap", "Card", "2.00").await;
    let path = format!("/shops/keycap/products/{product}/keys");
    let p = b.import_keys(&path, "K-1\nK-2\nK-3\nK-4", None, "newline").await;
    assert!(p.status == 303 || p.status == 200, "{}", p.body);
    assert!(app.eventually(10, || async { app.stock("keycap", &product).await == 4 }).await, "4 keys imported");
    // 4 + 2 > 5: refused as a whole, with the counts.
    let p = b.import_keys(&path, "K-5\nK-6", None, "newline").await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains("allows 5 keys in stock; you have 4 and are adding 2"), "{}", p.body);
    assert_eq!(app.stock("keycap", &product).await, 4);
    // Exactly at the limit is fine.
    let p = b.import_keys(&path, "K-5", None, "newline").await;
    assert!(p.status == 303 || p.status == 200, "{}", p.body);
    assert!(app.eventually(10, || async { app.stock("keycap", &product).await == 5 }).await);

    // Lowering the limit below the stock never stops buyers.
    app.set_plan_limit("free", Column::MaxKeysInStock, Some(1)).await;
    app.set_plan_limit("free", Column::MaxOrdersPerMonth, Some(0)).await;
    let (status, order) =
        app.order("keycap", json!({"product_id": product, "quantity": 1, "email": "b@example.com"})).await;
    assert_eq!(status, 201, "{order}");
    // The merchant sees where they stand.
    let plan = b.get("/shops/keycap/plan").await;
    plan.expect(200);
    assert!(plan.body.contains("class=\"over\""), "over-limit rows are marked");
    app.stop().await;
}

#[tokio::test]
async fn team_members_stop_at_the_plan_limit() {
    let app = TestApp::spawn().await;
    app.set_plan_limit("free", Column::MaxTeamMembers, Some(2)).await;
    let mut owner = merchant_with_shop(&app, "owner@example.com", "team").await;
    verified_merchant(&app, "first@example.com").await;
    verified_merchant(&app, "second@example.com").await;
    owner.post("/shops/team/team", &[("email", "first@example.com")]).await.expect(303);
    let p = owner.post("/shops/team/team", &[("email", "second@example.com")]).await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains("allows 2 team members; you have 2"), "{}", p.body);
    let tenant = app.tenant_id("team").await;
    assert_eq!(kapu_core::store::plan_limits::count_team_members(app.db.reader(), &tenant).await.expect("n"), 2);
    app.stop().await;
}

#[tokio::test]
async fn the_plan_caps_a_shops_storefront_requests_per_second_and_operators_see_it() {
    let app = TestApp::spawn_with(Options { plan_rps_caps: true, ..Default::default() }).await;
    let _m = merchant_with_shop(&app, "owner@example.com", "busy").await;
    app.set_plan_limit("free", Column::StorefrontRps, Some(3)).await;
    // The demo shop is on the free plan too; put it on pro (500/s) to show shops are separate.
    app.set_plan("demo", "pro").await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(app.get_json(&app.shop_url("busy", "/api/v1/products")).await.0);
    }
    assert!(statuses.iter().filter(|s| **s == 200).count() >= 3, "{statuses:?}");
    assert!(statuses.contains(&429), "a burst over 3/s is refused: {statuses:?}");
    let (status, body) = loop {
        let r = app.get_json(&app.shop_url("busy", "/api/v1/products")).await;
        if r.0 == 429 {
            break r;
        }
    };
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")), "{body}");
    for _ in 0..8 {
        assert_eq!(app.get_json(&app.url("/api/v1/products")).await.0, 200, "another shop is not limited");
    }
    // Raising the plan's cap applies at once.
    app.set_plan_limit("free", Column::StorefrontRps, None).await;
    for _ in 0..8 {
        assert_eq!(app.get_json(&app.shop_url("busy", "/api/v1/products")).await.0, 200);
    }
    let (mut ops, _) = support::operator::signed_in_operator(&app, "ops@kapu.example").await;
    let tenant = app.tenant_id("busy").await;
    let detail = ops.get(&format!("/ops/tenants/{tenant}")).await;
    let limited: u64 = detail
        .body
        .split("<span id=\"rate-limited\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .and_then(|n| n.parse().ok())
        .expect("rate-limited figure");
    assert!(limited >= 2, "rate-limited count {limited}");
    let _ = ops.csrf().await;
    app.stop().await;
}
