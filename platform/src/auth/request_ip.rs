//! The client address of a dashboard request (behind trusted proxies, the
//! forwarded one), for throttles and the audit log.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::error::PageError;
use crate::state::PlatformState;

#[derive(Debug, Clone, Copy)]
pub struct RequestIp(pub IpAddr);

impl FromRequestParts<PlatformState> for RequestIp {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &PlatformState) -> Result<Self, PageError> {
        let peer =
            parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(RequestIp(kapu_web::client_ip(peer, &parts.headers, &state.trusted_proxies)))
    }
}

impl RequestIp {
    pub fn text(&self) -> String {
        self.0.to_string()
    }
}
