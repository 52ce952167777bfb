//! CSRF protection for every dashboard form, two checks deep:
//!
//! 1. a signed double-submit token: each browser holds a random
//!    `kapu_csrf` cookie (`HttpOnly`, `SameSite=Lax`, so a cross-site POST never carries it); forms carry
//!    `HMAC(key, cookie)` in a hidden `csrf` field. Another site can neither
//!    read the cookie nor compute the token.
//! 2. the origin check shared with the storefront (`Origin`, else
//!    `Sec-Fetch-Site`, else `Referer` must be the platform's own origin).
//!
//! `VerifiedForm<T>` does both while extracting the form, so a handler
//! cannot forget; `verify_token` serves multipart forms.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use kapu_core::crypto::{constant_time_eq, hmac_sha256_hex};
use kapu_core::ids::new_secret_token;

use crate::error::PageError;
use crate::state::PlatformState;

pub const CSRF_COOKIE: &str = "kapu_csrf";

/// This browser's CSRF seed (from its cookie, or minted for this response).
#[derive(Debug, Clone)]
struct Seed(String);

/// Middleware: makes sure every browser holds a CSRF cookie.
pub async fn ensure_csrf_cookie(
    axum::extract::State(state): axum::extract::State<PlatformState>,
    mut req: Request,
    next: Next,
) -> Response {
    let existing = crate::auth::session::cookie(req.headers(), CSRF_COOKIE).map(str::to_string);
    let (seed, fresh) = match existing {
        Some(s) if s.len() >= 32 && s.len() <= 64 => (s, false),
        _ => (new_secret_token(), true),
    };
    req.extensions_mut().insert(Seed(seed.clone()));
    let mut resp = next.run(req).await;
    if fresh {
        let secure = if state.secure_cookies() { "; Secure" } else { "" };
        let c = format!("{CSRF_COOKIE}={seed}; Path=/; HttpOnly; SameSite=Lax{secure}");
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// The token to put in this page's forms.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl FromRequestParts<PlatformState> for CsrfToken {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &PlatformState) -> Result<Self, PageError> {
        let seed = parts.extensions.get::<Seed>().ok_or_else(|| PageError::Internal("csrf layer missing".into()))?;
        Ok(CsrfToken(token_for(state, &seed.0)))
    }
}

fn token_for(state: &PlatformState, seed: &str) -> String {
    hmac_sha256_hex(&state.csrf_key, seed.as_bytes())
}

/// The port the browser used to reach us, from the Host header.
pub fn request_port(headers: &HeaderMap) -> Option<u16> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let (_, port) = host.rsplit_once(':')?;
    if host.ends_with(']') {
        return None;
    }
    port.parse().ok()
}

/// Checks a submitted token and the request's origin.
pub fn verify_token(state: &PlatformState, headers: &HeaderMap, submitted: &str) -> Result<(), PageError> {
    let origin = state.platform_origin(request_port(headers));
    if !kapu_web::same_origin(headers, &origin) {
        return Err(PageError::FormRefused);
    }
    // The seed must come from the request's own cookie, not one minted for this response.
    let seed = crate::auth::session::cookie(headers, CSRF_COOKIE).ok_or(PageError::FormRefused)?;
    if constant_time_eq(&token_for(state, seed), submitted) { Ok(()) } else { Err(PageError::FormRefused) }
}

/// A url-encoded form whose CSRF token and origin were checked.
pub struct VerifiedForm<T>(pub T);

#[derive(serde::Deserialize)]
struct TokenField {
    #[serde(default)]
    csrf: String,
}

impl<T> FromRequest<PlatformState> for VerifiedForm<T>
where
    T: serde::de::DeserializeOwned,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &PlatformState) -> Result<Self, PageError> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20)
            .await
            .map_err(|_| PageError::BadRequest("表单过大。The form is too large.".into()))?;
        let field: TokenField = serde_urlencoded::from_bytes(&bytes).map_err(|_| PageError::FormRefused)?;
        verify_token(state, &parts.headers, &field.csrf)?;
        serde_urlencoded::from_bytes(&bytes)
            .map(VerifiedForm)
            .map_err(|e| PageError::BadRequest(format!("表单字段无效。A form field is invalid: {e}")))
    }
}
