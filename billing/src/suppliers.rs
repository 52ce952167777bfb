//! The generic supplier contract, client side: a supplier outside Kapu lists
//! its products with stock, sells keys for an order reference, and answers
//! what it sold for a reference (`docs/SUPPLIER_PROTOCOL.md`). Every request
//! is signed: `X-Kapu-Timestamp` (Unix seconds) and `X-Kapu-Signature`, the
//! hex HMAC-SHA256 of `"{timestamp}\n{METHOD}\n{path}\n{body}"` under the
//! secret the two sides share. The same reference always means the same
//! order, so a retried purchase never buys twice.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::channel::{ChannelError, exchange};
use crate::providers::Providers;

/// One product the supplier offers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct SupplierProduct {
    pub sku: String,
    pub name: String,
    pub stock: i64,
    /// The supplier's price per key, as it writes it (`"8.00"`).
    #[serde(default)]
    pub price: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
}

#[derive(serde::Deserialize)]
struct ProductList {
    products: Vec<SupplierProduct>,
}

/// What the supplier sold for one reference.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct SupplierOrder {
    pub reference: String,
    /// `delivered`, or `pending` while the supplier is still getting the keys.
    pub status: String,
    #[serde(default)]
    pub keys: Vec<String>,
}

/// Why a supplier call did not give an answer to use.
#[derive(Debug, thiserror::Error)]
pub enum SupplierError {
    /// Timeout, refused connection, 5xx: try again later.
    #[error("{0}")]
    Transient(String),
    /// The supplier said no for good (out of stock, unknown SKU, bad signature).
    #[error("{0}")]
    Refused(String),
}

impl SupplierError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SupplierError::Transient(_))
    }
}

/// The signature of one request (also what a supplier computes to check it).
pub fn signature(secret: &str, timestamp: i64, method: &str, path: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}\n{method}\n{path}\n{body}").as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// A docked supplier: its address and the shared secret.
pub struct GenericSupplier<'a> {
    pub providers: &'a Providers,
    /// `https://…`, no trailing slash.
    pub base_url: &'a str,
    pub secret: &'a str,
    /// A shop on another Kapu platform: the secret is a supply API key,
    /// sent as `Authorization: Bearer` (the signature headers are sent too).
    pub bearer: bool,
}

impl GenericSupplier<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<String>) -> Result<String, SupplierError> {
        let (status, text) = self.exchange(method, path, body).await?;
        let excerpt: String = text.chars().take(200).collect();
        match status {
            200..=299 => Ok(text),
            408 | 425 | 429 | 500..=599 => {
                Err(SupplierError::Transient(format!("supplier answered {status}: {excerpt}")))
            }
            _ => Err(SupplierError::Refused(format!("supplier answered {status}: {excerpt}"))),
        }
    }

    /// One signed request: the answer's status and body.
    async fn exchange(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, String), SupplierError> {
        let url = format!("{}{path}", self.base_url.trim_end_matches('/'));
        let full_path = reqwest::Url::parse(&url)
            .map_err(|_| SupplierError::Refused(format!("not a web address: {url}")))?
            .path()
            .to_string();
        let body = body.unwrap_or_default();
        let ts = chrono::Utc::now().timestamp();
        let sig = signature(self.secret, ts, method.as_str(), &full_path, &body);
        let mut req = self
            .providers
            .http
            .request(method, &url)
            .timeout(self.providers.timeout)
            .header("x-kapu-timestamp", ts.to_string())
            .header("x-kapu-signature", sig);
        if self.bearer {
            req = req.bearer_auth(self.secret);
        }
        if !body.is_empty() {
            req = req.header("content-type", "application/json").body(body);
        }
        let answer = exchange(req, self.providers.allow_private_hosts).await.map_err(|e| match e {
            ChannelError::Transient(m) => SupplierError::Transient(m),
            other => SupplierError::Refused(other.to_string()),
        })?;
        Ok((answer.status.as_u16(), answer.body))
    }

    /// Its products with their stock.
    pub async fn products(&self) -> Result<Vec<SupplierProduct>, SupplierError> {
        let body = self.call(reqwest::Method::GET, "/products", None).await?;
        serde_json::from_str::<ProductList>(&body)
            .map(|l| l.products)
            .map_err(|e| SupplierError::Transient(format!("the supplier's product list is not readable: {e}")))
    }

    /// Buys `quantity` keys of `sku` for `reference` (the same reference
    /// buys once, however often it is sent).
    pub async fn buy(&self, reference: &str, sku: &str, quantity: u32) -> Result<SupplierOrder, SupplierError> {
        let body = serde_json::json!({ "reference": reference, "sku": sku, "quantity": quantity }).to_string();
        let text = self.call(reqwest::Method::POST, "/orders", Some(body)).await?;
        read_order(&text)
    }

    /// What the supplier holds for `reference`: `None` when it never got
    /// that order (404), so it is safe to place it.
    pub async fn order(&self, reference: &str) -> Result<Option<SupplierOrder>, SupplierError> {
        let path = format!("/orders/{}", urlencoding_path(reference));
        match self.exchange(reqwest::Method::GET, &path, None).await? {
            (404, _) => Ok(None),
            (200..=299, text) => read_order(&text).map(Some),
            (status @ (408 | 425 | 429 | 500..=599), text) => Err(SupplierError::Transient(format!(
                "supplier answered {status}: {}",
                text.chars().take(200).collect::<String>()
            ))),
            (status, text) => Err(SupplierError::Refused(format!(
                "supplier answered {status}: {}",
                text.chars().take(200).collect::<String>()
            ))),
        }
    }

    /// The keys for `reference`: asked for first when this is not the
    /// first try (an earlier try may have bought them, or the supplier is
    /// still getting them), bought when the supplier never got the order.
    pub async fn fetch_or_buy(
        &self,
        reference: &str,
        sku: &str,
        quantity: u32,
        asked_before: bool,
    ) -> Result<SupplierOrder, SupplierError> {
        if asked_before && let Some(known) = self.order(reference).await? {
            return Ok(known);
        }
        self.buy(reference, sku, quantity).await
    }
}

fn read_order(text: &str) -> Result<SupplierOrder, SupplierError> {
    serde_json::from_str(text)
        .map_err(|e| SupplierError::Transient(format!("the supplier's answer is not readable: {e}")))
}

/// A reference as one path segment (Kapu's ids are letters and digits; anything else is escaped).
fn urlencoding_path(reference: &str) -> String {
    reference
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_time_method_path_and_body() {
        let a = signature("s3cret", 1_700_000_000, "POST", "/orders", "{\"reference\":\"x\"}");
        assert_eq!(a.len(), 64);
        assert_ne!(a, signature("s3cret", 1_700_000_001, "POST", "/orders", "{\"reference\":\"x\"}"));
        assert_ne!(a, signature("s3cret", 1_700_000_000, "GET", "/orders", "{\"reference\":\"x\"}"));
        assert_ne!(a, signature("s3cret", 1_700_000_000, "POST", "/products", "{\"reference\":\"x\"}"));
        assert_ne!(a, signature("s3cret", 1_700_000_000, "POST", "/orders", "{\"reference\":\"y\"}"));
        assert_ne!(a, signature("other", 1_700_000_000, "POST", "/orders", "{\"reference\":\"x\"}"));
    }
}
