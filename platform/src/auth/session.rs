//! Dashboard sessions: an opaque random cookie whose SHA-256 names a row of
//! `sessions`. The cookie is `HttpOnly`, `SameSite=Lax`, and `Secure` when the
//! platform is served over HTTPS.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Duration;
use kapu_core::store::accounts::find_account;

use crate::error::PageError;
use crate::state::PlatformState;

pub const SESSION_COOKIE: &str = "kapu_session";
pub const SESSION_DAYS: i64 = 30;

pub fn session_lifetime() -> Duration {
    Duration::days(SESSION_DAYS)
}

/// A signed-in merchant.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub verified: bool,
    /// The dashboard language the merchant chose, if any.
    pub lang: Option<kapu_web::i18n::Lang>,
}

pub use kapu_web::cookie;

/// `Set-Cookie` for a new session.
pub fn session_cookie(state: &PlatformState, token: &str) -> String {
    let secure = if state.secure_cookies() { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}", SESSION_DAYS * 24 * 3600)
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie(state: &PlatformState) -> String {
    let secure = if state.secure_cookies() { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// The signed-in account, if any (cached in the request for later extractors).
#[derive(Debug, Clone)]
pub struct CurrentAccount(pub Option<Account>);

impl FromRequestParts<PlatformState> for CurrentAccount {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &PlatformState) -> Result<Self, PageError> {
        if let Some(hit) = parts.extensions.get::<CurrentAccount>() {
            return Ok(hit.clone());
        }
        let account = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(token) => match state.sessions.account_of(&state.db, token).await? {
                Some(id) => find_account(state.db.reader(), &id).await?.map(|a| Account {
                    verified: a.email_verified_at.is_some(),
                    lang: a.lang.as_deref().and_then(kapu_web::i18n::Lang::parse_choice),
                    id: a.id,
                    email: a.email,
                }),
                None => None,
            },
            None => None,
        };
        // The merchant's stored choice outranks what the browser asked for.
        if let Some(lang) = account.as_ref().and_then(|a| a.lang) {
            lang.make_current();
        }
        let current = CurrentAccount(account);
        parts.extensions.insert(current.clone());
        Ok(current)
    }
}

/// A signed-in merchant; anyone else is sent to the login page and brought back.
#[derive(Debug, Clone)]
pub struct Merchant(pub Account);

impl FromRequestParts<PlatformState> for Merchant {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &PlatformState) -> Result<Self, PageError> {
        match CurrentAccount::from_request_parts(parts, state).await?.0 {
            Some(a) => Ok(Merchant(a)),
            None => {
                // The URI as the browser sent it (nested routers see a shortened one).
                let uri = parts.extensions.get::<axum::extract::OriginalUri>().map(|o| &o.0).unwrap_or(&parts.uri);
                let next = if parts.method == axum::http::Method::GET {
                    uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default()
                } else {
                    String::new()
                };
                Err(PageError::LoginRequired { next })
            }
        }
    }
}

/// Where to go after logging in: only paths on this site.
pub fn safe_next(next: &str) -> &str {
    kapu_core::redirects::same_site_path(next).unwrap_or("/shops")
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::*;

    #[test]
    fn reads_cookies_and_refuses_open_redirects() {
        let mut h = HeaderMap::new();
        h.insert("cookie", HeaderValue::from_static("a=1; kapu_session=tok; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&h, "missing"), None);
        assert_eq!(safe_next("/shops/x/orders?q=1"), "/shops/x/orders?q=1");
        assert_eq!(safe_next("//evil.example/"), "/shops");
        assert_eq!(safe_next("https://evil.example/"), "/shops");
        assert_eq!(safe_next("/\\evil.example"), "/shops");
    }
}
