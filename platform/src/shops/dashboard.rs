//! `GET /shops/{slug}`: the dashboard home — launch checklist, sales
//! figures (today, 7 and 30 days), a 30-day revenue chart, top products and
//! low-stock alerts.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::Utc;
use kapu_core::money::format_minor;
use kapu_core::store::catalog_admin::{key_counts_by_product_for_tenant, list_all_products_for_tenant};
use kapu_core::store::channels::list_enabled_channels_for_tenant;
use kapu_core::store::dashboard::{PeriodFigures, sales_summary_for_tenant};
use kapu_core::store::shop_settings::count_orders_to_fulfil_for_tenant;
use minijinja::{Value, context};

use crate::auth::csrf::CsrfToken;
use crate::auth::shop_access::ShopAccess;
use crate::error::PageResult;
use crate::page::{Layout, flash_for, render};
use crate::shops::list::FlashQuery;
use crate::state::PlatformState;

pub async fn dashboard(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<FlashQuery>,
) -> PageResult<Response> {
    let tenant_id = access.tenant_id();
    let currency = access.shop.currency.clone();
    let r = state.db.reader();
    let (summary, products, counts, channels, to_fulfil, look) = tokio::try_join!(
        sales_summary_for_tenant(r, tenant_id, &currency, Utc::now()),
        list_all_products_for_tenant(r, tenant_id),
        key_counts_by_product_for_tenant(r, tenant_id),
        list_enabled_channels_for_tenant(r, tenant_id),
        count_orders_to_fulfil_for_tenant(r, tenant_id),
        kapu_core::store::shop_themes::find_look_for_tenant(r, tenant_id),
    )?;
    let money = |m: i64| format!("{} {}", format_minor(m, &currency), currency);
    let period = |label: &str, f: &PeriodFigures| {
        context! {
            label, revenue => money(f.revenue_minor), paid => f.paid_orders, created => f.created_orders,
            conversion => format!("{}.{}%", f.conversion_permille / 10, f.conversion_permille % 10),
        }
    };
    let periods = vec![
        period("今天 Today", &summary.today),
        period("近 7 天 Last 7 days", &summary.days7),
        period("近 30 天 Last 30 days", &summary.days30),
    ];
    let top_products: Vec<Value> = summary
        .top_products
        .iter()
        .map(|t| context! { name => t.name.clone(), units => t.units, revenue => money(t.revenue_minor) })
        .collect();
    let low_stock: Vec<Value> = products
        .iter()
        .filter(|p| p.kind == "auto_key")
        .filter_map(|p| {
            let available = counts.get(&p.id).map(|c| c.available).unwrap_or(0);
            (available <= p.low_stock_threshold.max(0) as u64)
                .then(|| context! { id => p.id.clone(), name => p.name.clone(), available, threshold => p.low_stock_threshold })
        })
        .collect();
    let has_product = !products.is_empty();
    let has_keys = counts.values().any(|c| c.available + c.reserved + c.sold > 0);
    let real_channels = channels.iter().filter(|c| c.channel != "sandbox").count();
    let live = access.shop.mode == "live";
    let slug = &access.shop.slug;
    let checklist = vec![
        item("添加商品 Add a product", has_product, Some(format!("/shops/{slug}/products/new")), None),
        item("导入卡密 Import keys", has_keys, Some(format!("/shops/{slug}/products")), None),
        item(
            "接入真实收款渠道 Connect a real payment channel",
            real_channels > 0,
            Some(format!("/shops/{slug}/channels")),
            Some("支付宝、微信支付、Stripe（银行卡）、易支付、USDT。Alipay, WeChat Pay, Stripe (cards), epay, USDT."),
        ),
        item(
            "选择主题 Choose a theme",
            look.is_some(),
            Some(format!("/shops/{slug}/theme")),
            Some("经典或网格主题，可调颜色与样式。Classic or grid, with your colours and style."),
        ),
        item("上线 Go live", live, Some(format!("/shops/{slug}/settings")), None),
    ];
    let channels_note = if real_channels == 0 {
        "当前仅启用沙箱测试通道（测试模式）。Only the sandbox test channel is enabled.".to_string()
    } else {
        format!(
            "已启用 {real_channels} 个真实渠道。{real_channels} real {} enabled.",
            crate::language::plural(real_channels as u64, "channel", "channels")
        )
    };
    let mut channel_health: Vec<Value> = Vec::new();
    for c in channels.iter().filter(|c| c.channel != "sandbox") {
        let h = state.health.view(tenant_id, &c.channel).await;
        channel_health.push(context! { label => kapu_billing::forms::label_of(&c.channel), state => h.state.as_str(),
        success_rate => h.success_rate.map(|r| format!("{:.1}%", r * 100.0)), median_ms => h.median_latency_ms });
    }
    let test_orders = (summary.test_30d.paid_orders > 0)
        .then(|| context! { paid => summary.test_30d.paid_orders, amount => money(summary.test_30d.amount_minor) });
    let page = context! {
        to_fulfil, test_orders,
        periods, top_products, low_stock, checklist, channels_note, channel_health,
        chart_svg => Value::from_safe_string(revenue_chart(&summary.daily, &currency)),
        has_sales => summary.days30.paid_orders > 0,
    };
    let layout = Layout {
        account: None,
        csrf: &csrf,
        shop: Some(&access),
        nav: "home",
        flash: flash_for(q.m.as_deref()),
        title: "概览 Overview",
    };
    render("dashboard.html", layout, page)
}

fn item(label: &str, done: bool, href: Option<String>, note: Option<&str>) -> Value {
    context! { label, done, href, note }
}

/// A bar chart of daily revenue as inline SVG. Only numbers and dates go in,
/// so nothing in it needs escaping.
pub fn revenue_chart(daily: &[(chrono::NaiveDate, i64)], currency: &str) -> String {
    let (w, h, pad) = (900.0_f64, 160.0_f64, 30.0_f64);
    let best = daily.iter().map(|d| d.1).max().unwrap_or(0);
    let max = best.max(1) as f64;
    let n = daily.len().max(1) as f64;
    let slot = (w - pad) / n;
    let mut svg = format!(
        "<svg class=\"chart\" id=\"revenue-chart\" viewBox=\"0 0 {w} {}\" role=\"img\" aria-label=\"daily revenue\">",
        h + 16.0
    );
    for (i, (day, amount)) in daily.iter().enumerate() {
        let bh = (*amount as f64 / max) * (h - pad);
        let x = pad + i as f64 * slot;
        let y = h - bh;
        svg.push_str(&format!(
            "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\"><title>{day}: {} {currency_safe}</title></rect>",
            (slot - 2.0).max(1.0),
            format_minor(*amount, currency),
            currency_safe = currency.chars().filter(char::is_ascii_alphabetic).collect::<String>(),
        ));
        if i % 7 == 0 {
            svg.push_str(&format!("<text x=\"{x:.1}\" y=\"{}\">{}</text>", h + 12.0, day.format("%m-%d")));
        }
    }
    if best > 0 {
        svg.push_str(&format!("<text x=\"0\" y=\"10\">{}</text>", format_minor(best, currency)));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::revenue_chart;

    #[test]
    fn chart_scales_bars_to_the_best_day() {
        let d = |n| NaiveDate::from_ymd_opt(2026, 11, n).expect("date");
        let svg = revenue_chart(&[(d(1), 0), (d(2), 500), (d(3), 1000)], "CNY");
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("height=\"130.0\""), "the best day fills the chart: {svg}");
        assert!(svg.contains("height=\"65.0\""));
        assert!(svg.contains("2026-11-03: 10.00 CNY"));
    }
}
