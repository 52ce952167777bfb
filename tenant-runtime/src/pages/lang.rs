//! `/lang/{tag}?back=/path`: remembers the buyer's language in a cookie.

use axum::extract::{Path, Query};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::i18n::Lang;

#[derive(serde::Deserialize)]
pub struct Back {
    back: Option<String>,
}

pub async fn switch_lang(Path(tag): Path<String>, Query(q): Query<Back>) -> Response {
    let lang = Lang::from_tag(&tag);
    // Only paths on this site: never an open redirect.
    let back = q.back.filter(|b| kapu_core::redirects::same_site_path(b).is_some()).unwrap_or_else(|| "/".into());
    let cookie = format!("kapu_lang={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly", lang.tag());
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let (Ok(c), Ok(l)) = (HeaderValue::from_str(&cookie), HeaderValue::from_str(&back)) {
        resp.headers_mut().insert(SET_COOKIE, c);
        resp.headers_mut().insert(LOCATION, l);
    }
    resp
}
