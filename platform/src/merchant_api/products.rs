//! `GET/POST /products`, `GET /products/{id}`, `GET /stock`.

use crate::merchant_api::error::ApiQuery;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kapu_core::entities::products;
use kapu_core::money::format_minor;
use kapu_core::store::api_keys::Scope;
use kapu_core::store::catalog_admin::{
    KeyCounts, create_product_for_tenant, find_product_for_tenant, key_counts_by_product_for_tenant,
    list_all_products_for_tenant, products_page_for_tenant, update_product_for_tenant,
};
use kapu_core::store::plan_limits::{Limit, check_limit};
use serde_json::{Value, json};

use super::auth::ApiCaller;
use super::cursor::{self, PageQuery};
use super::error::{ApiError, ApiResult};
use super::idempotency::idempotent;
use crate::catalog::product_form::{ProductForm, check_category};
use crate::state::PlatformState;

fn product_json(p: &products::Model, stock: Option<&KeyCounts>) -> Value {
    let stock = stock.copied().unwrap_or_default();
    json!({
        "id": p.id, "name": p.name, "slug": p.slug, "category_id": p.category_id, "kind": p.kind,
        "price": format_minor(p.price_minor, &p.currency), "price_minor": p.price_minor, "currency": p.currency,
        "description": p.description, "min_qty": p.min_qty, "max_qty": p.max_qty, "visible": p.visible,
        "sort_order": p.sort_order, "low_stock_threshold": p.low_stock_threshold,
        "stock": { "available": stock.available, "reserved": stock.reserved, "sold": stock.sold },
        "created_at": p.created_at.to_rfc3339(),
    })
}

pub async fn list_products(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Value>> {
    let (limit, after) = q.parse()?;
    let rows = products_page_for_tenant(state.db.reader(), caller.tenant_id(), after.as_deref(), limit + 1).await?;
    let counts = key_counts_by_product_for_tenant(state.db.reader(), caller.tenant_id()).await?;
    Ok(Json(cursor::page(rows, limit, |p| &p.id, |p| product_json(p, counts.get(&p.id)))))
}

pub async fn get_product(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = find_product_for_tenant(state.db.reader(), caller.tenant_id(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("商品 product"))?;
    let counts = key_counts_by_product_for_tenant(state.db.reader(), caller.tenant_id()).await?;
    Ok(Json(product_json(&p, counts.get(&p.id))))
}

/// What a client sends to create a product. Prices are decimal strings in
/// the shop's currency (`"9.90"`); numbers are accepted too.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProduct {
    name: String,
    price: Value,
    #[serde(default)]
    category_id: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    min_qty: Option<i64>,
    #[serde(default)]
    max_qty: Option<i64>,
    #[serde(default)]
    sort_order: Option<i64>,
    #[serde(default)]
    low_stock_threshold: Option<i64>,
    #[serde(default)]
    visible: Option<bool>,
}

/// A change to a product: only the fields sent change.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductChange {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    price: Option<Value>,
    #[serde(default)]
    category_id: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    min_qty: Option<i64>,
    #[serde(default)]
    max_qty: Option<i64>,
    #[serde(default)]
    sort_order: Option<i64>,
    #[serde(default)]
    low_stock_threshold: Option<i64>,
    #[serde(default)]
    visible: Option<bool>,
}

/// A decimal amount as a client sent it: `"9.90"` or `9.9`.
pub(super) fn price_text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

impl ProductChange {
    /// The product's form with this change applied.
    fn apply(self, mut f: ProductForm) -> ProductForm {
        let num = |v: Option<i64>, old: String| v.map(|n| n.to_string()).unwrap_or(old);
        if let Some(n) = self.name {
            f.name = n;
        }
        if let Some(p) = self.price {
            f.price = price_text(p);
        }
        if let Some(c) = self.category_id {
            f.category_id = c;
        }
        if let Some(d) = self.description {
            f.description = d;
        }
        f.min_qty = num(self.min_qty, f.min_qty);
        f.max_qty = num(self.max_qty, f.max_qty);
        f.sort_order = num(self.sort_order, f.sort_order);
        f.low_stock_threshold = num(self.low_stock_threshold, f.low_stock_threshold);
        if let Some(v) = self.visible {
            f.visible = v.then(|| "1".into());
        }
        f
    }
}

impl NewProduct {
    /// A blank product form with what was sent applied (the same path as a change).
    fn into_form(self) -> ProductForm {
        let mut blank = ProductForm::blank();
        if let Some(kind) = self.kind {
            blank.kind = kind;
        }
        ProductChange {
            name: Some(self.name),
            price: Some(self.price),
            category_id: self.category_id,
            description: self.description,
            min_qty: self.min_qty,
            max_qty: self.max_qty,
            sort_order: self.sort_order,
            low_stock_threshold: self.low_stock_threshold,
            visible: self.visible,
        }
        .apply(blank)
    }
}

pub async fn create_product(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let work = async {
        caller.require(Scope::Write)?;
        let input: NewProduct = serde_json::from_slice(&body).map_err(ApiError::bad_json)?;
        let mut fields = input.into_form().parse(&caller.shop.currency).map_err(ApiError::invalid)?;
        if let Err(e) = kapu_core::store::catalog_admin::settle_slug_for_tenant(
            state.db.reader(),
            caller.tenant_id(),
            &mut fields,
            None,
        )
        .await?
        {
            return Err(ApiError::invalid(vec![e.to_string()]));
        }
        if let Some(e) = check_category(&state, caller.tenant_id(), &fields).await? {
            return Err(ApiError::invalid(vec![e]));
        }
        if let Err(over) = check_limit(state.db.reader(), caller.tenant_id(), Limit::Products, 1).await? {
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "plan_limit", over.to_string()));
        }
        let id =
            create_product_for_tenant(state.db.writer(), caller.tenant_id(), &caller.shop.currency, &fields).await?;
        state.bus.shop_changed(caller.tenant_id());
        let p = find_product_for_tenant(state.db.writer(), caller.tenant_id(), &id)
            .await?
            .ok_or_else(|| ApiError::internal("product vanished after insert"))?;
        Ok((StatusCode::CREATED, product_json(&p, None)))
    };
    idempotent(&state, &caller, &headers, "POST /products", &body, work).await
}

/// `PATCH /products/{id}`: changes the fields sent, checked like the dashboard's form.
pub async fn update_product(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::Write)?;
    let change: ProductChange = serde_json::from_slice(&body).map_err(ApiError::bad_json)?;
    let p = find_product_for_tenant(state.db.reader(), caller.tenant_id(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("商品 product"))?;
    let mut fields = change.apply(ProductForm::from_model(&p)).parse(&p.currency).map_err(ApiError::invalid)?;
    if let Err(e) = kapu_core::store::catalog_admin::settle_slug_for_tenant(
        state.db.reader(),
        caller.tenant_id(),
        &mut fields,
        Some(&id),
    )
    .await?
    {
        return Err(ApiError::invalid(vec![e.to_string()]));
    }
    if let Some(e) = check_category(&state, caller.tenant_id(), &fields).await? {
        return Err(ApiError::invalid(vec![e]));
    }
    update_product_for_tenant(state.db.writer(), caller.tenant_id(), &id, &fields).await?;
    state.bus.shop_changed(caller.tenant_id());
    let p = find_product_for_tenant(state.db.writer(), caller.tenant_id(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("商品 product"))?;
    let counts = key_counts_by_product_for_tenant(state.db.reader(), caller.tenant_id()).await?;
    Ok(Json(product_json(&p, counts.get(&p.id))))
}

/// Keys in stock of every product, with the low-stock flag.
pub async fn stock(State(state): State<PlatformState>, caller: ApiCaller) -> ApiResult<Json<Value>> {
    let products = list_all_products_for_tenant(state.db.reader(), caller.tenant_id()).await?;
    let counts = key_counts_by_product_for_tenant(state.db.reader(), caller.tenant_id()).await?;
    let data: Vec<Value> = products
        .iter()
        .map(|p| {
            let c = counts.get(&p.id).copied().unwrap_or_default();
            json!({
                "product_id": p.id, "name": p.name, "kind": p.kind,
                "available": c.available, "reserved": c.reserved, "sold": c.sold,
                "low_stock_threshold": p.low_stock_threshold,
                "low": p.kind == "auto_key" && c.available <= u64::try_from(p.low_stock_threshold).unwrap_or(0),
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}
