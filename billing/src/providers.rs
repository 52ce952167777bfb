//! What every call to a provider needs besides the shop: one HTTP client,
//! where the fixed-host providers live, and the per-call timeout.

use std::time::Duration;

use kapu_core::crypto::TenantKeys;

use crate::channel::ChannelContext;
use crate::endpoints::ProviderEndpoints;

/// Shared by the storefront runtime (payments, notifications,
/// reconciliation) and the dashboard (refunds).
pub struct Providers {
    pub http: reqwest::Client,
    pub endpoints: ProviderEndpoints,
    pub timeout: Duration,
}

impl Providers {
    /// `alipay_gateway` / `wechatpay_base` / `stripe_base` override the defaults (and the
    /// `KAPU_*` variables of [`ProviderEndpoints::from_env`]).
    pub fn new(
        timeout: Duration,
        alipay_gateway: Option<String>,
        wechatpay_base: Option<String>,
        stripe_base: Option<String>,
    ) -> Result<Self, String> {
        let mut endpoints = ProviderEndpoints::from_env();
        if let Some(g) = alipay_gateway {
            endpoints.alipay_gateway = g.clone();
            endpoints.alipay_sandbox_gateway = g;
        }
        if let Some(b) = wechatpay_base {
            endpoints.wechatpay_base = b.trim_end_matches('/').to_string();
        }
        if let Some(b) = stripe_base {
            endpoints.stripe_base = b.trim_end_matches('/').to_string();
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("Kapu/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self { http, endpoints, timeout })
    }

    /// The context of one call for one shop.
    pub fn context<'a>(
        &'a self,
        tenant_id: &'a str,
        keys: &'a TenantKeys,
        test_mode: bool,
        credentials: &'a str,
    ) -> ChannelContext<'a> {
        ChannelContext {
            tenant_id,
            keys,
            test_mode,
            credentials,
            http: &self.http,
            endpoints: &self.endpoints,
            timeout: self.timeout,
        }
    }
}
