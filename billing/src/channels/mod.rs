//! Payment channels, one module each.

pub mod alipay;
pub mod epay;
pub mod epusdt;
pub mod sandbox;
pub mod stripe;
pub mod wechat;

use std::sync::Arc;

use crate::channel::PaymentChannel;

/// Every channel kind Kapu has, in the order the dashboard offers them.
pub const KINDS: [&str; 6] = [alipay::KIND, wechat::KIND, stripe::KIND, epay::KIND, epusdt::KIND, sandbox::KIND];

/// The channel implementing `kind`, if Kapu has one.
pub fn channel_by_kind(kind: &str) -> Option<Arc<dyn PaymentChannel>> {
    match kind {
        sandbox::KIND => Some(Arc::new(sandbox::SandboxChannel)),
        alipay::KIND => Some(Arc::new(alipay::AlipayChannel)),
        epay::KIND => Some(Arc::new(epay::EpayChannel)),
        epusdt::KIND => Some(Arc::new(epusdt::EpusdtChannel)),
        wechat::KIND => Some(Arc::new(wechat::WechatChannel)),
        stripe::KIND => Some(Arc::new(stripe::StripeChannel)),
        _ => None,
    }
}
