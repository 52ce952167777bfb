//! `GET /shops/{slug}/products`: products with their stock, and categories.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use kapu_core::money::format_minor;
use kapu_core::store::catalog_admin::{key_counts_by_product_for_tenant, list_all_products_for_tenant};
use kapu_core::store::products::list_categories_for_tenant;
use minijinja::{Value, context};

use crate::auth::csrf::CsrfToken;
use crate::auth::shop_access::ShopAccess;
use crate::error::PageResult;
use crate::page::{Layout, flash_for, render};
use crate::shops::list::FlashQuery;
use crate::state::PlatformState;

pub async fn list_products(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<FlashQuery>,
) -> PageResult<Response> {
    products_page(&state, &access, &csrf, q.m.as_deref(), &[]).await
}

pub async fn products_page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    flash: Option<&str>,
    category_errors: &[&str],
) -> PageResult<Response> {
    let tenant_id = access.tenant_id();
    let r = state.db.reader();
    let (products, categories, counts) = tokio::try_join!(
        list_all_products_for_tenant(r, tenant_id),
        list_categories_for_tenant(r, tenant_id),
        key_counts_by_product_for_tenant(r, tenant_id),
    )?;
    let names: HashMap<&str, &str> = categories.iter().map(|c| (c.id.as_str(), c.name.as_str())).collect();
    let rows: Vec<Value> = products
        .iter()
        .map(|p| {
            let c = counts.get(&p.id).copied().unwrap_or_default();
            context! {
                id => p.id.clone(), name => p.name.clone(), visible => p.visible,
                category => p.category_id.as_deref().and_then(|id| names.get(id).copied()),
                price => format!("{} {}", format_minor(p.price_minor, &p.currency), p.currency),
                available => c.available, reserved => c.reserved, sold => c.sold,
                low => c.available <= p.low_stock_threshold.max(0) as u64,
            }
        })
        .collect();
    let cats: Vec<Value> = categories
        .iter()
        .map(|c| context! { id => c.id.clone(), name => c.name.clone(), sort_order => c.sort_order })
        .collect();
    let layout = Layout {
        account: None,
        csrf,
        shop: Some(access),
        nav: "products",
        flash: flash_for(flash),
        title: "商品 Products",
    };
    render(
        "products.html",
        layout,
        context! { products => rows, categories => cats, category_errors => crate::page::ser(category_errors) },
    )
}
