//! Account emails (verification, password reset): queued in the caller's
//! transaction, sent by the job worker, which issues the one-time token, so
//! the token itself is never stored anywhere but the merchant's inbox.

use kapu_core::jobs::kinds::SEND_ACCOUNT_EMAIL;
use kapu_core::jobs::{NewJob, enqueue};
use kapu_core::mail::{Mailer, OutgoingMail};
use kapu_core::store::accounts::{TokenPurpose, find_account, issue_account_token};
use sea_orm::{ConnectionTrait, DbErr};

use crate::language::{Lang, for_reader, subject_for};
use crate::state::PlatformState;

#[derive(serde::Serialize, serde::Deserialize)]
pub struct AccountEmailJob {
    pub account_id: String,
    /// `verify_email` or `reset_password`.
    pub purpose: String,
    /// `scheme://host[:port]` of the dashboard, for the link.
    pub base_url: String,
    /// The language of the page that asked for the email (`zh` or `en`); the
    /// account's stored choice outranks it.
    #[serde(default)]
    pub lang: Option<String>,
}

pub async fn queue_account_email<C: ConnectionTrait>(
    conn: &C,
    state: &PlatformState,
    account_id: &str,
    purpose: TokenPurpose,
) -> Result<(), DbErr> {
    let job = AccountEmailJob {
        account_id: account_id.into(),
        purpose: purpose.as_str().into(),
        base_url: state.cfg.public_origin(&state.platform_host),
        lang: Lang::try_current().map(|l| l.code().to_string()),
    };
    enqueue(conn, NewJob::now(SEND_ACCOUNT_EMAIL, None, serde_json::to_value(job).unwrap_or_default())).await
}

/// Issues the token and sends the email.
pub async fn send_account_email(state: &PlatformState, mailer: &Mailer, job: &AccountEmailJob) -> anyhow::Result<()> {
    let purpose = match job.purpose.as_str() {
        "verify_email" => TokenPurpose::VerifyEmail,
        "reset_password" => TokenPurpose::ResetPassword,
        other => anyhow::bail!("unknown account email purpose {other:?}"),
    };
    let Some(account) = find_account(state.db.reader(), &job.account_id).await? else {
        return Ok(()); // the account is gone; nothing to send
    };
    if purpose == TokenPurpose::VerifyEmail && account.email_verified_at.is_some() {
        return Ok(());
    }
    let token = issue_account_token(state.db.writer(), &account.id, purpose).await?;
    let lang = account.lang.as_deref().or(job.lang.as_deref()).and_then(Lang::parse_choice);
    mailer.send(&compose(purpose, lang, &account.email, &job.base_url, &token)).await?;
    Ok(())
}

/// The email in the merchant's language (`None`: both, Chinese first).
pub fn compose(purpose: TokenPurpose, lang: Option<Lang>, to: &str, base_url: &str, token: &str) -> OutgoingMail {
    let (subject, path, zh, en) = match purpose {
        TokenPurpose::VerifyEmail => (
            "验证你的 Kapu 邮箱 / Verify your Kapu email",
            "verify",
            "点击下面的链接验证邮箱（48 小时内有效）：",
            "Open this link to verify your email (valid for 48 hours):",
        ),
        TokenPurpose::ResetPassword => (
            "重置 Kapu 密码 / Reset your Kapu password",
            "reset",
            "点击下面的链接设置新密码（1 小时内有效）。如果不是你本人操作，请忽略此邮件：",
            "Open this link to choose a new password (valid for 1 hour). If you did not ask for this, ignore this email:",
        ),
    };
    let link = format!("{base_url}/{path}?token={token}");
    let (subject_zh, subject_en) = subject.split_once(" / ").unwrap_or((subject, subject));
    OutgoingMail {
        to: to.into(),
        subject: subject_for(lang, subject_zh.into(), subject_en.into()),
        text: format!("{}\n\n— Kapu\n", for_reader(lang, format!("{zh}\n{link}"), format!("{en}\n{link}"))),
        html: None,
        shop_name: None,
    }
}
