//! Risk rules (owner only): block and allow lists and the order-velocity
//! rule. `GET/POST /shops/{slug}/risk`, `POST …/risk/velocity`,
//! `POST …/risk/{id}/delete`.

use crate::audit::shop_action;
use crate::auth::request_ip::RequestIp;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::db::is_unique_violation;
use kapu_core::store::risk::{
    add_risk_entry_for_tenant, delete_risk_entry_for_tenant, list_recent_risk_events_for_tenant,
    list_risk_entries_for_tenant, normalize_entry,
};
use kapu_core::store::shop_settings::set_velocity_rule_for_tenant;
use kapu_core::tenant::RiskSettings;
use minijinja::{Value, context};

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::shop_access::{OwnerAccess, ShopAccess};
use crate::error::{PageError, PageResult};
use crate::page::{Layout, flash_for, render, ser, with_status};
use crate::shops::list::FlashQuery;
use crate::state::PlatformState;

async fn page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    errors: &[&str],
    flash: Option<&str>,
) -> PageResult<Response> {
    let entries = list_risk_entries_for_tenant(state.db.reader(), access.tenant_id()).await?;
    let of = |list: &str| -> Vec<Value> {
        entries
            .iter()
            .filter(|e| e.list == list)
            .map(|e| context! { id => e.id.clone(), kind => e.kind.clone(), value => e.value.clone() })
            .collect()
    };
    let lists = vec![
        context! { list => "block", title => "拒绝名单 Block list", entries => of("block") },
        context! { list => "allow", title => "允许名单 Allow list", entries => of("allow") },
    ];
    let s = &access.shop;
    let velocity = context! { ip_max => s.velocity_ip_max, email_max => s.velocity_email_max,
    window_minutes => s.velocity_window_minutes, action => s.velocity_action.clone() };
    let events: Vec<Value> = list_recent_risk_events_for_tenant(state.db.reader(), access.tenant_id(), 50)
        .await?
        .into_iter()
        .map(|e| {
            let rule = match e.rule.as_str() {
                "block_email" => "拒绝名单：邮箱 Block list: email",
                "block_domain" => "拒绝名单：域名 Block list: domain",
                "block_ip" => "拒绝名单：IP Block list: IP",
                "velocity_refused" => "频率：已拒绝 Velocity: refused",
                "velocity_challenge" => "频率：要求验证 Velocity: challenged",
                _ => "其他 Other",
            };
            context! { at => e.created_at.format("%Y-%m-%d %H:%M:%S").to_string(), rule, email => e.email, ip => e.client_ip }
        })
        .collect();
    let layout = Layout {
        account: None,
        csrf,
        shop: Some(access),
        nav: "settings",
        flash: flash_for(flash),
        title: "风控 Risk rules",
    };
    let resp = render("risk.html", layout, context! { lists, velocity, events, errors => ser(errors) })?;
    Ok(if errors.is_empty() { resp } else { with_status(StatusCode::UNPROCESSABLE_ENTITY, resp) })
}

pub async fn risk_page(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<FlashQuery>,
) -> PageResult<Response> {
    page(&state, &access, &csrf, &[], q.m.as_deref()).await
}

#[derive(serde::Deserialize)]
pub struct EntryForm {
    #[serde(default)]
    list: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
}

pub async fn add_entry(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(f): VerifiedForm<EntryForm>,
) -> PageResult<Response> {
    let list = match f.list.as_str() {
        "block" => "block",
        "allow" => "allow",
        _ => return Err(PageError::BadRequest("未知名单。Unknown list.".into())),
    };
    let kind = match f.kind.as_str() {
        "email" => "email",
        "domain" => "domain",
        "ip" => "ip",
        _ => return Err(PageError::BadRequest("未知类型。Unknown kind.".into())),
    };
    let Some(value) = normalize_entry(kind, &f.value) else {
        let msg = match kind {
            "email" => "请输入完整的邮箱地址。Enter a whole email address.",
            "domain" => "请输入邮箱域名，例如 example.com。Enter an email domain such as example.com.",
            _ => "请输入 IP 地址或 CIDR，例如 203.0.113.0/24。Enter an IP address or a CIDR such as 203.0.113.0/24.",
        };
        return page(&state, &access, &csrf, &[msg], None).await;
    };
    match add_risk_entry_for_tenant(state.db.writer(), access.tenant_id(), list, kind, &value).await {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => {
            let r =
                page(&state, &access, &csrf, &["该条目已在名单中。That entry is already on the list."], None).await?;
            return Ok(with_status(StatusCode::CONFLICT, r));
        }
        Err(e) => return Err(e.into()),
    }
    shop_action(&state, &access, ip, "risk.add", &value, &format!("{list} {kind}")).await?;
    Ok(Redirect::to(&format!("/shops/{}/risk?m=saved", access.shop.slug)).into_response())
}

pub async fn delete_entry(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    Path((_, id)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    if !delete_risk_entry_for_tenant(state.db.writer(), access.tenant_id(), &id).await? {
        return Err(PageError::NotFound);
    }
    Ok(Redirect::to(&format!("/shops/{}/risk?m=saved", access.shop.slug)).into_response())
}

#[derive(serde::Deserialize)]
pub struct VelocityForm {
    #[serde(default)]
    ip_max: String,
    #[serde(default)]
    email_max: String,
    #[serde(default)]
    window_minutes: String,
    #[serde(default)]
    action: String,
}

pub async fn save_velocity(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(f): VerifiedForm<VelocityForm>,
) -> PageResult<Response> {
    let num = |s: &str, max: i32| s.trim().parse::<i32>().ok().filter(|n| (1..=max).contains(n));
    let (Some(ip_max), Some(email_max), Some(window)) =
        (num(&f.ip_max, 100_000), num(&f.email_max, 100_000), num(&f.window_minutes, 1440))
    else {
        let msg =
            "上限需为 1–100000，时间窗口需为 1–1440 分钟。Limits must be 1–100,000 and the window 1–1,440 minutes.";
        return page(&state, &access, &csrf, &[msg], None).await;
    };
    let action = if f.action == "block" { "block" } else { "challenge" };
    let rule = RiskSettings {
        velocity_ip_max: ip_max,
        velocity_email_max: email_max,
        velocity_window_minutes: window,
        velocity_action: action.into(),
    };
    set_velocity_rule_for_tenant(state.db.writer(), access.tenant_id(), &rule).await?;
    state.bus.shop_changed(access.tenant_id());
    Ok(Redirect::to(&format!("/shops/{}/risk?m=saved", access.shop.slug)).into_response())
}
