//! A fake epusdt gateway: `POST /api/v1/order/create-transaction`,
//! `GET /pay/check-status/{trade_id}`, and JSON notifications whose
//! `signature` is MD5(sorted params + token).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{Switches, gateway_text, md5_lower_hex, serve};

#[derive(Debug, Clone)]
pub struct FakeTrade {
    pub trade_id: String,
    pub order_id: String,
    /// The amount exactly as the merchant sent it (JSON number text).
    pub amount: String,
    pub notify_url: String,
    pub paid: bool,
}

pub struct Inner {
    pub token: String,
    pub faults: Switches,
    pub trades: Mutex<HashMap<String, FakeTrade>>,
    pub create_calls: AtomicU32,
    http: reqwest::Client,
}

#[derive(Clone)]
pub struct FakeEpusdt {
    pub url: String,
    pub inner: Arc<Inner>,
}

fn sign(fields: &BTreeMap<String, String>, token: &str) -> String {
    md5_lower_hex(&format!("{}{token}", gateway_text(fields, &["signature"])))
}

/// A JSON value as the text its signature covers.
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl FakeEpusdt {
    pub async fn start(token: &str) -> Self {
        let inner = Arc::new(Inner {
            token: token.into(),
            faults: Switches::default(),
            trades: Mutex::new(HashMap::new()),
            create_calls: AtomicU32::new(0),
            http: super::notify_client(),
        });
        let router = Router::new()
            .route("/api/v1/order/create-transaction", post(create))
            .route("/pay/check-status/{trade_id}", get(check_status))
            .with_state(inner.clone());
        let url = serve(router).await;
        Self { url, inner }
    }

    pub fn credentials(&self) -> String {
        json!({"gateway": self.url, "token": self.inner.token}).to_string()
    }

    pub fn faults(&self) -> &Switches {
        &self.inner.faults
    }

    pub fn trade_for(&self, order_id: &str) -> Option<FakeTrade> {
        self.inner.trades.lock().expect("trades").values().find(|t| t.order_id == order_id).cloned()
    }

    /// The JSON notification for a trade, with `status`, signed with `token`.
    pub fn notification(&self, order_id: &str, status: u8, token: &str) -> Value {
        let t = self.trade_for(order_id).expect("known trade");
        self.signed(
            json!({
                "trade_id": t.trade_id, "order_id": t.order_id,
                "amount": serde_json::from_str::<Value>(&t.amount).expect("number"),
                "actual_amount": 1.3712, "token": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
                "block_transaction_id": format!("{:064x}", t.trade_id.len() * 7919), "status": status,
            }),
            token,
        )
    }

    /// Adds the `signature` of `body`'s fields under `token`.
    pub fn signed(&self, mut body: Value, token: &str) -> Value {
        let fields: BTreeMap<String, String> = body
            .as_object()
            .expect("object")
            .iter()
            .filter(|(k, _)| *k != "signature")
            .map(|(k, v)| (k.clone(), as_text(v)))
            .collect();
        body["signature"] = json!(sign(&fields, token));
        body
    }

    pub async fn pay(&self, order_id: &str) -> Option<(u16, String)> {
        let trade_id = self.trade_for(order_id).expect("known trade").trade_id;
        self.inner.trades.lock().expect("trades").get_mut(&trade_id).expect("trade").paid = true;
        let faults = self.inner.faults.get();
        if faults.drop_notifications {
            return None;
        }
        let token = if faults.bad_signature { "wrong-token".to_string() } else { self.inner.token.clone() };
        let body = self.notification(order_id, 2, &token);
        Some(self.send(order_id, &body).await)
    }

    pub async fn send(&self, order_id: &str, body: &Value) -> (u16, String) {
        let url = self.trade_for(order_id).expect("known trade").notify_url;
        let r = self.inner.http.post(url).json(body).send().await.expect("notify");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }
}

async fn create(State(s): State<Arc<Inner>>, body: Bytes) -> Response {
    s.create_calls.fetch_add(1, Ordering::SeqCst);
    let faults = s.faults.get();
    if let Some(d) = faults.create_delay {
        tokio::time::sleep(d).await;
    }
    if let Some(code) = faults.create_status {
        return (StatusCode::from_u16(code).expect("status"), "bad gateway").into_response();
    }
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return Json(json!({"status_code": 400, "message": "参数错误", "data": null})).into_response();
    };
    let fields: BTreeMap<String, String> =
        req.iter().filter(|(k, _)| *k != "signature").map(|(k, v)| (k.clone(), as_text(v))).collect();
    if req.get("signature").map(as_text) != Some(sign(&fields, &s.token)) {
        return Json(json!({"status_code": 401, "message": "签名认证错误", "data": null})).into_response();
    }
    if !req.get("amount").is_some_and(Value::is_number) {
        return Json(json!({"status_code": 400, "message": "amount 必须是数字", "data": null})).into_response();
    }
    let order_id = as_text(&req["order_id"]);
    let trade_id = format!("T{}{}", order_id.len(), &order_id[order_id.len().saturating_sub(12)..]);
    let trade = FakeTrade {
        trade_id: trade_id.clone(),
        order_id: order_id.clone(),
        amount: req["amount"].to_string(),
        notify_url: as_text(&req["notify_url"]),
        paid: false,
    };
    s.trades.lock().expect("trades").insert(trade_id.clone(), trade);
    Json(json!({"status_code": 200, "message": "success", "data": {
        "trade_id": trade_id, "order_id": order_id, "amount": as_text(&req["amount"]), "actual_amount": "1.3712",
        "token": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "expiration_time": 600,
        "payment_url": format!("https://fake-epusdt.invalid/pay/checkout-counter/{trade_id}"),
    }, "request_id": ""}))
    .into_response()
}

async fn check_status(State(s): State<Arc<Inner>>, Path(trade_id): Path<String>) -> Response {
    match s.trades.lock().expect("trades").get(&trade_id) {
        None => (StatusCode::NOT_FOUND, Json(json!({"status_code": 404, "message": "订单不存在"}))).into_response(),
        Some(t) => Json(json!({"status_code": 200, "message": "success", "data": {
            "trade_id": t.trade_id, "status": if t.paid { 2 } else { 1 },
        }, "request_id": ""}))
        .into_response(),
    }
}
