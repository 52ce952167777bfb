//! The status page from the console: `GET /ops/status` (every component's
//! state and last check, the incidents), `POST /ops/status/incidents` (open
//! an incident or schedule maintenance) and `POST /ops/status/incidents/{id}`
//! (an update, which may resolve it). Both languages are required: buyers
//! and merchants read either. Audited; every process hears of it at once.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use kapu_core::status_board::COMPONENTS;
use kapu_core::store::audit::record_audit;
use kapu_core::store::status::{
    ComponentState, INCIDENT_STATES, MAINTENANCE_STATES, NewIncident, checked_states, open_incident, recent_incidents,
    update_incident,
};
use minijinja::context;
use sea_orm::EntityTrait;

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::error::{PageError, PageResult};
use crate::ops::session::Operator;
use crate::ops::{FlashParam, OpsPage, ops_flash, render_ops};
use crate::page::{ser, with_status};
use crate::state::PlatformState;

#[derive(serde::Deserialize, serde::Serialize, Default)]
pub struct IncidentForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    title_zh: String,
    #[serde(default)]
    title_en: String,
    #[serde(default)]
    impact: String,
    /// `YYYY-MM-DD HH:MM` UTC; blank: now.
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    body_zh: String,
    #[serde(default)]
    body_en: String,
    /// Checkboxes `component.{id}`.
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

#[derive(serde::Deserialize, Default)]
pub struct UpdateForm {
    #[serde(default)]
    state: String,
    #[serde(default)]
    body_zh: String,
    #[serde(default)]
    body_en: String,
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text.trim().replace('T', " ").as_str(), "%Y-%m-%d %H:%M").ok().map(|t| t.and_utc())
}

fn text_problem(field: &'static str, text: &str, max: usize, errors: &mut Vec<(&'static str, String)>) {
    let n = text.trim().chars().count();
    if n == 0 || n > max {
        errors.push((field, format!("须为 1–{max} 个字符。Write 1–{max} characters.")));
    }
}

pub async fn status_console(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<FlashParam>,
) -> PageResult<Response> {
    page(&state, &op, &csrf, ops_flash(q.m.as_deref()), &IncidentForm::default(), &[]).await
}

async fn page(
    state: &PlatformState,
    op: &Operator,
    csrf: &str,
    flash: Option<crate::page::Flash>,
    form: &IncidentForm,
    errors: &[(&'static str, String)],
) -> PageResult<Response> {
    let now = Utc::now();
    let checked = checked_states(state.db.reader(), now).await?;
    let mut components = Vec::new();
    for c in COMPONENTS {
        let (s, last) = checked.get(c.id).map_or((ComponentState::Unknown, None), |(s, l)| (*s, Some(l.clone())));
        components.push(context! {
            id => c.id, name => format!("{} {}", c.name_zh, c.name_en), checked => s.as_str(), shown => state.board.state(c.id).as_str(),
            last => last.map(|l| context! { ok => l.ok, took_ms => l.took_ms, detail => l.detail, at => l.created_at.format("%H:%M:%S").to_string() }),
        });
    }
    let incidents: Vec<_> = recent_incidents(state.db.reader(), 90, 100)
        .await?
        .into_iter()
        .map(|i| {
            let states: Vec<&str> =
                if i.incident.kind == "maintenance" { MAINTENANCE_STATES.to_vec() } else { INCIDENT_STATES.to_vec() };
            context! { active => i.is_active(now), i => ser(&i.incident), components => i.components, states => states,
            updates => i.updates.iter().map(ser).collect::<Vec<_>>() }
        })
        .collect();
    let errors = minijinja::Value::from_pairs(errors.iter().map(|(k, v)| (*k, v.clone())));
    let layout = OpsPage { operator: Some(op), csrf, nav: "status", flash, title: "系统状态 Status" };
    render_ops(
        "ops_incidents.html",
        layout,
        context! { components, incidents, form => ser(form), errors, all => COMPONENTS.iter().map(|c| context!{ id => c.id, name => format!("{} {}", c.name_zh, c.name_en) }).collect::<Vec<_>>() },
    )
}

pub async fn open(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(f): VerifiedForm<IncidentForm>,
) -> PageResult<Response> {
    let mut errors = Vec::new();
    let kind = if f.kind == "maintenance" { "maintenance" } else { "incident" };
    text_problem("title_zh", &f.title_zh, 200, &mut errors);
    text_problem("title_en", &f.title_en, 200, &mut errors);
    text_problem("body_zh", &f.body_zh, 4000, &mut errors);
    text_problem("body_en", &f.body_en, 4000, &mut errors);
    let components: Vec<String> = COMPONENTS
        .iter()
        .filter(|c| f.rest.contains_key(&format!("component.{}", c.id)))
        .map(|c| c.id.to_string())
        .collect();
    if components.is_empty() {
        errors.push(("components", "请选择受影响的组件。Choose the affected components.".into()));
    }
    let impact = match (kind, f.impact.as_str()) {
        ("maintenance", _) => "maintenance",
        (_, "outage") => "outage",
        (_, "degraded") => "degraded",
        _ => {
            errors.push(("impact", "请选择影响：性能下降或中断。Choose the impact: degraded or outage.".into()));
            "degraded"
        }
    };
    let starts_at = if f.starts_at.trim().is_empty() { Some(Utc::now()) } else { parse_time(&f.starts_at) };
    let ends_at = if f.ends_at.trim().is_empty() { Ok(None) } else { parse_time(&f.ends_at).map(Some).ok_or(()) };
    if starts_at.is_none() || ends_at.is_err() {
        errors
            .push(("starts_at", "时间格式为 2026-12-01 14:00（UTC）。Times look like 2026-12-01 14:00 (UTC).".into()));
    }
    if kind == "maintenance" && matches!(ends_at, Ok(None)) {
        errors.push(("ends_at", "计划维护需要结束时间。Scheduled maintenance needs an end time.".into()));
    }
    if let (Some(s), Ok(Some(e))) = (starts_at, ends_at)
        && e <= s
    {
        errors.push(("ends_at", "结束时间须晚于开始时间。The end must come after the start.".into()));
    }
    if !errors.is_empty() {
        return Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, page(&state, &op, &csrf, None, &f, &errors).await?));
    }
    let n = NewIncident {
        kind,
        title_zh: f.title_zh.trim(),
        title_en: f.title_en.trim(),
        components: &components,
        impact,
        starts_at: starts_at.unwrap_or_else(Utc::now),
        ends_at: ends_at.ok().flatten(),
        body_zh: f.body_zh.trim(),
        body_en: f.body_en.trim(),
    };
    let txn = state.db.begin().await?;
    let id = open_incident(&txn, n).await?;
    let detail = format!("{kind} {impact} on {}: {} / {}", components.join(","), f.title_zh.trim(), f.title_en.trim());
    record_audit(&txn, &op.actor(), None, "status.incident.open", &id, &detail).await?;
    txn.commit().await?;
    changed(&state).await;
    Ok(Redirect::to("/ops/status?m=saved").into_response())
}

pub async fn update(
    State(state): State<PlatformState>,
    op: Operator,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm<UpdateForm>,
) -> PageResult<Response> {
    let Some(incident) =
        kapu_core::entities::status_incidents::Entity::find_by_id(id.clone()).one(state.db.reader()).await?
    else {
        return Err(PageError::NotFound);
    };
    // Each kind has its own states: an incident is never "scheduled".
    let states: &[&str] = if incident.kind == "maintenance" { &MAINTENANCE_STATES } else { &INCIDENT_STATES };
    let filled = |t: &str| (1..=4000).contains(&t.trim().chars().count());
    if !states.contains(&f.state.as_str()) || !filled(&f.body_zh) || !filled(&f.body_en) {
        return Err(PageError::BadRequest(
            "更新需要状态和中英文说明。An update needs a state and text in both languages.".into(),
        ));
    }
    let txn = state.db.begin().await?;
    let Some(incident) = update_incident(&txn, &id, &f.state, f.body_zh.trim(), f.body_en.trim()).await? else {
        return Err(PageError::NotFound);
    };
    record_audit(&txn, &op.actor(), None, "status.incident.update", &incident.id, &format!("now {}", f.state)).await?;
    txn.commit().await?;
    changed(&state).await;
    Ok(Redirect::to("/ops/status?m=saved").into_response())
}

/// This process's copies now, every other process's through the bus.
async fn changed(state: &PlatformState) {
    state.status.clear();
    state.board.refresh(&state.db).await;
    state.bus.ops_changed();
}
