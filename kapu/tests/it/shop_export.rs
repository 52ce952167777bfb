//! A merchant leaves with their data: the owner downloads one zip with the
//! shop's products, orders, buyers, coupons and unsold keys (decrypted only
//! there), and the download is audited; staff and other shops cannot.

use crate::support;

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::json;
use support::TestApp;
use support::merchant::{Browser, merchant_with_shop, verified_merchant};

/// Every file of a zip, as text.
fn unzip(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).expect("entry");
            let mut text = String::new();
            f.read_to_string(&mut text).expect("utf-8");
            (f.name().expect("name").to_string(), text)
        })
        .collect()
}

async fn export(b: &mut Browser, slug: &str) -> (u16, Vec<u8>) {
    let token = b.csrf().await;
    let r = b
        .client
        .post(format!("{}/shops/{slug}/export", b.base))
        .header("origin", &b.base)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .expect("export");
    let status = r.status().as_u16();
    (status, r.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn the_owner_downloads_the_whole_shop_and_nobody_else_can() {
    let app = TestApp::spawn().await;
    let mut owner = merchant_with_shop(&app, "leaving@example.com", "leaving").await;
    let tenant = app.tenant_id("leaving").await;
    let product = app.add_product(&tenant, "Export, \"quoted\" =1+1", 990, 3).await;
    owner.post("/shops/leaving/coupons", &[("code", "BYE10"), ("kind", "percent"), ("value", "10")]).await;
    let (_, sold) =
        app.order("leaving", json!({"product_id": product, "quantity": 1, "email": "first@example.com"})).await;
    let paid = app.client.post(sold["pay_url"].as_str().expect("pay")).form(&[("outcome", "paid")]).send().await;
    assert_eq!(paid.expect("pay").status().as_u16(), 303);
    let (_, view) = app.order_view("leaving", support::order_no(&sold), sold["token"].as_str().expect("t")).await;
    let sold_key = view["keys"][0].as_str().expect("sold key").to_string();
    let (_, pending) =
        app.order("leaving", json!({"product_id": product, "quantity": 1, "email": "second@example.com"})).await;

    let (status, bytes) = export(&mut owner, "leaving").await;
    assert_eq!(status, 200);
    let files = unzip(&bytes);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "README.txt",
            "coupons.csv",
            "customers.csv",
            "manifest.json",
            "orders.csv",
            "products.csv",
            "unsold_keys.csv"
        ]
    );
    // The one key still for sale, decrypted; the sold and the reserved ones are not in it.
    let keys: Vec<&str> = files["unsold_keys.csv"].lines().skip(1).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with(&format!("{product},")) && keys[0].contains("KEY-"), "{keys:?}");
    assert!(!files["unsold_keys.csv"].contains(&sold_key));
    // Spreadsheet formulas are defused, quotes escaped.
    assert!(files["products.csv"].contains("\"Export, \"\"quoted\"\" =1+1\""), "{}", files["products.csv"]);
    for no in [support::order_no(&sold), support::order_no(&pending)] {
        assert!(files["orders.csv"].contains(no), "{no}");
    }
    assert!(
        files["customers.csv"].contains("first@example.com,1,")
            && files["customers.csv"].contains("second@example.com,1,")
    );
    assert!(files["coupons.csv"].contains("BYE10,percent,10,"));
    let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).expect("json");
    assert_eq!(manifest["rows"]["unsold_keys.csv"], 1);
    assert_eq!(manifest["rows"]["orders.csv"], 2);
    let audit = app.audit_of(Some(&tenant)).await;
    assert!(audit.iter().any(|a| a.action == "shop.export" && a.detail.contains("1 unsold keys")), "audited");

    // Staff may not; another shop's owner finds no such shop.
    verified_merchant(&app, "helper@example.com").await;
    owner.post("/shops/leaving/team", &[("email", "helper@example.com")]).await.expect(303);
    let mut staff = Browser::new(&app);
    staff.post("/login", &[("email", "helper@example.com"), ("password", "correct horse battery")]).await.expect(303);
    assert_eq!(export(&mut staff, "leaving").await.0, 403);
    let mut other = merchant_with_shop(&app, "other@example.com", "other").await;
    assert_eq!(export(&mut other, "leaving").await.0, 404);
    // A form without its CSRF token is refused.
    let r = owner.post_raw("/shops/leaving/export", &[], Some(&owner.base.clone())).await;
    assert_eq!(r.status, 403);
    assert_eq!(app.audit_of(Some(&tenant)).await.iter().filter(|a| a.action == "shop.export").count(), 1);
    app.stop().await;
}
