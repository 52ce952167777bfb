//! Feature flags from the console: `GET /ops/flags` (every flag the code
//! knows, with its state and which shops it reaches) and
//! `POST /ops/flags/{name}` (mode, listed shops, percentage, kill switch).
//! Audited; every process reloads its copy within a second (the bus).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::entities::{feature_flags, tenants};
use kapu_core::flags::{KNOWN, MODES, decides};
use kapu_core::store::audit::record_audit;
use minijinja::context;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, sea_query::OnConflict,
};

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::error::{PageError, PageResult};
use crate::ops::session::Operator;
use crate::ops::{FlashParam, OpsPage, ops_flash, render_ops};
use crate::page::with_status;
use crate::state::PlatformState;

#[derive(serde::Deserialize, Default)]
pub struct FlagForm {
    #[serde(default)]
    mode: String,
    /// Shop slugs, separated by spaces, commas or lines.
    #[serde(default)]
    shops: String,
    #[serde(default)]
    percent: String,
    #[serde(default)]
    killed: Option<String>,
}

pub async fn flags_page(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<FlashParam>,
) -> PageResult<Response> {
    page(&state, &op, &csrf, ops_flash(q.m.as_deref()), None).await
}

async fn page(
    state: &PlatformState,
    op: &Operator,
    csrf: &str,
    flash: Option<crate::page::Flash>,
    error: Option<(&str, String)>,
) -> PageResult<Response> {
    let rows = feature_flags::Entity::find().all(state.db.reader()).await?;
    // How many shops each flag reaches now (a scan of ids and slugs, fine for a console page).
    let shops: Vec<(String, String)> = tenants::Entity::find()
        .select_only()
        .column(tenants::Column::Id)
        .column(tenants::Column::Slug)
        .into_tuple()
        .all(state.db.reader())
        .await?;
    let flags: Vec<_> = KNOWN
        .iter()
        .map(|(name, description)| {
            let row = rows.iter().find(|r| r.name == *name);
            let reached = row.map_or(0, |r| shops.iter().filter(|(id, slug)| decides(r, id, slug)).count());
            let listed: Vec<String> =
                row.map(|r| serde_json::from_str(&r.shops).unwrap_or_default()).unwrap_or_default();
            context! {
                name => *name, description => *description, mode => row.map_or("off", |r| r.mode.as_str()),
                percent => row.map_or(0, |r| r.percent), killed => row.is_some_and(|r| r.killed),
                shops => listed.join(" "), reached => reached, total => shops.len(),
                updated_at => row.map(|r| r.updated_at.format("%Y-%m-%d %H:%M UTC").to_string()),
            }
        })
        .collect();
    let layout = OpsPage { operator: Some(op), csrf, nav: "flags", flash, title: "功能开关 Feature flags" };
    render_ops(
        "ops_flags.html",
        layout,
        context! { flags, modes => MODES, error => error.map(|(f, m)| context! { flag => f, message => m }) },
    )
}

pub async fn save_flag(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    Path(name): Path<String>,
    VerifiedForm(f): VerifiedForm<FlagForm>,
) -> PageResult<Response> {
    let Some((name, description)) = KNOWN.iter().find(|(n, _)| *n == name) else {
        return Err(PageError::NotFound);
    };
    let refuse = |message: String| async {
        Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, page(&state, &op, &csrf, None, Some((name, message))).await?))
    };
    if !MODES.contains(&f.mode.as_str()) {
        return refuse("未知模式。Unknown mode.".into()).await;
    }
    let percent = match f.percent.trim() {
        "" => 0,
        t => match t.parse::<i32>() {
            Ok(p) if (0..=100).contains(&p) => p,
            _ => return refuse("百分比须为 0–100 的整数。The percentage is a whole number 0–100.".into()).await,
        },
    };
    let slugs: Vec<String> = f
        .shops
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| s.to_lowercase())
        .collect();
    if f.mode == "listed" && slugs.is_empty() {
        return refuse("“指定店铺”模式需要至少一个店铺地址。Mode “listed” needs at least one shop slug.".into()).await;
    }
    let existing =
        tenants::Entity::find().filter(tenants::Column::Slug.is_in(slugs.clone())).count(state.db.reader()).await?;
    if existing != slugs.len() as u64 {
        return refuse("有店铺地址不存在。A listed shop slug does not exist.".into()).await;
    }
    let killed = f.killed.is_some();
    let model = feature_flags::ActiveModel {
        name: Set(name.to_string()),
        description: Set(description.to_string()),
        mode: Set(f.mode.clone()),
        shops: Set(serde_json::to_string(&slugs).unwrap_or_else(|_| "[]".into())),
        percent: Set(percent),
        killed: Set(killed),
        updated_at: Set(Utc::now()),
    };
    let txn = state.db.begin().await?;
    feature_flags::Entity::insert(model)
        .on_conflict(
            OnConflict::column(feature_flags::Column::Name)
                .update_columns([
                    feature_flags::Column::Description,
                    feature_flags::Column::Mode,
                    feature_flags::Column::Shops,
                    feature_flags::Column::Percent,
                    feature_flags::Column::Killed,
                    feature_flags::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let detail = format!(
        "mode {}, {percent} %, shops [{}], kill switch {}",
        f.mode,
        slugs.join(" "),
        if killed { "on" } else { "off" }
    );
    record_audit(&txn, &op.actor(), None, "flag.set", name, &detail).await?;
    txn.commit().await?;
    state.flags.reload(&state.db).await;
    state.bus.ops_changed();
    Ok(Redirect::to("/ops/flags?m=saved").into_response())
}
