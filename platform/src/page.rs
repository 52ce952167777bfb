//! Rendering a dashboard page: the layout's context (account, CSRF token,
//! shop bar, navigation, flash message) plus the page's own.

use axum::response::{Html, IntoResponse, Response};
use kapu_admin_ui::AdminUi;
use minijinja::{Value, context};

use crate::auth::session::Account;
use crate::auth::shop_access::ShopAccess;
use crate::error::PageResult;

/// What every page's layout needs.
pub struct Layout<'a> {
    pub account: Option<&'a Account>,
    pub csrf: &'a str,
    pub shop: Option<&'a ShopAccess>,
    pub nav: &'a str,
    pub flash: Option<Flash>,
    pub title: &'a str,
}

/// A one-line notice at the top of the page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Flash {
    /// `ok`, `warn` or `error`.
    pub kind: &'static str,
    pub message: String,
}

impl Flash {
    pub fn ok(message: impl Into<String>) -> Option<Flash> {
        Some(Flash { kind: "ok", message: message.into() })
    }
    pub fn error(message: impl Into<String>) -> Option<Flash> {
        Some(Flash { kind: "error", message: message.into() })
    }
}

/// Flash messages a redirect may ask for with `?m=…` (known codes only, so a
/// link cannot put arbitrary text on our pages).
pub fn flash_for(code: Option<&str>) -> Option<Flash> {
    let (kind, message) = match code? {
        "verify_sent" => ("ok", "验证邮件已发送，请查收。We emailed you a verification link."),
        "verified" => ("ok", "邮箱已验证。Your email is verified."),
        "password_changed" => {
            ("ok", "密码已更新，其他设备已退出登录。Password changed; other devices were signed out.")
        }
        "shop_created" => ("ok", "店铺已创建，处于测试模式。Your shop is open, in test mode."),
        "saved" => ("ok", "已保存。Saved."),
        "affiliate_added" => {
            ("ok", "已添加推广者，登录链接已发送到其邮箱。Affiliate added; a sign-in link is on its way to them.")
        }
        "payout_paid" => ("ok", "已标记为已支付。Marked paid."),
        "payout_rejected" => {
            ("ok", "已拒绝，金额已退回推广者余额。Rejected; the amount is back in the affiliate's balance.")
        }
        "product_created" => ("ok", "商品已创建，现在导入卡密吧。Product created; now import its keys."),
        "product_deleted" => ("ok", "商品已删除。Product deleted."),
        "invite_accepted" => (
            "ok",
            "已接受分销邀请：供应商的商品已加入本店，从供应商库存发货。Invitation accepted: the supplier's products are in your shop, delivered from the supplier's stock.",
        ),
        "resale_added" => (
            "ok",
            "已上架，该商品从供应商库存发货，无需导入卡密。Added: this product delivers from the supplier's stock; no keys to import.",
        ),
        "external_added" => (
            "ok",
            "已上架：买家付款后自动向外部供应商进货并发货，无需导入卡密。Added: after each payment its keys are bought from the external supplier and delivered; no keys to import.",
        ),
        "category_added" => ("ok", "分类已添加。Category added."),
        "category_deleted" => ("ok", "分类已删除。Category deleted."),
        "keys_deleted" => ("ok", "未售卡密已删除。Unsold keys deleted."),
        "email_queued" => ("ok", "发货邮件已重新发送。The delivery email was queued again."),
        "check_queued" => (
            "ok",
            "已向支付渠道查询，结果几秒后显示在下方“渠道查询”中。We are asking the provider; the answer shows under “Provider checks” in a few seconds.",
        ),
        "refunded" => ("ok", "订单已标记为已退款。Order marked refunded."),
        "refunded_provider" => ("ok", "已通过支付渠道退款。Refunded through the payment provider."),
        "fulfilled" => ("ok", "已发货，买家将收到邮件。Delivered; the buyer is being emailed."),
        "mode_test" => ("ok", "已切回测试模式。The shop is back in test mode."),
        "mode_live" => ("ok", "店铺已上线。The shop is live."),
        "test_public" => ("ok", "测试中的店铺已向所有人开放。The shop is open to everyone while in test mode."),
        "test_private" => {
            ("ok", "测试中的店铺只对持预览链接的人开放。Only preview-link holders can see the shop while in test mode.")
        }
        "preview_revoked" => (
            "ok",
            "已作废之前分享的预览链接，下方是新链接。Earlier preview links no longer work; the new one is below.",
        ),
        "2fa_on" => ("ok", "两步验证已开启。Two-factor sign-in is on."),
        "2fa_off" => ("ok", "两步验证已关闭。Two-factor sign-in is off."),
        _ => return None,
    };
    Some(Flash { kind, message: message.into() })
}

/// Any serde value as a template value.
pub fn ser<T: serde::Serialize>(v: T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

/// Renders `template` inside the layout.
pub fn render(template: &str, layout: Layout<'_>, page: Value) -> PageResult<Response> {
    let shop = layout.shop.map(|s| {
        context! {
            slug => s.shop.slug.clone(), name => s.shop.name.clone(), mode => s.shop.mode.clone(), url => s.shop_url.clone(),
            currency => s.shop.currency.clone(), role => s.role.as_str(),
            status => s.shop.status.clone(), status_reason => s.shop.status_reason.clone(),
            grace_until => s.grace_until.map(|g| g.format("%Y-%m-%d %H:%M UTC").to_string()),
        }
    });
    let account = layout.account.or(layout.shop.map(|s| &s.account));
    let base = context! {
        account => account.map(ser),
        csrf => layout.csrf,
        shop => shop,
        nav => layout.nav,
        flash => layout.flash.map(|f| ser(&f)),
        title => layout.title,
    };
    let html = AdminUi::shared().render(template, context! { ..page, ..base })?;
    Ok(Html(html).into_response())
}

/// Answers with the page and the given status.
pub fn with_status(status: axum::http::StatusCode, resp: Response) -> Response {
    let mut r = resp;
    *r.status_mut() = status;
    r
}

/// A file to download: its type, the name it is saved under, never cached.
pub fn download(content_type: &str, filename: &str, body: impl axum::response::IntoResponse) -> Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}
