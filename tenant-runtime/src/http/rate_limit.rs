//! Upkeep of the storefront's in-process limits (the per-client limit and
//! the shop caps live in `shop_limit`, the lookup throttles in
//! `lookup_limits`; with Redis they are shared and this only trims the
//! fallback).

use std::time::Duration;

/// Drops idle keys of the in-process limits now and then, so their memory
/// does not grow with every client ever seen.
pub fn spawn_housekeeping(state: crate::state::RuntimeState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            state.shop_limits.retain_recent();
            state.lookup_limits.retain_recent();
        }
    });
}
