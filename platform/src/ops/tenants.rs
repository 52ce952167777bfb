//! Shops, as operators see them: `GET /ops/tenants` (search by slug, name,
//! owner email or domain; filter by plan and status), `GET /ops/tenants/{id}`
//! (figures and actions) and the actions, each needing a reason that goes
//! into the audit log: `POST …/status` (suspend, resume, close) and
//! `POST …/plan`. Nothing here deletes data; a closed shop is purged by the
//! billing sweep after the retention period.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use kapu_core::entities::tenants;
use kapu_core::money::format_minor;
use kapu_core::store::audit::{AuditQuery, list_audit, record_audit};
use kapu_core::store::fee_ledger::paid_since_for_tenant;
use kapu_core::store::plan_limits::{count_orders_since, usage_of_tenant};
use kapu_core::store::plans::{find_plan, list_plans, plan_of_tenant};
use kapu_core::store::subscriptions::find_subscription_for_tenant;
use kapu_core::store::tenant_admin::{TenantFilter, owner_email_of, search_tenants, set_status_of_tenant};
use minijinja::context;
use sea_orm::EntityTrait;

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::error::{PageError, PageResult};
use crate::ops::session::Operator;
use crate::ops::{FlashParam, OpsPage, ops_flash, render_ops};
use crate::page::ser;
use crate::state::PlatformState;
use crate::subscriptions::webhook::move_plan;

#[derive(serde::Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    status: String,
}

pub async fn list_tenants(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    Query(p): Query<ListParams>,
) -> PageResult<Response> {
    let filter =
        TenantFilter { q: p.q.clone(), plan_id: Some(p.plan.clone()), status: Some(p.status.clone()), limit: 200 };
    let rows = search_tenants(state.db.reader(), &filter).await?;
    let plans = list_plans(state.db.reader()).await?;
    let layout = OpsPage { operator: Some(&op), csrf: &csrf, nav: "tenants", flash: None, title: "店铺 Shops" };
    render_ops(
        "ops_tenants.html",
        layout,
        context! { rows => ser(&rows), plans => ser(&plans), q => p.q, plan => p.plan, status => p.status },
    )
}

async fn load(state: &PlatformState, id: &str) -> PageResult<tenants::Model> {
    tenants::Entity::find_by_id(id.to_string()).one(state.db.reader()).await?.ok_or(PageError::NotFound)
}

pub async fn tenant_detail(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    Query(q): Query<FlashParam>,
) -> PageResult<Response> {
    let t = load(&state, &id).await?;
    let db = state.db.reader();
    let since = Utc::now() - Duration::days(30);
    let (paid_30d, revenue) = paid_since_for_tenant(db, &t.id, since).await?;
    let orders_30d = count_orders_since(db, &t.id, since).await?;
    let usage = usage_of_tenant(db, &t.id).await?;
    let plan = plan_of_tenant(db, &t.id).await?;
    let traffic = kapu_core::traffic::fleet_figures(&state.fleet, &state.traffic, &t.id).await;
    let audit = list_audit(db, &AuditQuery { tenant_id: Some(t.id.clone()), limit: 20, ..Default::default() }).await?;
    let page = context! {
        t => context! {
            id => t.id.clone(), slug => t.slug.clone(), name => t.name.clone(), status => t.status.clone(),
            status_reason => t.status_reason.clone(), mode => t.mode.clone(), currency => t.currency.clone(),
            created_at => t.created_at.format("%Y-%m-%d").to_string(),
            closed_at => t.closed_at.map(|c| c.format("%Y-%m-%d %H:%M").to_string()),
        },
        owner_email => owner_email_of(db, &t.id).await?,
        shop_url => state.shop_url(&t.slug, None),
        plan => ser(&plan),
        plans => ser(list_plans(db).await?),
        subscription => ser(find_subscription_for_tenant(db, &t.id).await?),
        orders_30d => orders_30d, paid_30d => paid_30d,
        revenue => revenue.iter().map(|(c, m)| format!("{} {c}", format_minor(*m, c))).collect::<Vec<_>>(),
        traffic => ser(traffic), usage => ser(usage),
        audit => ser(&audit),
        retention_days => state.cfg.closed_retention_days,
    };
    let title = format!("{} · 店铺 Shop", t.name);
    let layout =
        OpsPage { operator: Some(&op), csrf: &csrf, nav: "tenants", flash: ops_flash(q.m.as_deref()), title: &title };
    render_ops("ops_tenant.html", layout, page)
}

#[derive(serde::Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
}

fn required_reason(reason: &str) -> PageResult<String> {
    let r = reason.trim();
    if r.chars().count() < 3 {
        return Err(PageError::BadRequest("请填写原因（至少 3 个字）。Give a reason (at least 3 characters).".into()));
    }
    Ok(r.chars().take(500).collect())
}

pub async fn change_status(
    State(state): State<PlatformState>,
    op: Operator,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm<StatusForm>,
) -> PageResult<Response> {
    let action = match f.status.as_str() {
        "suspended" => "tenant.suspend",
        "active" => "tenant.resume",
        "closed" => "tenant.close",
        other => return Err(PageError::BadRequest(format!("未知状态 unknown status {other:?}"))),
    };
    let reason = required_reason(&f.reason)?;
    let t = load(&state, &id).await?;
    if t.status == "purged" {
        return Err(PageError::BadRequest("店铺数据已清除，不能再更改。This shop's data was purged.".into()));
    }
    let txn = state.db.begin().await?;
    set_status_of_tenant(&txn, &t.id, &f.status, &reason, Utc::now()).await?;
    record_audit(&txn, &op.actor(), Some(&t.id), action, &t.slug, &format!("{} → {}: {reason}", t.status, f.status))
        .await?;
    txn.commit().await?;
    state.bus.shop_changed(&t.id);
    Ok(Redirect::to(&format!("/ops/tenants/{}?m={}", t.id, f.status)).into_response())
}

#[derive(serde::Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    plan_id: String,
    #[serde(default)]
    reason: String,
}

pub async fn change_plan(
    State(state): State<PlatformState>,
    op: Operator,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm<PlanForm>,
) -> PageResult<Response> {
    let reason = required_reason(&f.reason)?;
    let t = load(&state, &id).await?;
    let Some(plan) = find_plan(state.db.reader(), &f.plan_id).await? else {
        return Err(PageError::BadRequest(format!("没有这个套餐 no such plan {:?}", f.plan_id)));
    };
    let txn = state.db.begin().await?;
    let mut changed = Vec::new();
    move_plan(&txn, &t.id, &plan.id, &op.actor(), &reason, &mut changed).await?;
    txn.commit().await?;
    for tenant in changed {
        state.bus.shop_changed(&tenant);
    }
    Ok(Redirect::to(&format!("/ops/tenants/{}?m=plan", t.id)).into_response())
}
