//! The supply catalog: `GET /shops/{slug}/supply` lists what other shops
//! offer for resale (search by product, supplier or price), `POST
//! /shops/{slug}/supply/add` adds one to this shop under its own name,
//! description, price and category, sold from the supplier's stock.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::money::{format_minor, parse_major};
use kapu_core::store::catalog_admin::{ProductFields, create_product_for_tenant};
use kapu_core::store::plan_limits::{Limit, check_limit};
use kapu_core::store::products::list_categories_for_tenant;
use kapu_core::store::supply::{
    CatalogEntry, link_resale_product_for_tenant, listing_for_reseller, lowest_resale_price,
    supply_catalog_for_reseller,
};
use minijinja::{Value, context};

use crate::audit::shop_action;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::ShopAccess;
use crate::error::PageResult;
use crate::page::{Layout, flash_for, render, ser, with_status};
use crate::state::PlatformState;

#[derive(serde::Deserialize, Default)]
pub struct CatalogQuery {
    #[serde(default)]
    q: String,
    /// Highest wholesale price, as typed (major units).
    #[serde(default)]
    max_price: String,
    #[serde(default)]
    m: Option<String>,
}

/// The add form as typed.
#[derive(serde::Deserialize, serde::Serialize, Default, Clone)]
pub struct AddForm {
    #[serde(default)]
    pub(crate) supplier_id: String,
    #[serde(default)]
    pub(crate) product_id: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) price: String,
    #[serde(default)]
    pub(crate) category_id: String,
    #[serde(default)]
    pub(crate) description: String,
}

fn entry_view(e: &CatalogEntry, currency: &str) -> Value {
    let l = &e.listing;
    context! {
        supplier_id => e.supplier_tenant_id.clone(), supplier_name => e.supplier_name.clone(),
        supplier_slug => e.supplier_slug.clone(),
        product_id => e.product.id.clone(), name => e.product.name.clone(),
        currency => e.product.currency.clone(), same_currency => e.product.currency == currency,
        wholesale => format_minor(l.wholesale_minor, &e.product.currency),
        lowest => format_minor(lowest_resale_price(l), &e.product.currency),
        suggested => format_minor(e.product.price_minor.max(lowest_resale_price(l)), &e.product.currency),
        stock => e.stock.label(), per_order_cap => l.per_order_cap, daily_cap => l.daily_cap,
        added_as => e.added_as.clone(),
    }
}

async fn page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    q: &CatalogQuery,
    form: Option<&AddForm>,
    errors: &[String],
) -> PageResult<Response> {
    let r = state.db.reader();
    let currency = &access.shop.currency;
    let max_price = parse_major(q.max_price.trim(), currency);
    let entries: Vec<Value> = supply_catalog_for_reseller(r, access.tenant_id(), &q.q)
        .await?
        .iter()
        .filter(|e| max_price.is_none_or(|m| e.listing.wholesale_minor <= m))
        .map(|e| entry_view(e, currency))
        .collect();
    let categories: Vec<Value> = list_categories_for_tenant(r, access.tenant_id())
        .await?
        .into_iter()
        .map(|c| context! { id => c.id, name => c.name })
        .collect();
    let layout = Layout {
        account: None,
        csrf,
        shop: Some(access),
        nav: "supply",
        flash: flash_for(q.m.as_deref()),
        title: "货源 Supply",
    };
    let resp = render(
        "supply.html",
        layout,
        context! { entries, categories, q => q.q.clone(), max_price => q.max_price.clone(), form => form.map(ser), errors => ser(errors) },
    )?;
    Ok(if errors.is_empty() { resp } else { with_status(StatusCode::UNPROCESSABLE_ENTITY, resp) })
}

pub async fn supply_catalog(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<CatalogQuery>,
) -> PageResult<Response> {
    page(&state, &access, &csrf, &q, None, &[]).await
}

pub async fn add_resale_product(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(f): VerifiedForm<AddForm>,
) -> PageResult<Response> {
    let currency = access.shop.currency.clone();
    let refuse = |errors: Vec<String>| {
        let (state, access, csrf, f) = (&state, &access, &csrf, &f);
        async move { page(state, access, csrf, &CatalogQuery::default(), Some(f), &errors).await }
    };
    let r = state.db.reader();
    let (listing, supplier_product) =
        match listing_for_reseller(r, access.tenant_id(), &currency, &f.supplier_id, &f.product_id).await? {
            Ok(found) => found,
            Err(refusal) => return refuse(vec![refusal.message(&currency)]).await,
        };
    let mut errors = Vec::new();
    let name = if f.name.trim().is_empty() { supplier_product.name.clone() } else { f.name.trim().to_string() };
    if name.chars().count() > 200 {
        errors.push("商品名称须为 1–200 个字符。The name must be 1–200 characters.".to_string());
    }
    let lowest = lowest_resale_price(&listing);
    let price = match parse_major(f.price.trim(), &currency) {
        Some(p) if p >= lowest => p,
        Some(_) => {
            errors.push(kapu_core::store::supply::SupplyRefusal::PriceTooLow(lowest).message(&currency));
            0
        }
        None => {
            errors.push(format!(
                "售价须为金额，例如 9.90（{currency}）。The price must be an amount like 9.90 ({currency})."
            ));
            0
        }
    };
    let category_id = Some(f.category_id.trim().to_string()).filter(|c| !c.is_empty());
    if let Some(c) = &category_id
        && !kapu_core::store::catalog_admin::category_exists_for_tenant(r, access.tenant_id(), c).await?
    {
        errors.push("所选分类不存在。The chosen category does not exist.".into());
    }
    if !errors.is_empty() {
        return refuse(errors).await;
    }
    if let Err(over) = check_limit(r, access.tenant_id(), Limit::Products, 1).await? {
        return refuse(vec![over.to_string()]).await;
    }
    let description =
        if f.description.trim().is_empty() { supplier_product.description.clone() } else { f.description.clone() };
    let max_qty = listing.per_order_cap.unwrap_or(supplier_product.max_qty).min(supplier_product.max_qty).max(1);
    let mut fields = ProductFields {
        category_id,
        slug: None,
        name,
        description,
        price_minor: price,
        wholesale_tiers: None,
        min_qty: 1,
        max_qty,
        visible: true,
        sort_order: 0,
        low_stock_threshold: 0,
        kind: "auto_key",
        input_fields: None,
    };
    let txn = state.db.begin().await?;
    // A slug from the name; never refused, as none was typed.
    let _ =
        kapu_core::store::catalog_admin::settle_slug_for_tenant(&txn, access.tenant_id(), &mut fields, None).await?;
    let id = create_product_for_tenant(&txn, access.tenant_id(), &currency, &fields).await?;
    link_resale_product_for_tenant(&txn, access.tenant_id(), &id, &f.supplier_id, &f.product_id).await?;
    txn.commit().await?;
    state.bus.shop_changed(access.tenant_id());
    let detail = format!(
        "sells {} of shop {} at {} {currency} (wholesale {})",
        supplier_product.id,
        f.supplier_id,
        format_minor(price, &currency),
        format_minor(listing.wholesale_minor, &currency)
    );
    shop_action(&state, &access, ip, "supply.product_added", &id, &detail).await?;
    Ok(Redirect::to(&format!("/shops/{}/products/{id}?m=resale_added", access.shop.slug)).into_response())
}
