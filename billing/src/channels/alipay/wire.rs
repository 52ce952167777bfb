//! Alipay OpenAPI wire format (RSA2).
//!
//! A request is a flat set of common parameters plus `biz_content` (JSON),
//! signed with the app's private key over the sorted `k=v&…` text of every
//! non-empty parameter except `sign`. A response is
//! `{"<method>_response": {…}, "sign": "…"}` whose `sign` covers the exact
//! text of the `<method>_response` value. A notification is a form whose
//! `sign` covers the sorted text of every field except `sign` and `sign_type`.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Utc};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::rsa_keys;
use crate::signing::sorted_params_text;

/// Alipay's clock is Beijing time.
pub fn timestamp(now: DateTime<Utc>) -> String {
    let cst = FixedOffset::east_opt(8 * 3600).expect("UTC+8");
    now.with_timezone(&cst).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The common parameters of a call to `method`, signed.
pub fn signed_request(
    key: &RsaPrivateKey,
    app_id: &str,
    method: &str,
    biz_content: &serde_json::Value,
    extra: &[(&str, &str)],
    now: DateTime<Utc>,
) -> BTreeMap<String, String> {
    let mut p: BTreeMap<String, String> = [
        ("app_id", app_id),
        ("method", method),
        ("format", "JSON"),
        ("charset", "utf-8"),
        ("sign_type", "RSA2"),
        ("version", "1.0"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    p.insert("timestamp".into(), timestamp(now));
    p.insert("biz_content".into(), biz_content.to_string());
    let sign = rsa_keys::sign(key, &sorted_params_text(&p, &["sign"]));
    p.insert("sign".into(), sign);
    p
}

/// Whether a notification's `sign` verifies under Alipay's public key.
pub fn notification_verifies(alipay_key: &RsaPublicKey, fields: &BTreeMap<String, String>) -> bool {
    let Some(sign) = fields.get("sign") else { return false };
    rsa_keys::verify(alipay_key, &sorted_params_text(fields, &["sign", "sign_type"]), sign)
}

/// The `<method>_response` node of a response, after checking its signature.
/// Error responses Alipay sends unsigned (bad app id, bad signature) are
/// returned with `signed = false` so the caller can report them but never
/// believe a success in them.
pub fn response_node<'a>(
    alipay_key: &RsaPublicKey,
    method: &str,
    body: &'a str,
) -> Result<(ResponseNode, bool), String> {
    let nodes: BTreeMap<String, &'a RawValue> =
        serde_json::from_str(body).map_err(|_| "answer is not JSON".to_string())?;
    let name = format!("{}_response", method.replace('.', "_"));
    let node =
        nodes.get(&name).or_else(|| nodes.get("error_response")).ok_or_else(|| format!("answer has no {name}"))?;
    let signed = nodes
        .get("sign")
        .and_then(|s| serde_json::from_str::<String>(s.get()).ok())
        .is_some_and(|sign| rsa_keys::verify(alipay_key, node.get(), &sign));
    let parsed: ResponseNode = serde_json::from_str(node.get()).map_err(|_| format!("{name} is unreadable"))?;
    Ok((parsed, signed))
}

/// The fields of a response node Kapu reads.
#[derive(Debug, Deserialize)]
pub struct ResponseNode {
    pub code: String,
    #[serde(default)]
    pub msg: Option<String>,
    #[serde(default)]
    pub sub_code: Option<String>,
    #[serde(default)]
    pub sub_msg: Option<String>,
    #[serde(default)]
    pub out_trade_no: Option<String>,
    #[serde(default)]
    pub trade_no: Option<String>,
    #[serde(default)]
    pub qr_code: Option<String>,
    #[serde(default)]
    pub trade_status: Option<String>,
    #[serde(default)]
    pub total_amount: Option<String>,
}

impl ResponseNode {
    pub fn describe(&self) -> String {
        format!(
            "{} {} {}",
            self.code,
            self.sub_code.as_deref().unwrap_or(""),
            self.sub_msg.as_deref().or(self.msg.as_deref()).unwrap_or("")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The string-to-sign of Alipay's signing documentation example.
    #[test]
    fn builds_the_documented_string_to_sign() {
        let p: BTreeMap<String, String> = [
            ("app_id", "2014072300007148"),
            ("method", "alipay.mobile.public.menu.add"),
            ("charset", "GBK"),
            ("sign_type", "RSA2"),
            ("timestamp", "2014-07-24 03:07:50"),
            (
                "biz_content",
                "{\"button\":[{\"actionParam\":\"ZFB_HFCZ\",\"actionType\":\"out\",\"name\":\"话费充值\"}]}",
            ),
            ("sign", "ignored"),
            ("version", "1.0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            sorted_params_text(&p, &["sign"]),
            "app_id=2014072300007148&biz_content={\"button\":[{\"actionParam\":\"ZFB_HFCZ\",\"actionType\":\"out\",\"name\":\"话费充值\"}]}&charset=GBK&method=alipay.mobile.public.menu.add&sign_type=RSA2&timestamp=2014-07-24 03:07:50&version=1.0"
        );
        let t = timestamp(DateTime::parse_from_rfc3339("2026-11-29T16:30:00Z").expect("t").with_timezone(&Utc));
        assert_eq!(t, "2026-11-30 00:30:00");
    }
}
