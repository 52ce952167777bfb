//! The sandbox channel: a stand-in provider for shops in test mode.
//!
//! Its pay page (served by the runtime at `/pay/sandbox/{payment_id}`) offers
//! "Pay" and "Fail"; choosing one makes the sandbox emit a notification signed
//! with the tenant's sandbox key (HMAC-SHA256), which goes through the same
//! verification path as any real provider's. It refuses to work for a shop
//! in live mode.

mod wire;

pub use wire::{sign_notification, signing_text};

use crate::channel::{
    ChannelContext, ChannelError, KnownPayment, Notification, PaymentChannel, PaymentOutcome, PaymentRequest,
    PaymentStart, QueryOutcome, VerifiedNotification, VerifyError,
};

/// Kind name of the sandbox.
pub const KIND: &str = "sandbox";

/// The sandbox channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxChannel;

#[async_trait::async_trait]
impl PaymentChannel for SandboxChannel {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn test_only(&self) -> bool {
        true
    }

    fn methods(&self, _credentials: &str) -> Vec<&'static str> {
        vec!["sandbox"]
    }

    fn takes_currency(&self, _currency: &str) -> bool {
        true
    }

    fn check_credentials(&self, _credentials: &str) -> Result<(), String> {
        Ok(())
    }

    async fn create_payment(
        &self,
        ctx: ChannelContext<'_>,
        req: &PaymentRequest,
    ) -> Result<PaymentStart, ChannelError> {
        if !ctx.test_mode {
            return Err(ChannelError::NotAllowed("the sandbox only works for shops in test mode".into()));
        }
        Ok(PaymentStart { pay_url: req.on_site_pay_url("sandbox"), qr_payload: None, provider_ref: None })
    }

    async fn verify_notification(
        &self,
        ctx: ChannelContext<'_>,
        n: &Notification,
        _known: &KnownPayment,
    ) -> Result<VerifiedNotification, VerifyError> {
        let field = |name: &str| n.get(name).ok_or_else(|| VerifyError::Malformed(format!("missing {name}")));
        let payment_id = field("payment_id")?;
        let outcome = field("outcome")?;
        let amount = field("amount_minor")?;
        let currency = field("currency")?;
        let sign = field("sign")?;
        let expected = ctx.keys.sandbox_signature(&signing_text(payment_id, outcome, amount, currency));
        if !kapu_core::crypto::constant_time_eq(&expected, sign) {
            return Err(VerifyError::BadSignature);
        }
        let outcome = match outcome {
            "paid" => PaymentOutcome::Paid,
            "failed" => PaymentOutcome::Failed,
            other => return Err(VerifyError::Malformed(format!("unknown outcome {other:?}"))),
        };
        let amount_minor = amount.parse().map_err(|_| VerifyError::Malformed("amount_minor".into()))?;
        Ok(VerifiedNotification {
            payment_id: payment_id.to_string(),
            outcome,
            amount_minor,
            currency: currency.to_string(),
            provider_ref: Some(format!("sandbox-{payment_id}")),
        })
    }

    /// The sandbox only knows what its pay page sent; reconciliation has nothing to ask.
    async fn query_payment(
        &self,
        _ctx: ChannelContext<'_>,
        _known: &KnownPayment,
    ) -> Result<QueryOutcome, ChannelError> {
        Ok(QueryOutcome::Pending)
    }

    fn notify_ack(&self) -> &'static str {
        "success"
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kapu_core::crypto::MasterKey;

    use super::*;
    use crate::endpoints::ProviderEndpoints;

    fn known() -> KnownPayment {
        KnownPayment { payment_id: "p1".into(), amount_minor: 990, currency: "CNY".into(), provider_ref: None }
    }

    #[tokio::test]
    async fn signed_notifications_verify_and_tampering_fails() {
        let mk = MasterKey::generate();
        let keys = mk.tenant("t1");
        let http = reqwest::Client::new();
        let endpoints = ProviderEndpoints::default();
        let ctx = ChannelContext {
            tenant_id: "t1",
            keys: &keys,
            test_mode: true,
            credentials: "{}",
            http: &http,
            endpoints: &endpoints,
            timeout: Duration::from_secs(1),
            allow_private_hosts: false,
        };
        let n = sign_notification(&keys, "p1", PaymentOutcome::Paid, 990, "CNY");
        let v = SandboxChannel.verify_notification(ctx, &n, &known()).await.expect("verifies");
        assert_eq!(v.amount_minor, 990);
        assert_eq!(v.outcome, PaymentOutcome::Paid);

        let mut tampered = n.clone();
        tampered.fields.insert("amount_minor".into(), "1".into());
        assert_eq!(SandboxChannel.verify_notification(ctx, &tampered, &known()).await, Err(VerifyError::BadSignature));

        let other = mk.tenant("t2");
        let ctx2 = ChannelContext { tenant_id: "t2", keys: &other, ..ctx };
        assert_eq!(SandboxChannel.verify_notification(ctx2, &n, &known()).await, Err(VerifyError::BadSignature));

        let mut missing = n;
        missing.fields.remove("sign");
        assert!(matches!(
            SandboxChannel.verify_notification(ctx, &missing, &known()).await,
            Err(VerifyError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn live_shops_cannot_use_the_sandbox() {
        let keys = MasterKey::generate().tenant("t1");
        let http = reqwest::Client::new();
        let endpoints = ProviderEndpoints::default();
        let req = PaymentRequest {
            payment_id: "p1".into(),
            order_no: "1".into(),
            amount_minor: 1,
            currency: "CNY".into(),
            subject: "x".into(),
            method: None,
            base_url: "http://demo.localhost".into(),
            return_url: String::new(),
            notify_url: String::new(),
            client_ip: "127.0.0.1".into(),
            order_token: "t0k".into(),
        };
        let live = ChannelContext {
            tenant_id: "t1",
            keys: &keys,
            test_mode: false,
            credentials: "{}",
            http: &http,
            endpoints: &endpoints,
            timeout: Duration::from_secs(1),
            allow_private_hosts: false,
        };
        assert!(matches!(SandboxChannel.create_payment(live, &req).await, Err(ChannelError::NotAllowed(_))));
        let test = ChannelContext { test_mode: true, ..live };
        let start = SandboxChannel.create_payment(test, &req).await.expect("test mode works");
        assert_eq!(start.pay_url, "http://demo.localhost/pay/sandbox/p1?token=t0k");
    }
}
