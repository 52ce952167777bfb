//! USDT through epusdt-compatible gateways.
//!
//! A payment is a `create-transaction` call (amount in CNY; the gateway
//! converts and watches the chain). A notification must carry a valid
//! signature, `status` 2 (paid), the attempt's `order_id`, the trade id the
//! gateway gave at creation and the attempt's amount. Reconciliation asks
//! the gateway's `check-status` for that trade id.

pub mod wire;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::channel::{
    ChannelContext, ChannelError, KnownPayment, Notification, PaymentChannel, PaymentOutcome, PaymentRequest,
    PaymentStart, QueryOutcome, VerifiedNotification, VerifyError, cny_only, exchange,
};
use crate::credentials::{gateway_base, non_empty, parse};
use crate::money::parse_decimal_minor;

/// Kind name of epusdt gateways.
pub const KIND: &str = "epusdt";

/// A merchant's epusdt gateway.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EpusdtCredentials {
    pub gateway: String,
    /// The gateway's API authentication token.
    pub token: String,
}

impl EpusdtCredentials {
    fn load(json: &str) -> Result<(Self, String), String> {
        let c: Self = parse(json)?;
        non_empty("token", &c.token)?;
        let base = gateway_base(&c.gateway)?;
        Ok((c, base))
    }
}

/// The epusdt channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct EpusdtChannel;

#[async_trait::async_trait]
impl PaymentChannel for EpusdtChannel {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn methods(&self, _credentials: &str) -> Vec<&'static str> {
        vec!["usdt"]
    }

    fn check_credentials(&self, credentials: &str) -> Result<(), String> {
        EpusdtCredentials::load(credentials).map(|_| ())
    }

    async fn create_payment(
        &self,
        ctx: ChannelContext<'_>,
        req: &PaymentRequest,
    ) -> Result<PaymentStart, ChannelError> {
        let (c, base) = EpusdtCredentials::load(ctx.credentials).map_err(ChannelError::Business)?;
        cny_only("epusdt", &req.currency)?;
        let amount = wire::amount_number(req.amount_minor);
        let fields: BTreeMap<String, String> = [
            ("order_id", req.payment_id.as_str()),
            ("amount", &amount),
            ("notify_url", &req.notify_url),
            ("redirect_url", &req.return_url),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let signature = wire::sign(&fields, &c.token);
        // Written by hand so the number is exactly the text that was signed.
        let js = |s: &str| serde_json::Value::from(s).to_string();
        let body = format!(
            r#"{{"order_id":{},"amount":{amount},"notify_url":{},"redirect_url":{},"signature":{}}}"#,
            js(&req.payment_id),
            js(&req.notify_url),
            js(&req.return_url),
            js(&signature)
        );
        let answer = exchange(
            ctx.http
                .post(format!("{base}/api/v1/order/create-transaction"))
                .timeout(ctx.timeout)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body),
            ctx.allow_private_hosts,
        )
        .await?;
        let (status, text) = (answer.status, answer.body);
        if status.is_server_error() {
            return Err(ChannelError::from_status(status, &text));
        }
        let r: wire::CreateResponse = serde_json::from_str(&text).map_err(|_| {
            ChannelError::Transient(format!("epusdt answered {status} with something that is not JSON"))
        })?;
        match r.data {
            Some(t) if r.status_code == 200 && t.order_id == req.payment_id => {
                Ok(PaymentStart { pay_url: t.payment_url, qr_payload: None, provider_ref: Some(t.trade_id) })
            }
            _ => Err(ChannelError::Business(format!(
                "epusdt refused ({}): {}",
                r.status_code,
                r.message.unwrap_or_else(|| "no reason given".into())
            ))),
        }
    }

    async fn verify_notification(
        &self,
        ctx: ChannelContext<'_>,
        n: &Notification,
        known: &KnownPayment,
    ) -> Result<VerifiedNotification, VerifyError> {
        let (c, _) = EpusdtCredentials::load(ctx.credentials).map_err(VerifyError::NotConfigured)?;
        let signature = n.require("signature")?;
        if !kapu_core::crypto::constant_time_eq(&wire::sign(&n.fields, &c.token), &signature.to_ascii_lowercase()) {
            return Err(VerifyError::BadSignature);
        }
        let order_id = n.require("order_id")?;
        if order_id != known.payment_id {
            return Err(VerifyError::Malformed(format!("order_id {order_id} is not this payment")));
        }
        let trade_id = n.require("trade_id")?;
        if known.provider_ref.as_deref().is_some_and(|r| r != trade_id) {
            return Err(VerifyError::Malformed(format!(
                "trade_id {trade_id} is not the trade created for this payment"
            )));
        }
        let status = n.require("status")?;
        if status != "2" {
            return Err(VerifyError::Malformed(format!("status {status} is not paid")));
        }
        let amount_minor =
            parse_decimal_minor(n.require("amount")?).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        Ok(VerifiedNotification {
            payment_id: known.payment_id.clone(),
            outcome: PaymentOutcome::Paid,
            amount_minor,
            currency: "CNY".into(),
            provider_ref: Some(trade_id.to_string()),
        })
    }

    async fn query_payment(&self, ctx: ChannelContext<'_>, known: &KnownPayment) -> Result<QueryOutcome, ChannelError> {
        let (_, base) = EpusdtCredentials::load(ctx.credentials).map_err(ChannelError::Business)?;
        let Some(trade_id) = known.provider_ref.as_deref() else {
            return Ok(QueryOutcome::NotFound);
        };
        let answer = exchange(
            ctx.http.get(format!("{base}/pay/check-status/{trade_id}")).timeout(ctx.timeout),
            ctx.allow_private_hosts,
        )
        .await?;
        if answer.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(QueryOutcome::NotFound);
        }
        let text = answer.success_body()?;
        let r: wire::StatusResponse = serde_json::from_str(&text)
            .map_err(|_| ChannelError::Transient("epusdt answered something that is not JSON".into()))?;
        Ok(match r.data {
            Some(t) if t.trade_id == trade_id && t.status == 2 => QueryOutcome::Paid(VerifiedNotification {
                payment_id: known.payment_id.clone(),
                outcome: PaymentOutcome::Paid,
                // The trade was created for exactly this amount; check-status does not repeat it.
                amount_minor: known.amount_minor,
                currency: known.currency.clone(),
                provider_ref: Some(trade_id.to_string()),
            }),
            Some(t) if t.trade_id == trade_id && t.status == 3 => QueryOutcome::Closed,
            Some(t) if t.trade_id == trade_id => QueryOutcome::Pending,
            _ => QueryOutcome::NotFound,
        })
    }

    fn notify_ack(&self) -> &'static str {
        "ok"
    }
}
