//! Whether the database answers, as the storefront knows it: a background
//! check every second (`spawn`), read by the storefront gate. While the
//! database is away, pages still served from the caches (home, product
//! pages) carry a notice that ordering is paused and their buy buttons are
//! disabled, so a buyer learns it before filling in a form, not after.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::response::Response;
use kapu_core::Db;

use crate::i18n::Lang;

/// The last check's answer (up until the first check says otherwise).
#[derive(Debug, Clone)]
pub struct DatabaseWatch(Arc<AtomicBool>);

impl Default for DatabaseWatch {
    fn default() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
}

impl DatabaseWatch {
    pub fn is_up(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, up: bool) {
        if self.0.swap(up, Ordering::Relaxed) != up {
            if up {
                tracing::info!("database answers again: ordering resumes");
            } else {
                tracing::warn!("database does not answer: storefront pages show that ordering is paused");
            }
        }
    }

    /// Pings the database every `every` (each ping bounded by it too). Two
    /// failed pings in a row mark it away (one slow answer from a busy pool
    /// does not); one answer marks it back.
    pub fn spawn(&self, db: Db, every: Duration) -> tokio::task::JoinHandle<()> {
        let watch = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            let mut failed = 0u32;
            loop {
                tick.tick().await;
                if matches!(tokio::time::timeout(every, db.ping()).await, Ok(Ok(()))) {
                    failed = 0;
                    watch.set(true);
                } else {
                    failed += 1;
                    if failed >= 2 {
                        watch.set(false);
                    }
                }
            }
        })
    }
}

/// `resp` with the paused-ordering notice, if it is an HTML page.
pub async fn with_paused_notice(resp: Response, lang: Lang) -> Response {
    let message = lang.pick(
        "暂时无法下单：我们正在重新连接数据库，请稍后再试。已付款的订单不会丢失。",
        "Ordering is paused for a moment while we reconnect to our database; please try again shortly. Paid orders are safe.",
    );
    with_notice(resp, "ordering-paused", message, true).await
}

pub use kapu_web::notice::with_notice;
