//! `POST /shops`: open a shop. It is live at `{slug}.{shop domain}` at once,
//! in test mode with the sandbox channel, and the creator is its owner.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::db::is_unique_violation;
use kapu_core::store::accounts::{Role, add_membership};

use crate::auth::csrf::{CsrfToken, VerifiedForm, request_port};
use crate::auth::session::Merchant;
use crate::error::{PageError, PageResult};
use crate::page::with_status;
use crate::provision::{NewShop, create_tenant, enable_channel};
use crate::shops::list::shops_page;
use crate::shops::slug::check_slug;
use crate::state::PlatformState;

#[derive(serde::Deserialize)]
pub struct CreateShopForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    /// The shop's currency, asked for here because it locks once products exist (CNY when absent).
    #[serde(default)]
    currency: Option<String>,
}

pub async fn create_shop(
    State(state): State<PlatformState>,
    Merchant(account): Merchant,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    VerifiedForm(f): VerifiedForm<CreateShopForm>,
) -> PageResult<Response> {
    if !account.verified {
        return Err(PageError::EmailNotVerified);
    }
    let name = f.name.trim();
    let slug = f.slug.trim().to_lowercase();
    let port = request_port(&headers);
    let currency = f.currency.as_deref().map(str::trim).unwrap_or("CNY").to_uppercase();
    let refuse = |status: StatusCode, msg: &'static str| {
        let (state, account, csrf, name, slug, currency) =
            (&state, &account, &csrf, name, slug.clone(), currency.clone());
        async move {
            let r = shops_page(state, account, csrf, port, None, (name, &slug, &currency), &[msg]).await?;
            Ok::<_, PageError>(with_status(status, r))
        }
    };
    if name.is_empty() || name.chars().count() > 100 {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "店铺名称需 1–100 个字符。The shop name must be 1–100 characters.",
        )
        .await;
    }
    if let Some(why) = check_slug(&slug) {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, why).await;
    }
    if !crate::shops::settings::CURRENCIES.contains(&currency.as_str()) {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, "请选择列表中的币种。Choose a currency from the list.").await;
    }
    let txn = state.db.begin().await?;
    let tenant_id = match open_shop_for_owner(&txn, &account.id, &slug, name, &currency).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return refuse(StatusCode::CONFLICT, "这个地址已被使用，请换一个。This address is taken; choose another.")
                .await;
        }
        Err(e) => return Err(e.into()),
    };
    txn.commit().await?;
    // A storefront that answered "no such shop" for this host must forget it.
    state.bus.host_changed(&format!("{slug}.{}", state.shop_host));
    tracing::info!(tenant = %tenant_id, %slug, account = %account.id, "shop created");
    Ok(Redirect::to(&format!("/shops/{slug}?m=shop_created")).into_response())
}

/// Opens a shop (in the caller's transaction): test mode, the sandbox
/// channel, `account` its owner. A taken slug is a unique violation.
pub(crate) async fn open_shop_for_owner<C: sea_orm::ConnectionTrait>(
    txn: &C,
    account_id: &str,
    slug: &str,
    name: &str,
    currency: &str,
) -> Result<String, sea_orm::DbErr> {
    let shop = NewShop { slug, name, announcement: "", default_locale: "zh-CN", currency };
    let tenant_id = create_tenant(txn, &shop).await?;
    enable_channel(txn, &tenant_id, "sandbox", 100).await?;
    add_membership(txn, &tenant_id, account_id, Role::Owner).await?;
    Ok(tenant_id)
}
