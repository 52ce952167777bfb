//! `GET/POST /signup`: create an account, sign it in, email a verification link.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::db::is_unique_violation;
use kapu_core::store::accounts::create_account;
use minijinja::context;

use crate::accounts::email::queue_account_email;
use crate::accounts::normalize_email;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::password::{check_new_password, hash_password};
use crate::auth::request_ip::RequestIp;
use crate::auth::session::{CurrentAccount, session_cookie, session_lifetime};
use crate::auth::throttle::AccountRequest;
use crate::error::{PageError, PageResult};
use crate::page::{Layout, render, with_status};
use crate::state::PlatformState;
use kapu_core::store::accounts::TokenPurpose;

#[derive(serde::Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn signup_page(CurrentAccount(account): CurrentAccount, CsrfToken(csrf): CsrfToken) -> PageResult<Response> {
    if account.is_some() {
        return Ok(Redirect::to("/shops").into_response());
    }
    form(&csrf, "", &[])
}

fn form(csrf: &str, email: &str, errors: &[&str]) -> PageResult<Response> {
    form_with(csrf, email, errors, false)
}

/// The sign-up form; `taken`: the address has an account, so the page
/// offers to sign in or to email a reset link to it at once.
fn form_with(csrf: &str, email: &str, errors: &[&str], taken: bool) -> PageResult<Response> {
    let layout = Layout { account: None, csrf, shop: None, nav: "", flash: None, title: "注册 Sign up" };
    render("signup.html", layout, context! { email, taken, errors => crate::page::ser(errors) })
}

pub async fn signup(
    State(state): State<PlatformState>,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(f): VerifiedForm<SignupForm>,
) -> PageResult<Response> {
    let Some(email) = normalize_email(&f.email) else {
        let r = form(&csrf, &f.email, &["请输入有效的邮箱地址。Enter a valid email address."])?;
        return Ok(with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, r));
    };
    // Counted before the hash and the email, whether or not the sign-up succeeds.
    state.throttle.check_account_request(AccountRequest::SignUp, &email, ip.0).await.map_err(PageError::Throttled)?;
    if let Some(why) = check_new_password(&f.password, &email) {
        return Ok(with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, form(&csrf, &email, &[why])?));
    }
    let hash = hash_password(f.password).await?;
    let txn = state.db.begin().await?;
    let account_id = match create_account(&txn, &email, &hash).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            // The way on, right there: sign in, or a reset link for this address.
            let msg =
                "该邮箱已注册，请直接登录或重置密码。This email already has an account: log in or reset the password.";
            let resp = form_with(&csrf, &email, &[msg], true)?;
            return Ok(with_status(axum::http::StatusCode::CONFLICT, resp));
        }
        Err(e) => return Err(e.into()),
    };
    queue_account_email(&txn, &state, &account_id, TokenPurpose::VerifyEmail).await?;
    txn.commit().await?;
    let token = state.sessions.create(&state.db, &account_id, session_lifetime()).await?;
    tracing::info!(account = %account_id, "merchant signed up");
    Ok(([(SET_COOKIE, session_cookie(&state, &token))], Redirect::to("/shops?m=verify_sent")).into_response())
}
