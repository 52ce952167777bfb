//! Buyer emails sent by jobs: keys after delivery, or word that a late
//! payment needs the merchant. Keys are read and decrypted when the job runs,
//! never stored in the job.

use anyhow::Context;
use kapu_core::entities::{orders, tenants};
use kapu_core::mail::{Mailer, OutgoingMail};
use kapu_core::money::format_minor;
use kapu_core::store::manual_delivery::delivered_contents_of_order_for_tenant;
use kapu_core::store::orders::status;
use sea_orm::EntityTrait;

use crate::delivery::view::status_message;
use crate::i18n::Lang;
use crate::state::RuntimeState;

/// Sends the email that fits the order's current status (idempotent in effect:
/// a repeat sends the same content again, never different keys).
pub async fn send_order_email(
    state: &RuntimeState,
    mailer: &Mailer,
    tenant_id: &str,
    order_id: &str,
) -> anyhow::Result<()> {
    let db = state.db.reader();
    let order = orders::Entity::find_by_id((tenant_id.to_string(), order_id.to_string()))
        .one(db)
        .await?
        .context("order not found")?;
    let shop = tenants::Entity::find_by_id(tenant_id.to_string()).one(db).await?.context("tenant not found")?;
    let keys = delivered_contents_of_order_for_tenant(db, &state.master.tenant(tenant_id), &order).await?;
    let token = state.master.tenant(tenant_id).order_token(&order.id);
    let mail = compose(&shop.name, &order, &keys, &token);
    mailer.send(&mail).await?;
    if order.status == status::DELIVERED
        && let Some(paid_at) = order.paid_at
    {
        kapu_core::metrics::payment_to_email((chrono::Utc::now() - paid_at).to_std().unwrap_or_default());
    }
    tracing::info!(order_no = %order.order_no, "buyer email sent");
    Ok(())
}

/// The email's first sentence: written for an email (the web page's words
/// say the keys "have also been emailed to you").
fn opening(order_status: &str, lang: Lang) -> String {
    match order_status {
        status::DELIVERED => lang
            .pick(
                "您的订单已发货，卡密如下，请妥善保存。",
                "Your order is delivered. Your keys are below; keep them safe.",
            )
            .to_string(),
        other => status_message(other, lang),
    }
}

/// The email for an order in its status.
pub fn compose(shop_name: &str, order: &orders::Model, keys: &[String], token: &str) -> OutgoingMail {
    let lang = Lang::from_tag(&order.locale);
    let link = format!("{}/orders/{}?token={token}", order.base_url, order.order_no);
    let amount = format!("{} {}", format_minor(order.amount_minor, &order.currency), order.currency);
    let delivered = order.status == status::DELIVERED;
    let subject = match (lang, delivered) {
        (Lang::Zh, true) => format!("【{shop_name}】订单 {} 已发货", order.order_no),
        (Lang::En, true) => format!("[{shop_name}] Order {}: your keys", order.order_no),
        (Lang::Zh, false) => format!("【{shop_name}】订单 {} 需要店主处理", order.order_no),
        (Lang::En, false) => format!("[{shop_name}] Order {} needs the shop's attention", order.order_no),
    };
    let mut text = String::new();
    let line = |t: &mut String, s: &str| {
        t.push_str(s);
        t.push('\n');
    };
    line(&mut text, &opening(&order.status, lang));
    line(&mut text, "");
    // Chinese text takes full-width punctuation, English half-width.
    let colon = lang.pick("：", ": ");
    line(&mut text, &format!("{}{colon}{}", lang.pick("订单号", "Order"), order.order_no));
    line(&mut text, &format!("{}{colon}{} × {}", lang.pick("商品", "Product"), order.product_name, order.quantity));
    line(&mut text, &format!("{}{colon}{amount}", lang.pick("金额", "Amount")));
    if delivered {
        line(&mut text, "");
        line(&mut text, lang.pick("卡密：", "Your keys:"));
        for k in keys {
            line(&mut text, k);
        }
    }
    line(&mut text, "");
    line(&mut text, &format!("{}{link}", lang.pick("查看订单：", "View your order: ")));
    line(
        &mut text,
        lang.pick(
            "请妥善保管此邮件，不要转发给他人。",
            "Keep this email private; anyone with the link can see your keys.",
        ),
    );
    OutgoingMail { to: order.email.clone(), subject, text, html: None, shop_name: Some(shop_name.to_string()) }
}

/// Emails the links of the address's recent orders in this shop; sends nothing when there are none.
pub async fn send_order_links(
    state: &RuntimeState,
    mailer: &Mailer,
    tenant_id: &str,
    email: &str,
    locale: &str,
    base_url: &str,
) -> anyhow::Result<()> {
    let db = state.db.reader();
    let orders = kapu_core::store::orders::list_recent_orders_by_email_for_tenant(db, tenant_id, email, 10).await?;
    if orders.is_empty() {
        tracing::info!("order links requested for an address without orders; nothing sent");
        return Ok(());
    }
    let shop = tenants::Entity::find_by_id(tenant_id.to_string()).one(db).await?.context("tenant not found")?;
    let lang = Lang::from_tag(locale);
    let tk = state.master.tenant(tenant_id);
    let mut text = String::from(lang.pick(
        "您（或他人）在本店申请找回订单。以下是该邮箱最近的订单链接：\n\n",
        "Someone (hopefully you) asked for the orders of this address. Here are the links to the most recent ones:\n\n",
    ));
    for o in &orders {
        let link = format!("{base_url}/orders/{}?token={}", o.order_no, tk.order_token(&o.id));
        // The status in words, never its code.
        let status = kapu_themes::text(lang.tag(), &format!("status_{}", o.status));
        text.push_str(&format!("{} · {} × {} · {status}\n{link}\n\n", o.order_no, o.product_name, o.quantity));
    }
    text.push_str(lang.pick("如果不是您本人操作，请忽略此邮件。\n", "If this was not you, ignore this email.\n"));
    let subject = match lang {
        Lang::Zh => format!("【{}】您的订单链接", shop.name),
        Lang::En => format!("[{}] Links to your orders", shop.name),
    };
    mailer
        .send(&OutgoingMail { to: email.to_string(), subject, text, html: None, shop_name: Some(shop.name.clone()) })
        .await?;
    tracing::info!(orders = orders.len(), "order links emailed");
    Ok(())
}
