//! `GET /verify?token=…` (the emailed link) and `POST /verify/resend`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use kapu_core::store::accounts::{
    TokenPurpose, TokenRejection, consume_account_token, count_recent_tokens_of_account, mark_email_verified,
};
use minijinja::context;

use crate::accounts::email::queue_account_email;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::request_ip::RequestIp;
use crate::auth::session::{CurrentAccount, Merchant};
use crate::auth::throttle::AccountRequest;
use crate::error::{PageError, PageResult};
use crate::page::{Layout, render, with_status};
use crate::state::PlatformState;

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    pub token: String,
}

/// Explains a refused link.
pub fn rejection_text(r: TokenRejection) -> &'static str {
    match r {
        TokenRejection::Unknown => {
            "链接无效，请使用邮件中的完整链接。This link is not valid; use the whole link from the email."
        }
        TokenRejection::Used => "链接已使用过。This link was already used.",
        TokenRejection::Expired => "链接已过期，请重新发送。This link expired; ask for a new one.",
    }
}

pub async fn verify_email(
    State(state): State<PlatformState>,
    CurrentAccount(account): CurrentAccount,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<TokenQuery>,
) -> PageResult<Response> {
    let txn = state.db.begin().await?;
    let outcome = consume_account_token(&txn, &q.token, TokenPurpose::VerifyEmail).await?;
    if let Ok(account_id) = &outcome {
        mark_email_verified(&txn, account_id).await?;
    }
    txn.commit().await?;
    match outcome {
        Ok(_) if account.is_some() => Ok(Redirect::to("/shops?m=verified").into_response()),
        Ok(_) => Ok(Redirect::to("/login?next=%2Fshops").into_response()),
        Err(r) => {
            let layout = Layout {
                account: account.as_ref(),
                csrf: &csrf,
                shop: None,
                nav: "",
                flash: None,
                title: "验证邮箱 Verify email",
            };
            let page = context! { heading => "无法验证邮箱 Cannot verify the email", message => rejection_text(r),
            link => context!{ href => "/shops", label => "返回 Back" } };
            Ok(with_status(StatusCode::BAD_REQUEST, render("message.html", layout, page)?))
        }
    }
}

pub async fn resend_verification(
    State(state): State<PlatformState>,
    Merchant(account): Merchant,
    ip: RequestIp,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    if account.verified {
        return Ok(Redirect::to("/shops?m=verified").into_response());
    }
    state
        .throttle
        .check_account_request(AccountRequest::VerificationResend, &account.email, ip.0)
        .await
        .map_err(PageError::Throttled)?;
    let since = Utc::now() - Duration::hours(1);
    if count_recent_tokens_of_account(state.db.reader(), &account.id, TokenPurpose::VerifyEmail, since).await? >= 5 {
        return Err(PageError::Throttled(3600));
    }
    queue_account_email(state.db.writer(), &state, &account.id, TokenPurpose::VerifyEmail).await?;
    Ok(Redirect::to("/shops?m=verify_sent").into_response())
}
