//! `GET /ops`: the platform at a glance.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{Duration, Utc};
use kapu_core::jobs::counts;
use kapu_core::store::platform_overview::{
    dead_jobs, orders_since, payment_success_by_channel, recent_payment_errors, tenants_by_status_and_plan,
};
use minijinja::context;

use crate::auth::csrf::CsrfToken;
use crate::error::PageResult;
use crate::ops::session::Operator;
use crate::ops::{FlashParam, OpsPage, ops_flash, render_ops};
use crate::state::PlatformState;

pub async fn overview(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<FlashParam>,
) -> PageResult<Response> {
    let db = state.db.reader();
    let now = Utc::now();
    let (by_status, by_plan) = tenants_by_status_and_plan(db).await?;
    let orders_10m = orders_since(db, now - Duration::minutes(10)).await?;
    let channels: Vec<_> = payment_success_by_channel(db, now - Duration::hours(24))
        .await?
        .into_iter()
        .map(|(channel, ok, total)| {
            let rate = if total > 0 { format!("{:.1}%", ok as f64 * 100.0 / total as f64) } else { "–".into() };
            context! { channel, ok, total, rate }
        })
        .collect();
    let jobs = counts(&state.db).await?;
    let dead = dead_jobs(db, 20).await?;
    let errors = recent_payment_errors(db, now - Duration::hours(24), 20).await?;
    let page = context! {
        by_status => by_status, by_plan => by_plan,
        orders_per_min => format!("{:.1}", orders_10m as f64 / 10.0),
        channels => channels,
        jobs => context! { queued => jobs.queued, running => jobs.running, dead => jobs.dead },
        dead => dead.iter().map(|j| context! {
            id => j.id, kind => j.kind.clone(), tenant_id => j.tenant_id.clone(), attempts => j.attempts,
            error => j.last_error.clone(), updated_at => j.updated_at.format("%Y-%m-%d %H:%M").to_string(),
        }).collect::<Vec<_>>(),
        errors => errors.iter().map(|p| context! {
            tenant_id => p.tenant_id.clone(), channel => p.channel.clone(), error => p.error.clone(),
            at => p.updated_at.format("%Y-%m-%d %H:%M").to_string(),
        }).collect::<Vec<_>>(),
    };
    let layout = OpsPage {
        operator: Some(&op),
        csrf: &csrf,
        nav: "overview",
        flash: ops_flash(q.m.as_deref()),
        title: "运营概览 Platform overview",
    };
    render_ops("ops_overview.html", layout, page)
}
