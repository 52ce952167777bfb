//! `GET /shops/{slug}/audit`: the shop's own audit entries (owner only),
//! newest first, paged by cursor. Read-only: no route edits or deletes them.

use axum::extract::{Query, State};
use axum::response::Response;
use kapu_core::store::audit::{AuditQuery, list_audit};
use minijinja::context;

use crate::auth::csrf::CsrfToken;
use crate::auth::shop_access::OwnerAccess;
use crate::error::PageResult;
use crate::page::{Layout, render, ser};
use crate::state::PlatformState;

const PAGE: u64 = 100;

#[derive(serde::Deserialize, Default)]
pub struct AuditParams {
    #[serde(default)]
    before: String,
}

pub async fn audit_page(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    Query(p): Query<AuditParams>,
) -> PageResult<Response> {
    let q = AuditQuery {
        tenant_id: Some(access.tenant_id().to_string()),
        action_prefix: None,
        before_id: Some(p.before).filter(|b| !b.is_empty()),
        limit: PAGE,
    };
    let entries = list_audit(state.db.reader(), &q).await?;
    let next = (entries.len() as u64 == PAGE).then(|| entries.last().map(|e| e.id.clone())).flatten();
    let layout = Layout {
        account: None,
        csrf: &csrf,
        shop: Some(&access),
        nav: "audit",
        flash: None,
        title: "操作记录 Audit log",
    };
    // Details are recorded once, for both languages: those written in
    // English alone are marked so (a Chinese page says so to the browser).
    let english_only: Vec<bool> = entries.iter().map(|e| !kapu_web::i18n::has_chinese(&e.detail)).collect();
    render("shop_audit.html", layout, context! { entries => ser(&entries), english_only, next => next })
}
