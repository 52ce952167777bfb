//! 易支付 (epay)-compatible gateways.
//!
//! Payments start through `mapi.php` (server to server, so a gateway that is
//! down is noticed and failed over) or, for gateways without it, a signed
//! `submit.php` redirect. A notification must carry a valid MD5 signature,
//! this shop's `pid`, `trade_status=TRADE_SUCCESS`, the attempt's
//! `out_trade_no` and a plain decimal `money`; then the gateway is asked
//! (`api.php?act=order`) whether the order really is paid, so a leaked key
//! alone cannot forge a payment.

pub mod wire;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::channel::{
    ChannelContext, ChannelError, KnownPayment, Notification, PaymentChannel, PaymentOutcome, PaymentRequest,
    PaymentStart, QueryOutcome, VerifiedNotification, VerifyError, cny_only, exchange,
};
use crate::credentials::{gateway_base, non_empty, parse};
use crate::money::{format_decimal, parse_decimal_minor};

/// Kind name of epay gateways.
pub const KIND: &str = "epay";

/// A merchant's epay account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EpayCredentials {
    /// Gateway base, e.g. `https://pay.example.com`.
    pub gateway: String,
    pub pid: String,
    pub key: String,
    /// Methods this gateway takes for the merchant (`alipay`, `wxpay`, `qqpay`).
    #[serde(default = "default_methods")]
    pub methods: Vec<String>,
    /// `mapi` (default) or `submit` for gateways without `mapi.php`.
    #[serde(default)]
    pub mode: Option<String>,
}

fn default_methods() -> Vec<String> {
    vec!["alipay".into(), "wxpay".into()]
}

impl EpayCredentials {
    fn load(json: &str) -> Result<(Self, String), String> {
        let c: Self = parse(json)?;
        non_empty("pid", &c.pid)?;
        non_empty("key", &c.key)?;
        let base = gateway_base(&c.gateway)?;
        Ok((c, base))
    }
}

/// The epay channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct EpayChannel;

fn param_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const METHODS: [&str; 3] = ["alipay", "wxpay", "qqpay"];

#[async_trait::async_trait]
impl PaymentChannel for EpayChannel {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn methods(&self, credentials: &str) -> Vec<&'static str> {
        let configured = parse::<EpayCredentials>(credentials).map(|c| c.methods).unwrap_or_else(|_| default_methods());
        METHODS.into_iter().filter(|m| configured.iter().any(|c| c == m)).collect()
    }

    fn check_credentials(&self, credentials: &str) -> Result<(), String> {
        let (c, _) = EpayCredentials::load(credentials)?;
        if c.methods.is_empty() || c.methods.iter().any(|m| !METHODS.contains(&m.as_str())) {
            return Err("methods must be some of alipay, wxpay, qqpay".into());
        }
        match c.mode.as_deref() {
            None | Some("mapi") | Some("submit") => Ok(()),
            Some(_) => Err("mode must be mapi or submit".into()),
        }
    }

    async fn create_payment(
        &self,
        ctx: ChannelContext<'_>,
        req: &PaymentRequest,
    ) -> Result<PaymentStart, ChannelError> {
        let (c, base) = EpayCredentials::load(ctx.credentials).map_err(ChannelError::Business)?;
        cny_only("epay", &req.currency)?;
        let method = req
            .method
            .as_deref()
            .filter(|m| c.methods.iter().any(|x| x == m))
            .or_else(|| c.methods.first().map(String::as_str))
            .unwrap_or("alipay")
            .to_string();
        let money = format_decimal(req.amount_minor);
        let mut params = param_map(&[
            ("pid", &c.pid),
            ("type", &method),
            ("out_trade_no", &req.payment_id),
            ("notify_url", &req.notify_url),
            ("return_url", &req.return_url),
            ("name", &req.subject),
            ("money", &money),
        ]);
        if c.mode.as_deref() == Some("submit") {
            let signed = wire::signed(params, &c.key);
            let query = serde_urlencoded::to_string(&signed).map_err(|e| ChannelError::Business(e.to_string()))?;
            return Ok(PaymentStart {
                pay_url: format!("{base}/submit.php?{query}"),
                qr_payload: None,
                provider_ref: None,
            });
        }
        params.insert("clientip".into(), req.client_ip.clone());
        params.insert("device".into(), "pc".into());
        let signed = wire::signed(params, &c.key);
        let text = exchange(
            ctx.http.post(format!("{base}/mapi.php")).timeout(ctx.timeout).form(&signed),
            ctx.allow_private_hosts,
        )
        .await?
        .success_body()?;
        let r: wire::MapiResponse = serde_json::from_str(&text)
            .map_err(|_| ChannelError::Transient("epay answered something that is not JSON".into()))?;
        if wire::loose_str(&r.code) != "1" {
            return Err(ChannelError::Business(format!(
                "epay refused: {}",
                r.msg.unwrap_or_else(|| "no reason given".into())
            )));
        }
        let qr = r.qrcode.filter(|q| !q.is_empty());
        let pay_url = r
            .payurl
            .or(r.urlscheme)
            .filter(|u| !u.is_empty())
            .or_else(|| qr.as_ref().map(|_| req.on_site_pay_url("qr")))
            .ok_or_else(|| ChannelError::Business("epay gave neither a payment URL nor a QR code".into()))?;
        Ok(PaymentStart { pay_url, qr_payload: qr, provider_ref: r.trade_no })
    }

    async fn verify_notification(
        &self,
        ctx: ChannelContext<'_>,
        n: &Notification,
        known: &KnownPayment,
    ) -> Result<VerifiedNotification, VerifyError> {
        let (c, base) = EpayCredentials::load(ctx.credentials).map_err(VerifyError::NotConfigured)?;
        let sign = n.require("sign")?;
        let expected = wire::sign(&n.fields, &c.key);
        if !kapu_core::crypto::constant_time_eq(&expected, &sign.to_ascii_lowercase()) {
            return Err(VerifyError::BadSignature);
        }
        if n.require("pid")? != c.pid {
            return Err(VerifyError::WrongMerchant(format!("pid {}", n.require("pid")?)));
        }
        let out_trade_no = n.require("out_trade_no")?;
        if out_trade_no != known.payment_id {
            return Err(VerifyError::Malformed(format!("out_trade_no {out_trade_no} is not this payment")));
        }
        let trade_status = n.require("trade_status")?;
        if trade_status != "TRADE_SUCCESS" {
            return Err(VerifyError::Malformed(format!("trade_status {trade_status} is not a payment")));
        }
        let amount_minor =
            parse_decimal_minor(n.require("money")?).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        let trade_no = n.require("trade_no")?.to_string();
        // The signature proves the key; the gateway itself must confirm the payment.
        match query_order(ctx, &c, &base, &known.payment_id).await {
            Ok(Some(o))
                if o.paid && o.amount_minor == Some(amount_minor) && o.trade_no.as_deref() == Some(&trade_no) => {}
            Ok(Some(o)) => {
                return Err(VerifyError::NotConfirmed(format!(
                    "gateway reports paid={} money={:?} trade_no={:?}",
                    o.paid, o.amount_minor, o.trade_no
                )));
            }
            Ok(None) => return Err(VerifyError::NotConfirmed("gateway does not know the order".into())),
            Err(e) => return Err(VerifyError::NotConfirmed(format!("gateway could not be asked: {e}"))),
        }
        Ok(VerifiedNotification {
            payment_id: known.payment_id.clone(),
            outcome: PaymentOutcome::Paid,
            amount_minor,
            currency: "CNY".into(),
            provider_ref: Some(trade_no),
        })
    }

    async fn query_payment(&self, ctx: ChannelContext<'_>, known: &KnownPayment) -> Result<QueryOutcome, ChannelError> {
        let (c, base) = EpayCredentials::load(ctx.credentials).map_err(ChannelError::Business)?;
        Ok(match query_order(ctx, &c, &base, &known.payment_id).await? {
            None => QueryOutcome::NotFound,
            Some(o) if o.paid => match o.amount_minor {
                Some(amount_minor) => QueryOutcome::Paid(VerifiedNotification {
                    payment_id: known.payment_id.clone(),
                    outcome: PaymentOutcome::Paid,
                    amount_minor,
                    currency: "CNY".into(),
                    provider_ref: o.trade_no,
                }),
                None => return Err(ChannelError::Business("epay reports paid without a readable amount".into())),
            },
            Some(_) => QueryOutcome::Pending,
        })
    }

    fn notify_ack(&self) -> &'static str {
        "success"
    }
}

/// What `api.php?act=order` says about one order.
struct GatewayOrder {
    paid: bool,
    amount_minor: Option<i64>,
    trade_no: Option<String>,
}

async fn query_order(
    ctx: ChannelContext<'_>,
    c: &EpayCredentials,
    base: &str,
    out_trade_no: &str,
) -> Result<Option<GatewayOrder>, ChannelError> {
    let query = [("act", "order"), ("pid", c.pid.as_str()), ("key", c.key.as_str()), ("out_trade_no", out_trade_no)];
    let text =
        exchange(ctx.http.get(format!("{base}/api.php")).query(&query).timeout(ctx.timeout), ctx.allow_private_hosts)
            .await?
            .success_body()?;
    let r: wire::OrderResponse = serde_json::from_str(&text)
        .map_err(|_| ChannelError::Transient("epay answered something that is not JSON".into()))?;
    let code = wire::loose_str(&r.code);
    if code != "1" {
        // "No such order" is an answer; anything else (a refused key, a
        // missing parameter) is the gateway refusing us, which reconciliation
        // logs as an error and "test this channel" shows, rather than
        // passing for an unknown order.
        let msg = r.msg.unwrap_or_default();
        if code == "-1" || msg.contains("不存在") || msg.to_lowercase().contains("not exist") {
            return Ok(None);
        }
        return Err(ChannelError::Business(format!("epay refused the query (code {code}): {msg}")));
    }
    if r.out_trade_no.as_deref() != Some(out_trade_no) || r.pid.as_ref().map(wire::loose_str).as_deref() != Some(&c.pid)
    {
        return Err(ChannelError::Business("epay answered about another order or merchant".into()));
    }
    Ok(Some(GatewayOrder {
        paid: r.status.as_ref().map(wire::loose_str).as_deref() == Some("1"),
        amount_minor: r.money.as_ref().map(wire::loose_str).and_then(|m| parse_decimal_minor(&m).ok()),
        trade_no: r.trade_no,
    }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kapu_core::crypto::MasterKey;

    use super::*;
    use crate::providers::Providers;

    fn request() -> PaymentRequest {
        PaymentRequest {
            payment_id: "019abc".into(),
            order_no: "20261129000001".into(),
            amount_minor: 1230,
            currency: "CNY".into(),
            subject: "月卡 & more".into(),
            method: Some("wxpay".into()),
            base_url: "http://shop.localhost".into(),
            return_url: "http://shop.localhost/orders/1?token=t".into(),
            notify_url: "http://shop.localhost/api/v1/payments/019abc/notify".into(),
            client_ip: "203.0.113.9".into(),
            order_token: "t0k".into(),
        }
    }

    #[tokio::test]
    async fn submit_mode_redirects_with_a_signed_query_and_never_calls_the_gateway() {
        let keys = MasterKey::generate().tenant("t");
        let providers = Providers::new(Duration::from_secs(1), None, None, None, false).expect("providers");
        let creds = r#"{"gateway":"https://pay.example.com/","pid":"1001","key":"K","methods":["alipay","wxpay"],"mode":"submit"}"#;
        let ctx = providers.context("t", &keys, false, creds);
        let start = EpayChannel.create_payment(ctx, &request()).await.expect("redirect");
        let (base, query) = start.pay_url.split_once('?').expect("query");
        assert_eq!(base, "https://pay.example.com/submit.php");
        let fields: BTreeMap<String, String> = serde_urlencoded::from_str(query).expect("form");
        assert_eq!(
            (fields["money"].as_str(), fields["type"].as_str(), fields["name"].as_str()),
            ("12.30", "wxpay", "月卡 & more")
        );
        assert_eq!(wire::sign(&fields, "K"), fields["sign"]);
        let mut other = request();
        other.currency = "USD".into();
        assert!(matches!(EpayChannel.create_payment(ctx, &other).await, Err(ChannelError::Business(_))));
    }
}
