//! A fake Stripe API (`/stripe/v1/...`): Checkout Sessions (create, retrieve),
//! refunds, and webhook events signed the Stripe way (`Stripe-Signature:
//! t=…,v1=HMAC-SHA256(secret, "t.payload")`), shaped like Stripe's objects so
//! async-stripe's strict parsing runs for real.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Switches, serve};

pub const API_VERSION: &str = "2026-09-30.endive";

#[derive(Debug, Clone)]
pub struct FakeSession {
    pub id: String,
    pub payment_intent: String,
    pub client_reference_id: String,
    pub amount: i64,
    pub currency: String,
    pub metadata: HashMap<String, String>,
    pub paid: bool,
    pub refunded: bool,
}

pub struct Inner {
    pub secret_key: String,
    pub webhook_secret: String,
    pub faults: Switches,
    pub sessions: Mutex<HashMap<String, FakeSession>>,
    pub webhook_url: Mutex<String>,
    pub calls: AtomicU32,
    http: reqwest::Client,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub base: String,
    pub inner: Arc<Inner>,
}

pub fn stripe_signature(payload: &str, secret: &str, t: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.{payload}").as_bytes());
    let v1: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={v1}")
}

fn session_json(s: &FakeSession) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "id": s.id, "object": "checkout.session", "amount_subtotal": s.amount, "amount_total": s.amount,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "client_reference_id": s.client_reference_id, "created": now - 60, "currency": s.currency,
        "custom_fields": [], "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "customer": null, "customer_email": null, "expires_at": now + 86_400, "livemode": false, "locale": null,
        "metadata": s.metadata, "mode": "payment",
        "payment_intent": if s.paid { json!(s.payment_intent) } else { Value::Null },
        "payment_method_types": ["card"], "payment_status": if s.paid { "paid" } else { "unpaid" },
        "shipping_options": [], "status": if s.paid { "complete" } else { "open" },
        "success_url": "https://shop.example/return",
        "url": if s.paid { Value::Null } else { json!(format!("https://checkout.stripe.com/c/pay/{}", s.id)) },
    })
}

impl FakeStripe {
    pub async fn start(secret_key: &str, webhook_secret: &str) -> Self {
        let inner = Arc::new(Inner {
            secret_key: secret_key.into(),
            webhook_secret: webhook_secret.into(),
            faults: Switches::default(),
            sessions: Mutex::new(HashMap::new()),
            webhook_url: Mutex::new(String::new()),
            calls: AtomicU32::new(0),
            http: super::notify_client(),
        });
        let router = Router::new()
            .route("/stripe/v1/checkout/sessions", post(create_session))
            .route("/stripe/v1/checkout/sessions/{id}", get(get_session))
            .route("/stripe/v1/refunds", post(create_refund))
            .with_state(inner.clone());
        let url = serve(router).await;
        Self { base: format!("{url}/stripe"), inner }
    }

    pub fn credentials(&self) -> String {
        json!({"secret_key": self.inner.secret_key, "webhook_secret": self.inner.webhook_secret}).to_string()
    }

    pub fn set_webhook(&self, url: &str) {
        *self.inner.webhook_url.lock().expect("url") = url.into();
    }

    pub fn faults(&self) -> &Switches {
        &self.inner.faults
    }

    pub fn session(&self, id: &str) -> Option<FakeSession> {
        self.inner.sessions.lock().expect("sessions").get(id).cloned()
    }

    /// An event about `session` (as JSON text), of `type_`.
    pub fn event(&self, session: &Value, type_: &str, livemode: bool) -> String {
        json!({
            "id": format!("evt_{}", self.inner.calls.fetch_add(1, Ordering::SeqCst)), "object": "event",
            "api_version": API_VERSION, "created": chrono::Utc::now().timestamp(),
            "data": {"object": session}, "livemode": livemode, "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null}, "type": type_,
        })
        .to_string()
    }

    /// The session's JSON as it is now (after `paid` is set, as Stripe sends it).
    pub fn session_json(&self, id: &str) -> Value {
        session_json(&self.session(id).expect("session"))
    }

    pub fn mark_paid(&self, id: &str) {
        self.inner.sessions.lock().expect("sessions").get_mut(id).expect("session").paid = true;
    }

    /// The buyer pays: the session completes and, unless dropped, the event is posted.
    pub async fn pay(&self, id: &str) -> Option<(u16, String)> {
        self.mark_paid(id);
        let faults = self.inner.faults.get();
        if faults.drop_notifications {
            return None;
        }
        let payload = self.event(&self.session_json(id), "checkout.session.completed", false);
        let secret = if faults.bad_signature { "whsec_wrong".to_string() } else { self.inner.webhook_secret.clone() };
        Some(self.send(&payload, &stripe_signature(&payload, &secret, chrono::Utc::now().timestamp())).await)
    }

    pub async fn send(&self, payload: &str, signature: &str) -> (u16, String) {
        let url = self.inner.webhook_url.lock().expect("url").clone();
        let r = self
            .inner
            .http
            .post(url)
            .header("stripe-signature", signature)
            .header("content-type", "application/json")
            .body(payload.to_string())
            .send()
            .await
            .expect("webhook");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }
}

fn authorized(s: &Inner, headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(format!("Bearer {}", s.secret_key).as_str())
}

fn stripe_error(status: StatusCode, type_: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"type": type_, "message": message}}))).into_response()
}

async fn create_session(State(s): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let n = s.calls.fetch_add(1, Ordering::SeqCst);
    let faults = s.faults.get();
    if let Some(code) = faults.create_status {
        return stripe_error(
            StatusCode::from_u16(code).expect("status"),
            "api_error",
            "Something went wrong on Stripe's end.",
        );
    }
    if !authorized(&s, &headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "invalid_request_error", "Invalid API Key provided");
    }
    let form: HashMap<String, String> =
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).unwrap_or_default().into_iter().collect();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    if get("mode") != "payment" || get("line_items[0][quantity]") != "1" {
        return stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", "mode and line_items are required");
    }
    let amount: i64 = get("line_items[0][price_data][unit_amount]").parse().unwrap_or(0);
    let metadata: HashMap<String, String> = form
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[").and_then(|k| k.strip_suffix(']')).map(|k| (k.to_string(), v.clone()))
        })
        .collect();
    let session = FakeSession {
        id: format!("cs_test_a1{n:06}{}", &get("client_reference_id")[..8.min(get("client_reference_id").len())]),
        payment_intent: format!("pi_3Fake{n:08}"),
        client_reference_id: get("client_reference_id"),
        amount,
        currency: get("line_items[0][price_data][currency]"),
        metadata,
        paid: false,
        refunded: false,
    };
    let body = session_json(&session);
    s.sessions.lock().expect("sessions").insert(session.id.clone(), session);
    axum::Json(body).into_response()
}

async fn get_session(State(s): State<Arc<Inner>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&s, &headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "invalid_request_error", "Invalid API Key provided");
    }
    match s.sessions.lock().expect("sessions").get(&id) {
        Some(session) => axum::Json(session_json(session)).into_response(),
        None => stripe_error(StatusCode::NOT_FOUND, "invalid_request_error", "No such checkout.session"),
    }
}

async fn create_refund(State(s): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&s, &headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "invalid_request_error", "Invalid API Key provided");
    }
    let form: HashMap<String, String> =
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).unwrap_or_default().into_iter().collect();
    let pi = form.get("payment_intent").cloned().unwrap_or_default();
    let mut sessions = s.sessions.lock().expect("sessions");
    match sessions.values_mut().find(|x| x.payment_intent == pi && x.paid) {
        Some(x) if !x.refunded => {
            x.refunded = true;
            axum::Json(json!({"id": "re_3Fake0001", "object": "refund", "amount": x.amount, "created": chrono::Utc::now().timestamp(),
                "currency": x.currency, "payment_intent": pi, "status": "succeeded", "metadata": {}}))
            .into_response()
        }
        Some(_) => stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", "Charge has already been refunded."),
        None => stripe_error(StatusCode::NOT_FOUND, "invalid_request_error", "No such payment_intent"),
    }
}
