//! `/`: announcement, categories and products with live stock. The rendered
//! page is cached per shop and language (see `catalog`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use kapu_core::money::format_minor;
use minijinja::{Value, context};

use super::{PageError, base_ctx, html, render_string};
use crate::catalog::Catalog;
use crate::error::StoreError;
use crate::http::host::TenantCtx;
use crate::i18n::Lang;
use crate::state::RuntimeState;

#[derive(serde::Serialize)]
struct Card {
    id: String,
    /// Where its page is: `/products/{path}` (the slug, else the id).
    path: String,
    name: String,
    price: String,
    stock: u64,
}

#[derive(serde::Serialize)]
struct Group {
    name: String,
    products: Vec<Card>,
}

pub async fn show_home(State(state): State<RuntimeState>, shop: TenantCtx, lang: Lang) -> Result<Response, PageError> {
    let body = state
        .catalog
        .page(shop.id(), lang, async {
            let catalog = state.catalog.catalog(&state.db, shop.id()).await?;
            render_home(&shop, lang, &catalog)
        })
        .await
        .map_err(|e| PageError(e, lang, Some(shop.tenant.clone())))?;
    Ok(html(StatusCode::OK, body))
}

fn render_home(shop: &TenantCtx, lang: Lang, catalog: &Catalog) -> Result<String, StoreError> {
    let card = |p: &kapu_core::entities::products::Model| Card {
        id: p.id.clone(),
        path: p.slug.clone().unwrap_or_else(|| p.id.clone()),
        name: p.name.clone(),
        price: format_minor(p.price_minor, &p.currency),
        stock: catalog.stock_of(&p.id),
    };
    let mut groups: Vec<Group> = catalog
        .categories
        .iter()
        .map(|c| Group {
            name: c.name.clone(),
            products: catalog
                .products
                .iter()
                .filter(|p| p.category_id.as_deref() == Some(c.id.as_str()))
                .map(card)
                .collect(),
        })
        .filter(|g| !g.products.is_empty())
        .collect();
    let loose: Vec<Card> = catalog
        .products
        .iter()
        .filter(|p| catalog.category_name(p.category_id.as_deref()).is_none())
        .map(card)
        .collect();
    if !loose.is_empty() {
        groups.push(Group { name: lang.pick("其他商品", "More products").into(), products: loose });
    }
    let ctx =
        context! { categories => Value::from(minijinja::value::Serde(&groups)), ..base_ctx(&shop.tenant, lang, "/") };
    render_string(Some(&shop.tenant), "home.html", ctx)
}
