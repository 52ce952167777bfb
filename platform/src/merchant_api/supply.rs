//! Supply on the merchant API (read-only for now): `GET /supply/listings`
//! (this shop's products offered for resale, with how many shops resell
//! each), `GET /supply/catalog` (what other shops offer this shop), and
//! `GET /supply/ledger` (balances with each counterparty and the latest
//! entries), and `PUT /supply/listings/{product_id}` (write keys): the
//! product's resale terms, checked and applied as the dashboard's form
//! does. Adding a supplier's product is done on the dashboard.

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

/// `GET /supply/resale-orders?limit=`: the orders of this shop's stock
/// placed on its resellers' shops, newest first: the reseller, order
/// number, product, quantity, status and time, never the buyer.
pub async fn list_resale_orders(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> ApiResult<Json<Value>> {
    let limit = super::cursor::limit(q.limit.as_deref())?;
    let r = state.db.reader();
    let orders = kapu_core::store::supply::resale_orders_of_supplier(r, caller.tenant_id(), limit).await?;
    let names = kapu_core::store::supply::shop_names(r, orders.iter().map(|o| o.reseller_tenant_id.clone())).await?;
    let data: Vec<Value> = orders
        .iter()
        .map(|o| {
            json!({
                "reseller": names.get(&o.reseller_tenant_id).map(|(s, _)| s.clone()).unwrap_or_default(),
                "order_no": o.order_no, "product_name": o.product_name, "quantity": o.quantity,
                "status": o.status, "created_at": o.created_at.to_rfc3339(),
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

/// The terms as JSON: amounts as strings (`"8.00"`), caps as numbers.
#[derive(serde::Deserialize)]
pub struct ListingBody {
    open: bool,
    wholesale: String,
    #[serde(default)]
    min_resale: Option<String>,
    /// `any` (default) or `listed`.
    #[serde(default)]
    audience: Option<String>,
    /// Shop addresses, for `listed`.
    #[serde(default)]
    allowed_shops: Vec<String>,
    #[serde(default)]
    per_order_cap: Option<i64>,
    #[serde(default)]
    daily_cap: Option<i64>,
    #[serde(default)]
    exact_stock: bool,
}

pub async fn put_listing(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    axum::extract::Path(product_id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    caller.require(kapu_core::store::api_keys::Scope::Write)?;
    let b: ListingBody = serde_json::from_slice(&body).map_err(super::error::ApiError::bad_json)?;
    let me = caller.tenant_id();
    let product = kapu_core::store::catalog_admin::find_product_for_tenant(state.db.reader(), me, &product_id)
        .await?
        .ok_or_else(|| super::error::ApiError::not_found("商品 product"))?;
    let form = crate::supply::listing::ListingForm {
        open: if b.open { "1" } else { "" }.into(),
        wholesale: b.wholesale,
        min_resale: b.min_resale.unwrap_or_default(),
        audience: b.audience.unwrap_or_else(|| "any".into()),
        allowed_shops: b.allowed_shops.join(","),
        per_order_cap: b.per_order_cap.map(|n| n.to_string()).unwrap_or_default(),
        daily_cap: b.daily_cap.map(|n| n.to_string()).unwrap_or_default(),
        exact_stock: if b.exact_stock { "1" } else { "" }.into(),
    };
    let detail = match crate::supply::listing::apply_listing(&state, me, &caller.shop.name, &product, &form).await {
        Ok(Ok(detail)) => detail,
        Ok(Err(problems)) => return Err(super::error::ApiError::invalid(problems)),
        Err(e) => return Err(super::error::ApiError::internal(e)),
    };
    let actor = kapu_core::store::audit::Actor::merchant(&caller.key.id, &format!("API key {}", caller.key.prefix), "");
    kapu_core::store::audit::record_audit(
        state.db.writer(),
        &actor,
        Some(me),
        "supply.listing_saved",
        &product.id,
        &detail,
    )
    .await?;
    let l = supply_listings::Entity::find_by_id((me.to_string(), product.id.clone()))
        .one(state.db.reader())
        .await?
        .ok_or_else(|| super::error::ApiError::internal("listing vanished after saving"))?;
    let c = &product.currency;
    Ok(Json(json!({
        "product_id": l.product_id, "product_name": product.name, "open": l.open,
        "wholesale": format_minor(l.wholesale_minor, c), "wholesale_minor": l.wholesale_minor, "currency": c,
        "min_resale": l.min_resale_minor.map(|m| format_minor(m, c)), "audience": l.audience,
        "per_order_cap": l.per_order_cap, "daily_cap": l.daily_cap, "exact_stock": l.exact_stock,
        "updated_at": l.updated_at.to_rfc3339(),
    })))
}
