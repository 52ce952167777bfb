//! `POST /ops/jobs/{id}/retry`: a dead job gets a fresh set of attempts.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::store::audit::record_audit;
use kapu_core::store::platform_overview::retry_dead_job;

use crate::auth::csrf::VerifiedForm;
use crate::error::{PageError, PageResult};
use crate::ops::login::EmptyForm;
use crate::ops::session::Operator;
use crate::state::PlatformState;

pub async fn retry_job(
    State(state): State<PlatformState>,
    op: Operator,
    Path(id): Path<i64>,
    VerifiedForm(_): VerifiedForm<EmptyForm>,
) -> PageResult<Response> {
    if !retry_dead_job(state.db.writer(), id).await? {
        return Err(PageError::BadRequest("这个任务不是失败状态。That job is not dead.".into()));
    }
    record_audit(state.db.writer(), &op.actor(), None, "job.retry", &id.to_string(), "").await?;
    Ok(Redirect::to("/ops?m=retried").into_response())
}
