//! `GET/POST /shops/{slug}/webhooks` (owner only): endpoints with the events
//! they receive, the signing secret shown once on creation, turn on/off,
//! delete, and the delivery log with response codes and manual redelivery.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::fleet::limits::{Limit, burst_then_every};
use kapu_core::store::webhooks::{
    EVENT_TYPES, MAX_ENDPOINTS_PER_SHOP, Redelivery, create_endpoint_for_tenant, delete_endpoint_for_tenant,
    find_endpoint_for_tenant, list_endpoints_for_tenant, new_secret, queue_delivery, recent_deliveries_for_tenant,
    reset_delivery_for_tenant, set_endpoint_enabled_for_tenant,
};
use minijinja::context;

use crate::audit::shop_action;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::{OwnerAccess, ShopAccess};
use crate::error::{PageError, PageResult};
use crate::page::{Flash, Layout, render, ser, with_status};
use crate::state::PlatformState;

#[derive(serde::Deserialize, Default)]
pub struct WebhooksQuery {
    #[serde(default)]
    m: Option<String>,
}

fn flash(code: Option<&str>) -> Option<Flash> {
    match code? {
        "saved" => Flash::ok("已保存。Saved."),
        "deleted" => Flash::ok("已删除。Deleted."),
        "redelivering" => Flash::ok("已重新排队投递。Queued for delivery again."),
        "already-queued" => {
            Flash::ok("这次投递已在队列中，无需重复点击。This delivery is already queued: no need to click again.")
        }
        _ => None,
    }
}

async fn page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    errors: &[String],
    new_secret: Option<(&str, &str)>,
    flash: Option<Flash>,
) -> PageResult<Response> {
    let endpoints = list_endpoints_for_tenant(state.db.reader(), access.tenant_id()).await?;
    let urls: HashMap<String, String> = endpoints.iter().map(|e| (e.id.clone(), e.url.clone())).collect();
    let deliveries: Vec<_> = recent_deliveries_for_tenant(state.db.reader(), access.tenant_id(), 50)
        .await?
        .into_iter()
        .map(|d| {
            context! {
                id => d.id.clone(), event => d.event_type, status => d.status, attempts => d.attempts,
                code => d.last_status_code, error => d.last_error, url => urls.get(&d.endpoint_id).cloned().unwrap_or_default(),
                at => d.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            }
        })
        .collect();
    let endpoints: Vec<_> = endpoints
        .into_iter()
        .map(|e| {
            context! {
                id => e.id, url => e.url, events => e.events.split(',').map(str::to_string).collect::<Vec<_>>(),
                enabled => e.enabled, disabled_reason => e.disabled_reason,
            }
        })
        .collect();
    let layout = Layout { account: None, csrf, shop: Some(access), nav: "webhooks", flash, title: "Webhooks" };
    render(
        "webhooks.html",
        layout,
        context! {
            endpoints, deliveries, event_types => ser(EVENT_TYPES), errors => ser(errors),
            new_secret => new_secret.map(|(url, s)| context! { url, secret => s }),
        },
    )
}

pub async fn webhooks_page(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<WebhooksQuery>,
) -> PageResult<Response> {
    page(&state, &access, &csrf, &[], None, flash(q.m.as_deref())).await
}

/// An endpoint URL a shop may use: https (http too where private gateways are
/// allowed, i.e. tests and private deployments), a host, no credentials.
fn check_url(state: &PlatformState, text: &str) -> Result<String, String> {
    let url = url::Url::parse(text.trim()).map_err(|_| {
        "请输入完整的网址，例如 https://example.com/kapu。Enter a full URL such as https://example.com/kapu."
            .to_string()
    })?;
    let https = url.scheme() == "https";
    let http_ok = url.scheme() == "http" && state.providers.allow_private_hosts;
    if !(https || http_ok) {
        return Err("Webhook 地址必须是 https://。The endpoint must be an https:// URL.".into());
    }
    if url.host_str().is_none_or(str::is_empty) || !url.username().is_empty() || url.password().is_some() {
        return Err("网址需要主机名，且不能包含账号密码。The URL needs a host and no user or password.".into());
    }
    if !state.providers.allow_private_hosts {
        let private = match url.host() {
            Some(url::Host::Ipv4(ip)) => !kapu_billing::channel::is_public_ip(ip.into()),
            Some(url::Host::Ipv6(ip)) => !kapu_billing::channel::is_public_ip(ip.into()),
            Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
            None => true,
        };
        if private {
            return Err("Webhook 地址不能指向内网或本机。The endpoint must be a public internet address.".into());
        }
    }
    if text.len() > 2000 {
        return Err("网址太长。The URL is too long.".into());
    }
    Ok(url.to_string())
}

pub async fn add_endpoint(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(form): VerifiedForm<Vec<(String, String)>>,
) -> PageResult<Response> {
    let url_text = form.iter().find(|(k, _)| k == "url").map(|(_, v)| v.as_str()).unwrap_or("");
    let events: Vec<&str> =
        EVENT_TYPES.iter().copied().filter(|t| form.iter().any(|(k, v)| k == "event" && v == t)).collect();
    let mut errors = Vec::new();
    if list_endpoints_for_tenant(state.db.reader(), access.tenant_id()).await?.len() >= MAX_ENDPOINTS_PER_SHOP {
        errors.push(format!(
            "每个店铺最多 {MAX_ENDPOINTS_PER_SHOP} 个 Webhook 地址，请先删除不用的。A shop can have at most {MAX_ENDPOINTS_PER_SHOP} webhook endpoints: delete one you no longer use first."
        ));
    }
    let url = check_url(&state, url_text).map_err(|e| errors.push(e)).ok();
    if events.is_empty() {
        errors.push("请至少选择一个事件。Choose at least one event.".into());
    }
    let Some(url) = url.filter(|_| errors.is_empty()) else {
        return Ok(with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&state, &access, &csrf, &errors, None, None).await?,
        ));
    };
    let (secret, shown) = new_secret();
    let keys = state.master.tenant(access.tenant_id());
    create_endpoint_for_tenant(state.db.writer(), &keys, access.tenant_id(), &url, &events, &secret).await?;
    // Checkouts cache whether the shop has endpoints to send events to.
    state.bus.shop_changed(access.tenant_id());
    shop_action(&state, &access, ip, "webhook.create", &url, &events.join(",")).await?;
    page(
        &state,
        &access,
        &csrf,
        &[],
        Some((&url, &shown)),
        Flash::ok(
            "已添加。请立即复制签名密钥，它只显示这一次。Added. Copy the signing secret now: it is shown only once.",
        ),
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct ToggleForm {
    #[serde(default)]
    enabled: String,
}

pub async fn toggle_endpoint(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    Path((_, id)): Path<(String, String)>,
    VerifiedForm(f): VerifiedForm<ToggleForm>,
) -> PageResult<Response> {
    let ep = find_endpoint_for_tenant(state.db.reader(), access.tenant_id(), &id).await?.ok_or(PageError::NotFound)?;
    let enabled = f.enabled == "true";
    set_endpoint_enabled_for_tenant(state.db.writer(), access.tenant_id(), &id, enabled, None).await?;
    // Checkouts cache whether the shop has endpoints to send events to.
    state.bus.shop_changed(access.tenant_id());
    shop_action(&state, &access, ip, if enabled { "webhook.enable" } else { "webhook.disable" }, &ep.url, "").await?;
    Ok(Redirect::to(&format!("/shops/{}/webhooks?m=saved", access.shop.slug)).into_response())
}

pub async fn delete_endpoint(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    Path((_, id)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    let ep = find_endpoint_for_tenant(state.db.reader(), access.tenant_id(), &id).await?.ok_or(PageError::NotFound)?;
    delete_endpoint_for_tenant(state.db.writer(), access.tenant_id(), &id).await?;
    // Checkouts cache whether the shop has endpoints to send events to.
    state.bus.shop_changed(access.tenant_id());
    shop_action(&state, &access, ip, "webhook.delete", &ep.url, "").await?;
    Ok(Redirect::to(&format!("/shops/{}/webhooks?m=deleted", access.shop.slug)).into_response())
}

pub async fn redeliver(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    Path((_, id)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    // Manual redeliveries per shop: 20 at once, then one every 30 s.
    let limit = Limit::new(format!("rl:redeliver:{}", access.tenant_id()), burst_then_every(20, 30));
    state.limits.check(&[limit]).await.map_err(|r| PageError::Throttled(r.retry_after_secs))?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let flash = match reset_delivery_for_tenant(&txn, access.tenant_id(), &id, now).await? {
        Redelivery::NotFound => return Err(PageError::NotFound),
        Redelivery::AlreadyQueued => "already-queued",
        Redelivery::Reset => {
            queue_delivery(&txn, access.tenant_id(), &id, now).await?;
            "redelivering"
        }
    };
    txn.commit().await?;
    Ok(Redirect::to(&format!("/shops/{}/webhooks?m={flash}", access.shop.slug)).into_response())
}
