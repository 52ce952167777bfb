//! Payment channels (owner only): which channels take the shop's payments,
//! in what order, with the merchant's credentials (sealed at rest, secrets
//! never shown back), each channel's health as this process sees it, and the
//! reconciliation log. `GET /shops/{slug}/channels`, `POST …/channels/{kind}`.

use crate::audit::shop_action;
use crate::auth::request_ip::RequestIp;
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_billing::channels::{KINDS, channel_by_kind, sandbox};
use kapu_billing::forms::{FieldKind, fields_of, label_of, merge_credentials};
use kapu_core::store::channels::{
    ChannelSettings, channel_credentials_for_tenant, credentials_of, list_channels_for_tenant, save_channel_for_tenant,
};
use kapu_core::store::payment_checks::recent_checks_for_tenant;
use minijinja::{Value, context};

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::shop_access::{OwnerAccess, ShopAccess};
use crate::error::{PageError, PageResult};
use crate::page::{Layout, flash_for, render, ser, with_status};
use crate::shops::list::FlashQuery;
use crate::state::PlatformState;

pub fn outcome_label(outcome: &str) -> &'static str {
    crate::language::bi(match outcome {
        "delivered" => "已补单发货 Found paid, delivered",
        "closed" => "渠道已关闭订单 Closed at the provider",
        "not_found" => "渠道查无此单 Unknown to the provider",
        "unpaid" => "订单结束仍未支付 Unpaid when the order ended",
        "rejected" => "结果不符，已拒绝 Did not match; refused",
        "error" => "查询失败 Could not ask",
        "pending" => "等待付款中 Still waiting for the payer",
        "paid" => "已支付（此前已处理）Paid, already applied",
        _ => "其他 Other",
    })
}

async fn page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    error: Option<(&str, &str)>,
    flash: Option<&str>,
) -> PageResult<Response> {
    page_with_test(state, access, csrf, error, flash, None).await
}

/// The result of "test this channel", shown at the top of the page.
#[derive(serde::Serialize)]
struct Tested {
    kind: &'static str,
    label: &'static str,
    ok: bool,
    message: String,
}

async fn page_with_test(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    error: Option<(&str, &str)>,
    flash: Option<&str>,
    tested: Option<Tested>,
) -> PageResult<Response> {
    let tenant_id = access.tenant_id();
    let keys = state.master.tenant(tenant_id);
    let configured = list_channels_for_tenant(state.db.reader(), tenant_id).await?;
    let test_mode = access.shop.mode != "live";
    let mut health = Vec::with_capacity(KINDS.len());
    for kind in KINDS {
        health.push(state.health.view(tenant_id, kind).await);
    }
    let channels: Vec<Value> = KINDS
        .iter()
        .zip(health)
        .map(|(kind, h)| {
            let row = configured.iter().find(|c| c.channel == *kind);
            let stored: serde_json::Value =
                row.map(|c| serde_json::from_str(&credentials_of(&keys, c)).unwrap_or_default()).unwrap_or_default();
            let fields: Vec<Value> = fields_of(kind)
                .iter()
                .map(|spec| {
                    let raw = &stored[spec.name];
                    let (input, options): (&str, Vec<Value>) = match spec.kind {
                        FieldKind::Text => ("text", vec![]),
                        FieldKind::Secret => ("secret", vec![]),
                        FieldKind::SecretBlock => ("secret_block", vec![]),
                        FieldKind::Block => ("block", vec![]),
                        FieldKind::Select(opts) => (
                            "select",
                            opts.iter()
                                .map(|(v, l)| context! { value => *v, label => *l, on => raw.as_str() == Some(*v) })
                                .collect(),
                        ),
                        FieldKind::Methods(all) => (
                            "methods",
                            all.iter()
                                .map(|m| {
                                    let on = raw.as_array().is_some_and(|a| a.iter().any(|x| x.as_str() == Some(*m)));
                                    context! { value => *m, label => *m, on }
                                })
                                .collect(),
                        ),
                    };
                    let secret = matches!(spec.kind, FieldKind::Secret | FieldKind::SecretBlock);
                    context! {
                        name => spec.name, label => spec.label, help => spec.help, input, options,
                        value => if secret { String::new() } else { raw.as_str().unwrap_or_default().to_string() },
                        saved => secret && raw.as_str().is_some_and(|s| !s.is_empty()),
                    }
                })
                .collect();
            let methods = row
                .and_then(|c| channel_by_kind(&c.channel).map(|ch| ch.methods(&credentials_of(&keys, c))))
                .unwrap_or_default();
            context! {
                kind => *kind, label => label_of(kind), configured => row.is_some(),
                enabled => row.is_some_and(|c| c.enabled), priority => row.map(|c| c.priority).unwrap_or(10),
                usable => row.is_some_and(|c| c.enabled) && (test_mode || *kind != sandbox::KIND),
                test_only => *kind == sandbox::KIND, methods, fields,
                webhook_url => (*kind == kapu_billing::channels::stripe::KIND)
                    .then(|| format!("{}api/v1/channels/stripe/webhook", access.shop_url)),
                health => context! {
                    state => h.state.as_str(), calls => h.successes + h.failures,
                    success_rate => h.success_rate.map(|r| format!("{:.1}%", r * 100.0)),
                    median_ms => h.median_latency_ms,
                    last_error => h.last_error.map(|(e, at)| format!("{} · {e}", at.format("%Y-%m-%d %H:%M:%S"))),
                },
            }
        })
        .collect();
    let checks: Vec<Value> = recent_checks_for_tenant(state.db.reader(), tenant_id, 50)
        .await?
        .into_iter()
        .map(|c| {
            context! { at => c.created_at.format("%Y-%m-%d %H:%M:%S").to_string(), order_no => c.order_no,
            channel => label_of(&c.channel), outcome => c.outcome.clone(), label => outcome_label(&c.outcome), detail => c.detail }
        })
        .collect();
    let layout = Layout {
        account: None,
        csrf,
        shop: Some(access),
        nav: "channels",
        flash: flash_for(flash),
        title: "收款渠道 Payment channels",
    };
    let errors: Vec<String> = error.map(|(k, e)| format!("{}：{e}", label_of(k))).into_iter().collect();
    let resp = render(
        "channels.html",
        layout,
        context! { channels, checks, test_mode, errors => ser(&errors), error_kind => error.map(|(k, _)| k), tested => tested.map(ser),
        payment_source => crate::supply::payment_source::source_context(state, tenant_id).await?,
        notifications_url => format!("/shops/{}/payments/notifications", access.shop.slug) },
    )?;
    Ok(if errors.is_empty() { resp } else { with_status(StatusCode::UNPROCESSABLE_ENTITY, resp) })
}

pub async fn channels_page(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<FlashQuery>,
) -> PageResult<Response> {
    page(&state, &access, &csrf, None, q.m.as_deref()).await
}

/// Saves one channel: enabled, priority and (for real channels) credentials.
pub async fn save_channel(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    Path((_, kind)): Path<(String, String)>,
    VerifiedForm(form): VerifiedForm<HashMap<String, String>>,
) -> PageResult<Response> {
    let Some(kind) = KINDS.iter().copied().find(|k| *k == kind) else {
        return Err(PageError::NotFound);
    };
    let tenant_id = access.tenant_id();
    let keys = state.master.tenant(tenant_id);
    let priority = match form.get("priority").map(|p| p.trim().parse::<i32>()) {
        Some(Ok(p)) if (0..=99).contains(&p) => p,
        _ => {
            let e = "优先级需为 0–99 的整数，数字小的先用。Priority must be a whole number 0–99; lower goes first.";
            return page(&state, &access, &csrf, Some((kind, e)), None).await;
        }
    };
    let enabled = form.get("enabled").is_some_and(|v| !v.is_empty());
    let credentials_json = if fields_of(kind).is_empty() {
        None
    } else {
        let stored = channel_credentials_for_tenant(state.db.reader(), &keys, tenant_id, kind).await?;
        match merge_credentials(kind, &stored, &form) {
            Ok(json) => Some(json),
            Err(e) => return page(&state, &access, &csrf, Some((kind, &e)), None).await,
        }
    };
    let settings = ChannelSettings { kind: kind.into(), enabled, priority, credentials_json };
    save_channel_for_tenant(state.db.writer(), &keys, tenant_id, &settings).await?;
    // The storefront caches the methods a shop offers: tell it, and the resellers paying through it.
    state.bus.shop_changed(tenant_id);
    crate::supply::payment_source::tell_collecting_resellers(&state, tenant_id).await?;
    let detail = format!(
        "enabled {enabled}, priority {priority}{}",
        if settings.credentials_json.is_some() { ", credentials changed" } else { "" }
    );
    shop_action(&state, &access, ip, "channel.save", kind, &detail).await?;
    Ok(Redirect::to(&format!("/shops/{}/channels?m=saved", access.shop.slug)).into_response())
}

/// "Test this channel": with the saved credentials, asks the provider about
/// a payment that cannot exist. A provider that answers "no such payment"
/// accepted our credentials and signature; anything else is shown as it
/// came. Owner only; audited; nothing changes.
pub async fn test_channel(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    Path((_, kind)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<HashMap<String, String>>,
) -> PageResult<Response> {
    use kapu_billing::{ChannelError, KnownPayment, QueryOutcome};
    let Some(kind) = KINDS.iter().copied().find(|k| *k == kind) else {
        return Err(PageError::NotFound);
    };
    let Some(channel) = channel_by_kind(kind) else {
        return Err(PageError::NotFound);
    };
    let limits = [kapu_core::fleet::limits::Limit::new(
        format!("rl:test-channel:{}", access.tenant_id()),
        kapu_core::fleet::limits::burst_then_every(5, 12),
    )];
    state.limits.check(&limits).await.map_err(|r| PageError::Throttled(r.retry_after_secs))?;
    let tenant_id = access.tenant_id();
    let keys = state.master.tenant(tenant_id);
    let credentials = channel_credentials_for_tenant(state.db.reader(), &keys, tenant_id, kind).await?;
    let (ok, message) = if channel.test_only() {
        (true, "测试渠道无需凭据，随时可用。The sandbox needs no credentials and always works.".to_string())
    } else if credentials.trim().is_empty() || credentials.trim() == "{}" {
        (false, "还没有保存凭据。No credentials saved yet.".to_string())
    } else {
        let ctx = state.providers.context(tenant_id, &keys, access.shop.mode != "live", &credentials);
        let probe = KnownPayment {
            payment_id: format!("kapu-test-{}", kapu_core::ids::new_id()),
            amount_minor: 1,
            currency: access.shop.currency.clone(),
            provider_ref: None,
        };
        let started = std::time::Instant::now();
        let answer = channel.query_payment(ctx, &probe).await;
        let ms = started.elapsed().as_millis();
        match answer {
            Ok(QueryOutcome::NotFound) => (
                true,
                format!(
                    "连接正常：渠道接受了凭据和签名，并回答查无此单（{ms} ms）。Working: the provider accepted the credentials and signature and answered that a made-up payment does not exist ({ms} ms)."
                ),
            ),
            Ok(other) => (
                true,
                format!(
                    "渠道已应答（{other:?}，{ms} ms），凭据可用。The provider answered ({other:?}, {ms} ms); the credentials work."
                ),
            ),
            Err(ChannelError::Unsupported(e)) => (
                true,
                format!(
                    "此渠道不支持查询，无法在线检测：{e}。This channel cannot be queried, so it cannot be tested online: {e}."
                ),
            ),
            Err(ChannelError::Transient(e)) => {
                (false, format!("连接不上渠道（{ms} ms）：{e}。Could not reach the provider ({ms} ms): {e}."))
            }
            Err(e) => {
                (false, format!("渠道拒绝了请求，请检查凭据：{e}。The provider refused; check the credentials: {e}."))
            }
        }
    };
    shop_action(&state, &access, ip, "channel.test", kind, if ok { "working" } else { "failed" }).await?;
    let tested = Tested { kind, label: label_of(kind), ok, message };
    page_with_test(&state, &access, &csrf, None, None, Some(tested)).await
}
