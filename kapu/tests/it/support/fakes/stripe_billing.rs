//! A fake of the platform's own Stripe account (Stripe Billing): Checkout
//! Sessions in subscription mode, subscription retrieve / update / cancel,
//! and the webhook events Kapu acts on, signed the Stripe way
//! (`Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.payload")`) and posted
//! to the platform's webhook endpoint.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::serve;
use super::stripe::stripe_signature;

pub const SECRET_KEY: &str = "sk_test_platform_51Kapu";
pub const WEBHOOK_SECRET: &str = "whsec_platform_billing_test";

#[derive(Default)]
pub struct Inner {
    /// Form fields of each Checkout Session created.
    pub sessions: Mutex<Vec<HashMap<String, String>>>,
    /// Subscription id → its item id and current price.
    pub subscriptions: Mutex<HashMap<String, (String, String)>>,
    /// Subscriptions cancelled through the API.
    pub cancelled: Mutex<Vec<String>>,
    /// (subscription, new price) of each price change.
    pub price_changes: Mutex<Vec<(String, String)>>,
    pub calls: AtomicU32,
}

#[derive(Clone)]
pub struct FakeStripeBilling {
    pub base: String,
    pub inner: Arc<Inner>,
    webhook_url: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl FakeStripeBilling {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let router = Router::new()
            .route("/stripe/v1/checkout/sessions", post(create_session))
            .route("/stripe/v1/subscriptions/{id}", get(get_sub).post(update_sub).delete(cancel_sub))
            .with_state(inner.clone());
        let url = serve(router).await;
        Self {
            base: format!("{url}/stripe"),
            inner,
            webhook_url: Arc::new(Mutex::new(String::new())),
            http: super::notify_client(),
        }
    }

    pub fn set_webhook(&self, url: &str) {
        *self.webhook_url.lock().expect("url") = url.into();
    }

    /// A subscription Stripe knows about (as if created by a completed Checkout).
    pub fn add_subscription(&self, id: &str, price: &str) {
        self.inner.subscriptions.lock().expect("subs").insert(id.into(), (format!("si_{id}"), price.into()));
    }

    pub fn sessions(&self) -> Vec<HashMap<String, String>> {
        self.inner.sessions.lock().expect("sessions").clone()
    }

    pub fn cancelled(&self) -> Vec<String> {
        self.inner.cancelled.lock().expect("cancelled").clone()
    }

    pub fn price_changes(&self) -> Vec<(String, String)> {
        self.inner.price_changes.lock().expect("changes").clone()
    }

    fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}_{:06}", self.inner.calls.fetch_add(1, Ordering::SeqCst))
    }

    /// An event envelope; `created` orders events of one subscription.
    pub fn event(&self, type_: &str, object: Value, created: i64) -> String {
        json!({
            "id": self.next_id("evt"), "object": "event", "api_version": super::stripe::API_VERSION,
            "created": created, "data": {"object": object}, "livemode": false, "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null}, "type": type_,
        })
        .to_string()
    }

    pub fn subscription(&self, id: &str, status: &str, price: &str, tenant_id: &str, plan: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "id": id, "object": "subscription", "customer": "cus_Kapu0001", "status": status,
            "cancel_at_period_end": false, "created": now - 100, "currency": "cny", "livemode": false,
            "metadata": {"kapu_tenant": tenant_id, "kapu_plan": plan},
            "items": {"object": "list", "data": [{"id": format!("si_{id}"), "object": "subscription_item",
                "current_period_start": now - 100, "current_period_end": now + 30 * 86_400,
                "price": {"id": price, "object": "price", "currency": "cny", "unit_amount": 9_900}}]},
        })
    }

    pub fn invoice(&self, subscription_id: &str, attempt_count: i64) -> Value {
        // The 2025+ shape: the subscription is named under `parent`.
        json!({
            "id": self.next_id("in"), "object": "invoice", "customer": "cus_Kapu0001", "attempt_count": attempt_count,
            "amount_due": 9_900, "currency": "cny", "status": "open",
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": subscription_id, "metadata": {}}},
        })
    }

    pub fn checkout_completed(&self, tenant_id: &str, subscription_id: &str) -> Value {
        json!({
            "id": self.next_id("cs_test"), "object": "checkout.session", "mode": "subscription", "status": "complete",
            "client_reference_id": tenant_id, "customer": "cus_Kapu0001", "subscription": subscription_id,
            "payment_status": "paid", "metadata": {"kapu_tenant": tenant_id},
        })
    }

    /// Signs `payload` with `secret` at `t` and posts it to the platform.
    pub async fn post_signed(&self, payload: &str, secret: &str, t: i64) -> (u16, String) {
        let url = self.webhook_url.lock().expect("url").clone();
        let r = self
            .http
            .post(url)
            .header("stripe-signature", stripe_signature(payload, secret, t))
            .header("content-type", "application/json")
            .body(payload.to_string())
            .send()
            .await
            .expect("webhook");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// Posts `payload` signed as Stripe would, now.
    pub async fn send(&self, payload: &str) -> (u16, String) {
        self.post_signed(payload, WEBHOOK_SECRET, chrono::Utc::now().timestamp()).await
    }
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(format!("Bearer {SECRET_KEY}").as_str())
}

fn stripe_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"type": "invalid_request_error", "message": message}}))).into_response()
}

fn form_of(body: &Bytes) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default().into_iter().collect()
}

async fn create_session(State(s): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "Invalid API Key provided");
    }
    let form = form_of(&body);
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    if get("mode") != "subscription" || !get("line_items[0][price]").starts_with("price_") {
        return stripe_error(StatusCode::BAD_REQUEST, "mode=subscription and a recurring price are required");
    }
    if get("customer").is_empty() == get("customer_email").is_empty() {
        return stripe_error(StatusCode::BAD_REQUEST, "give exactly one of customer and customer_email");
    }
    let n = s.calls.fetch_add(1, Ordering::SeqCst);
    let id = format!("cs_test_sub{n:06}");
    s.sessions.lock().expect("sessions").push(form.clone());
    let now = chrono::Utc::now().timestamp();
    axum::Json(json!({
        "id": id, "object": "checkout.session", "amount_subtotal": 9_900, "amount_total": 9_900,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "client_reference_id": get("client_reference_id"), "created": now, "currency": "cny",
        "custom_fields": [], "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "customer": null, "customer_email": get("customer_email"), "expires_at": now + 86_400, "livemode": false, "locale": null,
        "metadata": {}, "mode": "subscription", "payment_intent": null,
        "payment_method_types": ["card"], "payment_status": "unpaid",
        "shipping_options": [], "status": "open", "success_url": get("success_url"),
        "url": format!("https://checkout.stripe.com/c/pay/{id}"),
    }))
    .into_response()
}

fn sub_json(id: &str, item: &str, price: &str, status: &str) -> Value {
    json!({"id": id, "object": "subscription", "status": status,
        "items": {"object": "list", "data": [{"id": item, "object": "subscription_item", "price": {"id": price}}]}})
}

async fn get_sub(State(s): State<Arc<Inner>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "Invalid API Key provided");
    }
    match s.subscriptions.lock().expect("subs").get(&id) {
        Some((item, price)) => axum::Json(sub_json(&id, item, price, "active")).into_response(),
        None => stripe_error(StatusCode::NOT_FOUND, "No such subscription"),
    }
}

async fn update_sub(State(s): State<Arc<Inner>>, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    if !authorized(&headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "Invalid API Key provided");
    }
    let form = form_of(&body);
    let mut subs = s.subscriptions.lock().expect("subs");
    let Some((item, price)) = subs.get_mut(&id) else {
        return stripe_error(StatusCode::NOT_FOUND, "No such subscription");
    };
    if form.get("items[0][id]") != Some(item) {
        return stripe_error(StatusCode::BAD_REQUEST, "items[0][id] must name the subscription's item");
    }
    let Some(new_price) = form.get("items[0][price]").filter(|p| p.starts_with("price_")) else {
        return stripe_error(StatusCode::BAD_REQUEST, "items[0][price] is required");
    };
    *price = new_price.clone();
    s.price_changes.lock().expect("changes").push((id.clone(), new_price.clone()));
    axum::Json(sub_json(&id, item, new_price, "active")).into_response()
}

async fn cancel_sub(State(s): State<Arc<Inner>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "Invalid API Key provided");
    }
    let Some((item, price)) = s.subscriptions.lock().expect("subs").remove(&id) else {
        return stripe_error(StatusCode::NOT_FOUND, "No such subscription");
    };
    s.cancelled.lock().expect("cancelled").push(id.clone());
    axum::Json(sub_json(&id, &item, &price, "canceled")).into_response()
}
