//! A product's keys: counts, the latest keys masked, recent imports,
//! "delete unsold keys", and the owner's export of unsold keys.
//! `GET /shops/{slug}/products/{id}/keys`, `POST …/keys/delete-unsold`,
//! `GET …/keys/export`.

use crate::audit::shop_action;
use crate::auth::request_ip::RequestIp;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::entities::products;
use kapu_core::store::catalog_admin::{
    delete_available_keys_of_product_for_tenant, export_available_keys_of_product_for_tenant, find_product_for_tenant,
    key_counts_by_product_for_tenant, list_masked_keys_of_product_for_tenant,
};
use kapu_core::store::key_imports::{effective_status, list_key_imports_of_product_for_tenant};
use minijinja::{Value, context};

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::shop_access::{OwnerAccess, ShopAccess};
use crate::catalog::key_import::MAX_UPLOAD_BYTES;
use crate::error::{PageError, PageResult};
use crate::page::{Layout, flash_for, render};
use crate::shops::list::FlashQuery;
use crate::state::PlatformState;

/// How many keys the page lists.
const SHOWN_KEYS: u64 = 50;

async fn product_of(state: &PlatformState, access: &ShopAccess, product_id: &str) -> PageResult<products::Model> {
    find_product_for_tenant(state.db.reader(), access.tenant_id(), product_id).await?.ok_or(PageError::NotFound)
}

pub async fn keys_page(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Path((_, product_id)): Path<(String, String)>,
    Query(q): Query<FlashQuery>,
) -> PageResult<Response> {
    let product = product_of(&state, &access, &product_id).await?;
    if product.supply_tenant_id.is_some() || product.kind == kapu_core::store::external_supply::KIND {
        // Its keys are the supplier's: the product page says where they come from.
        return Ok(axum::response::Redirect::to(&format!(
            "/shops/{}/products/{}#resale",
            access.shop.slug, product.id
        ))
        .into_response());
    }
    render_keys_page(&state, &access, &csrf, &product, q.m.as_deref(), &[]).await
}

pub async fn render_keys_page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    product: &products::Model,
    flash: Option<&str>,
    errors: &[String],
) -> PageResult<Response> {
    let tenant = access.tenant_id();
    let r = state.db.reader();
    let tkeys = state.master.tenant(tenant);
    let counts = key_counts_by_product_for_tenant(r, tenant).await?.get(&product.id).copied().unwrap_or_default();
    let keys = list_masked_keys_of_product_for_tenant(r, &tkeys, tenant, &product.id, SHOWN_KEYS).await?;
    let now = Utc::now();
    let imports: Vec<Value> = list_key_imports_of_product_for_tenant(r, tenant, &product.id, 5)
        .await?
        .iter()
        .map(|i| {
            context! { id => i.id.clone(), status => effective_status(i, now), total => i.total, imported => i.imported,
            duplicate => i.duplicate, invalid => i.invalid, created_at => i.created_at.format("%Y-%m-%d %H:%M:%S").to_string() }
        })
        .collect();
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| context! { masked => k.masked.clone(), status => k.status.clone(), created_at => k.created_at.format("%Y-%m-%d %H:%M").to_string() })
        .collect();
    let layout = Layout {
        account: None,
        csrf,
        shop: Some(access),
        nav: "products",
        flash: flash_for(flash),
        title: "卡密 Keys",
    };
    let page = context! {
        product => context!{ id => product.id.clone(), name => product.name.clone() }, counts => crate::page::ser(counts),
        keys, imports, errors => crate::page::ser(errors), is_owner => access.is_owner(), max_upload_mb => MAX_UPLOAD_BYTES / (1024 * 1024),
    };
    render("keys.html", layout, page)
}

pub async fn delete_unsold_keys(
    State(state): State<PlatformState>,
    access: ShopAccess,
    ip: RequestIp,
    Path((_, product_id)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    let product = product_of(&state, &access, &product_id).await?;
    let n = delete_available_keys_of_product_for_tenant(state.db.writer(), access.tenant_id(), &product.id).await?;
    state.bus.stock_changed(access.tenant_id());
    shop_action(
        &state,
        &access,
        ip,
        "keys.delete_unsold",
        &product.id,
        &format!("{n} unsold keys of {}", product.name),
    )
    .await?;
    Ok(Redirect::to(&format!("/shops/{}/products/{}/keys?m=keys_deleted", access.shop.slug, product.id))
        .into_response())
}

/// Downloads the unsold keys as text, one per line. Owner only; logged.
pub async fn export_unsold_keys(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    Path((_, product_id)): Path<(String, String)>,
) -> PageResult<Response> {
    let product = product_of(&state, &access, &product_id).await?;
    let tkeys = state.master.tenant(access.tenant_id());
    let keys =
        export_available_keys_of_product_for_tenant(state.db.reader(), &tkeys, access.tenant_id(), &product.id).await?;
    shop_action(
        &state,
        &access,
        ip,
        "keys.export",
        &product.id,
        &format!("{} unsold keys of {}", keys.len(), product.name),
    )
    .await?;
    let mut body = keys.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    let filename = format!("keys-{}-{}.txt", access.shop.slug, Utc::now().format("%Y%m%d%H%M%S"));
    Ok(crate::page::download("text/plain; charset=utf-8", &filename, body))
}
