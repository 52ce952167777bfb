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
    /// See [`ChannelContext::allow_private_hosts`].
    pub allow_private_hosts: bool,
}

/// Resolves names like the system does, keeping only public addresses: a
/// gateway name that points into a private network is not called.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| crate::channel::is_public_ip(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

impl Providers {
    /// `alipay_gateway` / `wechatpay_base` / `stripe_base` override the defaults (and the
    /// `KAPU_*` variables of [`ProviderEndpoints::from_env`]).
    pub fn new(
        timeout: Duration,
        alipay_gateway: Option<String>,
        wechatpay_base: Option<String>,
        stripe_base: Option<String>,
        allow_private_hosts: bool,
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
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("Kapu/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            // A provider answering with a redirect into a private network is not followed there.
            .redirect(reqwest::redirect::Policy::none());
        if !allow_private_hosts {
            // A proxy would resolve names itself and reach any address: the
            // filter holds only on direct connections, so proxy variables
            // (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) are ignored.
            builder = builder.dns_resolver(std::sync::Arc::new(PublicOnly)).no_proxy();
        }
        let http = builder.build().map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self { http, endpoints, timeout, allow_private_hosts })
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
            allow_private_hosts: self.allow_private_hosts,
        }
    }
}
