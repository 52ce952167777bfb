//! `/`: announcement, categories and products with live stock.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use kapu_core::money::format_minor;
use kapu_core::store::products::{
    list_categories_for_tenant, list_visible_products_for_tenant, stock_by_product_for_tenant,
};
use minijinja::{Value, context};

use super::{PageError, base_ctx, render};
use crate::http::host::TenantCtx;
use crate::i18n::Lang;
use crate::state::RuntimeState;

#[derive(serde::Serialize)]
struct Card {
    id: String,
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
    let fail = |e: sea_orm::DbErr| PageError(e.into(), lang, Some(shop.tenant.clone()));
    let db = state.db.reader();
    let (products, categories, stock) = tokio::try_join!(
        list_visible_products_for_tenant(db, shop.id()),
        list_categories_for_tenant(db, shop.id()),
        stock_by_product_for_tenant(db, shop.id()),
    )
    .map_err(fail)?;
    let card = |p: &kapu_core::entities::products::Model| Card {
        id: p.id.clone(),
        name: p.name.clone(),
        price: format_minor(p.price_minor, &p.currency),
        stock: stock.get(&p.id).copied().unwrap_or(0),
    };
    let mut groups: Vec<Group> = categories
        .iter()
        .map(|c| Group {
            name: c.name.clone(),
            products: products.iter().filter(|p| p.category_id.as_deref() == Some(c.id.as_str())).map(card).collect(),
        })
        .filter(|g| !g.products.is_empty())
        .collect();
    let loose: Vec<Card> = products
        .iter()
        .filter(|p| p.category_id.as_ref().is_none_or(|c| !categories.iter().any(|x| &x.id == c)))
        .map(card)
        .collect();
    if !loose.is_empty() {
        groups.push(Group { name: lang.pick("其他商品", "More products").into(), products: loose });
    }
    let ctx =
        context! { categories => Value::from(minijinja::value::Serde(&groups)), ..base_ctx(&shop.tenant, lang, "/") };
    Ok(render(StatusCode::OK, "home.html", ctx))
}
