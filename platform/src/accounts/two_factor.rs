//! Optional TOTP two-factor (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step
//! of clock drift). A code is accepted once: the step it belongs to is
//! recorded with a conditional UPDATE, so a replayed code fails.
//!
//! Routes: `GET /account/2fa` (set up or turn off), `POST /account/2fa/enable`,
//! `POST /account/2fa/disable`, and the login step `GET/POST /login/2fa`
//! reached after a correct password when two-factor is on.

use crate::audit::{account_action, merchant};
use crate::auth::request_ip::RequestIp;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::crypto::{TenantKeys, constant_time_eq, hmac_sha256_hex};
use kapu_core::entities::accounts;
use kapu_core::store::accounts::{claim_totp_step, find_account, set_totp_of_account};
use minijinja::{Value, context};
use totp_rs::{Algorithm, TOTP};

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::session::{Merchant, cookie, safe_next, session_cookie, session_lifetime};
use crate::error::{PageError, PageResult};
use crate::page::{Layout, flash_for, render, with_status};
use crate::shops::list::FlashQuery;
use crate::state::PlatformState;

pub const STEP_SECS: u64 = 30;
pub const CHALLENGE_COOKIE: &str = "kapu_2fa";
const CHALLENGE_SECS: i64 = 300;

fn totp(secret: Vec<u8>) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP_SECS, secret)
}

/// The step (within one of `now`'s) whose code is `code`, if any.
pub fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret.to_vec());
    let current = now / STEP_SECS;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| constant_time_eq(&t.generate(step * STEP_SECS), &code))
        .map(|s| s as i64)
}

/// The key sealing every account's TOTP secret.
fn account_keys(state: &PlatformState) -> TenantKeys {
    state.master.tenant("platform-accounts")
}

fn secret_of(state: &PlatformState, a: &accounts::Model) -> Option<Vec<u8>> {
    let (c, n) = (a.totp_secret.as_ref()?, a.totp_nonce.as_ref()?);
    account_keys(state).open(c, n).ok()
}

/// Checks a code for an account and uses it up. Wrong, malformed and replayed codes are all `false`.
pub async fn check_code(state: &PlatformState, a: &accounts::Model, code: &str) -> PageResult<bool> {
    let Some(secret) = secret_of(state, a) else { return Ok(false) };
    let now = Utc::now().timestamp().max(0) as u64;
    match matching_step(&secret, code, now) {
        Some(step) => Ok(claim_totp_step(state.db.writer(), &a.id, step).await?),
        None => Ok(false),
    }
}

pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buf >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn unbase32(s: &str) -> Option<Vec<u8>> {
    let (mut buf, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buf = (buf << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            out.push((buf >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

/// Signs a proposed secret to this account, so the enable form cannot be fed another.
fn setup_sig(state: &PlatformState, account_id: &str, secret_b32: &str) -> String {
    hmac_sha256_hex(&state.csrf_key, format!("totp-setup:{account_id}:{secret_b32}").as_bytes())
}

fn qr_svg(uri: &str) -> String {
    qrcode::QrCode::new(uri.as_bytes())
        .map(|q| q.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build())
        .unwrap_or_default()
}

pub async fn two_factor_page(
    State(state): State<PlatformState>,
    Merchant(account): Merchant,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<FlashQuery>,
) -> PageResult<Response> {
    setup_page(&state, &account, &csrf, q.m.as_deref(), &[]).await
}

async fn setup_page(
    state: &PlatformState,
    account: &crate::auth::session::Account,
    csrf: &str,
    flash: Option<&str>,
    errors: &[&str],
) -> PageResult<Response> {
    let row = find_account(state.db.reader(), &account.id).await?.ok_or(PageError::NotFound)?;
    let enabled = row.totp_secret.is_some();
    let page = if enabled {
        context! { enabled }
    } else {
        let secret: [u8; 20] = rand::random();
        let b32 = base32(&secret);
        let uri = format!("otpauth://totp/Kapu:{}?secret={b32}&issuer=Kapu&digits=6&period=30", account.email);
        let qr = Value::from_safe_string(qr_svg(&uri));
        context! { enabled, secret => b32.clone(), sig => setup_sig(state, &account.id, &b32), uri, qr }
    };
    let layout = Layout {
        account: Some(account),
        csrf,
        shop: None,
        nav: "",
        flash: flash_for(flash),
        title: "两步验证 Two-factor sign-in",
    };
    let resp = render("two_factor.html", layout, context! { errors => crate::page::ser(errors), ..page })?;
    Ok(if errors.is_empty() { resp } else { with_status(StatusCode::UNPROCESSABLE_ENTITY, resp) })
}

#[derive(serde::Deserialize)]
pub struct EnableForm {
    #[serde(default)]
    secret: String,
    #[serde(default)]
    sig: String,
    #[serde(default)]
    code: String,
}

pub async fn enable_two_factor(
    State(state): State<PlatformState>,
    Merchant(account): Merchant,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(f): VerifiedForm<EnableForm>,
) -> PageResult<Response> {
    if !constant_time_eq(&setup_sig(&state, &account.id, &f.secret), &f.sig) {
        return Err(PageError::FormRefused);
    }
    let secret = unbase32(&f.secret).filter(|s| s.len() >= 16).ok_or(PageError::FormRefused)?;
    let now = Utc::now().timestamp().max(0) as u64;
    let Some(step) = matching_step(&secret, &f.code, now) else {
        let msg = "验证码不正确，请输入验证器 App 当前显示的 6 位数字。That code is wrong; enter the 6 digits your authenticator app shows now.";
        return setup_page(&state, &account, &csrf, None, &[msg]).await;
    };
    let sealed = account_keys(&state).seal(&secret);
    set_totp_of_account(state.db.writer(), &account.id, Some((sealed.ciphertext, sealed.nonce))).await?;
    claim_totp_step(state.db.writer(), &account.id, step).await?;
    account_action(&state, &merchant(&account, ip), "account.2fa_enable", "").await?;
    Ok(Redirect::to("/account/2fa?m=2fa_on").into_response())
}

#[derive(serde::Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

pub async fn disable_two_factor(
    State(state): State<PlatformState>,
    Merchant(account): Merchant,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(f): VerifiedForm<CodeForm>,
) -> PageResult<Response> {
    let row = find_account(state.db.reader(), &account.id).await?.ok_or(PageError::NotFound)?;
    // The same budget as codes at sign-in: a stolen session cannot guess its way to turning 2FA off.
    state.throttle.check(&format!("2fa:{}", row.email), ip.0).await.map_err(PageError::Throttled)?;
    if !check_code(&state, &row, &f.code).await? {
        let msg = "验证码不正确或已使用过。That code is wrong or was already used.";
        return setup_page(&state, &account, &csrf, None, &[msg]).await;
    }
    set_totp_of_account(state.db.writer(), &account.id, None).await?;
    account_action(&state, &merchant(&account, ip), "account.2fa_disable", "").await?;
    Ok(Redirect::to("/account/2fa?m=2fa_off").into_response())
}

/// The answer once the first factor is proven (a password, a reset link)
/// for an account with two-factor on: no session yet, a challenge cookie
/// and the code form, which goes on to `next` (already checked same-site).
pub fn ask_for_code(state: &PlatformState, account_id: &str, next: &str) -> Response {
    let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    let cookie = challenge_cookie(state, account_id);
    ([(SET_COOKIE, cookie)], Redirect::to(&format!("/login/2fa?{query}"))).into_response()
}

/// `Set-Cookie` for "password accepted, code pending" (5 minutes, login paths only).
fn challenge_cookie(state: &PlatformState, account_id: &str) -> String {
    let exp = Utc::now().timestamp() + CHALLENGE_SECS;
    let payload = format!("{account_id}.{exp}");
    let sig = hmac_sha256_hex(&state.challenge_key, payload.as_bytes());
    let secure = if state.secure_cookies() { "; Secure" } else { "" };
    format!("{CHALLENGE_COOKIE}={payload}.{sig}; Path=/login; HttpOnly; SameSite=Lax; Max-Age={CHALLENGE_SECS}{secure}")
}

fn clear_challenge_cookie(state: &PlatformState) -> String {
    let secure = if state.secure_cookies() { "; Secure" } else { "" };
    format!("{CHALLENGE_COOKIE}=; Path=/login; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// The account whose password was accepted, if the challenge cookie is genuine and fresh.
fn challenged_account(state: &PlatformState, headers: &HeaderMap) -> Option<String> {
    let v = cookie(headers, CHALLENGE_COOKIE)?;
    let (payload, sig) = v.rsplit_once('.')?;
    let (account_id, exp) = payload.split_once('.')?;
    let fresh = exp.parse::<i64>().ok()? > Utc::now().timestamp();
    (fresh && constant_time_eq(&hmac_sha256_hex(&state.challenge_key, payload.as_bytes()), sig))
        .then(|| account_id.to_string())
}

#[derive(serde::Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

pub async fn code_page(
    State(state): State<PlatformState>,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> PageResult<Response> {
    if challenged_account(&state, &headers).is_none() {
        return Ok(Redirect::to("/login").into_response());
    }
    code_form(&csrf, &q.next, &[])
}

fn code_form(csrf: &str, next: &str, errors: &[&str]) -> PageResult<Response> {
    let layout =
        Layout { account: None, csrf, shop: None, nav: "", flash: None, title: "两步验证 Two-factor sign-in" };
    render("login_2fa.html", layout, context! { next, errors => crate::page::ser(errors) })
}

pub async fn submit_code(
    State(state): State<PlatformState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    VerifiedForm(f): VerifiedForm<CodeForm>,
) -> PageResult<Response> {
    let account_id = challenged_account(&state, &headers).ok_or(PageError::LoginRequired { next: String::new() })?;
    let account = find_account(state.db.reader(), &account_id).await?.ok_or(PageError::NotFound)?;
    let ip = kapu_web::client_ip(peer.ip(), &headers, &state.trusted_proxies);
    // Codes have their own budget (5 per account, then one per 2 minutes), apart from passwords.
    state.throttle.check(&format!("2fa:{}", account.email), ip).await.map_err(PageError::Throttled)?;
    if !check_code(&state, &account, &f.code).await? {
        let msg = "验证码不正确或已使用过。That code is wrong or was already used.";
        return Ok(with_status(StatusCode::UNAUTHORIZED, code_form(&csrf, &f.next, &[msg])?));
    }
    let token = state.sessions.create(&state.db, &account.id, session_lifetime()).await?;
    tracing::info!(account = %account.id, "merchant logged in with two-factor");
    let actor = kapu_core::store::audit::Actor::merchant(&account.id, &account.email, &ip.to_string());
    account_action(&state, &actor, "account.login", "password and two-factor code").await?;
    let mut resp = Redirect::to(safe_next(&f.next)).into_response();
    for c in [session_cookie(&state, &token), clear_challenge_cookie(&state)] {
        if let Ok(v) = c.parse() {
            resp.headers_mut().append(SET_COOKIE, v);
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 appendix B: the 20-byte ASCII secret "12345678901234567890", T = 59 s → 94287082 (8 digits).
        let t = TOTP::new_unchecked(Algorithm::SHA1, 8, 1, 30, b"12345678901234567890".to_vec());
        assert_eq!(t.generate(59), "94287082");
        assert_eq!(t.generate(1_111_111_109), "07081804");
    }

    #[test]
    fn codes_match_within_one_step_only() {
        let secret = b"12345678901234567890";
        let t = totp(secret.to_vec());
        let now = 1_700_000_000;
        let code = t.generate(now);
        assert_eq!(matching_step(secret, &code, now), Some((now / 30) as i64));
        assert_eq!(matching_step(secret, &code, now + 30), Some((now / 30) as i64), "one step late is fine");
        assert_eq!(matching_step(secret, &code, now + 90), None, "three steps late is not");
        assert_eq!(matching_step(secret, "12345", now), None);
        assert_eq!(matching_step(secret, "abcdef", now), None);
    }

    #[test]
    fn base32_round_trips() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(unbase32("MZXW6YTBOI").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(unbase32("not base32!"), None);
    }
}
