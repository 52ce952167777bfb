//! WeChat Pay API v3, Native (scan a QR code).
//!
//! Every call is signed with the merchant's API key and every answer's
//! signature is checked against WeChat Pay's public key. A notification is
//! believed only when its headers sign its body (timestamp within five
//! minutes, serial matching the configured key), its resource decrypts with
//! the APIv3 key, and the transaction inside names this shop's `mchid` and
//! `appid`, the attempt's `out_trade_no`, `SUCCESS`, and the attempt's
//! amount in fen and currency. Order query for reconciliation; refunds.

pub mod wire;

use chrono::Utc;
use rand::Rng;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use serde_json::json;

use crate::channel::{
    ChannelContext, ChannelError, KnownPayment, Notification, PaymentChannel, PaymentOutcome, PaymentRequest,
    PaymentStart, QueryOutcome, VerifiedNotification, VerifyError, cny_only, exchange,
};
use crate::credentials::{non_empty, parse};
use crate::rsa_keys;

/// Kind name of WeChat Pay.
pub const KIND: &str = "wechat";

/// Notifications older (or newer) than this are refused.
const CLOCK_TOLERANCE_SECS: i64 = 300;

/// A merchant's WeChat Pay account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WechatCredentials {
    pub mchid: String,
    pub appid: String,
    /// Serial number of the merchant API certificate.
    pub serial_no: String,
    /// The merchant API private key (`apiclient_key.pem`).
    pub private_key: String,
    /// The APIv3 key (32 characters) that encrypts notification resources.
    pub apiv3_key: String,
    /// WeChat Pay's public key (or platform certificate's key), PEM.
    pub platform_public_key: String,
    /// Its id / serial; notifications must name it.
    pub platform_serial: String,
}

struct Loaded {
    c: WechatCredentials,
    key: RsaPrivateKey,
    platform: RsaPublicKey,
}

fn load(json: &str) -> Result<Loaded, String> {
    let c: WechatCredentials = parse(json)?;
    for (name, v) in
        [("mchid", &c.mchid), ("appid", &c.appid), ("serial_no", &c.serial_no), ("platform_serial", &c.platform_serial)]
    {
        non_empty(name, v)?;
    }
    if c.apiv3_key.len() != 32 {
        return Err("apiv3_key must be exactly 32 characters".into());
    }
    let key = rsa_keys::private_key(&c.private_key)?;
    let platform = rsa_keys::public_key(&c.platform_public_key)?;
    Ok(Loaded { c, key, platform })
}

fn nonce() -> String {
    rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(32).map(char::from).collect()
}

/// The WeChat Pay channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct WechatChannel;

/// An answer whose signature checked out (when it is a success): status and body.
struct Checked {
    status: reqwest::StatusCode,
    body: String,
}

async fn call(
    ctx: ChannelContext<'_>,
    l: &Loaded,
    method: reqwest::Method,
    path_and_query: &str,
    body: Option<String>,
) -> Result<Checked, ChannelError> {
    let url = format!("{}{path_and_query}", ctx.endpoints.wechatpay_base);
    let parsed = reqwest::Url::parse(&url).map_err(|e| ChannelError::Business(format!("bad WeChat Pay URL: {e}")))?;
    let signed_path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let body_text = body.unwrap_or_default();
    let nonce = nonce();
    let request = wire::SignedRequest {
        method: method.as_str(),
        path_and_query: &signed_path,
        body: &body_text,
        timestamp: Utc::now().timestamp(),
        nonce: &nonce,
    };
    let auth = wire::authorization(&l.key, &l.c.mchid, &l.c.serial_no, &request);
    let mut rb = ctx
        .http
        .request(method, parsed)
        .timeout(ctx.timeout)
        .header(reqwest::header::AUTHORIZATION, auth)
        .header(reqwest::header::ACCEPT, "application/json");
    if !body_text.is_empty() {
        rb = rb.header(reqwest::header::CONTENT_TYPE, "application/json").body(body_text);
    }
    let answer = exchange(rb, ctx.allow_private_hosts).await?;
    let header = |name: &str| answer.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (ts, nonce, sig) = (header("wechatpay-timestamp"), header("wechatpay-nonce"), header("wechatpay-signature"));
    let (status, body) = (answer.status, answer.body);
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(ChannelError::from_status(status, &body));
    }
    if status.is_success() && !wire::signed_by_wechatpay(&l.platform, &ts, &nonce, &body, &sig) {
        return Err(ChannelError::Business("WeChat Pay's answer is not signed by the configured platform key".into()));
    }
    Ok(Checked { status, body })
}

fn refusal(a: &Checked) -> ChannelError {
    let e: Option<wire::ErrorBody> = serde_json::from_str(&a.body).ok();
    let text = match e {
        Some(e) => format!("WeChat Pay refused ({}): {} {}", a.status.as_u16(), e.code, e.message.unwrap_or_default()),
        None => format!("WeChat Pay refused ({})", a.status.as_u16()),
    };
    if e_is_system_error(&a.body) { ChannelError::Transient(text) } else { ChannelError::Business(text) }
}

fn e_is_system_error(body: &str) -> bool {
    body.contains("\"SYSTEM_ERROR\"") || body.contains("\"FREQUENCY_LIMITED\"")
}

fn paid_of(l: &Loaded, known: &KnownPayment, t: wire::Transaction) -> Result<Option<VerifiedNotification>, String> {
    if t.mchid != l.c.mchid || t.appid != l.c.appid {
        return Err(format!("transaction of mchid {} / appid {}", t.mchid, t.appid));
    }
    if t.out_trade_no != known.payment_id {
        return Err(format!("out_trade_no {} is not this payment", t.out_trade_no));
    }
    if t.trade_state != "SUCCESS" {
        return Ok(None);
    }
    let amount = t.amount.ok_or("paid transaction without amount")?;
    if amount.total <= 0 {
        return Err(format!("amount {} is not positive", amount.total));
    }
    Ok(Some(VerifiedNotification {
        payment_id: known.payment_id.clone(),
        outcome: PaymentOutcome::Paid,
        amount_minor: amount.total,
        currency: amount.currency.unwrap_or_else(|| "CNY".into()),
        provider_ref: t.transaction_id,
    }))
}

#[async_trait::async_trait]
impl PaymentChannel for WechatChannel {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn methods(&self, _credentials: &str) -> Vec<&'static str> {
        vec!["wxpay"]
    }

    fn check_credentials(&self, credentials: &str) -> Result<(), String> {
        load(credentials).map(|_| ())
    }

    async fn create_payment(
        &self,
        ctx: ChannelContext<'_>,
        req: &PaymentRequest,
    ) -> Result<PaymentStart, ChannelError> {
        let l = load(ctx.credentials).map_err(ChannelError::Business)?;
        cny_only("WeChat Pay Native", &req.currency)?;
        let body = json!({
            "appid": l.c.appid, "mchid": l.c.mchid,
            "description": req.subject.chars().take(127).collect::<String>(),
            "out_trade_no": req.payment_id, "notify_url": req.notify_url,
            "amount": {"total": req.amount_minor, "currency": "CNY"},
        });
        let a = call(ctx, &l, reqwest::Method::POST, "/v3/pay/transactions/native", Some(body.to_string())).await?;
        if !a.status.is_success() {
            return Err(refusal(&a));
        }
        #[derive(Deserialize)]
        struct Created {
            code_url: String,
        }
        let c: Created =
            serde_json::from_str(&a.body).map_err(|_| ChannelError::Business("WeChat Pay gave no code_url".into()))?;
        Ok(PaymentStart { pay_url: req.on_site_pay_url("qr"), qr_payload: Some(c.code_url), provider_ref: None })
    }

    async fn verify_notification(
        &self,
        ctx: ChannelContext<'_>,
        n: &Notification,
        known: &KnownPayment,
    ) -> Result<VerifiedNotification, VerifyError> {
        let l = load(ctx.credentials).map_err(VerifyError::NotConfigured)?;
        let header = |name: &str| {
            n.header(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| VerifyError::Malformed(format!("missing header {name}")))
        };
        let (ts, nonce, sig, serial) = (
            header("wechatpay-timestamp")?,
            header("wechatpay-nonce")?,
            header("wechatpay-signature")?,
            header("wechatpay-serial")?,
        );
        if serial != l.c.platform_serial {
            return Err(VerifyError::BadSignature);
        }
        if !wire::signed_by_wechatpay(&l.platform, ts, nonce, &n.body, sig) {
            return Err(VerifyError::BadSignature);
        }
        let sent: i64 = ts.parse().map_err(|_| VerifyError::Malformed("timestamp".into()))?;
        if (Utc::now().timestamp() - sent).abs() > CLOCK_TOLERANCE_SECS {
            return Err(VerifyError::Malformed(format!("timestamp {sent} is outside the 5-minute window")));
        }
        let env: wire::Envelope =
            serde_json::from_str(&n.body).map_err(|_| VerifyError::Malformed("body is not a notification".into()))?;
        if env.event_type != "TRANSACTION.SUCCESS" {
            return Err(VerifyError::Malformed(format!("event {} is not a payment", env.event_type)));
        }
        let plain = wire::decrypt_resource(&l.c.apiv3_key, &env.resource).map_err(VerifyError::Malformed)?;
        let t: wire::Transaction =
            serde_json::from_str(&plain).map_err(|_| VerifyError::Malformed("resource is not a transaction".into()))?;
        match paid_of(&l, known, t) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(VerifyError::Malformed("trade_state is not SUCCESS".into())),
            Err(e) if e.starts_with("transaction of") => Err(VerifyError::WrongMerchant(e)),
            Err(e) => Err(VerifyError::Malformed(e)),
        }
    }

    async fn query_payment(&self, ctx: ChannelContext<'_>, known: &KnownPayment) -> Result<QueryOutcome, ChannelError> {
        let l = load(ctx.credentials).map_err(ChannelError::Business)?;
        let path = format!("/v3/pay/transactions/out-trade-no/{}?mchid={}", known.payment_id, l.c.mchid);
        let a = call(ctx, &l, reqwest::Method::GET, &path, None).await?;
        if a.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(QueryOutcome::NotFound);
        }
        if !a.status.is_success() {
            return Err(refusal(&a));
        }
        let t: wire::Transaction = serde_json::from_str(&a.body)
            .map_err(|_| ChannelError::Business("WeChat Pay's answer is not a transaction".into()))?;
        let state = t.trade_state.clone();
        match paid_of(&l, known, t) {
            Ok(Some(v)) => Ok(QueryOutcome::Paid(v)),
            Ok(None) if matches!(state.as_str(), "CLOSED" | "REVOKED" | "PAYERROR") => Ok(QueryOutcome::Closed),
            Ok(None) => Ok(QueryOutcome::Pending),
            Err(e) => Err(ChannelError::Business(e)),
        }
    }

    fn supports_refund(&self) -> bool {
        true
    }

    async fn refund(&self, ctx: ChannelContext<'_>, known: &KnownPayment) -> Result<(), ChannelError> {
        let l = load(ctx.credentials).map_err(ChannelError::Business)?;
        let body = json!({
            "out_trade_no": known.payment_id, "out_refund_no": format!("{}r", &known.payment_id[..known.payment_id.len().min(31)]),
            "amount": {"refund": known.amount_minor, "total": known.amount_minor, "currency": known.currency},
        });
        let a = call(ctx, &l, reqwest::Method::POST, "/v3/refund/domestic/refunds", Some(body.to_string())).await?;
        if a.status.is_success() { Ok(()) } else { Err(refusal(&a)) }
    }

    fn notify_ack(&self) -> &'static str {
        ""
    }
}
