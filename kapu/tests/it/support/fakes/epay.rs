//! A fake 易支付 gateway: `mapi.php`, `submit.php`-style pay page, `api.php?act=order`,
//! and GET notifications signed with MD5 (sorted params + key).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Form;
use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::{Switches, gateway_text, md5_lower_hex, serve};

#[derive(Debug, Clone)]
pub struct FakeOrder {
    pub trade_no: String,
    pub params: BTreeMap<String, String>,
    pub paid: bool,
}

pub struct Inner {
    pub pid: String,
    pub key: String,
    pub faults: Switches,
    pub orders: Mutex<HashMap<String, FakeOrder>>,
    pub create_calls: AtomicU32,
    pub query_calls: AtomicU32,
    http: reqwest::Client,
}

/// The fake gateway; cheap to clone.
#[derive(Clone)]
pub struct FakeEpay {
    pub url: String,
    pub inner: Arc<Inner>,
}

fn sign(fields: &BTreeMap<String, String>, key: &str) -> String {
    md5_lower_hex(&format!("{}{key}", gateway_text(fields, &["sign", "sign_type"])))
}

impl FakeEpay {
    pub async fn start(pid: &str, key: &str) -> Self {
        let inner = Arc::new(Inner {
            pid: pid.into(),
            key: key.into(),
            faults: Switches::default(),
            orders: Mutex::new(HashMap::new()),
            create_calls: AtomicU32::new(0),
            query_calls: AtomicU32::new(0),
            http: super::notify_client(),
        });
        let router = Router::new().route("/mapi.php", post(mapi)).route("/api.php", get(api)).with_state(inner.clone());
        let url = serve(router).await;
        Self { url, inner }
    }

    /// The credentials JSON a merchant would save for this gateway.
    pub fn credentials(&self) -> String {
        json!({"gateway": self.url, "pid": self.inner.pid, "key": self.inner.key, "methods": ["alipay", "wxpay"]})
            .to_string()
    }

    pub fn faults(&self) -> &Switches {
        &self.inner.faults
    }

    pub fn order(&self, out_trade_no: &str) -> Option<FakeOrder> {
        self.inner.orders.lock().expect("orders").get(out_trade_no).cloned()
    }

    /// The notification the gateway sends for a paid order, signed with `key`.
    pub fn notification(&self, out_trade_no: &str, key: &str) -> BTreeMap<String, String> {
        let o = self.order(out_trade_no).expect("known order");
        let mut f: BTreeMap<String, String> = [
            ("pid", self.inner.pid.as_str()),
            ("trade_no", &o.trade_no),
            ("out_trade_no", out_trade_no),
            ("type", &o.params["type"]),
            ("name", &o.params["name"]),
            ("money", &o.params["money"]),
            ("trade_status", "TRADE_SUCCESS"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let s = sign(&f, key);
        f.insert("sign".into(), s);
        f.insert("sign_type".into(), "MD5".into());
        f
    }

    /// Re-signs tampered fields with the merchant key (what a leaked key allows).
    pub fn resign(&self, mut fields: BTreeMap<String, String>) -> BTreeMap<String, String> {
        let s = sign(&fields, &self.inner.key);
        fields.insert("sign".into(), s);
        fields
    }

    /// The buyer pays: the order is paid at the gateway, and unless notifications
    /// are dropped, the notification is sent (GET, as epay gateways do).
    /// Returns the merchant's answer, if a notification was sent.
    pub async fn pay(&self, out_trade_no: &str) -> Option<(u16, String)> {
        {
            let mut orders = self.inner.orders.lock().expect("orders");
            orders.get_mut(out_trade_no).expect("known order").paid = true;
        }
        let faults = self.inner.faults.get();
        if faults.drop_notifications {
            return None;
        }
        let key = if faults.bad_signature { "not-the-key".to_string() } else { self.inner.key.clone() };
        let fields = self.notification(out_trade_no, &key);
        Some(self.send(out_trade_no, &fields).await)
    }

    /// Sends `fields` to the order's notify URL as the gateway would.
    pub async fn send(&self, out_trade_no: &str, fields: &BTreeMap<String, String>) -> (u16, String) {
        let notify_url = self.order(out_trade_no).expect("known order").params["notify_url"].clone();
        let r = self.inner.http.get(notify_url).query(fields).send().await.expect("notify");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }
}

async fn mapi(State(s): State<Arc<Inner>>, Form(params): Form<BTreeMap<String, String>>) -> Response {
    s.create_calls.fetch_add(1, Ordering::SeqCst);
    let faults = s.faults.get();
    if let Some(d) = faults.create_delay {
        tokio::time::sleep(d).await;
    }
    if let Some(code) = faults.create_status {
        return (StatusCode::from_u16(code).expect("status"), "gateway unavailable").into_response();
    }
    if params.get("sign").map(String::as_str) != Some(sign(&params, &s.key).as_str()) {
        return Json(json!({"code": -1, "msg": "签名校验失败"})).into_response();
    }
    if params.get("pid") != Some(&s.pid) {
        return Json(json!({"code": -1, "msg": "商户不存在"})).into_response();
    }
    let out_trade_no = params["out_trade_no"].clone();
    let trade_no = format!("2026{:012}", rand_digits());
    s.orders
        .lock()
        .expect("orders")
        .insert(out_trade_no, FakeOrder { trade_no: trade_no.clone(), params, paid: false });
    Json(json!({"code": 1, "msg": "ok", "trade_no": trade_no, "payurl": format!("https://fake-epay.invalid/pay/{trade_no}")}))
        .into_response()
}

fn rand_digits() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0) as u64;
    (t % 1_000_000_000) * 1000 + u64::from(N.fetch_add(1, Ordering::SeqCst) % 1000)
}

async fn api(State(s): State<Arc<Inner>>, Query(q): Query<HashMap<String, String>>) -> Response {
    s.query_calls.fetch_add(1, Ordering::SeqCst);
    if q.get("act").map(String::as_str) != Some("order") {
        return Json(json!({"code": -5, "msg": "No Act!"})).into_response();
    }
    if q.get("pid") != Some(&s.pid) || q.get("key") != Some(&s.key) {
        return Json(json!({"code": -3, "msg": "KEY校验失败"})).into_response();
    }
    let Some(out_trade_no) = q.get("out_trade_no") else {
        return Json(json!({"code": -4, "msg": "缺少订单号"})).into_response();
    };
    let orders = s.orders.lock().expect("orders");
    match orders.get(out_trade_no) {
        None => Json(json!({"code": -1, "msg": "订单号不存在"})).into_response(),
        Some(o) => Json(json!({
            "code": 1, "msg": "查询订单号成功！", "trade_no": o.trade_no, "out_trade_no": out_trade_no,
            "type": o.params["type"], "pid": s.pid.parse::<u64>().map(serde_json::Value::from).unwrap_or(json!(s.pid)),
            "addtime": "2026-11-29 12:00:00", "endtime": if o.paid { "2026-11-29 12:01:00" } else { "" },
            "name": o.params["name"], "money": o.params["money"], "status": u8::from(o.paid),
        }))
        .into_response(),
    }
}
