//! A fake Alipay OpenAPI gateway (`/alipay/gateway.do`): checks RSA2 request
//! signatures with the app's public key, answers `alipay.trade.precreate`,
//! `alipay.trade.query` and `alipay.trade.refund` signed with "Alipay's"
//! private key, and posts signed `trade_status_sync` notifications.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Switches, gateway_text, serve};

/// Two 2048-bit keys, made once per test binary (key generation is slow).
pub fn test_keys() -> &'static (RsaPrivateKey, RsaPrivateKey, RsaPrivateKey) {
    static KEYS: OnceLock<(RsaPrivateKey, RsaPrivateKey, RsaPrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::thread_rng();
        let k = || RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("keygen");
        let _ = &mut rng;
        (k(), k(), k())
    })
}

pub fn rsa2_sign(key: &RsaPrivateKey, text: &str) -> String {
    STANDARD.encode(SigningKey::<Sha256>::new(key.clone()).sign(text.as_bytes()).to_bytes())
}

fn rsa2_verify(key: &RsaPublicKey, text: &str, sig: &str) -> bool {
    let Ok(raw) = STANDARD.decode(sig) else { return false };
    let Ok(sig) = Signature::try_from(raw.as_slice()) else { return false };
    VerifyingKey::<Sha256>::new(key.clone()).verify(text.as_bytes(), &sig).is_ok()
}

#[derive(Debug, Clone)]
pub struct FakeTrade {
    pub trade_no: String,
    pub total_amount: String,
    pub notify_url: String,
    pub paid: bool,
    pub refunded: bool,
}

pub struct Inner {
    pub app_id: String,
    app_public: RsaPublicKey,
    pub alipay_private: RsaPrivateKey,
    pub faults: Switches,
    pub trades: Mutex<HashMap<String, FakeTrade>>,
    pub calls: AtomicU32,
    http: reqwest::Client,
}

#[derive(Clone)]
pub struct FakeAlipay {
    pub url: String,
    pub gateway: String,
    pub inner: Arc<Inner>,
    app_private: RsaPrivateKey,
}

impl FakeAlipay {
    pub async fn start(app_id: &str) -> Self {
        let (app_private, alipay_private, _) = test_keys().clone();
        let inner = Arc::new(Inner {
            app_id: app_id.into(),
            app_public: app_private.to_public_key(),
            alipay_private,
            faults: Switches::default(),
            trades: Mutex::new(HashMap::new()),
            calls: AtomicU32::new(0),
            http: super::notify_client(),
        });
        let router = Router::new().route("/alipay/gateway.do", post(gateway)).with_state(inner.clone());
        let url = serve(router).await;
        Self { gateway: format!("{url}/alipay/gateway.do"), url, inner, app_private }
    }

    /// What the merchant pastes: app id, the app's private key as bare base64
    /// (as Alipay's key tool prints it) and Alipay's public key as PEM.
    pub fn credentials(&self) -> String {
        let pem = self.app_private.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string();
        let bare: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let alipay_public = self.inner.alipay_private.to_public_key().to_public_key_pem(LineEnding::LF).expect("spki");
        json!({"app_id": self.inner.app_id, "private_key": bare, "alipay_public_key": alipay_public}).to_string()
    }

    pub fn faults(&self) -> &Switches {
        &self.inner.faults
    }

    pub fn trade(&self, out_trade_no: &str) -> Option<FakeTrade> {
        self.inner.trades.lock().expect("trades").get(out_trade_no).cloned()
    }

    /// The notification Alipay posts for a paid trade, signed with `key`.
    pub fn notification(&self, out_trade_no: &str, key: &RsaPrivateKey) -> BTreeMap<String, String> {
        let t = self.trade(out_trade_no).expect("known trade");
        let fields: BTreeMap<String, String> = [
            ("gmt_create", "2026-11-29 20:00:00"),
            ("charset", "utf-8"),
            ("seller_id", "2088102169916080"),
            ("subject", "Test product"),
            ("buyer_id", "2088102177846880"),
            ("invoice_amount", &t.total_amount),
            ("notify_id", "2026112900222200000066871234"),
            ("notify_type", "trade_status_sync"),
            ("trade_status", "TRADE_SUCCESS"),
            ("receipt_amount", &t.total_amount),
            ("app_id", &self.inner.app_id),
            ("buyer_pay_amount", &t.total_amount),
            ("sign_type", "RSA2"),
            ("gmt_payment", "2026-11-29 20:00:05"),
            ("notify_time", "2026-11-29 20:00:06"),
            ("version", "1.0"),
            ("out_trade_no", out_trade_no),
            ("total_amount", &t.total_amount),
            ("trade_no", &t.trade_no),
            ("auth_app_id", &self.inner.app_id),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        self.sign_fields(fields, key)
    }

    /// (Re-)signs notification fields with `key`.
    pub fn sign_fields(&self, mut fields: BTreeMap<String, String>, key: &RsaPrivateKey) -> BTreeMap<String, String> {
        fields.remove("sign");
        let sign = rsa2_sign(key, &gateway_text(&fields, &["sign", "sign_type"]));
        fields.insert("sign".into(), sign);
        fields
    }

    pub async fn pay(&self, out_trade_no: &str) -> Option<(u16, String)> {
        self.inner.trades.lock().expect("trades").get_mut(out_trade_no).expect("trade").paid = true;
        let faults = self.inner.faults.get();
        if faults.drop_notifications {
            return None;
        }
        let key = if faults.bad_signature { test_keys().2.clone() } else { self.inner.alipay_private.clone() };
        let fields = self.notification(out_trade_no, &key);
        Some(self.send(out_trade_no, &fields).await)
    }

    pub async fn send(&self, out_trade_no: &str, fields: &BTreeMap<String, String>) -> (u16, String) {
        let url = self.trade(out_trade_no).expect("trade").notify_url;
        let r = self.inner.http.post(url).form(fields).send().await.expect("notify");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }
}

/// `{"<name>": node, "sign": …}` with the node's exact text signed.
fn signed_answer(s: &Inner, method: &str, node: Value) -> Response {
    let name = format!("{}_response", method.replace('.', "_"));
    let text = node.to_string();
    let sign = rsa2_sign(&s.alipay_private, &text);
    let body = format!("{{\"{name}\":{text},\"sign\":\"{sign}\"}}");
    ([("content-type", "text/html;charset=utf-8")], body).into_response()
}

async fn gateway(State(s): State<Arc<Inner>>, Form(p): Form<BTreeMap<String, String>>) -> Response {
    s.calls.fetch_add(1, Ordering::SeqCst);
    let faults = s.faults.get();
    if let Some(d) = faults.create_delay {
        tokio::time::sleep(d).await;
    }
    if let Some(code) = faults.create_status {
        return (axum::http::StatusCode::from_u16(code).expect("status"), "upstream error").into_response();
    }
    let ok_sig = p.get("sign").is_some_and(|sig| rsa2_verify(&s.app_public, &gateway_text(&p, &["sign"]), sig));
    if !ok_sig || p.get("app_id") != Some(&s.app_id) || p.get("sign_type").map(String::as_str) != Some("RSA2") {
        let body = json!({"error_response": {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature", "sub_msg": "验签出错"}});
        return body.to_string().into_response();
    }
    let method = p.get("method").cloned().unwrap_or_default();
    let biz: Value = p.get("biz_content").and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
    let out_trade_no = biz["out_trade_no"].as_str().unwrap_or_default().to_string();
    match method.as_str() {
        "alipay.trade.precreate" => {
            let trade_no = format!("2026112922001{:011}", s.calls.load(Ordering::SeqCst));
            s.trades.lock().expect("trades").insert(
                out_trade_no.clone(),
                FakeTrade {
                    trade_no,
                    total_amount: biz["total_amount"].as_str().unwrap_or_default().to_string(),
                    notify_url: p.get("notify_url").cloned().unwrap_or_default(),
                    paid: false,
                    refunded: false,
                },
            );
            signed_answer(
                &s,
                &method,
                json!({"code": "10000", "msg": "Success", "out_trade_no": out_trade_no,
                "qr_code": format!("https://qr.alipay.com/bax0{out_trade_no}")}),
            )
        }
        "alipay.trade.query" => {
            let trades = s.trades.lock().expect("trades");
            match trades.get(&out_trade_no) {
                None => signed_answer(
                    &s,
                    &method,
                    json!({"code": "40004", "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}),
                ),
                Some(t) => signed_answer(
                    &s,
                    &method,
                    json!({"code": "10000", "msg": "Success",
                    "out_trade_no": out_trade_no, "trade_no": t.trade_no, "total_amount": t.total_amount,
                    "trade_status": if t.paid { "TRADE_SUCCESS" } else { "WAIT_BUYER_PAY" }}),
                ),
            }
        }
        "alipay.trade.refund" => {
            let mut trades = s.trades.lock().expect("trades");
            match trades.get_mut(&out_trade_no) {
                Some(t) if t.paid && biz["refund_amount"].as_str() == Some(t.total_amount.as_str()) => {
                    t.refunded = true;
                    signed_answer(
                        &s,
                        &method,
                        json!({"code": "10000", "msg": "Success", "out_trade_no": out_trade_no,
                        "trade_no": t.trade_no, "refund_fee": t.total_amount, "fund_change": "Y"}),
                    )
                }
                _ => signed_answer(
                    &s,
                    &method,
                    json!({"code": "40004", "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_STATUS_ERROR", "sub_msg": "交易状态不合法"}),
                ),
            }
        }
        _ => json!({"error_response": {"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method"}})
            .to_string()
            .into_response(),
    }
}
