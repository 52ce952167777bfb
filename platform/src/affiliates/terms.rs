//! The programme's terms (`POST /shops/{slug}/affiliates/terms`) and a
//! product's own rate (`POST …/affiliates/rates`), owner only. Each field
//! is checked and named when wrong; nothing is saved then.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::store::affiliates::{self as store, ProgramTerms};
use kapu_core::store::catalog_admin::list_all_products_for_tenant;

use super::page::page;
use crate::audit::shop_action;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::OwnerAccess;
use crate::error::PageResult;

#[derive(Debug, Default, serde::Deserialize)]
pub struct TermsForm {
    enabled: Option<String>,
    open_signup: Option<String>,
    #[serde(default)]
    rate: String,
    #[serde(default)]
    holding_days: String,
    #[serde(default)]
    window_days: String,
    #[serde(default)]
    clicks_per_address: String,
    #[serde(default)]
    min_payout: String,
}

/// A percentage between 0 and 90 with at most two decimals, as basis points.
pub fn parse_rate(text: &str) -> Option<i32> {
    let t = text.trim().trim_end_matches('%').trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty()
        || whole.len() > 2
        || frac.len() > 2
        || !(whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let bps = whole.parse::<i32>().ok()? * 100 + format!("{frac:0<2}").parse::<i32>().ok()?;
    (bps <= 9000).then_some(bps)
}

const RATE_PROBLEM: &str =
    "佣金比例须为 0–90 之间的百分数（最多两位小数）Commission must be a percentage from 0 to 90 (two decimals at most)";

fn whole_in(text: &str, lo: i32, hi: i32) -> Option<i32> {
    text.trim().parse::<i32>().ok().filter(|n| (lo..=hi).contains(n))
}

pub async fn save_terms(
    State(state): State<crate::state::PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(form): VerifiedForm<TermsForm>,
) -> PageResult<Response> {
    let currency = &access.shop.currency;
    let mut errors = Vec::new();
    let rate = parse_rate(&form.rate);
    if rate.is_none() {
        errors.push(RATE_PROBLEM.to_string());
    }
    let holding = whole_in(&form.holding_days, 0, 365);
    if holding.is_none() {
        errors.push("结算期须为 0–365 天 The holding period must be 0 to 365 days".to_string());
    }
    let window = whole_in(&form.window_days, 1, 365);
    if window.is_none() {
        errors.push("归因期须为 1–365 天 The attribution window must be 1 to 365 days".to_string());
    }
    let clicks = whole_in(&form.clicks_per_address, 1, 10_000);
    if clicks.is_none() {
        errors
            .push("每个地址每天计入的点击须为 1–10000 Clicks counted per address a day must be 1 to 10000".to_string());
    }
    let min_payout = if form.min_payout.trim().is_empty() {
        Some(0)
    } else {
        kapu_core::money::parse_major(&form.min_payout, currency).filter(|m| *m >= 0)
    };
    if min_payout.is_none() {
        errors.push("最低提现金额格式不正确 The minimum payout is not a valid amount".to_string());
    }
    let (Some(commission_bps), Some(holding_days), Some(window_days), Some(clicks_per_address), Some(min_payout_minor)) =
        (rate, holding, window, clicks, min_payout)
    else {
        return page(&state, &access, &csrf, &errors, None).await;
    };
    let terms = ProgramTerms {
        enabled: form.enabled.is_some(),
        open_signup: form.open_signup.is_some(),
        commission_bps,
        holding_days,
        window_days,
        clicks_per_address,
        min_payout_minor,
    };
    store::save_program_for_tenant(state.db.writer(), access.tenant_id(), &terms, Utc::now()).await?;
    // The storefront links to the affiliates' page while the programme runs.
    state.bus.shop_changed(access.tenant_id());
    let detail = format!(
        "enabled={} open_signup={} rate={}% holding={}d window={}d clicks/address={} min_payout={}",
        terms.enabled,
        terms.open_signup,
        store::percent(commission_bps),
        holding_days,
        window_days,
        clicks_per_address,
        kapu_core::money::format_minor(min_payout_minor, currency)
    );
    shop_action(&state, &access, ip, "affiliate.terms_saved", access.tenant_id(), &detail).await?;
    Ok(Redirect::to(&format!("/shops/{}/affiliates?m=saved", access.shop.slug)).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct RateForm {
    #[serde(default)]
    product_id: String,
    /// Empty: the product goes back to the programme's rate.
    #[serde(default)]
    rate: String,
}

pub async fn save_product_rate(
    State(state): State<crate::state::PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(form): VerifiedForm<RateForm>,
) -> PageResult<Response> {
    let products = list_all_products_for_tenant(state.db.reader(), access.tenant_id()).await?;
    let Some(product) = products.iter().find(|p| p.id == form.product_id) else {
        let e = "请选择本店的商品 Pick one of this shop's products".to_string();
        return page(&state, &access, &csrf, &[e], None).await;
    };
    let bps = if form.rate.trim().is_empty() {
        None
    } else {
        match parse_rate(&form.rate) {
            Some(b) => Some(b),
            None => {
                let e = RATE_PROBLEM.to_string();
                return page(&state, &access, &csrf, &[e], None).await;
            }
        }
    };
    store::set_product_rate_for_tenant(state.db.writer(), access.tenant_id(), &product.id, bps).await?;
    let detail = bps.map_or_else(|| "programme rate".to_string(), |b| format!("{}%", store::percent(b)));
    shop_action(&state, &access, ip, "affiliate.product_rate", &product.id, &detail).await?;
    Ok(Redirect::to(&format!("/shops/{}/affiliates?m=saved", access.shop.slug)).into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates_are_percentages_up_to_ninety_with_two_decimals() {
        assert_eq!(parse_rate("10"), Some(1000));
        assert_eq!(parse_rate("12.5%"), Some(1250));
        assert_eq!(parse_rate(" 0.05 "), Some(5));
        assert_eq!(parse_rate("90"), Some(9000));
        assert_eq!(parse_rate("90.01"), None);
        assert_eq!(parse_rate("1.234"), None);
        assert_eq!(parse_rate("-1"), None);
        assert_eq!(parse_rate("ten"), None);
        assert_eq!(parse_rate(""), None);
    }
}
