//! The 易支付 (epay) wire format: every request and notification is a flat
//! set of parameters signed by MD5 over the sorted `k=v&…` text (without
//! `sign`, `sign_type` and empty values) with the merchant key appended.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::signing::{md5_hex, sorted_params_text};

/// The signature of a parameter set under `key`.
pub fn sign(params: &BTreeMap<String, String>, key: &str) -> String {
    md5_hex(&format!("{}{key}", sorted_params_text(params, &["sign", "sign_type"])))
}

/// The parameters with `sign` and `sign_type=MD5` added.
pub fn signed(mut params: BTreeMap<String, String>, key: &str) -> BTreeMap<String, String> {
    let s = sign(&params, key);
    params.insert("sign".into(), s);
    params.insert("sign_type".into(), "MD5".into());
    params
}

/// `mapi.php`'s answer.
#[derive(Debug, Deserialize)]
pub struct MapiResponse {
    pub code: serde_json::Value,
    #[serde(default)]
    pub msg: Option<String>,
    #[serde(default)]
    pub trade_no: Option<String>,
    #[serde(default)]
    pub payurl: Option<String>,
    #[serde(default)]
    pub qrcode: Option<String>,
    #[serde(default)]
    pub urlscheme: Option<String>,
}

/// `api.php?act=order`'s answer.
#[derive(Debug, Deserialize)]
pub struct OrderResponse {
    pub code: serde_json::Value,
    #[serde(default)]
    pub msg: Option<String>,
    #[serde(default)]
    pub trade_no: Option<String>,
    #[serde(default)]
    pub out_trade_no: Option<String>,
    #[serde(default)]
    pub pid: Option<serde_json::Value>,
    #[serde(default)]
    pub money: Option<serde_json::Value>,
    #[serde(default)]
    pub status: Option<serde_json::Value>,
}

/// epay gateways write numbers and strings interchangeably (`"code": 1` or `"1"`).
pub fn loose_str(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_sorted_unencoded_text_with_the_key_appended() {
        let p: BTreeMap<String, String> = [
            ("pid", "1001"),
            ("type", "alipay"),
            ("out_trade_no", "20160806151343349"),
            ("notify_url", "http://www.pay.com/notify_url.php"),
            ("return_url", "http://www.pay.com/return_url.php"),
            ("name", "VIP会员"),
            ("money", "1.00"),
            ("sitename", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let text = "money=1.00&name=VIP会员&notify_url=http://www.pay.com/notify_url.php&out_trade_no=20160806151343349&pid=1001&return_url=http://www.pay.com/return_url.php&type=alipay";
        assert_eq!(sign(&p, "KEY"), md5_hex(&format!("{text}KEY")));
        let s = signed(p.clone(), "KEY");
        assert_eq!(s["sign_type"], "MD5");
        assert_eq!(sign(&s, "KEY"), s["sign"], "sign and sign_type are not part of the signed text");
    }
}
