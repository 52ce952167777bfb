//! Local fake payment providers: axum servers on loopback that speak each
//! provider's documented protocol (signatures included), with faults a test
//! can switch on. Their signing code is written here, apart from Kapu's, so
//! a mistake in one does not hide the same mistake in the other.

#![allow(dead_code)]

pub mod alipay;
pub mod dns;
pub mod epay;
pub mod epusdt;
pub mod stripe;
pub mod stripe_billing;
pub mod wechat;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use md5::{Digest, Md5};

/// Faults a fake can be told to produce.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answer create calls with this HTTP status.
    pub create_status: Option<u16>,
    /// Wait this long before answering create calls.
    pub create_delay: Option<Duration>,
    /// Sign notifications with a wrong key.
    pub bad_signature: bool,
    /// Never send notifications (the payment still happens).
    pub drop_notifications: bool,
}

/// The fault switchboard shared by a fake's handlers and its test.
#[derive(Debug, Default)]
pub struct Switches(Mutex<Faults>);

impl Switches {
    pub fn get(&self) -> Faults {
        self.0.lock().expect("faults").clone()
    }
    pub fn set(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.0.lock().expect("faults"));
    }
}

/// Sorted `k=v&…` of non-empty values, skipping `skip`, as the gateways document it.
pub fn gateway_text(fields: &BTreeMap<String, String>, skip: &[&str]) -> String {
    let mut keys: Vec<&String> = fields.keys().filter(|k| !skip.contains(&k.as_str())).collect();
    keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    keys.into_iter()
        .filter(|k| !fields[*k].is_empty())
        .map(|k| format!("{k}={}", fields[k]))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn md5_lower_hex(s: &str) -> String {
    Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Serves `router` on a loopback port; returns its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// The client a fake sends notifications with: shop hosts (`slug.localhost`) resolve to loopback.
pub fn notify_client() -> reqwest::Client {
    reqwest::Client::builder().dns_resolver(std::sync::Arc::new(super::Loopback)).build().expect("client")
}
