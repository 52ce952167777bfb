//! Notices emailed to a shop's owner, sent by a job so a slow mail server
//! never holds up a webhook or a form: a failed plan payment (with the grace
//! period's end), a downgrade to the default plan, and (supply) a product
//! resold from a supplier paused because the wholesale price rose above it.

use kapu_core::jobs::{NewJob, enqueue};
use kapu_core::mail::{Mailer, OutgoingMail};
use kapu_core::store::tenant_admin::owner_contact_of;
use kapu_core::tenant::find_tenant_by_id;
use sea_orm::{ConnectionTrait, DbErr};

use crate::language::{Lang, for_reader, subject_for};
use crate::state::PlatformState;

/// Job kind: email a shop's owner about billing.
pub const SEND_BILLING_NOTICE: &str = "send_billing_notice";

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum BillingNotice {
    PaymentFailed {
        grace_until: String,
    },
    Downgraded {
        plan_name: String,
    },
    /// The supplier raised the wholesale price above this shop's price of `product_name`.
    ResalePaused {
        supplier_name: String,
        product_name: String,
        wholesale: String,
    },
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BillingNoticeJob {
    pub tenant_id: String,
    #[serde(flatten)]
    pub notice: BillingNotice,
}

/// Queues a notice (pass the transaction of the change it tells about).
pub async fn queue_notice<C: ConnectionTrait>(conn: &C, tenant_id: &str, notice: BillingNotice) -> Result<(), DbErr> {
    let job = BillingNoticeJob { tenant_id: tenant_id.into(), notice };
    enqueue(
        conn,
        NewJob::now(SEND_BILLING_NOTICE, Some(tenant_id.into()), serde_json::to_value(job).unwrap_or_default()),
    )
    .await
}

/// The notice in the owner's language (`None`: both, Chinese first).
pub fn compose(to: &str, lang: Option<Lang>, shop_name: &str, plan_url: &str, notice: &BillingNotice) -> OutgoingMail {
    let (subject_zh, subject_en, zh, en) = match notice {
        BillingNotice::PaymentFailed { grace_until } => (
            format!("「{shop_name}」套餐扣款失败"),
            format!("Payment for {shop_name}'s plan failed"),
            format!(
                "「{shop_name}」的套餐续费扣款失败。请在 {grace_until}（UTC）前更新付款方式，否则店铺将降级为免费版（不会删除任何数据，店铺照常售卖现有库存）。\n{plan_url}"
            ),
            format!(
                "The renewal payment for {shop_name}'s plan failed. Update your payment method before {grace_until} (UTC), or the shop moves to the free plan (nothing is deleted; the shop keeps selling its stock).\n{plan_url}"
            ),
        ),
        BillingNotice::Downgraded { plan_name } => {
            let (plan_zh, plan_en) = kapu_web::i18n::sides(plan_name);
            (
                format!("「{shop_name}」已降级为{plan_zh}"),
                format!("{shop_name} moved to {plan_en}"),
                format!(
                    "由于套餐费用未支付，「{shop_name}」已改为「{plan_zh}」，相应限额已生效。所有数据都在，随时可以重新订阅。\n{plan_url}"
                ),
                format!(
                    "As the plan was not paid, {shop_name} is now on “{plan_en}” and its limits apply. All your data is kept; subscribe again at any time.\n{plan_url}"
                ),
            )
        }
        BillingNotice::ResalePaused { supplier_name, product_name, wholesale } => (
            format!("「{product_name}」已暂停销售"),
            format!("{product_name} is paused on {shop_name}"),
            format!(
                "供应商「{supplier_name}」将「{product_name}」的批发价调整为 {wholesale}，已高于「{shop_name}」的售价，因此该商品在您的店铺暂停销售。调高售价后即自动恢复。\n{plan_url}"
            ),
            format!(
                "{supplier_name} raised the wholesale price of {product_name} to {wholesale}, above {shop_name}'s price, so the product is paused in your shop. Raise your price and it is on sale again.\n{plan_url}"
            ),
        ),
    };
    let sign = if lang == Some(Lang::En) { "— Kapu" } else { "— Kapu 卡铺" };
    OutgoingMail {
        to: to.into(),
        subject: subject_for(lang, subject_zh, subject_en),
        text: format!("{}\n\n{sign}\n", for_reader(lang, zh, en)),
        html: None,
        shop_name: None,
    }
}

/// Runs a `send_billing_notice` job.
pub async fn send_billing_notice(state: &PlatformState, mailer: &Mailer, job: &BillingNoticeJob) -> anyhow::Result<()> {
    let Some((to, lang)) = owner_contact_of(state.db.reader(), &job.tenant_id).await? else {
        tracing::warn!(tenant = %job.tenant_id, "billing notice for a shop without an owner; not sent");
        return Ok(());
    };
    let Some(shop) = find_tenant_by_id(state.db.reader(), &job.tenant_id).await? else { return Ok(()) };
    let page = match job.notice {
        BillingNotice::ResalePaused { .. } => "products",
        _ => "plan",
    };
    let plan_url = format!("{}/shops/{}/{page}", state.platform_origin(None), shop.slug);
    let lang = lang.as_deref().and_then(Lang::parse_choice);
    mailer.send(&compose(&to, lang, &shop.name, &plan_url, &job.notice)).await?;
    Ok(())
}
