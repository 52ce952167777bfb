//! Selling to a shop on another Kapu platform (or any outside reseller) that
//! holds a `supply` API key of this shop: the supplier contract of
//! `docs/SUPPLIER_PROTOCOL.md`, on the merchant API, with the key instead of
//! a signature. `GET /supply/products` lists what this shop offers for
//! resale to any shop, with its stock (exact or as a band, as the listing
//! says); `POST /supply/orders` buys keys from the key's prepaid balance,
//! once per `reference` (and per `Idempotency-Key`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use kapu_core::entities::supply_listings;
use kapu_core::money::format_minor;
use kapu_core::store::api_keys::Scope;
use kapu_core::store::catalog_admin::list_all_products_for_tenant;
use kapu_core::store::products::available_keys_up_to_for_tenant;
use kapu_core::store::supply::StockFigure;
use kapu_core::store::supply_prepaid::{PurchaseError, PurchaseRefusal, purchase, purchase_by_reference};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::auth::ApiCaller;
use super::error::{ApiError, ApiResult};
use super::idempotency::idempotent;
use crate::state::PlatformState;

/// Most keys one purchase may take.
const MAX_QUANTITY: u64 = 1000;

pub async fn list_products(State(state): State<PlatformState>, caller: ApiCaller) -> ApiResult<Json<Value>> {
    caller.require(Scope::Supply)?;
    let r = state.db.reader();
    let me = caller.tenant_id();
    let products = list_all_products_for_tenant(r, me).await?;
    let listings = supply_listings::Entity::find()
        .filter(supply_listings::Column::TenantId.eq(me))
        .filter(supply_listings::Column::Open.eq(true))
        .filter(supply_listings::Column::Audience.eq("any"))
        .all(r)
        .await?;
    let mut out = Vec::with_capacity(listings.len());
    for l in &listings {
        let Some(p) = products.iter().find(|p| p.id == l.product_id && p.kind == "auto_key") else { continue };
        let available = available_keys_up_to_for_tenant(r, me, &p.id, StockFigure::CAP).await?;
        let stock = match StockFigure::of(available, l.exact_stock) {
            StockFigure::Exact(n) | StockFigure::AtLeast(n) => n,
        };
        out.push(json!({
            "sku": p.id, "name": p.name, "stock": stock,
            "price": format_minor(l.wholesale_minor, &p.currency), "currency": p.currency,
        }));
    }
    Ok(Json(json!({ "products": out })))
}

#[derive(serde::Deserialize)]
struct OrderBody {
    reference: String,
    sku: String,
    quantity: u64,
}

pub async fn place_order(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let work = async {
        caller.require(Scope::Supply)?;
        let b: OrderBody = serde_json::from_slice(&body).map_err(ApiError::bad_json)?;
        let mut problems = Vec::new();
        if b.reference.is_empty() || b.reference.len() > 255 {
            problems.push("reference 须为 1–255 个字符。reference must be 1–255 characters.".to_string());
        }
        if !(1..=MAX_QUANTITY).contains(&b.quantity) {
            problems.push(format!("quantity 须为 1–{MAX_QUANTITY}。quantity must be 1–{MAX_QUANTITY}."));
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid(problems));
        }
        let me = caller.tenant_id();
        let keys = state.master.tenant(me);
        let txn = state.db.begin().await?;
        let done = purchase(&txn, &keys, me, &caller.key.id, &b.reference, &b.sku, b.quantity, Utc::now())
            .await
            .map_err(|e| match e {
                PurchaseError::Db(e) => ApiError::from(e),
                PurchaseError::Keys(e) => ApiError::internal(e),
            })?;
        let p = match done {
            Ok(p) => p,
            Err(refusal) => return Err(refused(&refusal, &caller.shop.currency)),
        };
        txn.commit().await?;
        if p.new {
            state.bus.shop_changed(me);
            tracing::info!(tenant = %me, key = %caller.key.prefix, quantity = b.quantity, "sold to an outside reseller from its prepaid balance");
        }
        Ok((StatusCode::OK, json!({ "reference": b.reference, "status": "delivered", "keys": p.keys })))
    };
    idempotent(&state, &caller, &headers, "POST /supply/orders", &body, work).await
}

/// `GET /supply/orders/{reference}`: what an earlier purchase of this key
/// under `reference` sold (the same answer as its `POST`), or 404
/// `unknown_reference` when this key never bought under it.
pub async fn get_order(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    axum::extract::Path(reference): axum::extract::Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::Supply)?;
    let me = caller.tenant_id();
    let keys = state.master.tenant(me);
    let found =
        purchase_by_reference(state.db.reader(), &keys, me, &caller.key.id, &reference).await.map_err(|e| match e {
            PurchaseError::Db(e) => ApiError::from(e),
            PurchaseError::Keys(e) => ApiError::internal(e),
        })?;
    match found {
        Some(sold) => Ok(Json(json!({ "reference": reference, "status": "delivered", "keys": sold }))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_reference",
            "这个 API 密钥没有以此 reference 进过货。This key bought nothing under this reference.",
        )),
    }
}

fn refused(r: &PurchaseRefusal, currency: &str) -> ApiError {
    match r {
        PurchaseRefusal::NotOffered => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_offered",
            "本店没有向外部分销这个商品。This shop does not offer this product for resale.",
        ),
        PurchaseRefusal::ReferenceReused => ApiError::new(
            StatusCode::CONFLICT,
            "reference_reused",
            "这个 reference 已用于另一笔进货。This reference was used for a different purchase.",
        ),
        PurchaseRefusal::OutOfStock { available } => ApiError::new(
            StatusCode::CONFLICT,
            "out_of_stock",
            format!("库存不足，仅剩 {available} 个。Out of stock: {available} left."),
        ),
        PurchaseRefusal::InsufficientBalance { needed, balance } => {
            let (n, b) = (format_minor(*needed, currency), format_minor(*balance, currency));
            ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_balance",
                format!(
                    "预付余额不足：需要 {n} {currency}，余额 {b} {currency}。The prepaid balance is too low: {n} {currency} needed, {b} {currency} left."
                ),
            )
        }
    }
}
