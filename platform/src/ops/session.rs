//! Operator sessions: their own cookie (`kapu_ops`, `Path=/ops`, HttpOnly,
//! SameSite=Strict), their own table. Without an operator session every
//! console page but the login answers 404, exactly like a page that does not
//! exist, whoever asks (a merchant's session counts for nothing here).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Duration;
use kapu_core::store::audit::Actor;
use kapu_core::store::operators::find_operator_by_session;

use crate::auth::request_ip::RequestIp;
use crate::auth::session::cookie;
use crate::error::PageError;
use crate::state::PlatformState;

pub const OPS_COOKIE: &str = "kapu_ops";
/// Operator sessions are short: 12 hours.
pub const OPS_SESSION_HOURS: i64 = 12;

pub fn ops_session_lifetime() -> Duration {
    Duration::hours(OPS_SESSION_HOURS)
}

pub fn ops_cookie(state: &PlatformState, token: &str) -> String {
    let secure = if state.secure_cookies() { "; Secure" } else { "" };
    format!("{OPS_COOKIE}={token}; Path=/ops; HttpOnly; SameSite=Strict; Max-Age={}{secure}", OPS_SESSION_HOURS * 3600)
}

pub fn clear_ops_cookie(state: &PlatformState) -> String {
    let secure = if state.secure_cookies() { "; Secure" } else { "" };
    format!("{OPS_COOKIE}=; Path=/ops; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// A signed-in operator.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Operator {
    pub id: String,
    pub email: String,
    #[serde(skip)]
    pub ip: String,
}

impl Operator {
    pub fn actor(&self) -> Actor {
        Actor::operator(&self.id, &self.email, &self.ip)
    }
}

impl FromRequestParts<PlatformState> for Operator {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &PlatformState) -> Result<Self, PageError> {
        if let Some(hit) = parts.extensions.get::<Operator>() {
            return Ok(hit.clone());
        }
        let Some(token) = cookie(&parts.headers, OPS_COOKIE) else { return Err(PageError::NotFound) };
        let Some(op) = find_operator_by_session(state.db.reader(), token).await? else {
            return Err(PageError::NotFound);
        };
        let ip = RequestIp::from_request_parts(parts, state).await?;
        let operator = Operator { id: op.id, email: op.email, ip: ip.text() };
        parts.extensions.insert(operator.clone());
        Ok(operator)
    }
}
