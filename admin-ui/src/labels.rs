//! `code|label`: the words the dashboard shows for the codes Kapu stores
//! (statuses, roles, theme options), in the page's language. A raw code
//! never reaches the screen; one this table does not know is shown as it is
//! (and the dashboard's layout test lists codes that must not appear).

use minijinja::{State, Value};

/// `(code, 中文, English)`.
const LABELS: &[(&str, &str, &str)] = &[
    // payments
    ("pending", "待处理", "Pending"),
    ("succeeded", "已成功", "Succeeded"),
    ("failed", "失败", "Failed"),
    ("refunded", "已退款", "Refunded"),
    ("canceled", "已取消", "Canceled"),
    ("cancelled", "已取消", "Cancelled"),
    // jobs and imports
    ("queued", "排队中", "Queued"),
    ("running", "进行中", "Running"),
    ("done", "已完成", "Done"),
    ("dead", "已放弃", "Gave up"),
    ("interrupted", "已中断", "Interrupted"),
    // keys
    ("available", "可售", "Available"),
    ("reserved", "锁定", "Reserved"),
    ("sold", "已售", "Sold"),
    // webhook deliveries
    ("delivered", "已送达", "Delivered"),
    // subscriptions
    ("active", "生效中", "Active"),
    ("trialing", "试用中", "Trial"),
    ("past_due", "逾期未付", "Past due"),
    ("incomplete", "未完成", "Incomplete"),
    // members
    ("owner", "店主", "Owner"),
    ("staff", "店员", "Staff"),
    // shops
    ("test", "测试模式", "Test mode"),
    ("live", "已上线", "Live"),
    ("suspended", "已暂停", "Suspended"),
    ("closed", "已关闭", "Closed"),
    // theme options
    ("rounded", "圆角", "Rounded"),
    ("square", "直角", "Square"),
    ("true", "是", "Yes"),
    ("false", "否", "No"),
    // affiliates
    ("booked", "已入账", "Booked"),
    ("reversed", "已冲回", "Reversed"),
    ("refused", "不计佣金", "Not eligible"),
    ("requested", "待处理", "Requested"),
    ("paid", "已支付", "Paid"),
    ("rejected", "已拒绝", "Rejected"),
    ("blocked", "已停用", "Blocked"),
    ("self_referral", "本人购买", "Own purchase"),
    ("same_address", "与推广者同一网络", "From the affiliate's network"),
    ("window_passed", "超过归因期", "After the window"),
    ("programme_off", "推广计划关闭", "Programme off"),
    ("unknown_click", "点击无效", "Unknown click"),
    // audit log actions
    ("account.login", "登录", "Signed in"),
    ("affiliate.added", "添加推广者", "Affiliate added"),
    ("affiliate.blocked", "停用推广者", "Affiliate blocked"),
    ("affiliate.unblocked", "恢复推广者", "Affiliate unblocked"),
    ("affiliate.payout_paid", "推广提现已支付", "Affiliate payout paid"),
    ("affiliate.payout_rejected", "拒绝推广提现", "Affiliate payout rejected"),
    ("affiliate.product_rate", "设置商品佣金", "Product commission set"),
    ("affiliate.terms_saved", "保存推广计划", "Affiliate programme saved"),
    ("account.password_reset", "重置密码", "Password reset"),
    ("apikey.create", "创建 API 密钥", "API key created"),
    ("apikey.revoke", "吊销 API 密钥", "API key revoked"),
    ("billing.payment_failed", "套餐扣款失败", "Plan payment failed"),
    ("channel.save", "保存收款渠道", "Payment channel saved"),
    ("channel.source", "更改收款方式", "Payment source changed"),
    ("channel.test", "检测收款渠道", "Payment channel tested"),
    ("domain.add", "添加域名", "Domain added"),
    ("domain.remove", "移除域名", "Domain removed"),
    ("domain.verify", "验证域名", "Domain verified"),
    ("keys.delete_unsold", "删除未售卡密", "Unsold keys deleted"),
    ("keys.export", "导出卡密", "Keys exported"),
    ("order.fulfil", "人工发货", "Order fulfilled by hand"),
    ("order.mark_refunded", "标记已退款", "Marked refunded"),
    ("order.refund", "原路退款", "Refunded through the provider"),
    ("plan.cancel_requested", "申请取消订阅", "Cancellation requested"),
    ("plan.change", "更换套餐", "Plan changed"),
    ("plan.change_requested", "申请更换套餐", "Plan change requested"),
    ("plan.checkout", "开始订阅付款", "Subscription checkout started"),
    ("risk.add", "添加风控名单", "Risk list entry added"),
    ("shop.export", "导出店铺数据", "Shop data exported"),
    ("shop.mode", "切换上线/测试模式", "Live/test mode switched"),
    ("shop.preview_revoke", "作废预览链接", "Preview links revoked"),
    ("shop.test_visibility", "更改测试期可见范围", "Test-mode visibility changed"),
    ("supplier.connect", "接入外部货源", "External supplier docked"),
    ("supplier.product_added", "上架外部货源商品", "External supplier's product added"),
    ("supply.topup", "预付充值", "Prepaid balance topped up"),
    ("supply.settlement_recorded", "记录分销结算", "Supply settlement recorded"),
    ("supply.discount_set", "设置分销折扣", "Reseller discount set"),
    ("supply.channels_offered", "向分销商提供收款渠道", "Payment channels offered to a reseller"),
    ("supply.channels_withdrawn", "撤回提供的收款渠道", "Payment channels withdrawn from a reseller"),
    ("supply.invite_accepted", "接受分销邀请", "Reseller invitation accepted"),
    ("supply.invite_created", "创建分销邀请", "Reseller invitation created"),
    ("supply.listing_saved", "保存分销条款", "Resale terms saved"),
    ("supply.product_added", "上架货源商品", "Supplier's product added"),
    ("supply.reseller_paused", "暂停分销商", "Reseller paused"),
    ("supply.reseller_resumed", "恢复分销商", "Reseller resumed"),
    ("team.add", "添加成员", "Member added"),
    ("team.remove", "移除成员", "Member removed"),
    ("tenant.close", "平台关闭店铺", "Shop closed by the platform"),
    ("tenant.purge", "清除店铺数据", "Shop data purged"),
    ("tenant.resume", "平台恢复店铺", "Shop resumed by the platform"),
    ("tenant.suspend", "平台暂停店铺", "Shop suspended by the platform"),
    ("theme.update", "修改主题", "Theme changed"),
    ("webhook.create", "添加 Webhook", "Webhook added"),
    ("webhook.delete", "删除 Webhook", "Webhook deleted"),
    ("webhook.disable", "停用 Webhook", "Webhook turned off"),
    ("webhook.enable", "启用 Webhook", "Webhook turned on"),
];

/// The label of `code` in the page's language (`lang` is `en` or `zh`).
pub fn label(state: &State, code: Value) -> Value {
    let Some(c) = code.as_str() else { return code };
    let english = kapu_themes::english_page(state);
    match LABELS.iter().find(|(k, _, _)| *k == c) {
        Some((_, zh, en)) => Value::from(if english { *en } else { *zh }),
        None => code,
    }
}

/// Every code with a label (the layout test checks none shows raw).
pub fn codes() -> impl Iterator<Item = &'static str> {
    LABELS.iter().map(|(k, _, _)| *k)
}
