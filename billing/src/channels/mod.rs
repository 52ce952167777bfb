//! Payment channels, one module each.

pub mod sandbox;

use std::sync::Arc;

use crate::channel::PaymentChannel;

/// The channel implementing `kind`, if Kapu has one.
pub fn channel_by_kind(kind: &str) -> Option<Arc<dyn PaymentChannel>> {
    match kind {
        sandbox::KIND => Some(Arc::new(sandbox::SandboxChannel)),
        _ => None,
    }
}
