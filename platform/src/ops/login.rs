//! Operator sign-in: email, password and a TOTP code on one form (two-factor
//! is not optional here), throttled like merchant logins; sign-out; and the
//! account creation behind `kapu operator create`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::Db;
use kapu_core::crypto::{MasterKey, TenantKeys};
use kapu_core::entities::operators;
use kapu_core::ids::new_secret_token;
use kapu_core::store::audit::{Actor, record_audit};
use kapu_core::store::operators::{
    claim_operator_totp_step, create_operator, create_operator_session, delete_operator_session, find_operator_by_email,
};
use minijinja::context;

use crate::accounts::two_factor::{base32, matching_step};
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::password::{hash_password, verify_password};
use crate::auth::request_ip::RequestIp;
use crate::auth::session::cookie;
use crate::error::{PageError, PageResult};
use crate::ops::session::{OPS_COOKIE, clear_ops_cookie, ops_cookie, ops_session_lifetime};
use crate::ops::{OpsPage, render_ops};
use crate::page::with_status;
use crate::state::PlatformState;

/// The key sealing operators' TOTP secrets.
fn operator_keys(master: &MasterKey) -> TenantKeys {
    master.tenant("platform-operators")
}

/// What `kapu operator create` prints once.
#[derive(Debug)]
pub struct NewOperator {
    pub id: String,
    pub password: String,
    pub totp_secret_base32: String,
    pub otpauth_uri: String,
}

/// Creates an operator with a generated password and TOTP secret.
pub async fn create_operator_account(db: &Db, master: &MasterKey, email: &str) -> anyhow::Result<NewOperator> {
    let email = email.trim().to_lowercase();
    anyhow::ensure!(
        email.len() <= 254 && email.split_once('@').is_some_and(|(u, d)| !u.is_empty() && d.contains('.')),
        "not an email address: {email:?}"
    );
    let password = new_secret_token();
    let hash = hash_password(password.clone()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let secret: [u8; 20] = rand::random();
    let sealed = operator_keys(master).seal(&secret);
    let id = match create_operator(db.writer(), &email, &hash, (sealed.ciphertext, sealed.nonce)).await {
        Ok(id) => id,
        Err(e) if kapu_core::db::is_unique_violation(&e) => anyhow::bail!("an operator with email {email} exists"),
        Err(e) => return Err(e.into()),
    };
    record_audit(db.writer(), &Actor::system(), None, "operator.create", &email, "created with `kapu operator create`")
        .await?;
    let b32 = base32(&secret);
    let otpauth_uri = format!("otpauth://totp/Kapu%20Ops:{email}?secret={b32}&issuer=Kapu%20Ops&digits=6&period=30");
    Ok(NewOperator { id, password, totp_secret_base32: b32, otpauth_uri })
}

#[derive(serde::Deserialize)]
pub struct OpsLoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

pub async fn login_page(CsrfToken(csrf): CsrfToken) -> PageResult<Response> {
    form(&csrf, "", None)
}

fn form(csrf: &str, email: &str, error: Option<&str>) -> PageResult<Response> {
    render_ops(
        "ops_login.html",
        OpsPage { operator: None, csrf, nav: "", flash: None, title: "运营登录 Operator sign-in" },
        context! { email, error },
    )
}

async fn code_ok(state: &PlatformState, op: &operators::Model, code: &str) -> PageResult<bool> {
    let Ok(secret) = operator_keys(&state.master).open(&op.totp_secret, &op.totp_nonce) else { return Ok(false) };
    let now = Utc::now().timestamp().max(0) as u64;
    match matching_step(&secret, code, now) {
        Some(step) => Ok(claim_operator_totp_step(state.db.writer(), &op.id, step).await?),
        None => Ok(false),
    }
}

pub async fn login(
    State(state): State<PlatformState>,
    ip: RequestIp,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(f): VerifiedForm<OpsLoginForm>,
) -> PageResult<Response> {
    let email = f.email.trim().to_lowercase();
    state.throttle.check(&format!("ops:{email}"), ip.0).await.map_err(PageError::Throttled)?;
    let op = find_operator_by_email(state.db.reader(), &email).await?;
    let password_ok = verify_password(f.password, op.as_ref().map(|o| o.password_hash.clone())).await?;
    let op = match op.filter(|_| password_ok) {
        Some(op) if code_ok(&state, &op, &f.code).await? => op,
        found => {
            tracing::warn!(ip = %ip.0, "failed operator sign-in");
            if let Some(op) = found {
                record_audit(
                    state.db.writer(),
                    &Actor::operator(&op.id, &op.email, &ip.text()),
                    None,
                    "operator.login_failed",
                    &op.email,
                    "right password, wrong or reused two-factor code",
                )
                .await?;
            }
            let msg = "邮箱、密码或验证码错误。Wrong email, password or two-factor code.";
            return Ok(with_status(StatusCode::UNAUTHORIZED, form(&csrf, &email, Some(msg))?));
        }
    };
    let token = create_operator_session(state.db.writer(), &op.id, ops_session_lifetime()).await?;
    record_audit(
        state.db.writer(),
        &Actor::operator(&op.id, &op.email, &ip.text()),
        None,
        "operator.login",
        &op.email,
        "",
    )
    .await?;
    Ok(([(SET_COOKIE, ops_cookie(&state, &token))], Redirect::to("/ops")).into_response())
}

#[derive(serde::Deserialize)]
pub struct EmptyForm {}

pub async fn logout(
    State(state): State<PlatformState>,
    headers: axum::http::HeaderMap,
    VerifiedForm(_): VerifiedForm<EmptyForm>,
) -> PageResult<Response> {
    if let Some(token) = cookie(&headers, OPS_COOKIE) {
        delete_operator_session(state.db.writer(), token).await?;
    }
    Ok(([(SET_COOKIE, clear_ops_cookie(&state))], Redirect::to("/ops/login")).into_response())
}
