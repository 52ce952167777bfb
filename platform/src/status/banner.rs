//! The dashboard's status banner: while a component is degraded, down or
//! under maintenance (`kapu_core::status_board`), every merchant page says
//! which, with a link to the status page, so merchants hear it from us
//! before their buyers tell them.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use kapu_core::store::status::ComponentState;

use crate::state::PlatformState;

pub const BANNER_ID: &str = "platform-status";

/// Layer on the platform router: the banner on merchant pages (`/shops…`).
pub async fn status_banner(State(state): State<PlatformState>, req: Request, next: Next) -> Response {
    let merchant_page = req.uri().path().starts_with("/shops");
    let resp = next.run(req).await;
    if !merchant_page {
        return resp;
    }
    let troubled = state.board.troubled();
    if troubled.is_empty() {
        return resp;
    }
    let parts: Vec<String> = troubled
        .iter()
        .map(|(c, s)| {
            let (zh, en) = match s {
                ComponentState::Outage => ("中断", "down"),
                ComponentState::Maintenance => ("维护中", "under maintenance"),
                _ => ("性能下降", "degraded"),
            };
            format!("{} {zh} / {} {en}", c.name_zh, c.name_en)
        })
        .collect();
    let message = format!("平台状态 Platform status: {}.", parts.join("; "));
    kapu_web::notice::with_linked_notice(resp, BANNER_ID, &message, Some(("/status", "查看详情 Details")), false).await
}
