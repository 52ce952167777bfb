//! Orders: the searchable list, CSV export, one order's page and its actions.

pub mod actions;
pub mod detail;
pub mod export;
pub mod list;
pub mod refund;

use kapu_core::store::orders::status;

/// A status as the dashboard names it.
pub fn status_label(s: &str) -> &'static str {
    crate::language::bi(match s {
        status::PENDING => "待支付 Pending",
        status::PAID => "待发货 To fulfil",
        status::DELIVERED => "已发货 Delivered",
        status::NEEDS_ATTENTION => "需处理 Needs attention",
        status::EXPIRED => "已过期 Expired",
        status::REFUNDED => "已退款 Refunded",
        _ => "未知 Unknown",
    })
}

/// UTC time as the dashboard shows it.
pub fn when(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}
