//! Starting a subscription: a Stripe Checkout Session in subscription mode
//! for the plan's Stripe Price, naming the shop in `client_reference_id`
//! and in the subscription's metadata.

use std::collections::HashMap;

use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use stripe_shared::CheckoutSessionMode;

use crate::channel::ChannelError;

/// Metadata key naming the shop on a subscription.
pub const TENANT_KEY: &str = "kapu_tenant";
/// Metadata key naming the plan on a subscription.
pub const PLAN_KEY: &str = "kapu_plan";

/// What to subscribe whom to.
#[derive(Debug, Clone)]
pub struct SubscribeRequest {
    pub tenant_id: String,
    pub plan_id: String,
    pub stripe_price_id: String,
    /// The shop's Stripe customer, when it had a subscription before.
    pub customer_id: Option<String>,
    pub customer_email: String,
    pub trial_days: u32,
    pub success_url: String,
    pub cancel_url: String,
}

/// Creates the Checkout Session; returns its id and the URL to send the merchant to.
pub async fn start_subscription_checkout(
    api_base: &str,
    secret_key: &str,
    req: &SubscribeRequest,
) -> Result<(String, String), ChannelError> {
    let client = stripe::ClientBuilder::new(secret_key.to_string())
        .url(format!("{}/", api_base.trim_end_matches('/')))
        .build()
        .map_err(|e| ChannelError::Business(format!("Stripe client: {e}")))?;
    let metadata =
        HashMap::from([(TENANT_KEY.to_string(), req.tenant_id.clone()), (PLAN_KEY.to_string(), req.plan_id.clone())]);
    let mut item = CreateCheckoutSessionLineItems::new();
    item.price = Some(req.stripe_price_id.clone());
    item.quantity = Some(1);
    let mut sub = CreateCheckoutSessionSubscriptionData::new();
    sub.metadata = Some(metadata.clone());
    if req.trial_days > 0 {
        sub.trial_period_days = Some(req.trial_days);
    }
    let mut create = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .line_items(vec![item])
        .client_reference_id(req.tenant_id.clone())
        .metadata(metadata)
        .subscription_data(sub)
        .success_url(req.success_url.clone())
        .cancel_url(req.cancel_url.clone());
    create = match &req.customer_id {
        Some(c) => create.customer(c.clone()),
        None => create.customer_email(req.customer_email.clone()),
    };
    let session = create.send(&client).await.map_err(crate::channels::stripe::api_error)?;
    let url = session
        .url
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ChannelError::Business("Stripe gave no Checkout URL".into()))?;
    Ok((session.id.as_str().to_string(), url))
}
