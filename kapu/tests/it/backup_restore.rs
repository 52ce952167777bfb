//! `kapu backup` / `kapu restore` round trip, on the engine of the run: a
//! shop with 10,000 keys, orders in every state, channel credentials, an API
//! key, a webhook and audit entries, backed up by the real binary while
//! orders are being placed, restored into a fresh database, and served
//! again: the restored platform sells the remaining keys, every sealed
//! secret opens with the master key, and every table holds what the
//! manifest says.

use crate::support;

use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use kapu_core::entities::{card_keys, channel_configs, orders, webhook_endpoints};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use support::TestApp;
use support::database::{TEST_MASTER_KEY, fresh_database, test_master_key};
use support::merchant::{make_api_key, merchant_with_shop};
use support::process::KapuProcess;
use support::processes::{client, order_on};

/// `kapu {args}` on the database at `url`, as an operator runs it.
fn kapu(args: &[&str], data_dir: &std::path::Path, url: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kapu"));
    for (k, _) in std::env::vars() {
        if k.starts_with("KAPU_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args)
        .env("KAPU_DATA_DIR", data_dir)
        .env("KAPU_DATABASE_URL", url)
        .env("KAPU_MASTER_KEY", TEST_MASTER_KEY)
        .output()
        .expect("run kapu")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_selling_restores_into_a_platform_that_sells_and_decrypts_everything() {
    let app = TestApp::spawn().await;
    let mut owner = merchant_with_shop(&app, "backup-owner@example.com", "backed").await;
    let tenant = app.tenant_id("backed").await;
    let product = app.add_product(&tenant, "Backed-up key", 500, 10_000).await;
    app.configure_channel(&tenant, "epay", 5, false, &json!({"pid": "1001", "key": "backed-secret"}).to_string()).await;
    owner
        .post("/shops/backed/webhooks", &[("url", "http://127.0.0.1:9/hook"), ("event", "order.paid")])
        .await
        .expect(200);
    make_api_key(&mut owner, "backed", "script", "write").await;
    // Orders in every state: delivered, refunded, expired and pending.
    let buy = |email: &'static str| {
        let app = &app;
        let product = product.clone();
        async move {
            let (status, order) =
                app.order("backed", json!({"product_id": product, "quantity": 1, "email": email})).await;
            assert_eq!(status, 201, "{order}");
            order
        }
    };
    for email in ["paid@example.com", "refunded@example.com"] {
        let order = buy(email).await;
        let paid = app.client.post(order["pay_url"].as_str().expect("pay")).form(&[("outcome", "paid")]).send().await;
        assert_eq!(paid.expect("pay").status().as_u16(), 303);
        if email.starts_with("refunded") {
            let no = support::order_no(&order);
            owner.post(&format!("/shops/backed/orders/{no}/refunded"), &[]).await;
        }
    }
    let expired = buy("expired@example.com").await;
    let row = app.order_row(&tenant, support::order_no(&expired)).await;
    kapu_runtime::jobs::release_unpayable_order(&app.state, &tenant, &row.id).await.expect("expire");
    buy("pending@example.com").await;

    // The backup, by the real binary, while buyers keep ordering.
    let work = tempfile::tempdir().expect("dir");
    let file = work.path().join("kapu.backup");
    let (stop, placed) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let buyers = {
        let (stop, placed, port, product) = (stop.clone(), placed.clone(), app.addr.port(), product.clone());
        tokio::spawn(async move {
            let c = client();
            while !stop.load(Ordering::Relaxed) {
                let (status, _) = order_on(&c, port, "backed", &product, "during@example.com", None, json!({})).await;
                if status == 201 {
                    placed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let file_arg = file.display().to_string();
    let out = tokio::task::spawn_blocking({
        let (dir, url, file_arg) = (work.path().to_path_buf(), app.database_url.clone(), file_arg.clone());
        move || kapu(&["backup", "--out", &file_arg], &dir, &url)
    })
    .await
    .expect("backup");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    buyers.await.expect("buyers");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("master key is NOT in the backup"), "{}", text(&out));
    assert!(placed.load(Ordering::Relaxed) > 0, "orders were placed while the backup ran");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(kapu::backup::manifest_path(&file)).expect("manifest")).expect("json");
    assert!(manifest["tables"]["card_keys"].as_u64().expect("keys") >= 10_000, "{manifest}");
    assert!(manifest["master_key"].as_str().expect("note").starts_with("not included"));

    // Restored into a fresh database: not over a non-empty one.
    let target_dir = tempfile::tempdir().expect("dir");
    let target = fresh_database(target_dir.path()).await;
    let out = kapu(&["restore", "--from", &file_arg], target_dir.path(), &target.url);
    assert!(out.status.success(), "{}", text(&out));
    let again = kapu(&["restore", "--from", &file_arg], target_dir.path(), &target.url);
    assert!(!again.status.success() && text(&again).contains("--force"), "{}", text(&again));
    // A damaged backup is refused before anything is touched.
    let damaged = work.path().join("damaged.backup");
    let mut bytes = std::fs::read(&file).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&damaged, bytes).expect("write");
    std::fs::copy(kapu::backup::manifest_path(&file), kapu::backup::manifest_path(&damaged)).expect("manifest");
    let refused =
        kapu(&["restore", "--from", &damaged.display().to_string(), "--force"], target_dir.path(), &target.url);
    assert!(!refused.status.success() && text(&refused).contains("does not match its manifest"), "{}", text(&refused));

    // Every sealed secret opens with the master key.
    let restored = kapu_core::Db::connect(&target.url, 2).await.expect("restored db");
    let master = test_master_key();
    let keys = card_keys::Entity::find().all(restored.reader()).await.expect("keys");
    assert_eq!(keys.len() as u64, manifest["tables"]["card_keys"].as_u64().expect("n"));
    for k in &keys {
        master.tenant(&k.tenant_id).open(&k.ciphertext, &k.nonce).expect("a card key opens");
    }
    let channels = channel_configs::Entity::find().all(restored.reader()).await.expect("channels");
    let sealed: Vec<_> = channels.iter().filter_map(|c| Some((c, c.credentials_ciphertext.as_ref()?))).collect();
    assert!(!sealed.is_empty());
    for (c, ct) in sealed {
        let plain = master.tenant(&c.tenant_id).open(ct, c.credentials_nonce.as_ref().expect("nonce")).expect("opens");
        if c.tenant_id == tenant && c.channel == "epay" {
            assert!(String::from_utf8_lossy(&plain).contains("backed-secret"));
        }
    }
    for w in webhook_endpoints::Entity::find().all(restored.reader()).await.expect("hooks") {
        master.tenant(&w.tenant_id).open(&w.secret_ciphertext, &w.secret_nonce).expect("a webhook secret opens");
    }
    let states: std::collections::BTreeSet<String> = orders::Entity::find()
        .filter(orders::Column::TenantId.eq(&tenant))
        .all(restored.reader())
        .await
        .expect("orders")
        .into_iter()
        .map(|o| o.status)
        .collect();
    for state in ["delivered", "refunded", "expired", "pending"] {
        assert!(states.contains(state), "a {state} order was restored: {states:?}");
    }
    let available = card_keys::Entity::find()
        .filter(card_keys::Column::TenantId.eq(&tenant))
        .filter(card_keys::Column::Status.eq("available"))
        .count(restored.reader())
        .await
        .expect("count");
    restored.close().await;

    // The restored platform sells the remaining keys.
    let server = KapuProcess::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &[
            ("KAPU_DATA_DIR", target_dir.path().display().to_string()),
            ("KAPU_DATABASE_URL", target.url.clone()),
            ("KAPU_MASTER_KEY", TEST_MASTER_KEY.to_string()),
            // The orders placed during the backup are still unpaid, from this address.
            ("KAPU_MAX_UNPAID_ORDERS", "100000".into()),
        ],
    );
    let c = client();
    let (status, order) = order_on(&c, server.port, "backed", &product, "after@example.com", None, json!({})).await;
    assert_eq!(status, 201, "{order}");
    let pay = c.post(order["pay_url"].as_str().expect("pay")).form(&[("outcome", "paid")]).send().await.expect("pay");
    assert_eq!(pay.status().as_u16(), 303);
    let view = support::processes::shop_url(
        server.port,
        "backed",
        &format!("/api/v1/orders/{}?token={}", support::order_no(&order), order["token"].as_str().expect("token")),
    );
    let v: Value = c.get(view).send().await.expect("view").json().await.expect("json");
    assert_eq!(v["status"], "delivered", "{v}");
    assert!(available > 9_000, "{available} keys left to sell after the restore");
    let (exit, _) = server.signal_and_wait("TERM");
    assert!(exit.success());
    drop(target);
    app.stop().await;
}
