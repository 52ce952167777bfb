//! Changing a live subscription through the platform's Stripe account:
//! cancel it (the shop goes back to the default plan when Stripe's
//! `customer.subscription.deleted` arrives) or move it to another plan's
//! price (applied when `customer.subscription.updated` arrives). Requests go
//! through async-stripe's client; the answers are read as plain JSON.

use miniserde::json::Value;
use stripe_client_core::{RequestBuilder, StripeMethod};

use crate::channel::ChannelError;

fn client(api_base: &str, secret_key: &str) -> Result<stripe::Client, ChannelError> {
    stripe::ClientBuilder::new(secret_key.to_string())
        .url(format!("{}/", api_base.trim_end_matches('/')))
        .build()
        .map_err(|e| ChannelError::Business(format!("Stripe client: {e}")))
}

fn id_path(id: &str) -> Result<String, ChannelError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ChannelError::Business(format!("not a Stripe id: {id:?}")));
    }
    Ok(format!("/subscriptions/{id}"))
}

/// Cancels a subscription now.
pub async fn cancel_subscription(api_base: &str, secret_key: &str, subscription_id: &str) -> Result<(), ChannelError> {
    RequestBuilder::new(StripeMethod::Delete, id_path(subscription_id)?)
        .customize::<Value>()
        .send(&client(api_base, secret_key)?)
        .await
        .map_err(crate::channels::stripe::api_error)?;
    Ok(())
}

/// Moves a subscription's (only) item to `price_id`, prorated.
pub async fn change_subscription_price(
    api_base: &str,
    secret_key: &str,
    subscription_id: &str,
    price_id: &str,
) -> Result<(), ChannelError> {
    let c = client(api_base, secret_key)?;
    let sub = RequestBuilder::new(StripeMethod::Get, id_path(subscription_id)?)
        .customize::<Value>()
        .send(&c)
        .await
        .map_err(crate::channels::stripe::api_error)?;
    let item_id = first_item_id(&sub).ok_or_else(|| ChannelError::Business("the subscription has no item".into()))?;
    let form = PriceChange {
        items: vec![ItemChange { id: &item_id, price: price_id }],
        proration_behavior: "create_prorations",
    };
    RequestBuilder::new(StripeMethod::Post, id_path(subscription_id)?)
        .form(&form)
        .customize::<Value>()
        .send(&c)
        .await
        .map_err(crate::channels::stripe::api_error)?;
    Ok(())
}

/// `items[0][id]=…&items[0][price]=…&proration_behavior=…`
#[derive(serde::Serialize)]
struct PriceChange<'a> {
    items: Vec<ItemChange<'a>>,
    proration_behavior: &'a str,
}

#[derive(serde::Serialize)]
struct ItemChange<'a> {
    id: &'a str,
    price: &'a str,
}

fn first_item_id(sub: &Value) -> Option<String> {
    let Value::Object(o) = sub else { return None };
    let Some(Value::Object(items)) = o.get("items") else { return None };
    let Some(Value::Array(data)) = items.get("data") else { return None };
    let Some(Value::Object(first)) = data.first() else { return None };
    match first.get("id") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}
