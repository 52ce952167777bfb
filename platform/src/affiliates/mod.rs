//! The shop's referral programme on the dashboard, `/shops/{slug}/affiliates`:
//! its terms (owner), a product's own rate (owner), partners added by
//! email (they get a sign-in link), each affiliate's figures (block or
//! unblock), payout requests to mark paid or reject, and the latest
//! commissions. Every change is audited. The affiliates' own page is on
//! the storefront (`kapu_runtime::pages::affiliate`); the sweep that gives
//! and books commissions is [`spawn_commission_sweep`].

pub mod page;
pub mod payouts;
pub mod terms;

use std::time::Duration;

use crate::state::PlatformState;

/// Gives delivered orders their commissions and books matured ones, every
/// minute, on one worker of the fleet at a time.
pub fn spawn_commission_sweep(state: PlatformState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = Duration::from_secs(60);
        loop {
            tokio::time::sleep(period).await;
            if !kapu_core::store::sweep_leases::may_sweep(state.db.writer(), "affiliate_commissions", period * 3).await
            {
                continue;
            }
            match kapu_core::store::affiliates::settle_commissions(state.db.writer(), chrono::Utc::now()).await {
                Ok(done) if done != Default::default() => tracing::info!(?done, "affiliate commissions settled"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "settling affiliate commissions failed"),
            }
        }
    })
}
