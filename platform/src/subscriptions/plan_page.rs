//! The merchant's plan page, `GET /shops/{slug}/plan`: the plan, usage
//! against each limit, the subscription's state (with the grace period
//! after a failed payment), and the plans to move to. Owners change plans:
//! `POST /shops/{slug}/plan/subscribe` opens a Stripe Checkout Session (or,
//! with a live subscription, moves it to the new price) and
//! `POST /shops/{slug}/plan/cancel` cancels it at Stripe. The plan itself
//! changes only when Stripe's signed webhook says so.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_billing::subscriptions::SubscribeRequest;
use kapu_billing::subscriptions::manage::{cancel_subscription, change_subscription_price};
use kapu_billing::subscriptions::start_subscription_checkout;
use kapu_core::money::format_minor;
use kapu_core::store::plan_limits::usage_of_tenant;
use kapu_core::store::plans::{find_plan, list_plans, plan_of_tenant};
use kapu_core::store::subscriptions::find_subscription_for_tenant;
use minijinja::context;

use crate::audit::shop_action;
use crate::auth::csrf::{CsrfToken, VerifiedForm, request_port};
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::{OwnerAccess, ShopAccess};
use crate::error::{PageError, PageResult};
use crate::page::{Flash, Layout, ser};
use crate::state::PlatformState;

#[derive(serde::Deserialize, Default)]
pub struct PlanQuery {
    #[serde(default)]
    m: Option<String>,
}

fn flash(code: Option<&str>) -> Option<Flash> {
    match code? {
        "checkout_done" => Flash::ok(
            "付款已提交。Stripe 确认后套餐会自动生效（通常几秒钟）。Payment submitted; your plan changes as soon as Stripe confirms it (usually seconds).",
        ),
        "change_requested" => {
            Flash::ok("已提交更改，Stripe 确认后生效。Change requested; it applies when Stripe confirms it.")
        }
        "cancel_requested" => Flash::ok(
            "已取消订阅，Stripe 确认后回到免费版。Subscription cancelled; the shop returns to the free plan when Stripe confirms.",
        ),
        _ => None,
    }
}

/// One limit row: `used / limit`.
fn row(label: &str, used: u64, limit: Option<i32>) -> minijinja::Value {
    let over = limit.is_some_and(|l| used > l.max(0) as u64);
    context! { label, used, limit => limit.map(|l| l.to_string()).unwrap_or_else(|| "不限 unlimited".into()), over }
}

pub async fn plan_page(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<PlanQuery>,
) -> PageResult<Response> {
    let db = state.db.reader();
    let plan = plan_of_tenant(db, access.tenant_id()).await?;
    let usage = usage_of_tenant(db, access.tenant_id()).await?;
    let domains = kapu_core::store::domains::count_domains_for_tenant(db, access.tenant_id()).await?;
    let sub = find_subscription_for_tenant(db, access.tenant_id()).await?;
    let billing_on = state.cfg.billing_stripe_secret_key.is_some();
    let plans: Vec<_> = list_plans(db)
        .await?
        .into_iter()
        .filter(|p| !p.archived || p.id == plan.id)
        .map(|p| {
            let can_subscribe = billing_on && p.stripe_price_id.is_some() && p.id != plan.id;
            context! {
                p => ser(&p), price => format!("{} {}", format_minor(p.price_minor, &p.currency), p.currency),
                can_subscribe, current => p.id == plan.id,
            }
        })
        .collect();
    let rows = vec![
        row("商品 Products", usage.products, plan.max_products),
        row("库存卡密 Keys in stock", usage.keys_in_stock, plan.max_keys_in_stock),
        row("本月订单 Orders this month", usage.orders_this_month, plan.max_orders_per_month),
        row("团队成员 Team members", usage.team_members, plan.max_team_members),
        row("自定义域名 Custom domains", domains, plan.max_custom_domains),
    ];
    let live_sub = sub.as_ref().filter(|s| {
        s.stripe_subscription_id.is_some()
            && !matches!(s.status.as_str(), "canceled" | "incomplete_expired" | "lapsed" | "checkout")
    });
    let page = context! {
        plan => ser(&plan), rows => rows, plans => plans, billing_on,
        sales_contact => Some(state.cfg.sales_contact.trim()).filter(|c| !c.is_empty()),
        subscription => sub.as_ref().map(|s| context! {
            status => s.status.clone(),
            grace_until => s.grace_until.map(|g| g.format("%Y-%m-%d %H:%M UTC").to_string()),
            period_end => s.current_period_end.map(|g| g.format("%Y-%m-%d").to_string()),
        }),
        can_cancel => live_sub.is_some() && access.is_owner(),
        is_owner => access.is_owner(),
    };
    let layout = Layout {
        account: None,
        csrf: &csrf,
        shop: Some(&access),
        nav: "plan",
        flash: flash(q.m.as_deref()),
        title: "套餐 Plan & billing",
    };
    crate::page::render("plan.html", layout, page)
}

#[derive(serde::Deserialize)]
pub struct SubscribeForm {
    #[serde(default)]
    plan_id: String,
}

fn billing_keys(state: &PlatformState) -> PageResult<(String, String)> {
    let key = state.cfg.billing_stripe_secret_key.as_ref().ok_or_else(|| {
        PageError::BadRequest(
            "平台尚未开通在线订阅，请联系客服。Online subscriptions are not set up on this platform yet.".into(),
        )
    })?;
    let base = state.cfg.stripe_api_base.clone().unwrap_or_else(|| "https://api.stripe.com".into());
    Ok((base, key.expose().clone()))
}

fn stripe_failed(e: kapu_billing::ChannelError) -> PageError {
    tracing::warn!(error = %e, "platform Stripe call failed");
    PageError::Unavailable(format!("Stripe: {e}"))
}

pub async fn subscribe(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    headers: axum::http::HeaderMap,
    VerifiedForm(f): VerifiedForm<SubscribeForm>,
) -> PageResult<Response> {
    let (base, key) = billing_keys(&state)?;
    let plan = find_plan(state.db.reader(), &f.plan_id).await?.filter(|p| !p.archived);
    let Some((plan, price)) = plan.and_then(|p| p.stripe_price_id.clone().map(|price| (p, price))) else {
        return Err(PageError::BadRequest("这个套餐不能在线订阅。That plan cannot be subscribed to online.".into()));
    };
    let sub = find_subscription_for_tenant(state.db.reader(), access.tenant_id()).await?;
    let live = sub.as_ref().filter(|s| matches!(s.status.as_str(), "active" | "trialing" | "past_due" | "unpaid"));
    if let Some(s) = live
        && let Some(id) = &s.stripe_subscription_id
    {
        change_subscription_price(&base, &key, id, &price).await.map_err(stripe_failed)?;
        shop_action(
            &state,
            &access,
            ip,
            "plan.change_requested",
            &plan.id,
            &format!("subscription {id} → price {price}"),
        )
        .await?;
        return Ok(Redirect::to(&format!("/shops/{}/plan?m=change_requested", access.shop.slug)).into_response());
    }
    let origin = state.platform_origin(request_port(&headers));
    let back = format!("{origin}/shops/{}/plan", access.shop.slug);
    let req = SubscribeRequest {
        tenant_id: access.tenant_id().to_string(),
        plan_id: plan.id.clone(),
        stripe_price_id: price,
        customer_id: sub.and_then(|s| s.stripe_customer_id),
        customer_email: access.account.email.clone(),
        trial_days: plan.trial_days.max(0) as u32,
        success_url: format!("{back}?m=checkout_done"),
        cancel_url: back,
    };
    let (session_id, url) = start_subscription_checkout(&base, &key, &req).await.map_err(stripe_failed)?;
    shop_action(
        &state,
        &access,
        ip,
        "plan.checkout",
        &plan.id,
        &format!("Stripe Checkout {session_id} at {}", Utc::now().format("%H:%M:%S")),
    )
    .await?;
    Ok(Redirect::to(&url).into_response())
}

#[derive(serde::Deserialize)]
pub struct EmptyForm {}

pub async fn cancel(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    VerifiedForm(_): VerifiedForm<EmptyForm>,
) -> PageResult<Response> {
    let (base, key) = billing_keys(&state)?;
    let sub = find_subscription_for_tenant(state.db.reader(), access.tenant_id()).await?;
    let Some(id) = sub.and_then(|s| s.stripe_subscription_id) else {
        return Err(PageError::BadRequest("没有可取消的订阅。There is no subscription to cancel.".into()));
    };
    cancel_subscription(&base, &key, &id).await.map_err(stripe_failed)?;
    shop_action(&state, &access, ip, "plan.cancel_requested", &id, "").await?;
    Ok(Redirect::to(&format!("/shops/{}/plan?m=cancel_requested", access.shop.slug)).into_response())
}
