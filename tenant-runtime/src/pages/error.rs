//! The themed error page: specific, localized, with what to do next.

use axum::response::Response;
use kapu_core::tenant::Tenant;
use minijinja::context;

use super::{base_ctx, render as render_html};
use crate::error::StoreError;
use crate::i18n::Lang;

/// Renders `err` as a page in the shop's look (or a neutral look when there is no shop).
pub fn render(err: &StoreError, lang: Lang, shop: Option<&Tenant>) -> Response {
    // A refusal is never themed (see `too_many_requests`).
    if let StoreError::RateLimited { .. } = err {
        return too_many_requests(err, lang);
    }
    err.log();
    let (heading, next) = match err {
        StoreError::ShopNotFound => (
            lang.pick("此地址没有店铺", "No shop at this address"),
            lang.pick("请检查网址拼写，或向卖家索取正确的店铺链接。", "Check the spelling of the address, or ask the seller for the right link."),
        ),
        StoreError::ShopClosed => (
            lang.pick("本店暂时关闭", "This shop is temporarily closed"),
            lang.pick("您的已完成订单不受影响。请稍后再来，或通过您保存的订单链接查看卡密。", "Completed orders are safe. Come back later, or open your saved order link to see your keys."),
        ),
        StoreError::Internal(_) | StoreError::Unavailable(_) => (
            lang.pick("服务器开小差了", "Something went wrong on our side"),
            lang.pick("请稍后重试。如果您已付款，订单不会丢失，可通过订单链接或“查询订单”找回。", "Please try again shortly. If you have paid, your order is safe: use your order link or “Find my order”."),
        ),
        StoreError::OrderNotFound => (
            lang.pick("找不到该订单", "Order not found"),
            lang.pick("请使用付款后跳转的链接或邮件中的链接，或在“查询订单”中输入订单号和查询密码。", "Use the link from after payment or from your email, or enter the order number and lookup password in “Find my order”."),
        ),
        _ => (
            lang.pick("出错了", "This did not work"),
            lang.pick("请返回首页重试。", "Go back to the shop and try again."),
        ),
    };
    let fallback;
    let shop = match shop {
        Some(s) => s,
        None => {
            fallback = neutral_shop(lang);
            &fallback
        }
    };
    let show_home = !matches!(err, StoreError::ShopNotFound | StoreError::ShopClosed);
    let ctx = context! {
        heading => heading, message => err.message(lang), next_step => next, show_home => show_home,
        ..base_ctx(shop, lang, "/")
    };
    err.with_headers(render_html(Some(shop), err.status(), "error.html", ctx))
}

/// A refusal must cost less than what it refuses: a few hundred bytes
/// written without the theme (a flooded shop answers thousands of these a
/// second), saying what happened and when to come back.
fn too_many_requests(err: &StoreError, lang: Lang) -> Response {
    let title = lang.pick("请求过于频繁", "Too many requests");
    let next = lang.pick("请稍等片刻再刷新页面。", "Wait a moment, then reload the page.");
    let body = format!(
        "<!doctype html><html lang=\"{}\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title><h1>{title}</h1><p>{}</p><p>{next}</p></html>",
        lang.tag(),
        err.message(lang)
    );
    err.with_headers(super::html(err.status(), body))
}

fn neutral_shop(lang: Lang) -> Tenant {
    Tenant {
        id: String::new(),
        slug: String::new(),
        name: lang.pick("卡铺 Kapu", "Kapu").into(),
        status: kapu_core::tenant::TenantStatus::Active,
        mode: kapu_core::tenant::ShopMode::Live,
        announcement: String::new(),
        default_locale: lang.tag().into(),
        currency: "CNY".into(),
        support_contact: String::new(),
        order_ttl_minutes: None,
        risk: Default::default(),
        logo_hash: None,
        plan_id: String::new(),
        look: None,
        storefront_rps: None,
        test_public: false,
        preview_epoch: 0,
        affiliates: false,
    }
}
