//! The shop's team (owner only): `GET/POST /shops/{slug}/team`,
//! `POST …/team/{account_id}/remove`. Staff are added by the email of their
//! existing, verified Kapu account.

use crate::audit::shop_action;
use crate::auth::request_ip::RequestIp;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::db::is_unique_violation;
use kapu_core::store::accounts::{
    Role, add_membership, find_account_by_email, list_members_of_tenant, remove_staff_member,
};
use kapu_core::store::plan_limits::{Limit, check_limit};
use minijinja::{Value, context};

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::shop_access::{OwnerAccess, ShopAccess};
use crate::error::{PageError, PageResult};
use crate::page::{Layout, flash_for, render, ser, with_status};
use crate::shops::list::FlashQuery;
use crate::state::PlatformState;

async fn page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    email: &str,
    errors: &[&str],
    flash: Option<&str>,
) -> PageResult<Response> {
    let members: Vec<Value> = list_members_of_tenant(state.db.reader(), access.tenant_id())
        .await?
        .into_iter()
        .map(|m| context! { account_id => m.account_id, email => m.email, role => m.role.as_str() })
        .collect();
    let layout = Layout {
        account: None,
        csrf,
        shop: Some(access),
        nav: "settings",
        flash: flash_for(flash),
        title: "团队 Team",
    };
    render("team.html", layout, context! { members, email, errors => ser(errors) })
}

pub async fn team_page(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<FlashQuery>,
) -> PageResult<Response> {
    page(&state, &access, &csrf, "", &[], q.m.as_deref()).await
}

#[derive(serde::Deserialize)]
pub struct AddMemberForm {
    #[serde(default)]
    email: String,
}

pub async fn add_member(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(f): VerifiedForm<AddMemberForm>,
) -> PageResult<Response> {
    let email = f.email.trim().to_lowercase();
    let refuse = |status: StatusCode, msg: &'static str| {
        let (state, access, csrf, email) = (&state, &access, &csrf, email.clone());
        async move { Ok::<_, PageError>(with_status(status, page(state, access, csrf, &email, &[msg], None).await?)) }
    };
    let Some(account) =
        find_account_by_email(state.db.reader(), &email).await?.filter(|a| a.email_verified_at.is_some())
    else {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "该邮箱还没有已验证的 Kapu 账号，请对方先注册并验证邮箱。No verified Kapu account has this email; ask them to sign up and verify first.",
        )
        .await;
    };
    let already =
        kapu_core::store::accounts::find_shop_of_account_by_slug(state.db.reader(), &account.id, &access.shop.slug)
            .await?
            .is_some();
    if !already && let Err(over) = check_limit(state.db.reader(), access.tenant_id(), Limit::TeamMembers, 1).await? {
        let msg = over.to_string();
        let body = page(&state, &access, &csrf, &email, &[msg.as_str()], None).await?;
        return Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, body));
    }
    match add_membership(state.db.writer(), access.tenant_id(), &account.id, Role::Staff).await {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => {
            return refuse(StatusCode::CONFLICT, "此人已是本店成员。This person is already a member.").await;
        }
        Err(e) => return Err(e.into()),
    }
    shop_action(&state, &access, ip, "team.add", &account.email, "staff").await?;
    Ok(Redirect::to(&format!("/shops/{}/team?m=saved", access.shop.slug)).into_response())
}

pub async fn remove_member(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    Path((_, account_id)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    if !remove_staff_member(state.db.writer(), access.tenant_id(), &account_id).await? {
        return Err(PageError::NotFound);
    }
    shop_action(&state, &access, ip, "team.remove", &account_id, "").await?;
    Ok(Redirect::to(&format!("/shops/{}/team?m=saved", access.shop.slug)).into_response())
}
