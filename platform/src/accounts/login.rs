//! `GET/POST /login`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::store::accounts::find_account_by_email;
use minijinja::context;

use crate::accounts::two_factor::ask_for_code;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::password::verify_password;
use crate::auth::session::{CurrentAccount, safe_next, session_cookie, session_lifetime};
use crate::error::{PageError, PageResult};
use crate::page::{Layout, render, with_status};
use crate::state::PlatformState;

#[derive(serde::Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login_page(
    CurrentAccount(account): CurrentAccount,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<LoginQuery>,
) -> PageResult<Response> {
    if account.is_some() {
        return Ok(Redirect::to(safe_next(&q.next)).into_response());
    }
    form(&csrf, "", &q.next, &[])
}

fn form(csrf: &str, email: &str, next: &str, errors: &[&str]) -> PageResult<Response> {
    let layout = Layout { account: None, csrf, shop: None, nav: "", flash: None, title: "登录 Log in" };
    render("login.html", layout, context! { email, next, errors => crate::page::ser(errors) })
}

pub async fn login(
    State(state): State<PlatformState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    CsrfToken(csrf): CsrfToken,
    headers: axum::http::HeaderMap,
    VerifiedForm(f): VerifiedForm<LoginForm>,
) -> PageResult<Response> {
    let email = f.email.trim().to_lowercase();
    let ip = kapu_web::client_ip(peer.ip(), &headers, &state.trusted_proxies);
    state.throttle.check(&email, ip).await.map_err(PageError::Throttled)?;
    let account = find_account_by_email(state.db.reader(), &email).await?;
    let ok = verify_password(f.password, account.as_ref().map(|a| a.password_hash.clone())).await?;
    let Some(account) = account.filter(|_| ok) else {
        tracing::info!(%ip, "failed dashboard login");
        let msg = "邮箱或密码错误。Wrong email or password.";
        return Ok(with_status(StatusCode::UNAUTHORIZED, form(&csrf, &email, &f.next, &[msg])?));
    };
    if account.totp_secret.is_some() {
        // Password accepted; the session waits for the second factor.
        return Ok(ask_for_code(&state, &account.id, safe_next(&f.next)));
    }
    let token = state.sessions.create(&state.db, &account.id, session_lifetime()).await?;
    tracing::info!(account = %account.id, %ip, "merchant logged in");
    let actor = kapu_core::store::audit::Actor::merchant(&account.id, &account.email, &ip.to_string());
    crate::audit::account_action(&state, &actor, "account.login", "password").await?;
    Ok(([(SET_COOKIE, session_cookie(&state, &token))], Redirect::to(safe_next(&f.next))).into_response())
}
