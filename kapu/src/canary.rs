//! The canary purchase: every `KAPU_CANARY_INTERVAL_SECS` (60), on one
//! worker at a time, a buyer's whole journey on the internal canary shop
//! (`kapu_platform::canary_shop`) through the real HTTP path:
//! product page → order (storefront API) → sandbox payment → the order
//! delivered with its key → the delivery email accepted by the mail server
//! (its job done). Each step's outcome and time is a status-page check
//! (`kapu_core::store::status`): `storefront`, `checkout`, `email`; the
//! dashboard's sign-in page and the merchant API's answer are checked too.
//!
//! Also every minute: each channel family's provider calls of this process
//! in the last minute (`channel:{kind}`, a check when there were calls;
//! failing when more than a fifth failed).

use std::time::{Duration, Instant};

use kapu_core::Db;
use kapu_core::entities::jobs;
use kapu_core::store::status::record_check;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// Where the canary sends its requests, and as which hosts.
#[derive(Clone)]
pub struct Target {
    /// `http://127.0.0.1:8080` or `KAPU_CANARY_URL`.
    pub base: String,
    pub shop_host: String,
    pub platform_host: String,
    pub email: String,
}

/// A failed step: the component it counts against and what went wrong.
struct Failed {
    component: &'static str,
    step: &'static str,
    detail: String,
}

fn fail(component: &'static str, step: &'static str, detail: impl std::fmt::Display) -> Failed {
    Failed { component, step, detail: detail.to_string() }
}

/// Runs the canary and the channel figures every `every`, while this
/// process holds the `canary` sweep lease.
pub fn spawn(
    db: Db,
    master: kapu_core::crypto::MasterKey,
    channels: std::sync::Arc<kapu_billing::health::ChannelHealth>,
    target: Option<Target>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        // A few seconds after start (the listener is bound, the server starting), then every `every`.
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(5), every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_family_figures = Instant::now();
        loop {
            tick.tick().await;
            if last_family_figures.elapsed() >= Duration::from_secs(60) || every >= Duration::from_secs(60) {
                last_family_figures = Instant::now();
                record_channel_families(&db, &channels).await;
            }
            let Some(target) = &target else { continue };
            if !kapu_core::store::sweep_leases::may_sweep(db.writer(), "canary", every * 2).await {
                continue;
            }
            run_once(&db, &master, &client, target).await;
        }
    })
}

/// Each channel family's calls of this process since the last time.
async fn record_channel_families(db: &Db, channels: &kapu_billing::health::ChannelHealth) {
    for (kind, ok, failed) in channels.take_family_counts() {
        if kapu_core::status_board::channel_component(&kind).is_none() {
            continue;
        }
        let total = ok + failed;
        let good = failed * 5 <= total;
        let detail = format!("{total} provider calls in the last minute, {failed} failed");
        if let Err(e) = record_check(db.writer(), &format!("channel:{kind}"), good, 0, &detail).await {
            tracing::debug!(error = %e, "could not record a channel family's figures");
        }
    }
}

/// One canary purchase and the dashboard and API checks; records every check.
pub async fn run_once(db: &Db, master: &kapu_core::crypto::MasterKey, client: &reqwest::Client, t: &Target) {
    let started = Instant::now();
    let result = purchase(db, master, client, t).await;
    let took = started.elapsed();
    let ms = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
    let checks: Vec<(&str, bool, i32, String)> = match &result {
        Ok(steps) => vec![
            ("storefront", true, ms(steps.page), "product page served".into()),
            ("checkout", true, ms(steps.delivered), "ordered, paid and delivered".into()),
            ("email", true, ms(steps.email), "delivery email accepted by the mail server".into()),
        ],
        Err(f) => {
            // Steps before the failed one passed; the failed one's component fails.
            let order = ["storefront", "checkout", "email"];
            let at = order.iter().position(|c| *c == f.component).unwrap_or(0);
            order
                .iter()
                .enumerate()
                .take(at + 1)
                .map(|(i, c)| {
                    let ok = i < at;
                    (*c, ok, ms(took), if ok { "passed".to_string() } else { format!("{}: {}", f.step, f.detail) })
                })
                .collect()
        }
    };
    kapu_core::metrics::canary(result.as_ref().map(|_| took).map_err(|f| f.step));
    if let Err(f) = &result {
        tracing::warn!(step = f.step, detail = %f.detail, "canary purchase failed");
    }
    for (component, ok, took_ms, detail) in checks {
        if let Err(e) = record_check(db.writer(), component, ok, took_ms, &detail).await {
            tracing::warn!(error = %e, "could not record a canary check");
        }
    }
    let platform = |path: &str| {
        client.get(format!("{}{path}", t.base)).header(reqwest::header::HOST, t.platform_host.as_str()).send()
    };
    for (component, path, want) in [("dashboard", "/login", 200u16), ("merchant_api", "/api/merchant/v1/products", 401)]
    {
        let at = Instant::now();
        let (ok, detail) = match platform(path).await {
            Ok(r) if r.status().as_u16() == want => (true, format!("{path} answered {want}")),
            Ok(r) => (false, format!("{path} answered {} (expected {want})", r.status())),
            Err(e) => (false, format!("{path}: {e}")),
        };
        if let Err(e) = record_check(db.writer(), component, ok, ms(at.elapsed()), &detail).await {
            tracing::warn!(error = %e, "could not record a canary check");
        }
    }
}

struct Steps {
    page: Duration,
    delivered: Duration,
    email: Duration,
}

async fn purchase(
    db: &Db,
    master: &kapu_core::crypto::MasterKey,
    client: &reqwest::Client,
    t: &Target,
) -> Result<Steps, Failed> {
    use kapu_platform::canary_shop::{CANARY_PRODUCT, CANARY_SLUG, ensure_canary_shop};
    let started = Instant::now();
    let tenant_id = ensure_canary_shop(db, master).await.map_err(|e| fail("checkout", "stock", e))?;
    let host = format!("{CANARY_SLUG}.{}", t.shop_host);
    let shop = |method: reqwest::Method, path: &str| {
        client.request(method, format!("{}{path}", t.base)).header(reqwest::header::HOST, host.as_str())
    };
    let page = shop(reqwest::Method::GET, &format!("/products/{CANARY_PRODUCT}"))
        .send()
        .await
        .map_err(|e| fail("storefront", "product_page", e))?;
    if page.status() != 200 {
        return Err(fail("storefront", "product_page", format!("answered {}", page.status())));
    }
    let page_time = started.elapsed();
    let order: serde_json::Value = shop(reqwest::Method::POST, "/api/v1/orders")
        .json(&serde_json::json!({ "product_id": CANARY_PRODUCT, "quantity": 1, "email": t.email }))
        .send()
        .await
        .map_err(|e| fail("checkout", "order", e))?
        .json()
        .await
        .map_err(|e| fail("checkout", "order", e))?;
    let (Some(order_no), Some(token), Some(pay_url)) =
        (order["order_no"].as_str(), order["token"].as_str(), order["pay_url"].as_str())
    else {
        return Err(fail("checkout", "order", format!("no order in the answer: {order}")));
    };
    // The pay URL names the shop's public origin; the path is what matters here.
    let pay_path = pay_url.find("/pay/").map(|at| &pay_url[at..]).unwrap_or(pay_url);
    let paid = shop(reqwest::Method::POST, pay_path)
        .form(&[("outcome", "paid")])
        .send()
        .await
        .map_err(|e| fail("checkout", "pay", e))?;
    if paid.status() != 303 {
        return Err(fail("checkout", "pay", format!("the sandbox answered {}", paid.status())));
    }
    let view: serde_json::Value = shop(reqwest::Method::GET, &format!("/api/v1/orders/{order_no}?token={token}"))
        .send()
        .await
        .map_err(|e| fail("checkout", "delivered", e))?
        .json()
        .await
        .map_err(|e| fail("checkout", "delivered", e))?;
    let keys = view["keys"].as_array().map_or(0, Vec::len);
    if view["status"] != "delivered" || keys != 1 {
        return Err(fail("checkout", "delivered", format!("order {order_no} is {} with {keys} keys", view["status"])));
    }
    let delivered = started.elapsed();
    // The delivery email: its job done within a minute.
    let order_id = kapu_core::store::orders::find_order_by_no_for_tenant(db.reader(), &tenant_id, order_no)
        .await
        .ok()
        .flatten()
        .map(|o| o.id)
        .unwrap_or_default();
    let payload = serde_json::json!({ "order_id": order_id }).to_string();
    let since = chrono::Utc::now() - chrono::Duration::minutes(5);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = jobs::Entity::find()
            .filter(jobs::Column::TenantId.eq(tenant_id.as_str()))
            .filter(jobs::Column::CreatedAt.gte(since))
            .filter(jobs::Column::Kind.eq(kapu_core::jobs::kinds::SEND_DELIVERY_EMAIL))
            .filter(jobs::Column::Payload.eq(payload.as_str()))
            .one(db.reader())
            .await
            .map_err(|e| fail("email", "email", e))?;
        match job {
            Some(j) if j.status == "done" => break,
            Some(j) if j.status == "dead" => {
                return Err(fail("email", "email", j.last_error.unwrap_or_else(|| "the email job died".into())));
            }
            _ if Instant::now() > deadline => {
                return Err(fail("email", "email", "the delivery email was not sent within a minute"));
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    Ok(Steps { page: page_time, delivered, email: started.elapsed() })
}
