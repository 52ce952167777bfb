//! Alipay (支付宝): 当面付 precreate (a QR code, server to server, so an
//! outage is noticed and failed over) or 电脑网站/手机网站 page pay (a signed
//! redirect). RSA2 signatures both ways: requests signed with the merchant
//! app's private key; responses and notifications verified with Alipay's
//! public key. A notification is believed only with a valid signature, this
//! shop's `app_id`, the attempt's `out_trade_no`, `trade_status`
//! TRADE_SUCCESS or TRADE_FINISHED and a plain decimal `total_amount`.
//! Reconciliation uses `alipay.trade.query`; refunds `alipay.trade.refund`.

pub mod wire;

use chrono::Utc;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use serde_json::json;

use crate::channel::{
    ChannelContext, ChannelError, KnownPayment, Notification, PaymentChannel, PaymentOutcome, PaymentRequest,
    PaymentStart, QueryOutcome, VerifiedNotification, VerifyError, cny_only, exchange,
};
use crate::credentials::{non_empty, parse};
use crate::money::{format_decimal, parse_decimal_minor};
use crate::rsa_keys;

/// Kind name of Alipay.
pub const KIND: &str = "alipay";

/// A merchant's Alipay app.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AlipayCredentials {
    pub app_id: String,
    /// The app's private key (PKCS#8 or PKCS#1; PEM or bare base64).
    pub private_key: String,
    /// Alipay's public key for this app (not the app's own public key).
    pub alipay_public_key: String,
    /// `precreate` (default, QR code), `page` (desktop redirect) or `wap` (mobile redirect).
    #[serde(default)]
    pub product: Option<String>,
}

struct Loaded {
    app_id: String,
    key: RsaPrivateKey,
    alipay_key: RsaPublicKey,
    product: String,
}

fn load(json: &str) -> Result<Loaded, String> {
    let c: AlipayCredentials = parse(json)?;
    non_empty("app_id", &c.app_id)?;
    let product = c.product.unwrap_or_else(|| "precreate".into());
    if !["precreate", "page", "wap"].contains(&product.as_str()) {
        return Err("product must be precreate, page or wap".into());
    }
    Ok(Loaded {
        app_id: c.app_id,
        key: rsa_keys::private_key(&c.private_key)?,
        alipay_key: rsa_keys::public_key(&c.alipay_public_key)?,
        product,
    })
}

/// The Alipay channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlipayChannel;

impl AlipayChannel {
    fn gateway<'a>(ctx: &ChannelContext<'a>) -> &'a str {
        if ctx.test_mode { &ctx.endpoints.alipay_sandbox_gateway } else { &ctx.endpoints.alipay_gateway }
    }

    /// One OpenAPI call; returns the verified response node.
    async fn call(
        ctx: ChannelContext<'_>,
        l: &Loaded,
        method: &str,
        biz: &serde_json::Value,
        extra: &[(&str, &str)],
    ) -> Result<wire::ResponseNode, ChannelError> {
        let params = wire::signed_request(&l.key, &l.app_id, method, biz, extra, Utc::now());
        let text =
            exchange(ctx.http.post(Self::gateway(&ctx)).timeout(ctx.timeout).form(&params), ctx.allow_private_hosts)
                .await?
                .success_body()?;
        let (node, signed) = wire::response_node(&l.alipay_key, method, &text).map_err(ChannelError::Transient)?;
        if node.code == "10000" && !signed {
            return Err(ChannelError::Business("Alipay's answer is not signed by Alipay's key".into()));
        }
        Ok(node)
    }
}

#[async_trait::async_trait]
impl PaymentChannel for AlipayChannel {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn methods(&self, _credentials: &str) -> Vec<&'static str> {
        vec!["alipay"]
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
        cny_only("Alipay", &req.currency)?;
        let amount = format_decimal(req.amount_minor);
        let subject: String = req.subject.chars().take(128).collect();
        if l.product != "precreate" {
            let (method, code) = if l.product == "wap" {
                ("alipay.trade.wap.pay", "QUICK_WAP_WAY")
            } else {
                ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY")
            };
            let biz = json!({"out_trade_no": req.payment_id, "total_amount": amount, "subject": subject, "product_code": code});
            let params = wire::signed_request(
                &l.key,
                &l.app_id,
                method,
                &biz,
                &[("notify_url", &req.notify_url), ("return_url", &req.return_url)],
                Utc::now(),
            );
            let query = serde_urlencoded::to_string(&params).map_err(|e| ChannelError::Business(e.to_string()))?;
            return Ok(PaymentStart {
                pay_url: format!("{}?{query}", Self::gateway(&ctx)),
                qr_payload: None,
                provider_ref: None,
            });
        }
        let biz = json!({"out_trade_no": req.payment_id, "total_amount": amount, "subject": subject});
        let node = Self::call(ctx, &l, "alipay.trade.precreate", &biz, &[("notify_url", &req.notify_url)]).await?;
        if node.code != "10000" {
            let text = format!("Alipay refused: {}", node.describe());
            // 20000 is Alipay's "service temporarily unavailable".
            return Err(if node.code == "20000" {
                ChannelError::Transient(text)
            } else {
                ChannelError::Business(text)
            });
        }
        if node.out_trade_no.as_deref() != Some(req.payment_id.as_str()) {
            return Err(ChannelError::Business("Alipay answered about another trade".into()));
        }
        let qr = node
            .qr_code
            .filter(|q| !q.is_empty())
            .ok_or_else(|| ChannelError::Business("Alipay gave no QR code".into()))?;
        Ok(PaymentStart { pay_url: req.on_site_pay_url("qr"), qr_payload: Some(qr), provider_ref: None })
    }

    async fn verify_notification(
        &self,
        ctx: ChannelContext<'_>,
        n: &Notification,
        known: &KnownPayment,
    ) -> Result<VerifiedNotification, VerifyError> {
        let l = load(ctx.credentials).map_err(VerifyError::NotConfigured)?;
        n.require("sign")?;
        if !wire::notification_verifies(&l.alipay_key, &n.fields) {
            return Err(VerifyError::BadSignature);
        }
        let app_id = n.require("app_id")?;
        if app_id != l.app_id {
            return Err(VerifyError::WrongMerchant(format!("app_id {app_id}")));
        }
        let out_trade_no = n.require("out_trade_no")?;
        if out_trade_no != known.payment_id {
            return Err(VerifyError::Malformed(format!("out_trade_no {out_trade_no} is not this payment")));
        }
        let status = n.require("trade_status")?;
        if status != "TRADE_SUCCESS" && status != "TRADE_FINISHED" {
            return Err(VerifyError::Malformed(format!("trade_status {status} is not a payment")));
        }
        let amount_minor =
            parse_decimal_minor(n.require("total_amount")?).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        Ok(VerifiedNotification {
            payment_id: known.payment_id.clone(),
            outcome: PaymentOutcome::Paid,
            amount_minor,
            currency: "CNY".into(),
            provider_ref: Some(n.require("trade_no")?.to_string()),
        })
    }

    async fn query_payment(&self, ctx: ChannelContext<'_>, known: &KnownPayment) -> Result<QueryOutcome, ChannelError> {
        let l = load(ctx.credentials).map_err(ChannelError::Business)?;
        let node = Self::call(ctx, &l, "alipay.trade.query", &json!({"out_trade_no": known.payment_id}), &[]).await?;
        if node.code == "40004" && node.sub_code.as_deref() == Some("ACQ.TRADE_NOT_EXIST") {
            return Ok(QueryOutcome::NotFound);
        }
        if node.code != "10000" {
            return Err(ChannelError::Business(format!("Alipay query failed: {}", node.describe())));
        }
        if node.out_trade_no.as_deref() != Some(known.payment_id.as_str()) {
            return Err(ChannelError::Business("Alipay answered about another trade".into()));
        }
        Ok(match node.trade_status.as_deref() {
            Some("TRADE_SUCCESS" | "TRADE_FINISHED") => {
                let amount_minor =
                    node.total_amount.as_deref().and_then(|a| parse_decimal_minor(a).ok()).ok_or_else(|| {
                        ChannelError::Business("Alipay reports paid without a readable amount".into())
                    })?;
                QueryOutcome::Paid(VerifiedNotification {
                    payment_id: known.payment_id.clone(),
                    outcome: PaymentOutcome::Paid,
                    amount_minor,
                    currency: "CNY".into(),
                    provider_ref: node.trade_no,
                })
            }
            Some("TRADE_CLOSED") => QueryOutcome::Closed,
            _ => QueryOutcome::Pending,
        })
    }

    fn supports_refund(&self) -> bool {
        true
    }

    async fn refund(&self, ctx: ChannelContext<'_>, known: &KnownPayment) -> Result<(), ChannelError> {
        let l = load(ctx.credentials).map_err(ChannelError::Business)?;
        let biz = json!({
            "out_trade_no": known.payment_id,
            "refund_amount": format_decimal(known.amount_minor),
            "out_request_no": format!("{}-refund", known.payment_id),
        });
        let node = Self::call(ctx, &l, "alipay.trade.refund", &biz, &[]).await?;
        if node.code == "10000" {
            Ok(())
        } else {
            Err(ChannelError::Business(format!("Alipay refused the refund: {}", node.describe())))
        }
    }

    fn notify_ack(&self) -> &'static str {
        "success"
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use kapu_core::crypto::MasterKey;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    use super::*;
    use crate::providers::Providers;
    use crate::signing::sorted_params_text;

    #[tokio::test]
    async fn page_pay_redirects_with_an_rsa2_signed_query() {
        let app_key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("keygen");
        let creds = json!({
            "app_id": "2021000000000001",
            "private_key": app_key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string(),
            "alipay_public_key": app_key.to_public_key().to_public_key_pem(LineEnding::LF).expect("spki"),
            "product": "page",
        })
        .to_string();
        let keys = MasterKey::generate().tenant("t");
        let providers = Providers::new(Duration::from_secs(1), None, None, None, false).expect("providers");
        let ctx = providers.context("t", &keys, false, &creds);
        let req = PaymentRequest {
            payment_id: "019abc".into(),
            order_no: "1".into(),
            amount_minor: 990,
            currency: "CNY".into(),
            subject: "点卡".into(),
            method: None,
            base_url: "http://s.localhost".into(),
            return_url: "http://s.localhost/orders/1".into(),
            notify_url: "http://s.localhost/api/v1/payments/019abc/notify".into(),
            client_ip: "203.0.113.9".into(),
            order_token: "t0k".into(),
        };
        let start = AlipayChannel.create_payment(ctx, &req).await.expect("redirect");
        let (base, query) = start.pay_url.split_once('?').expect("query");
        assert_eq!(base, "https://openapi.alipay.com/gateway.do", "live shops use the live gateway");
        let fields: BTreeMap<String, String> = serde_urlencoded::from_str(query).expect("form");
        assert_eq!(fields["method"], "alipay.trade.page.pay");
        let biz: serde_json::Value = serde_json::from_str(&fields["biz_content"]).expect("biz");
        assert_eq!((biz["total_amount"].as_str(), biz["out_trade_no"].as_str()), (Some("9.90"), Some("019abc")));
        let text = sorted_params_text(&fields, &["sign"]);
        assert!(rsa_keys::verify(&app_key.to_public_key(), &text, &fields["sign"]));
        let test_ctx = providers.context("t", &keys, true, &creds);
        let start = AlipayChannel.create_payment(test_ctx, &req).await.expect("redirect");
        assert!(
            start.pay_url.starts_with("https://openapi-sandbox.dl.alipaydev.com/gateway.do?"),
            "test mode uses Alipay's sandbox"
        );
    }
}
