//! WeChat Pay API v3 wire format.
//!
//! Requests carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,
//! signature=…,timestamp=…,serial_no=…`, the signature being SHA256withRSA
//! (merchant key) of `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n`. Answers
//! and notifications are signed by WeChat Pay over `TIMESTAMP\nNONCE\nBODY\n`
//! (headers `Wechatpay-Timestamp`, `-Nonce`, `-Signature`, `-Serial`). A
//! notification's `resource` is AES-256-GCM encrypted with the APIv3 key.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;

use crate::rsa_keys;

/// One request to sign.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// Path and query exactly as sent, e.g. `/v3/pay/transactions/native`.
    pub path_and_query: &'a str,
    pub body: &'a str,
    pub timestamp: i64,
    pub nonce: &'a str,
}

/// The `Authorization` header of a request by merchant `mchid` with the key of certificate `serial_no`.
pub fn authorization(key: &RsaPrivateKey, mchid: &str, serial_no: &str, r: &SignedRequest<'_>) -> String {
    let message = format!("{}\n{}\n{}\n{}\n{}\n", r.method, r.path_and_query, r.timestamp, r.nonce, r.body);
    let signature = rsa_keys::sign(key, &message);
    format!(
        "WECHATPAY2-SHA256-RSA2048 mchid=\"{mchid}\",nonce_str=\"{}\",signature=\"{signature}\",timestamp=\"{}\",serial_no=\"{serial_no}\"",
        r.nonce, r.timestamp
    )
}

/// Whether an answer or notification body is signed by WeChat Pay.
pub fn signed_by_wechatpay(
    platform_key: &RsaPublicKey,
    timestamp: &str,
    nonce: &str,
    body: &str,
    signature: &str,
) -> bool {
    rsa_keys::verify(platform_key, &format!("{timestamp}\n{nonce}\n{body}\n"), signature)
}

/// Decrypts a notification resource.
pub fn decrypt_resource(apiv3_key: &str, r: &Resource) -> Result<String, String> {
    if r.algorithm != "AEAD_AES_256_GCM" {
        return Err(format!("unknown algorithm {}", r.algorithm));
    }
    let cipher =
        Aes256Gcm::new_from_slice(apiv3_key.as_bytes()).map_err(|_| "APIv3 key must be 32 bytes".to_string())?;
    if r.nonce.len() != 12 {
        return Err("resource nonce must be 12 bytes".into());
    }
    let ct = STANDARD.decode(&r.ciphertext).map_err(|_| "resource ciphertext is not base64".to_string())?;
    let aad = r.associated_data.as_deref().unwrap_or("");
    let plain = cipher
        .decrypt(Nonce::from_slice(r.nonce.as_bytes()), Payload { msg: &ct, aad: aad.as_bytes() })
        .map_err(|_| "resource does not decrypt with this shop's APIv3 key".to_string())?;
    String::from_utf8(plain).map_err(|_| "resource is not UTF-8".to_string())
}

/// A notification envelope.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub id: String,
    pub event_type: String,
    pub resource: Resource,
}

#[derive(Debug, Deserialize)]
pub struct Resource {
    pub algorithm: String,
    pub ciphertext: String,
    #[serde(default)]
    pub associated_data: Option<String>,
    pub nonce: String,
}

/// A transaction, as in notifications and order queries.
#[derive(Debug, Deserialize)]
pub struct Transaction {
    pub appid: String,
    pub mchid: String,
    pub out_trade_no: String,
    #[serde(default)]
    pub transaction_id: Option<String>,
    pub trade_state: String,
    #[serde(default)]
    pub amount: Option<Amount>,
}

#[derive(Debug, Deserialize)]
pub struct Amount {
    pub total: i64,
    #[serde(default)]
    pub currency: Option<String>,
}

/// An error answer.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    #[serde(default)]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_round_trips_and_tampering_fails() {
        let key = "0123456789abcdef0123456789abcdef";
        let cipher = Aes256Gcm::new_from_slice(key.as_bytes()).expect("key");
        let ct = cipher
            .encrypt(Nonce::from_slice(b"fdasflkja484"), Payload { msg: b"{\"a\":1}", aad: b"transaction" })
            .expect("encrypt");
        let r = Resource {
            algorithm: "AEAD_AES_256_GCM".into(),
            ciphertext: STANDARD.encode(&ct),
            associated_data: Some("transaction".into()),
            nonce: "fdasflkja484".into(),
        };
        assert_eq!(decrypt_resource(key, &r).as_deref(), Ok("{\"a\":1}"));
        let other_aad = Resource { associated_data: Some("refund".into()), ..r };
        assert!(decrypt_resource(key, &other_aad).is_err());
        assert!(decrypt_resource("short", &other_aad).is_err());
    }
}
