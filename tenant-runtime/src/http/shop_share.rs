//! Each shop's share of the process: at most `limit` of one shop's browsing
//! and checkout requests run at once; more wait in that shop's own queue
//! (first come, first served) for up to `wait`, then get the small 429 with
//! `Retry-After`. A shop in a promotion (or under a flood its plan cap does
//! not stop) therefore holds at most `limit` of the database pool's
//! connections and of the runtime's attention, and a quiet shop's requests
//! never queue behind it. Money and a buyer's own order are outside the
//! share (see `request_class`): they are never made to wait for browsing.
//!
//! In process; with several processes each has its own share per shop.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct ShopShare {
    limit: usize,
    wait: Duration,
    shops: moka::sync::Cache<String, Arc<Semaphore>>,
}

/// Held while a request of the shop runs; dropping it lets the next one in.
pub struct Turn(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl ShopShare {
    /// `limit` requests of one shop at once (0: no limit), each waiting at
    /// most `wait` for its turn.
    pub fn new(limit: usize, wait: Duration) -> Self {
        Self {
            limit,
            wait,
            // A shop idle for ten minutes is forgotten; should that happen
            // while requests still hold turns, the shop briefly gets a
            // second share, never less than one.
            shops: moka::sync::Cache::builder().max_capacity(100_000).time_to_idle(Duration::from_secs(600)).build(),
        }
    }

    /// Waits for the shop's next turn; `Err(())` when none came within the
    /// wait (the shop has `limit` requests running and more queued).
    pub async fn turn(&self, tenant_id: &str) -> Result<Turn, ()> {
        if self.limit == 0 {
            return Ok(Turn(None));
        }
        let shop = self.shops.get_with_by_ref(tenant_id, || Arc::new(Semaphore::new(self.limit)));
        if let Ok(permit) = shop.clone().try_acquire_owned() {
            return Ok(Turn(Some(permit)));
        }
        match tokio::time::timeout(self.wait, shop.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Turn(Some(permit))),
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_shop_runs_at_most_its_share_and_others_are_not_held_up() {
        let share = ShopShare::new(2, Duration::from_millis(50));
        let a1 = share.turn("a").await.expect("first");
        let _a2 = share.turn("a").await.expect("second");
        // The third waits, then gives up.
        assert!(share.turn("a").await.is_err());
        // Another shop has its own share.
        let _b = share.turn("b").await.expect("b is not held up by a");
        // A finished request lets the next one of the shop in.
        drop(a1);
        assert!(share.turn("a").await.is_ok());
    }

    #[tokio::test]
    async fn a_waiting_request_gets_the_next_turn() {
        let share = Arc::new(ShopShare::new(1, Duration::from_secs(5)));
        let first = share.turn("a").await.expect("first");
        let waiting = tokio::spawn({
            let share = share.clone();
            async move { share.turn("a").await.is_ok() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        assert!(waiting.await.expect("task"), "the queued request ran once the first finished");
    }

    #[tokio::test]
    async fn zero_means_no_limit() {
        let share = ShopShare::new(0, Duration::ZERO);
        let mut turns = Vec::new();
        for _ in 0..1_000 {
            turns.push(share.turn("a").await.expect("unlimited"));
        }
    }
}
