//! Storefront JSON API (`/api/v1/…` on the shop's host). No cookies, so no
//! CSRF; ids are opaque strings; errors are `{"error":{"code","message"}}`.

pub mod create_order;
pub mod get_order;
pub mod list_products;
pub mod notify_payment;
pub mod openapi;
pub mod stripe_webhook;

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::StoreError;

/// `Json<T>` whose rejection is our `invalid_json` error.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = StoreError;
    async fn from_request(req: Request, state: &S) -> Result<Self, StoreError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| ApiJson(v))
            .map_err(|e| StoreError::InvalidJson(e.body_text()))
    }
}
