//! `POST /logout`: ends this browser's session.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};

use crate::auth::csrf::VerifiedForm;
use crate::auth::session::{SESSION_COOKIE, clear_session_cookie, cookie};
use crate::error::PageResult;
use crate::state::PlatformState;

pub async fn logout(
    State(state): State<PlatformState>,
    headers: HeaderMap,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.sessions.delete(&state.db, token).await?;
    }
    Ok(([(SET_COOKIE, clear_session_cookie(&state))], Redirect::to("/")).into_response())
}
