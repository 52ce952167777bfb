//! `GET /ops/audit`: every audit entry, newest first, filterable by shop and
//! action, paged by cursor.

use axum::extract::{Query, State};
use axum::response::Response;
use kapu_core::store::audit::{AuditQuery, list_audit};
use minijinja::context;

use crate::auth::csrf::CsrfToken;
use crate::error::PageResult;
use crate::ops::session::Operator;
use crate::ops::{OpsPage, render_ops};
use crate::page::ser;
use crate::state::PlatformState;

pub const PAGE: u64 = 100;

#[derive(serde::Deserialize, Default)]
pub struct AuditParams {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    before: String,
}

pub async fn audit_page(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    Query(p): Query<AuditParams>,
) -> PageResult<Response> {
    let q = AuditQuery {
        tenant_id: Some(p.tenant.trim().to_string()).filter(|t| !t.is_empty()),
        action_prefix: Some(p.action.trim().to_string()).filter(|a| !a.is_empty()),
        before_id: Some(p.before.clone()).filter(|b| !b.is_empty()),
        limit: PAGE,
    };
    let entries = list_audit(state.db.reader(), &q).await?;
    let next = (entries.len() as u64 == PAGE).then(|| entries.last().map(|e| e.id.clone())).flatten();
    let layout =
        OpsPage { operator: Some(&op), csrf: &csrf, nav: "audit", flash: None, title: "审计日志 Audit log" };
    render_ops(
        "ops_audit.html",
        layout,
        context! { entries => ser(&entries), tenant => p.tenant, action => p.action, next => next },
    )
}
