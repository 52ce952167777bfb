//! Per-(shop, client IP) rate limit on storefront routes (tower_governor,
//! in process). A flood from one client of one shop is refused with 429
//! `rate_limited` while other shops and clients are served.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use governor::middleware::NoOpMiddleware;
use tower_governor::GovernorError;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use crate::error::StoreError;
use crate::http::client_ip::ClientIp;
use crate::http::host::TenantCtx;

/// Keys requests by the shop they are for and the client they come from.
#[derive(Debug, Clone, Copy)]
pub struct TenantClientKey;

impl KeyExtractor for TenantClientKey {
    type Key = (Arc<str>, IpAddr);

    fn extract<T>(&self, req: &Request<T>) -> Result<Self::Key, GovernorError> {
        let tenant = req.extensions().get::<TenantCtx>().map(|t| Arc::<str>::from(t.id()));
        let ip = req.extensions().get::<ClientIp>().map(|c| c.0);
        match (tenant, ip) {
            (Some(t), Some(ip)) => Ok((t, ip)),
            _ => Err(GovernorError::Other {
                code: axum::http::StatusCode::BAD_REQUEST,
                msg: Some("no shop for this request".into()),
                headers: None,
            }),
        }
    }
}

/// The limiter's configuration: `per_second` sustained with `burst` on top.
pub fn config(per_second: u32, burst: u32) -> Arc<GovernorConfig<TenantClientKey, NoOpMiddleware>> {
    let period = Duration::from_nanos(1_000_000_000 / u64::from(per_second.max(1)));
    Arc::new(
        GovernorConfigBuilder::default()
            .key_extractor(TenantClientKey)
            .period(period)
            .burst_size(burst.max(1))
            .finish()
            .expect("period and burst are non-zero"),
    )
}

/// Our 429 (localized, JSON) instead of governor's plain text.
pub fn on_error(err: GovernorError) -> Response<Body> {
    let e = match err {
        GovernorError::TooManyRequests { wait_time, .. } => {
            StoreError::RateLimited { retry_after_secs: wait_time.max(1) }
        }
        GovernorError::UnableToExtractKey | GovernorError::Other { .. } => StoreError::ShopNotFound,
    };
    crate::http::context::error_response(&e)
}

/// Drops idle keys of the storefront limiter and of the lookup throttles now
/// and then, so their memory does not grow with every client ever seen.
pub fn spawn_housekeeping(
    cfg: Arc<GovernorConfig<TenantClientKey, NoOpMiddleware>>,
    state: crate::state::RuntimeState,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            cfg.limiter().retain_recent();
            state.lookup_limits.retain_recent();
        }
    });
}
