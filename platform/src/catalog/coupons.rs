//! Coupons: `GET/POST /shops/{slug}/coupons`, `POST …/coupons/{id}/toggle`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use kapu_core::db::is_unique_violation;
use kapu_core::money::{format_minor, parse_major};
use kapu_core::store::catalog_admin::{find_product_for_tenant, list_all_products_for_tenant};
use kapu_core::store::coupons::{
    NewCoupon, create_coupon_for_tenant, list_coupons_for_tenant, normalize_code, set_coupon_active_for_tenant,
};
use minijinja::{Value, context};

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::shop_access::ShopAccess;
use crate::error::{PageError, PageResult};
use crate::page::{Layout, flash_for, render, ser, with_status};
use crate::state::PlatformState;

#[derive(serde::Deserialize, serde::Serialize, Default)]
pub struct CouponForm {
    #[serde(default)]
    pub(crate) code: String,
    #[serde(default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) value: String,
    #[serde(default)]
    pub(crate) product_id: String,
    #[serde(default)]
    pub(crate) usage_limit: String,
    #[serde(default)]
    pub(crate) expires_on: String,
}

async fn page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    form: &CouponForm,
    errors: &[String],
    flash: Option<&str>,
) -> PageResult<Response> {
    let tenant = access.tenant_id();
    let products = list_all_products_for_tenant(state.db.reader(), tenant).await?;
    let name_of = |id: &str| products.iter().find(|p| p.id == id).map(|p| p.name.clone());
    let currency = &access.shop.currency;
    let coupons: Vec<Value> = list_coupons_for_tenant(state.db.reader(), tenant)
        .await?
        .into_iter()
        .map(|c| {
            let discount = if c.kind == "percent" {
                format!("{}% off", c.value)
            } else {
                format!("−{} {currency}", format_minor(c.value, currency))
            };
            context! {
                id => c.id, code => c.code, discount, product => c.product_id.as_deref().and_then(name_of),
                used => c.used_count, limit => c.usage_limit, active => c.active,
                expires_at => c.expires_at.map(|t| t.format("%Y-%m-%d %H:%M").to_string()),
            }
        })
        .collect();
    let products: Vec<Value> =
        products.iter().map(|p| context! { id => p.id.clone(), name => p.name.clone() }).collect();
    let layout = Layout {
        account: None,
        csrf,
        shop: Some(access),
        nav: "coupons",
        flash: flash_for(flash),
        title: "优惠券 Coupons",
    };
    let resp =
        render("coupons.html", layout, context! { coupons, products, form => ser(form), errors => ser(errors) })?;
    Ok(if errors.is_empty() { resp } else { with_status(StatusCode::UNPROCESSABLE_ENTITY, resp) })
}

pub async fn list_coupons(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    axum::extract::Query(q): axum::extract::Query<crate::shops::list::FlashQuery>,
) -> PageResult<Response> {
    let form = CouponForm { kind: "percent".into(), ..CouponForm::default() };
    page(&state, &access, &csrf, &form, &[], q.m.as_deref()).await
}

pub async fn create_coupon(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(f): VerifiedForm<CouponForm>,
) -> PageResult<Response> {
    let new = match check_coupon_form(&state, access.tenant_id(), &access.shop.currency, &f).await? {
        Ok(new) => new,
        Err(errors) => return page(&state, &access, &csrf, &f, &errors, None).await,
    };
    match create_coupon_for_tenant(state.db.writer(), access.tenant_id(), &new).await {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            let msg = "这个优惠码已存在。This code already exists.".to_string();
            let r = page(&state, &access, &csrf, &f, &[msg], None).await?;
            return Ok(with_status(StatusCode::CONFLICT, r));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to(&format!("/shops/{}/coupons?m=saved", access.shop.slug)).into_response())
}

pub async fn toggle_coupon(
    State(state): State<PlatformState>,
    access: ShopAccess,
    Path((_, coupon_id)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    let tenant = access.tenant_id();
    let current = list_coupons_for_tenant(state.db.reader(), tenant)
        .await?
        .into_iter()
        .find(|c| c.id == coupon_id)
        .ok_or(PageError::NotFound)?;
    set_coupon_active_for_tenant(state.db.writer(), tenant, &coupon_id, !current.active).await?;
    Ok(Redirect::to(&format!("/shops/{}/coupons?m=saved", access.shop.slug)).into_response())
}

/// Checks a coupon as typed (dashboard form or API); every problem is named.
pub(crate) async fn check_coupon_form(
    state: &PlatformState,
    tenant_id: &str,
    currency: &str,
    f: &CouponForm,
) -> PageResult<Result<NewCoupon, Vec<String>>> {
    let mut errors = Vec::new();
    let code = normalize_code(&f.code);
    if !(3..=32).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        errors.push("优惠码需 3–32 位字母、数字、- 或 _。The code must be 3–32 letters, digits, - or _.".to_string());
    }
    let currency = currency.to_string();
    let (kind, value) = match f.kind.as_str() {
        "percent" => ("percent", f.value.trim().parse::<i64>().ok().filter(|v| (1..=99).contains(v))),
        "fixed" => ("fixed", parse_major(f.value.trim(), &currency).filter(|v| *v > 0)),
        _ => ("percent", None),
    };
    if value.is_none() {
        errors.push(if kind == "percent" {
            "百分比需为 1–99 的整数。Percent off must be a whole number from 1 to 99.".to_string()
        } else {
            format!("金额格式不对，例如 5.00。The amount must be a number like 5.00 ({currency}).")
        });
    }
    let product_id = Some(f.product_id.trim().to_string()).filter(|p| !p.is_empty());
    if let Some(p) = &product_id
        && find_product_for_tenant(state.db.reader(), tenant_id, p).await?.is_none()
    {
        errors.push("所选商品不存在。The chosen product does not exist.".into());
    }
    let usage_limit = match f.usage_limit.trim() {
        "" => None,
        s => match s.parse::<i32>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                errors.push("使用次数上限需为正整数。The usage limit must be a positive whole number.".into());
                None
            }
        },
    };
    let expires_at = match f.expires_on.trim() {
        "" => None,
        s => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            // Valid through the whole day.
            Ok(d) => d.succ_opt().and_then(|n| n.and_hms_opt(0, 0, 0)).map(|t| t.and_utc()),
            Err(_) => {
                errors.push("日期格式应为 YYYY-MM-DD。Dates must look like 2026-12-31.".into());
                None
            }
        },
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    Ok(Ok(NewCoupon { code, kind, value: value.unwrap_or(0), product_id, usage_limit, expires_at }))
}
