//! A fake WeChat Pay API v3 (`/wechatpay/v3/...`): checks the merchant's
//! `WECHATPAY2-SHA256-RSA2048` Authorization, answers Native orders, order
//! queries and refunds signed with the "platform" key, and posts
//! notifications with an AES-256-GCM encrypted resource.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::Verifier;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;

use super::alipay::{rsa2_sign, test_keys};
use super::{Switches, serve};

pub const APIV3_KEY: &str = "kapuTestApiV3Key0123456789abcdef";
pub const PLATFORM_SERIAL: &str = "PUB_KEY_ID_0114232134912410000000000000";

#[derive(Debug, Clone)]
pub struct FakeOrder {
    pub transaction_id: String,
    pub total: i64,
    pub notify_url: String,
    pub paid: bool,
    pub refunded: bool,
}

pub struct Inner {
    pub mchid: String,
    pub appid: String,
    merchant_public: RsaPublicKey,
    pub platform_private: RsaPrivateKey,
    pub faults: Switches,
    pub orders: Mutex<HashMap<String, FakeOrder>>,
    pub calls: AtomicU32,
    http: reqwest::Client,
}

#[derive(Clone)]
pub struct FakeWechat {
    pub base: String,
    pub inner: Arc<Inner>,
    merchant_private: RsaPrivateKey,
}

impl FakeWechat {
    pub async fn start(mchid: &str, appid: &str) -> Self {
        let (merchant_private, platform_private, _) = test_keys().clone();
        let inner = Arc::new(Inner {
            mchid: mchid.into(),
            appid: appid.into(),
            merchant_public: merchant_private.to_public_key(),
            platform_private,
            faults: Switches::default(),
            orders: Mutex::new(HashMap::new()),
            calls: AtomicU32::new(0),
            http: super::notify_client(),
        });
        let router = Router::new()
            .route("/wechatpay/v3/pay/transactions/native", post(native))
            .route("/wechatpay/v3/pay/transactions/out-trade-no/{id}", get(query))
            .route("/wechatpay/v3/refund/domestic/refunds", post(refund))
            .with_state(inner.clone());
        let url = serve(router).await;
        Self { base: format!("{url}/wechatpay"), inner, merchant_private }
    }

    pub fn credentials(&self) -> String {
        json!({
            "mchid": self.inner.mchid, "appid": self.inner.appid, "serial_no": "5157F09EFDC096DE15EBE81A47057A72",
            "private_key": self.merchant_private.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string(),
            "apiv3_key": APIV3_KEY,
            "platform_public_key": self.inner.platform_private.to_public_key().to_public_key_pem(LineEnding::LF).expect("pem"),
            "platform_serial": PLATFORM_SERIAL,
        })
        .to_string()
    }

    pub fn faults(&self) -> &Switches {
        &self.inner.faults
    }

    pub fn order(&self, out_trade_no: &str) -> Option<FakeOrder> {
        self.inner.orders.lock().expect("orders").get(out_trade_no).cloned()
    }

    /// The decrypted transaction of a paid order.
    pub fn transaction(&self, out_trade_no: &str) -> Value {
        let o = self.order(out_trade_no).expect("order");
        transaction_json(&self.inner, out_trade_no, &o)
    }

    /// A full notification (headers, body) for `transaction`, encrypted with
    /// `apiv3_key` and signed with `key`, sent at `timestamp`.
    pub fn notification(
        &self,
        transaction: &Value,
        apiv3_key: &str,
        key: &RsaPrivateKey,
        timestamp: i64,
    ) -> (Vec<(String, String)>, String) {
        let cipher = Aes256Gcm::new_from_slice(apiv3_key.as_bytes()).expect("key");
        let nonce = "Kq9sKzVu1vBf";
        let ct = cipher
            .encrypt(
                Nonce::from_slice(nonce.as_bytes()),
                Payload { msg: transaction.to_string().as_bytes(), aad: b"transaction" },
            )
            .expect("encrypt");
        let body = json!({
            "id": "EV-2018022511223320873", "create_time": "2026-11-29T20:00:00+08:00",
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": STANDARD.encode(ct), "associated_data": "transaction", "nonce": nonce},
        })
        .to_string();
        (self.sign_headers(&body, key, timestamp), body)
    }

    pub fn sign_headers(&self, body: &str, key: &RsaPrivateKey, timestamp: i64) -> Vec<(String, String)> {
        let nonce = "593BEC0C930BF1AFEB40B4A08C8FB242";
        let sig = rsa2_sign(key, &format!("{timestamp}\n{nonce}\n{body}\n"));
        vec![
            ("Wechatpay-Timestamp".into(), timestamp.to_string()),
            ("Wechatpay-Nonce".into(), nonce.into()),
            ("Wechatpay-Signature".into(), sig),
            ("Wechatpay-Serial".into(), PLATFORM_SERIAL.into()),
        ]
    }

    pub async fn pay(&self, out_trade_no: &str) -> Option<(u16, String)> {
        self.inner.orders.lock().expect("orders").get_mut(out_trade_no).expect("order").paid = true;
        let faults = self.inner.faults.get();
        if faults.drop_notifications {
            return None;
        }
        let key = if faults.bad_signature { test_keys().2.clone() } else { self.inner.platform_private.clone() };
        let (headers, body) =
            self.notification(&self.transaction(out_trade_no), APIV3_KEY, &key, chrono::Utc::now().timestamp());
        Some(self.send(out_trade_no, &headers, body).await)
    }

    pub async fn send(&self, out_trade_no: &str, headers: &[(String, String)], body: String) -> (u16, String) {
        let url = self.order(out_trade_no).expect("order").notify_url;
        let mut rb = self.inner.http.post(url).header("content-type", "application/json").body(body);
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        let r = rb.send().await.expect("notify");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }
}

fn transaction_json(s: &Inner, out_trade_no: &str, o: &FakeOrder) -> Value {
    json!({
        "appid": s.appid, "mchid": s.mchid, "out_trade_no": out_trade_no, "transaction_id": o.transaction_id,
        "trade_type": "NATIVE", "trade_state": if o.paid { "SUCCESS" } else { "NOTPAY" }, "trade_state_desc": "",
        "bank_type": "OTHERS", "success_time": "2026-11-29T20:00:05+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": o.total, "payer_total": o.total, "currency": "CNY", "payer_currency": "CNY"},
    })
}

/// Checks the merchant's Authorization header over what was received.
fn authorized(s: &Inner, method: &Method, uri: &Uri, headers: &HeaderMap, body: &str) -> bool {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else { return false };
    let Some(params) = auth.strip_prefix("WECHATPAY2-SHA256-RSA2048 ") else { return false };
    let fields: HashMap<&str, &str> = params
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
        .collect();
    if fields.get("mchid") != Some(&s.mchid.as_str()) {
        return false;
    }
    let (Some(ts), Some(nonce), Some(sig)) =
        (fields.get("timestamp"), fields.get("nonce_str"), fields.get("signature"))
    else {
        return false;
    };
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    let message = format!("{}\n{path}\n{ts}\n{nonce}\n{body}\n", method.as_str());
    let Ok(raw) = STANDARD.decode(sig) else { return false };
    let Ok(sig) = Signature::try_from(raw.as_slice()) else { return false };
    VerifyingKey::<Sha256>::new(s.merchant_public.clone()).verify(message.as_bytes(), &sig).is_ok()
}

/// An answer signed by the platform key.
fn signed(s: &Inner, status: StatusCode, body: Value) -> Response {
    let text = body.to_string();
    let ts = chrono::Utc::now().timestamp();
    let nonce = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
    let sig = rsa2_sign(&s.platform_private, &format!("{ts}\n{nonce}\n{text}\n"));
    (
        status,
        [
            ("content-type", "application/json".to_string()),
            ("wechatpay-timestamp", ts.to_string()),
            ("wechatpay-nonce", nonce.to_string()),
            ("wechatpay-signature", sig),
            ("wechatpay-serial", PLATFORM_SERIAL.to_string()),
        ],
        text,
    )
        .into_response()
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, axum::Json(json!({"code": "SIGN_ERROR", "message": "签名错误"}))).into_response()
}

async fn native(State(s): State<Arc<Inner>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    s.calls.fetch_add(1, Ordering::SeqCst);
    let faults = s.faults.get();
    if let Some(d) = faults.create_delay {
        tokio::time::sleep(d).await;
    }
    if let Some(code) = faults.create_status {
        return (
            StatusCode::from_u16(code).expect("status"),
            axum::Json(json!({"code": "SYSTEM_ERROR", "message": "系统错误"})),
        )
            .into_response();
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    if !authorized(&s, &method, &uri, &headers, &text) {
        return unauthorized();
    }
    let req: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if req["mchid"] != json!(s.mchid) || req["appid"] != json!(s.appid) {
        return signed(&s, StatusCode::BAD_REQUEST, json!({"code": "PARAM_ERROR", "message": "appid和mch_id不匹配"}));
    }
    let out_trade_no = req["out_trade_no"].as_str().unwrap_or_default().to_string();
    let n = s.calls.load(Ordering::SeqCst);
    s.orders.lock().expect("orders").insert(
        out_trade_no.clone(),
        FakeOrder {
            transaction_id: format!("42000012{n:020}"),
            total: req["amount"]["total"].as_i64().unwrap_or(0),
            notify_url: req["notify_url"].as_str().unwrap_or_default().to_string(),
            paid: false,
            refunded: false,
        },
    );
    signed(&s, StatusCode::OK, json!({"code_url": format!("weixin://wxpay/bizpayurl?pr=fake{n}")}))
}

async fn query(
    State(s): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorized(&s, &method, &uri, &headers, "") {
        return unauthorized();
    }
    let orders = s.orders.lock().expect("orders");
    match orders.get(&id) {
        None => signed(&s, StatusCode::NOT_FOUND, json!({"code": "ORDER_NOT_EXIST", "message": "订单不存在"})),
        Some(o) => signed(&s, StatusCode::OK, transaction_json(&s, &id, o)),
    }
}

async fn refund(State(s): State<Arc<Inner>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    if !authorized(&s, &method, &uri, &headers, &text) {
        return unauthorized();
    }
    let req: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let id = req["out_trade_no"].as_str().unwrap_or_default();
    let mut orders = s.orders.lock().expect("orders");
    match orders.get_mut(id) {
        Some(o) if o.paid && req["amount"]["refund"].as_i64() == Some(o.total) => {
            o.refunded = true;
            signed(
                &s,
                StatusCode::OK,
                json!({"refund_id": "50000000382019052709732678859", "out_refund_no": req["out_refund_no"],
                "out_trade_no": id, "status": "PROCESSING", "amount": {"refund": o.total, "total": o.total, "currency": "CNY"}}),
            )
        }
        _ => signed(&s, StatusCode::BAD_REQUEST, json!({"code": "INVALID_REQUEST", "message": "订单状态不正确"})),
    }
}
