//! `GET/POST /shops/{slug}/domains` (owner only): the shop's custom domains
//! with the DNS records to create, `POST …/domains/verify` (check the TXT
//! record now) and `POST …/domains/remove`. A domain routes to the shop only
//! once verified; removing it stops routing at once.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::ids::new_secret_token;
use kapu_core::store::domains::{
    AddDomain, add_domain_for_tenant, challenge_name, find_domain_for_tenant, list_domains_for_tenant,
    normalize_hostname, record_domain_check_for_tenant, remove_domain_for_tenant,
};
use kapu_core::store::plan_limits::{Limit, check_limit};
use minijinja::context;

use crate::audit::shop_action;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::{OwnerAccess, ShopAccess};
use crate::domains::dns::check_challenge;
use crate::error::{PageError, PageResult};
use crate::page::{Flash, Layout, render, with_status};
use crate::state::PlatformState;

#[derive(serde::Deserialize, Default)]
pub struct DomainsQuery {
    #[serde(default)]
    m: Option<String>,
}

fn flash(code: Option<&str>) -> Option<Flash> {
    match code? {
        "added" => Flash::ok(
            "域名已添加：请按下面的说明设置 DNS，然后点“验证”。Domain added: create the DNS records below, then press Verify.",
        ),
        "verified" => Flash::ok("域名已验证，现在指向你的店铺。Verified: the domain now serves your shop."),
        "removed" => Flash::ok("域名已移除，不再指向你的店铺。Removed: the domain no longer serves your shop."),
        _ => None,
    }
}

async fn page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    hostname: &str,
    errors: &[String],
    flash: Option<Flash>,
) -> PageResult<Response> {
    let domains: Vec<_> = list_domains_for_tenant(state.db.reader(), access.tenant_id())
        .await?
        .into_iter()
        .map(|d| {
            context! {
                hostname => d.hostname.clone(), challenge => challenge_name(&d.hostname), token => d.verification_token,
                verified => d.verified_at.is_some(),
                verified_at => d.verified_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                checked_at => d.last_checked_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                error => d.last_error,
            }
        })
        .collect();
    let target = format!("{}.{}", access.shop.slug, state.shop_host);
    // The plan's room is shown before the merchant types a domain.
    let plan = kapu_core::store::plans::plan_of_tenant(state.db.reader(), access.tenant_id()).await?;
    let used = domains.len() as u64;
    let (plan_zh, plan_en) = kapu_web::i18n::sides(&plan.name);
    let room = match plan.max_custom_domains {
        None => None,
        Some(limit) if used < limit.max(0) as u64 => None,
        Some(0) => Some(crate::language::trs(
            format!("当前套餐「{plan_zh}」不含自定义域名。"),
            format!("Your plan “{plan_en}” includes no custom domains."),
        )),
        Some(limit) => Some(crate::language::trs(
            format!("当前套餐「{plan_zh}」最多 {limit} 个自定义域名，已全部使用。"),
            format!("Your plan “{plan_en}” allows {limit} custom domains, all in use."),
        )),
    };
    let layout = Layout { account: None, csrf, shop: Some(access), nav: "domains", flash, title: "域名 Domains" };
    render(
        "domains.html",
        layout,
        context! { domains, target, hostname, errors => crate::page::ser(errors), room, limit => plan.max_custom_domains },
    )
}

pub async fn domains_page(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<DomainsQuery>,
) -> PageResult<Response> {
    page(&state, &access, &csrf, "", &[], flash(q.m.as_deref())).await
}

#[derive(serde::Deserialize)]
pub struct HostForm {
    #[serde(default)]
    hostname: String,
}

pub async fn add_domain(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(f): VerifiedForm<HostForm>,
) -> PageResult<Response> {
    let refuse = |status: StatusCode, msg: String| {
        let (state, access, csrf, host) = (&state, &access, &csrf, f.hostname.clone());
        async move { Ok::<_, PageError>(with_status(status, page(state, access, csrf, &host, &[msg], None).await?)) }
    };
    let Some(hostname) = normalize_hostname(&f.hostname) else {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "请输入完整的域名，例如 shop.example.com（不含 http:// 和端口）。Enter a full domain such as shop.example.com (no http://, no port).".into(),
        )
        .await;
    };
    let own = [state.platform_host.as_str(), state.shop_host.as_str()];
    if own.iter().any(|h| hostname == *h || hostname.ends_with(&format!(".{h}"))) {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "这是 Kapu 自己的域名。That is one of Kapu's own domains.".into(),
        )
        .await;
    }
    if let Err(over) = check_limit(state.db.reader(), access.tenant_id(), Limit::CustomDomains, 1).await? {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, over.to_string()).await;
    }
    let token = format!("kapu-{}", new_secret_token());
    match add_domain_for_tenant(state.db.writer(), access.tenant_id(), &hostname, &token, Utc::now()).await {
        Ok(AddDomain::Added(_)) => {}
        Ok(AddDomain::AlreadyYours) => {
            return refuse(
                StatusCode::CONFLICT,
                format!("{hostname} 已在你的域名列表中。{hostname} is already on your list."),
            )
            .await;
        }
        Ok(AddDomain::VerifiedElsewhere) => {
            return refuse(
                StatusCode::CONFLICT,
                format!("{hostname} 已被另一家店铺验证使用。{hostname} is verified by another shop."),
            )
            .await;
        }
        Ok(AddDomain::PendingElsewhere) => {
            return refuse(
                StatusCode::CONFLICT,
                format!("{hostname} 正在被另一家店铺验证，请 48 小时后再试。Another shop is verifying {hostname}; try again in 48 hours."),
            )
            .await;
        }
        Err(e) if kapu_core::db::is_unique_violation(&e) => {
            return refuse(
                StatusCode::CONFLICT,
                format!("{hostname} 刚被另一家店铺添加。Another shop just added {hostname}."),
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    }
    shop_action(&state, &access, ip, "domain.add", &hostname, "").await?;
    Ok(Redirect::to(&format!("/shops/{}/domains?m=added", access.shop.slug)).into_response())
}

pub async fn verify_domain(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(f): VerifiedForm<HostForm>,
) -> PageResult<Response> {
    let hostname = normalize_hostname(&f.hostname).unwrap_or_default();
    let domain =
        find_domain_for_tenant(state.db.reader(), access.tenant_id(), &hostname).await?.ok_or(PageError::NotFound)?;
    if domain.verified_at.is_some() {
        return Ok(Redirect::to(&format!("/shops/{}/domains?m=verified", access.shop.slug)).into_response());
    }
    let result = check_challenge(state.cfg.dns_resolver.as_deref(), &hostname, &domain.verification_token).await;
    let error = result.as_ref().err().cloned();
    let verified =
        record_domain_check_for_tenant(state.db.writer(), access.tenant_id(), &hostname, error.as_deref(), Utc::now())
            .await?;
    if !verified {
        // The reason is shown once, on the domain's row (with when it was checked).
        let msg = format!(
            "{hostname} 尚未通过验证，原因见该域名一行。{hostname} is not verified yet; the reason is on its row below."
        );
        let body = page(&state, &access, &csrf, "", &[msg], None).await?;
        return Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, body));
    }
    state.bus.host_changed(&hostname);
    shop_action(&state, &access, ip, "domain.verify", &hostname, "TXT record matched").await?;
    Ok(Redirect::to(&format!("/shops/{}/domains?m=verified", access.shop.slug)).into_response())
}

pub async fn remove_domain(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    VerifiedForm(f): VerifiedForm<HostForm>,
) -> PageResult<Response> {
    let hostname = normalize_hostname(&f.hostname).unwrap_or_default();
    if !remove_domain_for_tenant(state.db.writer(), access.tenant_id(), &hostname).await? {
        return Err(PageError::NotFound);
    }
    state.bus.host_changed(&hostname);
    shop_action(&state, &access, ip, "domain.remove", &hostname, "").await?;
    Ok(Redirect::to(&format!("/shops/{}/domains?m=removed", access.shop.slug)).into_response())
}
