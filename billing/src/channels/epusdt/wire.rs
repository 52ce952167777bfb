//! The epusdt wire format: JSON bodies whose `signature` is the lower-case
//! MD5 of the sorted `k=v&…` text of every other non-empty field with the
//! API token appended (no separator).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::signing::{md5_hex, sorted_params_text};

/// The signature of a field set under `token`.
pub fn sign(fields: &BTreeMap<String, String>, token: &str) -> String {
    md5_hex(&format!("{}{token}", sorted_params_text(fields, &["signature"])))
}

/// An amount as epusdt's JSON number and as the text it signs: 1230 → `12.3`, 4200 → `42`.
pub fn amount_number(minor: i64) -> String {
    let s = crate::money::format_decimal(minor);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The answer to `create-transaction`.
#[derive(Debug, Deserialize)]
pub struct CreateResponse {
    pub status_code: i64,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub data: Option<CreatedTrade>,
}

#[derive(Debug, Deserialize)]
pub struct CreatedTrade {
    pub trade_id: String,
    pub order_id: String,
    pub payment_url: String,
}

/// The answer to `check-status/{trade_id}`.
#[derive(Debug, Deserialize)]
pub struct StatusResponse {
    #[serde(default)]
    pub data: Option<TradeStatus>,
}

#[derive(Debug, Deserialize)]
pub struct TradeStatus {
    pub trade_id: String,
    pub status: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of epusdt's API documentation.
    #[test]
    fn matches_the_documented_example() {
        let f: BTreeMap<String, String> = [
            ("order_id", "20220201030210321"),
            ("amount", "42"),
            ("notify_url", "http://example.com/notify"),
            ("redirect_url", "http://example.com/redirect"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(sign(&f, "epusdt_password_xasddawqe"), "1cd4b52df5587cfb1968b0c0c6e156cd");
        assert_eq!(amount_number(4200), "42");
        assert_eq!(amount_number(1230), "12.3");
        assert_eq!(amount_number(1234), "12.34");
        assert_eq!(amount_number(5), "0.05");
    }
}
