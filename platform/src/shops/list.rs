//! `GET /shops`: the merchant's shops and the "create shop" form.

use axum::extract::{Query, State};
use axum::response::Response;
use kapu_core::store::accounts::list_shops_of_account;
use minijinja::{Value, context};

use crate::auth::csrf::{CsrfToken, request_port};
use crate::auth::session::{Account, Merchant};
use crate::error::PageResult;
use crate::page::{Layout, flash_for, render};
use crate::state::PlatformState;

#[derive(serde::Deserialize, Default)]
pub struct FlashQuery {
    pub m: Option<String>,
}

pub async fn list_shops(
    State(state): State<PlatformState>,
    Merchant(account): Merchant,
    CsrfToken(csrf): CsrfToken,
    headers: axum::http::HeaderMap,
    Query(q): Query<FlashQuery>,
) -> PageResult<Response> {
    shops_page(&state, &account, &csrf, request_port(&headers), q.m.as_deref(), ("", "", "CNY"), &[]).await
}

/// Renders the list with the create form (refilled after an error).
pub async fn shops_page(
    state: &PlatformState,
    account: &Account,
    csrf: &str,
    port: Option<u16>,
    flash: Option<&str>,
    form: (&str, &str, &str),
    errors: &[&str],
) -> PageResult<Response> {
    let shops: Vec<Value> = list_shops_of_account(state.db.reader(), &account.id)
        .await?
        .into_iter()
        .map(|(t, role)| {
            context! { url => state.shop_url(&t.slug, port), slug => t.slug, name => t.name, mode => t.mode, role => role.as_str() }
        })
        .collect();
    let layout = Layout {
        account: Some(account),
        csrf,
        shop: None,
        nav: "",
        flash: flash_for(flash),
        title: "我的店铺 My shops",
    };
    let page = context! {
        shops, errors => crate::page::ser(errors), shop_domain => state.shop_host.clone(),
        form => context!{ name => form.0, slug => form.1, currency => form.2 },
        currencies => crate::page::ser(crate::shops::settings::CURRENCIES),
    };
    render("shops.html", layout, page)
}
