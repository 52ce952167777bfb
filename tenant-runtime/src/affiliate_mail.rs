//! The affiliate's sign-in email. The link's token is made when the job
//! runs (a job's payload never holds a secret); a retried job sends a new
//! link, and every link works once within 30 minutes.

use anyhow::Context;
use kapu_core::entities::tenants;
use kapu_core::mail::{Mailer, OutgoingMail};
use kapu_core::store::affiliates as store;
use sea_orm::EntityTrait;

use crate::i18n::Lang;
use crate::state::RuntimeState;

#[derive(serde::Deserialize)]
pub struct SigninLinkJob {
    pub affiliate_id: String,
    pub base_url: String,
    pub locale: String,
}

pub async fn send_signin_link(
    state: &RuntimeState,
    mailer: &Mailer,
    tenant_id: &str,
    job: &SigninLinkJob,
) -> anyhow::Result<()> {
    let db = state.db.writer();
    let Some(a) = store::find_affiliate_for_tenant(db, tenant_id, &job.affiliate_id).await? else {
        tracing::info!("sign-in link for an affiliate that is gone; nothing sent");
        return Ok(());
    };
    if a.status != store::ACTIVE {
        tracing::info!("sign-in link for a blocked affiliate; nothing sent");
        return Ok(());
    }
    let shop = tenants::Entity::find_by_id(tenant_id.to_string()).one(db).await?.context("tenant not found")?;
    let token = store::issue_signin_token(db, tenant_id, &a.id, chrono::Utc::now()).await?;
    let link = format!("{}/affiliate/signin/{token}", job.base_url);
    let lang = Lang::from_tag(&job.locale);
    let text = match lang {
        Lang::Zh => format!(
            "点击下面的链接登录「{}」的推广中心（30 分钟内有效，只能使用一次）：\n\n{link}\n\n\
             登录后可以看到您的推广链接、点击、订单、佣金和提现。\n如果不是您本人操作，请忽略此邮件。\n",
            shop.name
        ),
        Lang::En => format!(
            "Open this link to sign in to {}'s affiliate page (it works once, within 30 minutes):\n\n{link}\n\n\
             There you find your referral link, clicks, orders, commissions and payouts.\nIf this was not you, ignore this email.\n",
            shop.name
        ),
    };
    let subject = match lang {
        Lang::Zh => format!("【{}】推广中心登录链接", shop.name),
        Lang::En => format!("[{}] Your affiliate sign-in link", shop.name),
    };
    mailer
        .send(&OutgoingMail { to: a.email.clone(), subject, text, html: None, shop_name: Some(shop.name.clone()) })
        .await?;
    tracing::info!("affiliate sign-in link emailed");
    Ok(())
}
