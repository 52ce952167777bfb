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
];

/// The label of `code` in the page's language (`lang` is `en` or `zh`).
pub fn label(state: &State, code: Value) -> Value {
    let Some(c) = code.as_str() else { return code };
    let english = state.lookup("lang").and_then(|l| l.as_str().map(|s| s.starts_with("en"))).unwrap_or(false);
    match LABELS.iter().find(|(k, _, _)| *k == c) {
        Some((_, zh, en)) => Value::from(if english { *en } else { *zh }),
        None => code,
    }
}

/// Every code with a label (the layout test checks none shows raw).
pub fn codes() -> impl Iterator<Item = &'static str> {
    LABELS.iter().map(|(k, _, _)| *k)
}
