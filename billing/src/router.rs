//! Picks the channel for a payment among a tenant's enabled ones.
//! (Failover across several channels arrives with the real channels.)

use std::sync::Arc;

use crate::channel::PaymentChannel;
use crate::channels::channel_by_kind;

/// Why no channel could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The buyer asked for a channel this shop does not offer.
    #[error("channel {0:?} is not offered by this shop")]
    NotOffered(String),
    /// The shop has no usable channel.
    #[error("no payment channel is available")]
    NoneAvailable,
}

/// The first usable channel, in the tenant's priority order (`enabled_kinds`),
/// restricted to `requested` when the buyer named one. Test-only channels are
/// skipped for live shops.
pub fn choose_channel(
    enabled_kinds: &[String],
    requested: Option<&str>,
    test_mode: bool,
) -> Result<Arc<dyn PaymentChannel>, RouteError> {
    let usable = enabled_kinds
        .iter()
        .filter_map(|k| channel_by_kind(k))
        .filter(|c| test_mode || !c.test_only())
        .collect::<Vec<_>>();
    match requested {
        Some(kind) => usable.into_iter().find(|c| c.kind() == kind).ok_or_else(|| RouteError::NotOffered(kind.into())),
        None => usable.into_iter().next().ok_or(RouteError::NoneAvailable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_shops_skip_the_sandbox() {
        let kinds = vec!["sandbox".to_string()];
        assert!(choose_channel(&kinds, None, true).is_ok());
        assert_eq!(choose_channel(&kinds, None, false).err(), Some(RouteError::NoneAvailable));
        assert_eq!(choose_channel(&kinds, Some("alipay"), true).err(), Some(RouteError::NotOffered("alipay".into())));
        assert_eq!(choose_channel(&[], None, true).err(), Some(RouteError::NoneAvailable));
    }
}
