//! The client's IP: the peer address, or, when the peer is a trusted proxy,
//! the right-most `X-Forwarded-For` entry that is not itself trusted.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::error::StoreError;

/// The client's address as Kapu believes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

pub use kapu_web::client_ip;

/// The peer address of the connection (loopback when served without connect info, as in tests with `oneshot`).
pub fn peer_ip(parts: &Parts) -> IpAddr {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = StoreError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, StoreError> {
        parts.extensions.get::<ClientIp>().copied().ok_or_else(|| StoreError::Internal("client ip not resolved".into()))
    }
}
