//! What the dashboard asks a merchant for, per channel, and how a submitted
//! form becomes the credentials JSON that is sealed and stored. Secret
//! fields are never shown back: left blank, they keep the stored value.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::channels::{alipay, channel_by_kind, epay, epusdt, sandbox, stripe, wechat};

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// One line, never shown back.
    Secret,
    /// A PEM key or similar, never shown back.
    SecretBlock,
    /// A public key: shown back.
    Block,
    /// One of fixed values.
    Select(&'static [(&'static str, &'static str)]),
    /// Any of fixed payment methods (checkboxes `method_{value}`), stored as a JSON array.
    Methods(&'static [&'static str]),
}

/// One field of a channel's form.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub help: &'static str,
}

const fn f(name: &'static str, label: &'static str, kind: FieldKind, help: &'static str) -> FieldSpec {
    FieldSpec { name, label, kind, help }
}

const EPAY: &[FieldSpec] = &[
    f("gateway", "网关地址 Gateway URL", FieldKind::Text, "https://pay.example.com"),
    f("pid", "商户号（PID） Merchant ID (PID)", FieldKind::Text, ""),
    f("key", "商户密钥 Merchant key", FieldKind::Secret, ""),
    f("methods", "支付方式 Methods", FieldKind::Methods(&["alipay", "wxpay", "qqpay"]), ""),
    f(
        "mode",
        "接口 Interface",
        FieldKind::Select(&[
            ("mapi", "mapi.php（推荐，可故障切换） mapi.php (recommended, fails over)"),
            ("submit", "submit.php 跳转 submit.php (redirect)"),
        ]),
        "",
    ),
];

const EPUSDT: &[FieldSpec] = &[
    f("gateway", "网关地址 Gateway URL", FieldKind::Text, "https://usdt.example.com"),
    f("token", "API 认证令牌 API token", FieldKind::Secret, ""),
];

const ALIPAY: &[FieldSpec] = &[
    f("app_id", "应用（App ID） App ID", FieldKind::Text, ""),
    f(
        "private_key",
        "应用私钥 App private key",
        FieldKind::SecretBlock,
        "PKCS#8 / PKCS#1，PEM 或纯 base64。 PKCS#8 / PKCS#1, PEM or bare base64",
    ),
    f(
        "alipay_public_key",
        "支付宝公钥 Alipay public key",
        FieldKind::Block,
        "不是应用公钥 Not the app's own public key",
    ),
    f(
        "product",
        "产品 Product",
        FieldKind::Select(&[
            ("precreate", "当面付扫码 QR (precreate)"),
            ("page", "电脑网站支付 Desktop page pay"),
            ("wap", "手机网站支付 Mobile page pay"),
        ]),
        "",
    ),
];

const WECHAT: &[FieldSpec] = &[
    f("mchid", "商户号 Merchant ID (mchid)", FieldKind::Text, ""),
    f("appid", "AppID", FieldKind::Text, ""),
    f("serial_no", "商户 API 证书序列号 Merchant certificate serial", FieldKind::Text, ""),
    f("private_key", "商户 API 私钥 Merchant API private key", FieldKind::SecretBlock, "apiclient_key.pem"),
    f("apiv3_key", "APIv3 密钥 APIv3 key", FieldKind::Secret, "32 位 32 characters"),
    f("platform_public_key", "微信支付公钥 WeChat Pay public key", FieldKind::Block, ""),
    f("platform_serial", "微信支付公钥编号 WeChat Pay public key ID", FieldKind::Text, "PUB_KEY_ID_…"),
];

const STRIPE: &[FieldSpec] = &[
    f(
        "secret_key",
        "密钥 Secret key",
        FieldKind::Secret,
        "sk_live_…（测试模式用 sk_test_…） sk_live_… (test mode uses sk_test_…)",
    ),
    f("webhook_secret", "Webhook 签名密钥 Signing secret", FieldKind::Secret, "whsec_…"),
];

/// The form of a channel kind.
pub fn fields_of(kind: &str) -> &'static [FieldSpec] {
    match kind {
        epay::KIND => EPAY,
        epusdt::KIND => EPUSDT,
        alipay::KIND => ALIPAY,
        wechat::KIND => WECHAT,
        stripe::KIND => STRIPE,
        _ => &[],
    }
}

/// A channel kind as merchants know it.
pub fn label_of(kind: &str) -> &'static str {
    match kind {
        epay::KIND => "易支付 epay",
        epusdt::KIND => "USDT（epusdt） USDT (epusdt)",
        alipay::KIND => "支付宝 Alipay",
        wechat::KIND => "微信支付 WeChat Pay",
        stripe::KIND => "Stripe 银行卡 Stripe (cards)",
        sandbox::KIND => "模拟支付 Sandbox (test mode only)",
        _ => "?",
    }
}

/// The stored credentials with the submitted form laid over them, checked
/// by the channel. The error names the field, never a secret value.
pub fn merge_credentials(kind: &str, stored: &str, form: &HashMap<String, String>) -> Result<String, String> {
    let channel = channel_by_kind(kind).ok_or_else(|| format!("unknown channel {kind}"))?;
    let mut obj: Map<String, Value> = match serde_json::from_str(stored) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    // A stored secret is never sent to an address it was not entered for:
    // a changed gateway needs every secret entered again.
    let gateway_of = |v: Option<&str>| v.map(|g| g.trim().trim_end_matches('/').to_ascii_lowercase());
    let stored_gateway = gateway_of(obj.get("gateway").and_then(Value::as_str)).filter(|g| !g.is_empty());
    let gateway_moved =
        stored_gateway.is_some_and(|old| gateway_of(form.get("gateway").map(String::as_str)) != Some(old));
    for spec in fields_of(kind) {
        let submitted = form.get(spec.name).map(|v| v.trim()).unwrap_or("");
        match spec.kind {
            FieldKind::Secret | FieldKind::SecretBlock if submitted.is_empty() && gateway_moved => {
                return Err(format!(
                    "网关地址已更改，请重新输入「{label}」。The gateway address changed: enter the {label} again \
                     (a saved secret is never sent to a new address).",
                    label = spec.label
                ));
            }
            FieldKind::Secret | FieldKind::SecretBlock if submitted.is_empty() => {}
            FieldKind::Methods(all) => {
                let chosen: Vec<Value> = all
                    .iter()
                    .filter(|m| form.get(&format!("method_{m}")).is_some_and(|v| !v.is_empty()))
                    .map(|m| Value::from(*m))
                    .collect();
                obj.insert(spec.name.into(), Value::Array(chosen));
            }
            FieldKind::Select(options) => {
                let v = if options.iter().any(|(k, _)| *k == submitted) { submitted } else { options[0].0 };
                obj.insert(spec.name.into(), Value::from(v));
            }
            _ => {
                obj.insert(spec.name.into(), Value::from(submitted));
            }
        }
    }
    let json = Value::Object(obj).to_string();
    channel.check_credentials(&json)?;
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_changed_gateway_needs_the_secret_entered_again() {
        let fields = |gateway: &str, key: &str| {
            form(&[("gateway", gateway), ("pid", "1001"), ("key", key), ("method_alipay", "on"), ("mode", "mapi")])
        };
        let first = merge_credentials("epay", "{}", &fields("https://pay.example.com", "s3cret")).expect("valid");
        // The same address (a trailing slash aside): the saved key stays.
        assert!(merge_credentials("epay", &first, &fields("https://pay.example.com/", "")).is_ok());
        // Another address with the key left blank: refused, naming the field.
        let err = merge_credentials("epay", &first, &fields("https://attacker.example.net", "")).expect_err("moved");
        assert!(err.contains("Merchant key") && err.contains("gateway address changed"), "{err}");
        assert!(!err.contains("s3cret"));
        // Entered again: saved, with the new key.
        let moved = merge_credentials("epay", &first, &fields("https://attacker.example.net", "n3w")).expect("valid");
        let v: Value = serde_json::from_str(&moved).expect("json");
        assert_eq!(v["key"].as_str(), Some("n3w"));
    }

    #[test]
    fn blank_secrets_keep_the_stored_value_and_checks_name_the_field() {
        let first = merge_credentials(
            "epay",
            "{}",
            &form(&[
                ("gateway", "https://pay.example.com/"),
                ("pid", "1001"),
                ("key", "s3cret"),
                ("method_wxpay", "on"),
                ("mode", "mapi"),
            ]),
        )
        .expect("valid");
        let v: Value = serde_json::from_str(&first).expect("json");
        assert_eq!(v["methods"], serde_json::json!(["wxpay"]));
        let second = merge_credentials(
            "epay",
            &first,
            &form(&[("gateway", "https://pay.example.com"), ("pid", "1002"), ("key", ""), ("method_alipay", "on")]),
        )
        .expect("valid");
        let v: Value = serde_json::from_str(&second).expect("json");
        assert_eq!((v["pid"].as_str(), v["key"].as_str()), (Some("1002"), Some("s3cret")));
        let err = merge_credentials(
            "epay",
            "{}",
            &form(&[("gateway", "https://pay.example.com"), ("pid", "1"), ("method_alipay", "on")]),
        )
        .expect_err("no key");
        assert!(err.contains("key is required"), "{err}");
        let err =
            merge_credentials("epay", &first, &form(&[("gateway", "ftp://x"), ("pid", "1")])).expect_err("bad gateway");
        assert!(err.contains("gateway"), "{err}");
        assert!(
            merge_credentials("epusdt", "{}", &form(&[("gateway", "https://u.example.com"), ("token", "t")])).is_ok()
        );
        assert!(merge_credentials("wechat", "{}", &form(&[("mchid", "1")])).is_err());
    }
}
