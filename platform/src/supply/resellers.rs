//! A supplier's side: `GET /shops/{slug}/supply/resellers` lists its
//! products open for resale, the shops reselling them (pause or resume each,
//! `POST …/supply/resellers/{tenant_id}/pause|resume`) and the latest orders
//! of its stock on their shops: order number, product, quantity, status and
//! time, never the buyers.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::entities::supply_listings;
use kapu_core::money::format_minor;
use kapu_core::store::catalog_admin::list_all_products_for_tenant;
use kapu_core::store::supply::{
    invites_of_supplier, resale_orders_of_supplier, reseller_discount_bps, resellers_of_supplier, set_reseller_paused,
    shop_names,
};
use minijinja::{Value, context};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::audit::shop_action;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::ShopAccess;
use crate::error::{PageError, PageResult};
use crate::page::{Layout, flash_for, render};
use crate::state::PlatformState;

pub async fn resellers_page(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<crate::shops::list::FlashQuery>,
) -> PageResult<Response> {
    page(&state, &access, &csrf, None, &[], flash_for(q.m.as_deref())).await
}

/// The page, with a just-made invitation link (shown once), errors or a flash.
pub(crate) async fn page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    invite_link: Option<&str>,
    errors: &[String],
    flash: Option<crate::page::Flash>,
) -> PageResult<Response> {
    let ctx = context_of(state, access, invite_link, errors).await?;
    let layout = Layout { account: None, csrf, shop: Some(access), nav: "supply", flash, title: "分销商 Resellers" };
    render("supply_resellers.html", layout, ctx)
}

async fn context_of(
    state: &PlatformState,
    access: &ShopAccess,
    invite_link: Option<&str>,
    errors: &[String],
) -> PageResult<Value> {
    let r = state.db.reader();
    let me = access.tenant_id();
    let products = list_all_products_for_tenant(r, me).await?;
    let name_of = |id: &str| products.iter().find(|p| p.id == id).map(|p| p.name.clone()).unwrap_or_default();
    let listings: Vec<Value> = supply_listings::Entity::find()
        .filter(supply_listings::Column::TenantId.eq(me))
        .all(r)
        .await?
        .into_iter()
        .map(|l| {
            let currency =
                products.iter().find(|p| p.id == l.product_id).map(|p| p.currency.clone()).unwrap_or_default();
            context! {
                product_id => l.product_id.clone(), name => name_of(&l.product_id),
                wholesale => format!("{} {currency}", format_minor(l.wholesale_minor, &currency)),
                open => l.open, audience => l.audience,
            }
        })
        .collect();
    let mut resellers = Vec::new();
    let collecting = kapu_core::store::supply_payments::collecting_for(r, me).await?;
    let offered_to: Vec<String> = kapu_core::entities::supply_resellers::Entity::find()
        .filter(kapu_core::entities::supply_resellers::Column::TenantId.eq(me))
        .filter(kapu_core::entities::supply_resellers::Column::CollectsPayments.eq(true))
        .all(r)
        .await?
        .into_iter()
        .map(|x| x.reseller_tenant_id)
        .collect();
    for s in resellers_of_supplier(r, me).await? {
        let paused = s.products.iter().any(|p| p.paused.as_deref() == Some("supplier"));
        let items: Vec<Value> = s
            .products
            .iter()
            .map(|p| context! { name => name_of(&p.supplier_product_id), paused => p.paused.clone() })
            .collect();
        let bps = reseller_discount_bps(r, me, &s.tenant_id).await?;
        let discount = format_minor(i64::from(bps), "CNY");
        let offered = offered_to.contains(&s.tenant_id);
        let collecting = collecting.contains(&s.tenant_id);
        resellers.push(
            context! { tenant_id => s.tenant_id, slug => s.slug, name => s.name, paused, items, discount, offered, collecting },
        );
    }
    let orders = resale_orders_of_supplier(r, me, 50).await?;
    let invites = invites_of_supplier(r, me, 20).await?;
    let names = shop_names(
        r,
        orders
            .iter()
            .map(|o| o.reseller_tenant_id.clone())
            .chain(invites.iter().filter_map(|i| i.accepted_tenant_id.clone())),
    )
    .await?;
    let name = |id: &str| names.get(id).map(|(_, n)| n.clone()).unwrap_or_default();
    let orders: Vec<Value> = orders
        .into_iter()
        .map(|o| {
            context! {
                shop => name(&o.reseller_tenant_id),
                order_no => o.order_no, product => o.product_name, quantity => o.quantity,
                status_label => crate::orders::status_label(&o.status), status => o.status,
                at => o.created_at.format("%Y-%m-%d %H:%M").to_string(),
            }
        })
        .collect();
    let now = chrono::Utc::now();
    let invites: Vec<Value> = invites
        .into_iter()
        .map(|i| {
            let state = match (&i.accepted_tenant_id, i.expires_at > now) {
                (Some(_), _) => "accepted",
                (None, true) => "open",
                (None, false) => "expired",
            };
            context! {
                created => i.created_at.format("%Y-%m-%d %H:%M").to_string(),
                expires => i.expires_at.format("%Y-%m-%d").to_string(),
                discount => format_minor(i64::from(i.discount_bps), "CNY"), state,
                shop => i.accepted_tenant_id.as_deref().map(name),
            }
        })
        .collect();
    Ok(context! { listings, resellers, orders, invites, invite_link, errors => crate::page::ser(errors) })
}

async fn set_paused(
    state: &PlatformState,
    access: &ShopAccess,
    ip: RequestIp,
    reseller: &str,
    paused: bool,
) -> PageResult<Response> {
    let changed = set_reseller_paused(state.db.writer(), access.tenant_id(), reseller, paused).await?;
    if changed == 0
        && !resellers_of_supplier(state.db.reader(), access.tenant_id()).await?.iter().any(|r| r.tenant_id == reseller)
    {
        return Err(PageError::NotFound);
    }
    state.bus.shop_changed(reseller);
    let action = if paused { "supply.reseller_paused" } else { "supply.reseller_resumed" };
    shop_action(state, access, ip, action, reseller, &format!("{changed} product(s)")).await?;
    Ok(Redirect::to(&format!("/shops/{}/supply/resellers?m=saved", access.shop.slug)).into_response())
}

pub async fn pause_reseller(
    State(state): State<PlatformState>,
    access: ShopAccess,
    ip: RequestIp,
    Path((_, reseller)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    set_paused(&state, &access, ip, &reseller, true).await
}

pub async fn resume_reseller(
    State(state): State<PlatformState>,
    access: ShopAccess,
    ip: RequestIp,
    Path((_, reseller)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    set_paused(&state, &access, ip, &reseller, false).await
}
