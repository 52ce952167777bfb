//! Supply on the merchant API (read-only for now): `GET /supply/listings`
//! (this shop's products offered for resale, with how many shops resell
//! each), `GET /supply/catalog` (what other shops offer this shop), and
//! `GET /supply/ledger` (balances with each counterparty and the latest
//! entries). Opening a listing and adding a supplier's product are done on
//! the dashboard.

use crate::merchant_api::error::ApiQuery;
use axum::Json;
use axum::extract::State;
use kapu_core::entities::supply_listings;
use kapu_core::money::format_minor;
use kapu_core::store::catalog_admin::list_all_products_for_tenant;
use kapu_core::store::supply::{
    LedgerView, ledger_view_for_tenant, lowest_resale_price, resellers_of_supplier, supply_catalog_for_reseller,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::auth::ApiCaller;
use super::error::ApiResult;
use crate::state::PlatformState;

pub async fn list_listings(State(state): State<PlatformState>, caller: ApiCaller) -> ApiResult<Json<Value>> {
    let r = state.db.reader();
    let me = caller.tenant_id();
    let products = list_all_products_for_tenant(r, me).await?;
    let resellers = resellers_of_supplier(r, me).await?;
    let rows = supply_listings::Entity::find().filter(supply_listings::Column::TenantId.eq(me)).all(r).await?;
    let data: Vec<Value> = rows
        .iter()
        .filter_map(|l| {
            let p = products.iter().find(|p| p.id == l.product_id)?;
            let c = &p.currency;
            let shops =
                resellers.iter().filter(|s| s.products.iter().any(|x| x.supplier_product_id == l.product_id)).count();
            Some(json!({
                "product_id": l.product_id, "product_name": p.name, "open": l.open,
                "wholesale": format_minor(l.wholesale_minor, c), "wholesale_minor": l.wholesale_minor, "currency": c,
                "min_resale": l.min_resale_minor.map(|m| format_minor(m, c)), "audience": l.audience,
                "per_order_cap": l.per_order_cap, "daily_cap": l.daily_cap, "exact_stock": l.exact_stock,
                "resellers": shops, "updated_at": l.updated_at.to_rfc3339(),
            }))
        })
        .collect();
    Ok(Json(json!({ "data": data, "next_cursor": null })))
}

#[derive(serde::Deserialize)]
pub struct CatalogQuery {
    /// Part of a product name, a supplier's name or address.
    #[serde(default)]
    q: String,
}

pub async fn list_catalog(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    ApiQuery(q): ApiQuery<CatalogQuery>,
) -> ApiResult<Json<Value>> {
    let entries = supply_catalog_for_reseller(state.db.reader(), caller.tenant_id(), &q.q).await?;
    let data: Vec<Value> = entries
        .iter()
        .map(|e| {
            let c = &e.product.currency;
            json!({
                "supplier": { "slug": e.supplier_slug, "name": e.supplier_name },
                "supplier_id": e.supplier_tenant_id, "product_id": e.product.id, "product_name": e.product.name,
                "currency": c, "wholesale": format_minor(e.listing.wholesale_minor, c),
                "lowest_price": format_minor(lowest_resale_price(&e.listing), c), "stock": e.stock.label(),
                "per_order_cap": e.listing.per_order_cap, "daily_cap": e.listing.daily_cap,
                "added_as": e.added_as,
            })
        })
        .collect();
    Ok(Json(json!({ "data": data, "next_cursor": null })))
}

#[derive(serde::Deserialize)]
pub struct LedgerQuery {
    limit: Option<String>,
}

pub async fn get_ledger(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> ApiResult<Json<Value>> {
    let limit = super::cursor::limit(q.limit.as_deref())?;
    let r = state.db.reader();
    let me = caller.tenant_id();
    let LedgerView { balances, entries, shops: names } = ledger_view_for_tenant(r, me, limit).await?;
    let slug = |id: &str| names.get(id).map(|(s, _)| s.clone()).unwrap_or_default();
    let balances: Vec<Value> = balances
        .iter()
        .map(|b| {
            json!({
                "shop": slug(&b.other_tenant_id), "currency": b.currency,
                "owed_to_you": format_minor(b.owed_to_me_minor, &b.currency), "owed_to_you_minor": b.owed_to_me_minor,
                "entries": b.entries,
            })
        })
        .collect();
    let data: Vec<Value> = entries
        .iter()
        .map(|e| {
            let role = if e.supplier_tenant_id == me { "supplier" } else { "reseller" };
            json!({
                "id": e.id, "kind": e.kind, "role": role,
                "supplier": slug(&e.supplier_tenant_id), "reseller": slug(&e.reseller_tenant_id),
                "order_no": e.order_no, "product_name": e.product_name, "quantity": e.quantity,
                "amount": format_minor(e.amount_minor, &e.currency), "amount_minor": e.amount_minor,
                "currency": e.currency, "created_at": e.created_at.to_rfc3339(),
            })
        })
        .collect();
    Ok(Json(json!({ "balances": balances, "data": data })))
}
