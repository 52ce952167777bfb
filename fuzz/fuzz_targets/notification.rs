//! A payment notification as a provider (or anyone) may send it, to every
//! channel's parser and verifier, with credentials a merchant could have
//! saved. Nothing may panic; nothing unsigned may verify. No call leaves the
//! machine: every gateway is a private address the channels refuse.
#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use kapu_billing::channel::{KnownPayment, Notification};
use kapu_billing::channels::channel_by_kind;
use kapu_billing::providers::Providers;
use kapu_core::crypto::{MasterKey, TenantKeys};
use libfuzzer_sys::fuzz_target;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

struct Setup {
    runtime: tokio::runtime::Runtime,
    providers: Providers,
    keys: TenantKeys,
    credentials: Vec<(&'static str, String)>,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).expect("keygen");
    let private = key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string();
    let public = key.to_public_key().to_public_key_pem(LineEnding::LF).expect("pem");
    let gateway = "http://127.0.0.1:9";
    let credentials = vec![
        ("sandbox", "{}".to_string()),
        ("epay", serde_json::json!({"gateway": gateway, "pid": "1001", "key": "k", "methods": ["alipay"]}).to_string()),
        ("epusdt", serde_json::json!({"gateway": gateway, "token": "t"}).to_string()),
        ("stripe", serde_json::json!({"secret_key": "sk_test_x", "webhook_secret": "whsec_x"}).to_string()),
        (
            "alipay",
            serde_json::json!({"app_id": "2021", "private_key": private, "alipay_public_key": public}).to_string(),
        ),
        (
            "wechat",
            serde_json::json!({"mchid": "1900", "appid": "wx1", "serial_no": "AB", "private_key": private,
                "apiv3_key": "0123456789abcdef0123456789abcdef", "platform_public_key": public, "platform_serial": "CD"})
            .to_string(),
        ),
    ];
    let providers = Providers::new(
        Duration::from_millis(50),
        Some(gateway.into()),
        Some(gateway.into()),
        Some(gateway.into()),
        false,
    )
    .expect("providers");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    Setup { runtime, providers, keys: MasterKey::generate().tenant("t1"), credentials }
});

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let setup = &*SETUP;
    let (kind, credentials) = &setup.credentials[usize::from(which) % setup.credentials.len()];
    let text = String::from_utf8_lossy(rest);
    // Headers first (`name: value` lines up to a blank line), then the body.
    let (head, body) = text.split_once("\n\n").unwrap_or(("", &text));
    let headers: BTreeMap<String, String> = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    // Fields as a form would give them, else the top level of a JSON object.
    let mut fields: BTreeMap<String, String> = serde_urlencoded::from_str(body).unwrap_or_default();
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(body) {
        for (k, v) in o {
            fields.insert(k, v.as_str().map_or_else(|| v.to_string(), str::to_string));
        }
    }
    let notification = Notification { fields, headers, body: body.to_string() };
    let known = KnownPayment {
        payment_id: notification.get("out_trade_no").unwrap_or("p1").to_string(),
        amount_minor: 1000,
        currency: "CNY".into(),
        provider_ref: None,
    };
    let channel = channel_by_kind(kind).expect("channel");
    let ctx = setup.providers.context("t1", &setup.keys, true, credentials);
    let verified = setup.runtime.block_on(channel.verify_notification(ctx, &notification, &known));
    // The sandbox's signature is an HMAC under the shop's key, which the
    // input cannot know; the others' need the matching private keys.
    if let Ok(v) = verified {
        panic!("{kind} accepted an unsigned notification: {v:?}");
    }
});
