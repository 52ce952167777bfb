use axum::Json;
use axum::extract::State;
use kapu_core::money::format_minor;
use kapu_core::store::products::{
    list_categories_for_tenant, list_visible_products_for_tenant, stock_by_product_for_tenant,
};
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
    let db = state.db.reader();
    let (products, categories, stock) = tokio::try_join!(
        list_visible_products_for_tenant(db, shop.id()),
        list_categories_for_tenant(db, shop.id()),
        stock_by_product_for_tenant(db, shop.id()),
    )?;
    let products = products
        .into_iter()
        .map(|p| ProductOut {
            category: p
                .category_id
                .as_ref()
                .and_then(|c| categories.iter().find(|x| &x.id == c))
                .map(|c| c.name.clone()),
            price: format_minor(p.price_minor, &p.currency),
            stock: stock.get(&p.id).copied().unwrap_or(0),
            id: p.id,
            name: p.name,
            price_minor: p.price_minor,
            currency: p.currency,
        })
        .collect();
    Ok(Json(ProductList { products, test_mode: shop.tenant.is_test_mode() }))
}
