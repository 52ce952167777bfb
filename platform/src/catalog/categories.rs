//! `POST /shops/{slug}/categories` and `POST …/categories/{id}/delete`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::store::catalog_admin::{create_category_for_tenant, delete_category_for_tenant};

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::shop_access::ShopAccess;
use crate::catalog::products::products_page;
use crate::error::{PageError, PageResult};
use crate::page::with_status;
use crate::state::PlatformState;

#[derive(serde::Deserialize)]
pub struct CategoryForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    sort_order: String,
}

pub async fn create_category(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(f): VerifiedForm<CategoryForm>,
) -> PageResult<Response> {
    let name = f.name.trim();
    let sort = if f.sort_order.trim().is_empty() { Some(0) } else { f.sort_order.trim().parse::<i32>().ok() };
    let error = if name.is_empty() || name.chars().count() > 100 {
        Some("分类名称需 1–100 个字符。A category name must be 1–100 characters.")
    } else if !sort.is_some_and(|s| (-1000..=1000).contains(&s)) {
        Some("排序需为 -1000 到 1000 的整数。Sort must be a whole number from -1000 to 1000.")
    } else {
        None
    };
    if let Some(e) = error {
        let r = products_page(&state, &access, &csrf, None, &[e]).await?;
        return Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, r));
    }
    create_category_for_tenant(state.db.writer(), access.tenant_id(), name, sort.unwrap_or(0)).await?;
    state.bus.shop_changed(access.tenant_id());
    Ok(Redirect::to(&format!("/shops/{}/products?m=category_added", access.shop.slug)).into_response())
}

pub async fn delete_category(
    State(state): State<PlatformState>,
    access: ShopAccess,
    Path((_, category_id)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    let txn = state.db.begin().await?;
    let found = delete_category_for_tenant(&txn, access.tenant_id(), &category_id).await?;
    txn.commit().await?;
    if !found {
        return Err(PageError::NotFound);
    }
    state.bus.shop_changed(access.tenant_id());
    Ok(Redirect::to(&format!("/shops/{}/products?m=category_deleted", access.shop.slug)).into_response())
}
