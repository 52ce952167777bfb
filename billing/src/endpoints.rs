//! Where the providers with fixed hosts live. Production uses the defaults;
//! tests point them at local fakes (`KAPU_ALIPAY_GATEWAY`, …). Gateways a
//! merchant chooses (epay, epusdt) are part of the merchant's credentials.

/// Provider base URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEndpoints {
    /// Alipay OpenAPI gateway for live shops.
    pub alipay_gateway: String,
    /// Alipay OpenAPI gateway for shops in test mode (Alipay's sandbox).
    pub alipay_sandbox_gateway: String,
    /// WeChat Pay API v3 base.
    pub wechatpay_base: String,
    /// Stripe API base.
    pub stripe_base: String,
}

impl Default for ProviderEndpoints {
    fn default() -> Self {
        Self {
            alipay_gateway: "https://openapi.alipay.com/gateway.do".into(),
            alipay_sandbox_gateway: "https://openapi-sandbox.dl.alipaydev.com/gateway.do".into(),
            wechatpay_base: "https://api.mch.weixin.qq.com".into(),
            stripe_base: "https://api.stripe.com".into(),
        }
    }
}

impl ProviderEndpoints {
    /// The defaults, with any of `KAPU_ALIPAY_GATEWAY`, `KAPU_ALIPAY_SANDBOX_GATEWAY`,
    /// `KAPU_WECHATPAY_BASE` and `KAPU_STRIPE_API_BASE` that are set.
    pub fn from_env() -> Self {
        let mut e = Self::default();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(v) = var("KAPU_ALIPAY_GATEWAY") {
            e.alipay_gateway = v;
        }
        if let Some(v) = var("KAPU_ALIPAY_SANDBOX_GATEWAY") {
            e.alipay_sandbox_gateway = v;
        }
        if let Some(v) = var("KAPU_WECHATPAY_BASE") {
            e.wechatpay_base = v.trim_end_matches('/').to_string();
        }
        if let Some(v) = var("KAPU_STRIPE_API_BASE") {
            e.stripe_base = v.trim_end_matches('/').to_string();
        }
        e
    }
}
