//! `GET/POST /forgot` (ask for a link) and `GET/POST /reset` (use it). The
//! answer to "forgot" is the same whether or not the account exists.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use kapu_core::store::accounts::{
    TokenPurpose, consume_account_token, count_recent_tokens_of_account, find_account, find_account_by_email,
    mark_email_verified, peek_account_token, set_password_of_account,
};
use minijinja::context;

use crate::accounts::email::queue_account_email;
use crate::accounts::two_factor::ask_for_code;
use crate::accounts::verify::{TokenQuery, rejection_text};
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::password::{check_new_password, hash_password};
use crate::auth::request_ip::RequestIp;
use crate::auth::session::{session_cookie, session_lifetime};
use crate::auth::throttle::AccountRequest;
use crate::error::{PageError, PageResult};
use crate::page::{Layout, render, with_status};
use crate::state::PlatformState;

fn layout<'a>(csrf: &'a str, title: &'a str) -> Layout<'a> {
    Layout { account: None, csrf, shop: None, nav: "", flash: None, title }
}

pub async fn forgot_page(CsrfToken(csrf): CsrfToken) -> PageResult<Response> {
    render("forgot.html", layout(&csrf, "重置密码"), context! {})
}

#[derive(serde::Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

pub async fn forgot(
    State(state): State<PlatformState>,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(f): VerifiedForm<ForgotForm>,
) -> PageResult<Response> {
    let email = f.email.trim().to_lowercase();
    if email.len() > 254 {
        let page = context! { errors => ["请输入有效的邮箱地址。Enter a valid email address."] };
        return Ok(with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            render("forgot.html", layout(&csrf, "重置密码"), page)?,
        ));
    }
    // Counted on arrival for every address, known or not, so the answer
    // still says nothing about which addresses have accounts.
    state
        .throttle
        .check_account_request(AccountRequest::PasswordReset, &email, ip.0)
        .await
        .map_err(PageError::Throttled)?;
    if let Some(account) = find_account_by_email(state.db.reader(), &email).await? {
        let since = Utc::now() - Duration::hours(1);
        let recent =
            count_recent_tokens_of_account(state.db.reader(), &account.id, TokenPurpose::ResetPassword, since).await?;
        if recent < 5 {
            queue_account_email(state.db.writer(), &state, &account.id, TokenPurpose::ResetPassword).await?;
        } else {
            tracing::warn!(account = %account.id, "password reset requests capped");
        }
    }
    let page = context! { heading => "请查收邮件 Check your inbox",
    message => "如果该邮箱注册过 Kapu，我们已发送重置链接（1 小时内有效）。If this email has a Kapu account, we sent it a reset link (valid for 1 hour)." };
    render("message.html", layout(&csrf, "重置密码"), page)
}

pub async fn reset_page(
    State(state): State<PlatformState>,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<TokenQuery>,
) -> PageResult<Response> {
    match peek_account_token(state.db.reader(), &q.token, TokenPurpose::ResetPassword).await? {
        Ok(_) => render("reset.html", layout(&csrf, "设置新密码"), context! { token => q.token }),
        Err(r) => {
            let page = context! { heading => "无法重置密码 Cannot reset the password", message => rejection_text(r),
            link => context!{ href => "/forgot", label => "重新发送链接 Send a new link" } };
            Ok(with_status(StatusCode::BAD_REQUEST, render("message.html", layout(&csrf, "重置密码"), page)?))
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

pub async fn reset(
    State(state): State<PlatformState>,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(f): VerifiedForm<ResetForm>,
) -> PageResult<Response> {
    let account_id = match peek_account_token(state.db.reader(), &f.token, TokenPurpose::ResetPassword).await? {
        Ok(id) => id,
        Err(r) => return Err(PageError::BadRequest(rejection_text(r).into())),
    };
    let account = find_account(state.db.reader(), &account_id).await?.ok_or(PageError::NotFound)?;
    if let Some(why) = check_new_password(&f.password, &account.email) {
        let page = context! { token => f.token, errors => [why] };
        return Ok(with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            render("reset.html", layout(&csrf, "设置新密码"), page)?,
        ));
    }
    let hash = hash_password(f.password).await?;
    let txn = state.db.begin().await?;
    if let Err(r) = consume_account_token(&txn, &f.token, TokenPurpose::ResetPassword).await? {
        return Err(PageError::BadRequest(rejection_text(r).into()));
    }
    set_password_of_account(&txn, &account_id, &hash).await?;
    // The link reached the inbox, which proves the address too.
    mark_email_verified(&txn, &account_id).await?;
    txn.commit().await?;
    let signed_out = state.sessions.delete_all_of_account(&state.db, &account_id).await?;
    tracing::info!(account = %account_id, signed_out, "password reset");
    let actor = kapu_core::store::audit::Actor::merchant(&account_id, &account.email, "");
    crate::audit::account_action(
        &state,
        &actor,
        "account.password_reset",
        &format!("{signed_out} other sessions signed out"),
    )
    .await?;
    let done = "/shops?m=password_changed";
    if account.totp_secret.is_some() {
        // The link proves the mailbox, not the second factor: the
        // session waits for a code, as after a password.
        return Ok(ask_for_code(&state, &account_id, done));
    }
    let token = state.sessions.create(&state.db, &account_id, session_lifetime()).await?;
    Ok(([(SET_COOKIE, session_cookie(&state, &token))], Redirect::to(done)).into_response())
}
