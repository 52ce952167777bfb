//! `GET/POST /shops/{slug}/settings`: name, announcement, support contact,
//! default language, currency (until the shop has products or orders) and
//! order expiry.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::store::channels::list_enabled_channels_for_tenant;
use kapu_core::store::shop_settings::{
    ShopProfile, shop_has_products_or_orders_for_tenant, update_shop_profile_for_tenant,
};
use minijinja::context;

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::shop_access::OwnerAccess;
use crate::error::PageResult;
use crate::page::{Layout, flash_for, render, with_status};
use crate::shops::list::FlashQuery;
use crate::state::PlatformState;

pub const CURRENCIES: &[&str] = &["CNY", "USD", "EUR", "HKD", "JPY"];
pub const DEFAULT_TTL_MINUTES: i32 = 15;

#[derive(serde::Deserialize, Default, serde::Serialize)]
pub struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    announcement: String,
    #[serde(default)]
    support_contact: String,
    #[serde(default)]
    default_locale: String,
    /// Absent when the select is disabled (currency locked).
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    order_ttl_minutes: String,
}

async fn currency_locked(state: &PlatformState, tenant_id: &str) -> Result<bool, sea_orm::DbErr> {
    shop_has_products_or_orders_for_tenant(state.db.reader(), tenant_id).await
}

/// Whether the shop may go live, and if not, why.
pub async fn go_live_blocker(
    state: &PlatformState,
    tenant_id: &str,
    currency: &str,
) -> Result<Option<&'static str>, sea_orm::DbErr> {
    let channels = list_enabled_channels_for_tenant(state.db.reader(), tenant_id).await?;
    let real: Vec<_> = channels
        .iter()
        .filter_map(|c| kapu_billing::channels::channel_by_kind(&c.channel))
        .filter(|c| !c.test_only())
        .collect();
    Ok(if real.is_empty() {
        Some(
            "上线需要至少一个已启用的真实收款渠道（支付宝、微信支付、Stripe、易支付、USDT），请先在“收款”页面配置。Going live needs at least one enabled real payment channel (Alipay, WeChat Pay, Stripe, epay, USDT); set one up on the Payments page.",
        )
    } else if !real.iter().any(|c| c.takes_currency(currency)) {
        Some(
            "已启用的收款渠道都不支持本店币种（支付宝、微信支付、易支付、USDT 仅支持人民币），请启用 Stripe 或将币种改为 CNY。None of the enabled channels takes this shop's currency (Alipay, WeChat Pay, epay and USDT take CNY only): enable Stripe or price in CNY.",
        )
    } else {
        None
    })
}

async fn page(
    state: &PlatformState,
    access: &crate::auth::shop_access::ShopAccess,
    csrf: &str,
    form: SettingsForm,
    errors: &[&str],
    flash: Option<&str>,
) -> PageResult<Response> {
    let locked = currency_locked(state, access.tenant_id()).await?;
    let blocker = go_live_blocker(state, access.tenant_id(), &access.shop.currency).await?;
    let preview_token = state.master.tenant(access.tenant_id()).preview_token(access.shop.preview_epoch);
    let preview_url = format!("{}?preview={preview_token}", access.shop_url);
    let layout = Layout {
        account: None,
        csrf,
        shop: Some(access),
        nav: "settings",
        flash: flash_for(flash),
        title: "设置 Settings",
    };
    render(
        "settings.html",
        layout,
        context! { logo_url => access.shop.logo_hash.as_ref().map(|h| format!("{}logo/{h}", access.shop_url)), form => crate::page::ser(&form), errors => crate::page::ser(errors), currencies => crate::page::ser(CURRENCIES), currency_locked => locked,
        can_go_live => blocker.is_none(), go_live_blocker => blocker, preview_url, test_public => access.shop.test_public },
    )
}

pub async fn settings_page(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<FlashQuery>,
) -> PageResult<Response> {
    let s = &access.shop;
    let form = SettingsForm {
        name: s.name.clone(),
        announcement: s.announcement.clone(),
        support_contact: s.support_contact.clone(),
        default_locale: s.default_locale.clone(),
        currency: Some(s.currency.clone()),
        order_ttl_minutes: s.order_ttl_minutes.unwrap_or(DEFAULT_TTL_MINUTES).to_string(),
    };
    page(&state, &access, &csrf, form, &[], q.m.as_deref()).await
}

pub async fn save_settings(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(f): VerifiedForm<SettingsForm>,
) -> PageResult<Response> {
    let mut errors: Vec<&str> = Vec::new();
    let name = f.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push("店铺名称需 1–100 个字符。The shop name must be 1–100 characters.");
    }
    if f.announcement.chars().count() > 2000 {
        errors.push("公告最多 2000 个字符。The announcement may have at most 2,000 characters.");
    }
    if f.support_contact.chars().count() > 200 {
        errors.push("客服联系方式最多 200 个字符。The support contact may have at most 200 characters.");
    }
    if !["zh-CN", "en"].contains(&f.default_locale.as_str()) {
        errors.push("请选择默认语言。Choose a default language.");
    }
    let ttl = f.order_ttl_minutes.trim().parse::<i32>().ok().filter(|m| (5..=1440).contains(m));
    if ttl.is_none() {
        errors.push("订单有效期需为 5–1440 分钟。Order expiry must be 5–1,440 minutes.");
    }
    let locked = currency_locked(&state, access.tenant_id()).await?;
    let currency = match f.currency.as_deref() {
        Some(c) if c != access.shop.currency && locked => {
            errors.push("已有商品或订单，货币不能再修改。The currency is fixed once the shop has products or orders.");
            None
        }
        Some(c) if !CURRENCIES.contains(&c) => {
            errors.push("不支持该货币。That currency is not supported.");
            None
        }
        Some(c) => Some(c.to_string()),
        None => None,
    };
    if !errors.is_empty() {
        let r = page(&state, &access, &csrf, f, &errors, None).await?;
        return Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, r));
    }
    let profile = ShopProfile {
        name,
        announcement: f.announcement.trim().to_string(),
        support_contact: f.support_contact.trim().to_string(),
        default_locale: f.default_locale.clone(),
        currency,
        order_ttl_minutes: ttl,
    };
    update_shop_profile_for_tenant(state.db.writer(), access.tenant_id(), &profile).await?;
    state.bus.shop_changed(access.tenant_id());
    Ok(Redirect::to(&format!("/shops/{}/settings?m=saved", access.shop.slug)).into_response())
}
