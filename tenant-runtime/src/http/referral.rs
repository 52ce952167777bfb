//! Affiliate links: a page visit with `?ref={code}` is recorded as a click
//! of that affiliate (when the shop runs a programme), remembered in the
//! `kapu_ref` cookie for the programme's attribution window, and sent on to
//! the same address without `ref` (a reload or a shared address is not a
//! second click). An order placed with the cookie names the click
//! ([`Referral`]); everything else about the commission is decided after
//! delivery (`kapu_core::store::affiliates`).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::StoreError;
use crate::http::client_ip::ClientIp;
use crate::http::host::TenantCtx;
use crate::state::RuntimeState;

pub const REF_COOKIE: &str = "kapu_ref";

/// The click an affiliate link left in the buyer's browser (its cookie, unchecked).
#[derive(Debug, Clone, Default)]
pub struct Referral(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Referral {
    type Rejection = StoreError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, StoreError> {
        Ok(Referral(kapu_web::cookie(&parts.headers, REF_COOKIE).map(str::to_string)))
    }
}

/// See the module docs. Runs inside the storefront context (shop and client known).
pub async fn capture_referral(State(state): State<RuntimeState>, req: Request, next: Next) -> Response {
    let code = (req.method() == Method::GET && !req.uri().path().starts_with("/api/"))
        .then(|| query_value(req.uri().query(), "ref"))
        .flatten();
    let (Some(code), Some(shop), Some(ClientIp(ip))) =
        (code, req.extensions().get::<TenantCtx>().cloned(), req.extensions().get::<ClientIp>().copied())
    else {
        return next.run(req).await;
    };
    let net = kapu_core::fleet::limits::client_key(ip);
    let now = chrono::Utc::now();
    let click = kapu_core::store::affiliates::record_click(state.db.writer(), shop.id(), &code, &net, now).await;
    if let Err(e) = &click {
        tracing::warn!(error = %e, "recording an affiliate click failed");
    }
    let to = without_ref(req.uri());
    let mut resp = Redirect::to(&to).into_response();
    if let Ok(Some(c)) = &click
        && c.counted
    {
        let secure = if state.cfg.public_scheme == "https" { "; Secure" } else { "" };
        let max_age = i64::from(c.window_days.max(1)) * 86_400;
        let cookie = format!("{REF_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}", c.id);
        if let Ok(v) = cookie.parse() {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    resp
}

fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn without_ref(uri: &axum::http::Uri) -> String {
    let rest: Vec<(String, String)> = uri
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "ref")
        .collect();
    let mut to = uri.path().to_string();
    if !rest.is_empty() {
        to.push('?');
        to.push_str(&serde_urlencoded::to_string(rest).unwrap_or_default());
    }
    to
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_code_is_taken_off_the_address_and_the_rest_kept() {
        let uri: axum::http::Uri = "/products/steam?ref=ab12&x=1".parse().expect("uri");
        assert_eq!(without_ref(&uri), "/products/steam?x=1");
        assert_eq!(query_value(uri.query(), "ref").as_deref(), Some("ab12"));
        let bare: axum::http::Uri = "/?ref=zz".parse().expect("uri");
        assert_eq!(without_ref(&bare), "/");
        assert_eq!(query_value(Some("reff=1"), "ref"), None);
    }
}
