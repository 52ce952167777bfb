use axum::Json;
use axum::extract::State;
use kapu_core::money::format_minor;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::StoreError;
use crate::http::host::TenantCtx;
use crate::state::RuntimeState;

/// A product as buyers see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductOut {
    /// Opaque id.
    pub id: String,
    pub name: String,
    /// Category name, if any.
    pub category: Option<String>,
    /// Decimal string in major units, e.g. "9.90".
    pub price: String,
    pub price_minor: i64,
    pub currency: String,
    /// Keys available now (not reserved, not sold).
    pub stock: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList {
    pub products: Vec<ProductOut>,
    pub test_mode: bool,
}

/// The shop's products with live stock.
#[utoipa::path(get, path = "/api/v1/products", tag = "storefront",
    responses((status = 200, body = ProductList), (status = 404, description = "shop_not_found")))]
pub async fn list_products(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
) -> Result<Json<ProductList>, StoreError> {
    let catalog = state.catalog.catalog(&state.db, shop.id()).await?;
    let products = catalog
        .products
        .iter()
        .map(|p| ProductOut {
            category: catalog.category_name(p.category_id.as_deref()).map(Into::into),
            price: format_minor(p.price_minor, &p.currency),
            stock: catalog.stock_of(&p.id),
            id: p.id.clone(),
            name: p.name.clone(),
            price_minor: p.price_minor,
            currency: p.currency.clone(),
        })
        .collect();
    Ok(Json(ProductList { products, test_mode: shop.tenant.is_test_mode() }))
}
