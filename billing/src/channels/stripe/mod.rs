//! Stripe (cards and the wallets Stripe Checkout offers), through async-stripe.
//!
//! A payment is a Checkout Session for the order amount whose
//! `client_reference_id` and metadata name the attempt. Stripe notifies one
//! webhook endpoint per account (`/api/v1/channels/stripe/webhook` on the
//! shop's host); the event is believed only when its `Stripe-Signature`
//! verifies under the shop's signing secret within Stripe's five-minute
//! tolerance (async-stripe's constant-time check), and the session is the
//! one created for the attempt, paid, for the attempt's amount and
//! currency. Reconciliation retrieves the session; refunds refund its
//! PaymentIntent.

use std::collections::HashMap;
use std::str::FromStr;

use serde::Deserialize;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ProductData, RetrieveCheckoutSession,
};
use stripe_shared::{CheckoutSession, CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus};
use stripe_webhook::{EventObject, Webhook};

use crate::channel::{
    ChannelContext, ChannelError, KnownPayment, Notification, PaymentChannel, PaymentOutcome, PaymentRequest,
    PaymentStart, QueryOutcome, VerifiedNotification, VerifyError,
};
use crate::credentials::{non_empty, parse};

/// Kind name of Stripe.
pub const KIND: &str = "stripe";

/// Metadata key naming Kapu's payment attempt on sessions and PaymentIntents.
pub const PAYMENT_ID_KEY: &str = "kapu_payment_id";

/// A merchant's Stripe account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StripeCredentials {
    /// `sk_live_…` for a live shop, `sk_test_…` in test mode (restricted `rk_` keys too).
    pub secret_key: String,
    /// The webhook endpoint's signing secret, `whsec_…`.
    pub webhook_secret: String,
}

fn load(json: &str) -> Result<StripeCredentials, String> {
    let c: StripeCredentials = parse(json)?;
    non_empty("secret_key", &c.secret_key)?;
    non_empty("webhook_secret", &c.webhook_secret)?;
    if !(c.secret_key.starts_with("sk_") || c.secret_key.starts_with("rk_")) {
        return Err("secret_key must be a Stripe secret key (sk_live_… or sk_test_…)".into());
    }
    if !c.webhook_secret.starts_with("whsec_") {
        return Err("webhook_secret must be the endpoint's signing secret (whsec_…)".into());
    }
    Ok(c)
}

/// A live shop must not run on a test key (it would never take money), nor a test shop on a live key.
fn check_mode(c: &StripeCredentials, test_mode: bool) -> Result<(), ChannelError> {
    let is_test_key = c.secret_key.contains("_test_");
    if is_test_key != test_mode {
        return Err(ChannelError::Business(if test_mode {
            "a shop in test mode must use a Stripe test key (sk_test_…)".into()
        } else {
            "a live shop needs a live Stripe key (sk_live_…); test keys never take money".into()
        }));
    }
    Ok(())
}

/// The client of one merchant account.
fn client(ctx: &ChannelContext<'_>, c: &StripeCredentials) -> Result<stripe::Client, ChannelError> {
    let base = format!("{}/", ctx.endpoints.stripe_base.trim_end_matches('/'));
    stripe::ClientBuilder::new(c.secret_key.clone())
        .url(base)
        .build()
        .map_err(|e| ChannelError::Business(format!("Stripe client: {e}")))
}

pub(crate) fn api_error(e: stripe::StripeError) -> ChannelError {
    match e {
        stripe::StripeError::Stripe(err, status) if status < 500 && status != 429 => ChannelError::Business(format!(
            "Stripe refused ({status}): {}",
            err.message.as_deref().unwrap_or("no message")
        )),
        stripe::StripeError::Stripe(_, status) => ChannelError::Transient(format!("Stripe answered {status}")),
        stripe::StripeError::Timeout => ChannelError::Transient("Stripe timed out".into()),
        stripe::StripeError::ClientError(m) => ChannelError::Transient(format!("Stripe unreachable: {m}")),
        stripe::StripeError::JSONDeserialize(m) => {
            ChannelError::Transient(format!("Stripe answered something unreadable: {m}"))
        }
        stripe::StripeError::ConfigError(m) => ChannelError::Business(format!("Stripe client: {m}")),
    }
}

fn currency_of(code: &str) -> Result<stripe_types::Currency, ChannelError> {
    stripe_types::Currency::from_str(&code.to_ascii_lowercase())
        .map_err(|_| ChannelError::Business(format!("Stripe does not take {code}")))
}

/// A paid session as Kapu's verified facts, after matching it to the attempt.
fn facts_of(s: &CheckoutSession, known: &KnownPayment) -> Result<Option<VerifiedNotification>, String> {
    let named = s
        .client_reference_id
        .as_deref()
        .or_else(|| s.metadata.as_ref().and_then(|m| m.get(PAYMENT_ID_KEY)).map(String::as_str));
    if named != Some(known.payment_id.as_str()) {
        return Err(format!("session {} is for payment {:?}", s.id.as_str(), named));
    }
    if known.provider_ref.as_deref().is_some_and(|r| r != s.id.as_str()) {
        return Err(format!("session {} is not the one created for this payment", s.id.as_str()));
    }
    if s.payment_status != CheckoutSessionPaymentStatus::Paid {
        return Ok(None);
    }
    let amount_minor = s.amount_total.ok_or("paid session without amount_total")?;
    if amount_minor <= 0 {
        return Err(format!("amount_total {amount_minor} is not positive"));
    }
    let currency = s.currency.as_ref().ok_or("paid session without currency")?.to_string().to_ascii_uppercase();
    Ok(Some(VerifiedNotification {
        payment_id: known.payment_id.clone(),
        outcome: PaymentOutcome::Paid,
        amount_minor,
        currency,
        provider_ref: Some(s.id.as_str().to_string()),
    }))
}

/// The Stripe channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct StripeChannel;

#[async_trait::async_trait]
impl PaymentChannel for StripeChannel {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn methods(&self, _credentials: &str) -> Vec<&'static str> {
        vec!["card"]
    }

    fn takes_currency(&self, _currency: &str) -> bool {
        true
    }

    fn check_credentials(&self, credentials: &str) -> Result<(), String> {
        load(credentials).map(|_| ())
    }

    async fn create_payment(
        &self,
        ctx: ChannelContext<'_>,
        req: &PaymentRequest,
    ) -> Result<PaymentStart, ChannelError> {
        let c = load(ctx.credentials).map_err(ChannelError::Business)?;
        check_mode(&c, ctx.test_mode)?;
        let metadata = HashMap::from([
            (PAYMENT_ID_KEY.to_string(), req.payment_id.clone()),
            ("kapu_order_no".to_string(), req.order_no.clone()),
        ]);
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency_of(&req.currency)?);
        price.unit_amount = Some(req.amount_minor);
        price.product_data = Some(ProductData::new(req.subject.chars().take(200).collect::<String>()));
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price_data = Some(price);
        item.quantity = Some(1);
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.metadata = Some(metadata.clone());
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(vec![item])
            .client_reference_id(req.payment_id.clone())
            .metadata(metadata)
            .payment_intent_data(intent)
            .success_url(req.return_url.clone())
            .cancel_url(req.return_url.clone())
            .send(&client(&ctx, &c)?)
            .await
            .map_err(api_error)?;
        let url = session
            .url
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ChannelError::Business("Stripe gave no Checkout URL".into()))?;
        Ok(PaymentStart { pay_url: url, qr_payload: None, provider_ref: Some(session.id.as_str().to_string()) })
    }

    async fn verify_notification(
        &self,
        ctx: ChannelContext<'_>,
        n: &Notification,
        known: &KnownPayment,
    ) -> Result<VerifiedNotification, VerifyError> {
        let c = load(ctx.credentials).map_err(VerifyError::NotConfigured)?;
        let sig =
            n.header("stripe-signature").ok_or_else(|| VerifyError::Malformed("missing Stripe-Signature".into()))?;
        let event = Webhook::construct_event(&n.body, sig, &c.webhook_secret).map_err(|e| match e {
            stripe_webhook::WebhookError::BadSignature | stripe_webhook::WebhookError::BadHeader(_) => {
                VerifyError::BadSignature
            }
            other => VerifyError::Malformed(other.to_string()),
        })?;
        if event.livemode == ctx.test_mode {
            return Err(VerifyError::WrongMerchant(format!(
                "a {} event for a shop in {} mode",
                if event.livemode { "live" } else { "test" },
                if ctx.test_mode { "test" } else { "live" }
            )));
        }
        match event.data.object {
            EventObject::CheckoutSessionCompleted(s) | EventObject::CheckoutSessionAsyncPaymentSucceeded(s) => {
                match facts_of(&s, known) {
                    Ok(Some(v)) => Ok(v),
                    Ok(None) => Err(VerifyError::Malformed("session is not paid (yet)".into())),
                    Err(e) => Err(VerifyError::Malformed(e)),
                }
            }
            EventObject::PaymentIntentSucceeded(pi) => {
                if pi.metadata.get(PAYMENT_ID_KEY) != Some(&known.payment_id) {
                    return Err(VerifyError::Malformed("PaymentIntent is for another payment".into()));
                }
                if pi.amount_received <= 0 {
                    return Err(VerifyError::Malformed("amount_received is not positive".into()));
                }
                Ok(VerifiedNotification {
                    payment_id: known.payment_id.clone(),
                    outcome: PaymentOutcome::Paid,
                    amount_minor: pi.amount_received,
                    currency: pi.currency.to_string().to_ascii_uppercase(),
                    provider_ref: known.provider_ref.clone(),
                })
            }
            _ => Err(VerifyError::Malformed(format!("event type {} is not a payment", event.type_.as_str()))),
        }
    }

    async fn query_payment(&self, ctx: ChannelContext<'_>, known: &KnownPayment) -> Result<QueryOutcome, ChannelError> {
        let c = load(ctx.credentials).map_err(ChannelError::Business)?;
        let Some(session_id) = known.provider_ref.as_deref() else { return Ok(QueryOutcome::NotFound) };
        let s = match RetrieveCheckoutSession::new(session_id).send(&client(&ctx, &c)?).await {
            Ok(s) => s,
            Err(stripe::StripeError::Stripe(_, 404)) => return Ok(QueryOutcome::NotFound),
            Err(e) => return Err(api_error(e)),
        };
        match facts_of(&s, known) {
            Ok(Some(v)) => Ok(QueryOutcome::Paid(v)),
            Ok(None) if s.status == Some(CheckoutSessionStatus::Expired) => Ok(QueryOutcome::Closed),
            Ok(None) => Ok(QueryOutcome::Pending),
            Err(e) => Err(ChannelError::Business(e)),
        }
    }

    fn supports_refund(&self) -> bool {
        true
    }

    async fn refund(&self, ctx: ChannelContext<'_>, known: &KnownPayment) -> Result<(), ChannelError> {
        let c = load(ctx.credentials).map_err(ChannelError::Business)?;
        let client = client(&ctx, &c)?;
        let session_id =
            known.provider_ref.as_deref().ok_or_else(|| ChannelError::Business("no Stripe session recorded".into()))?;
        let s = RetrieveCheckoutSession::new(session_id).send(&client).await.map_err(api_error)?;
        let intent = s
            .payment_intent
            .as_ref()
            .ok_or_else(|| ChannelError::Business("the session has no PaymentIntent".into()))?;
        stripe_core::refund::CreateRefund::new()
            .payment_intent(intent.id().as_str().to_string())
            .metadata(HashMap::from([(PAYMENT_ID_KEY.to_string(), known.payment_id.clone())]))
            .send(&client)
            .await
            .map_err(api_error)?;
        Ok(())
    }

    fn notify_ack(&self) -> &'static str {
        ""
    }
}
