//! Plans: `GET/POST /ops/plans` (list, create) and `GET/POST /ops/plans/{id}`
//! (edit). A blank limit means unlimited. Changing a plan's limits applies to
//! every shop on it at once (their cached limits are dropped).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::money::{format_minor, parse_major};
use kapu_core::store::audit::record_audit;
use kapu_core::store::plans::{
    PlanInput, find_plan, insert_plan, list_plans as all_plans, tenants_on_plan, update_plan as save_plan,
};
use minijinja::context;

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::error::{PageError, PageResult};
use crate::ops::session::Operator;
use crate::ops::{FlashParam, OpsPage, ops_flash, render_ops};
use crate::page::{ser, with_status};
use crate::state::PlatformState;

#[derive(serde::Deserialize, serde::Serialize, Default, Clone)]
pub struct PlanForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    trial_days: String,
    #[serde(default)]
    max_products: String,
    #[serde(default)]
    max_keys_in_stock: String,
    #[serde(default)]
    max_orders_per_month: String,
    #[serde(default)]
    max_custom_domains: String,
    #[serde(default)]
    max_team_members: String,
    #[serde(default)]
    api_requests_per_minute: String,
    #[serde(default)]
    storefront_rps: String,
    #[serde(default)]
    fee_bps: String,
    #[serde(default)]
    stripe_price_id: String,
    #[serde(default)]
    is_default: Option<String>,
    #[serde(default)]
    archived: Option<String>,
}

impl PlanForm {
    fn from_model(p: &kapu_core::entities::plans::Model) -> Self {
        let opt = |v: Option<i32>| v.map(|n| n.to_string()).unwrap_or_default();
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            price: format_minor(p.price_minor, &p.currency),
            currency: p.currency.clone(),
            trial_days: p.trial_days.to_string(),
            max_products: opt(p.max_products),
            max_keys_in_stock: opt(p.max_keys_in_stock),
            max_orders_per_month: opt(p.max_orders_per_month),
            max_custom_domains: opt(p.max_custom_domains),
            max_team_members: opt(p.max_team_members),
            api_requests_per_minute: opt(p.api_requests_per_minute),
            storefront_rps: opt(p.storefront_rps),
            fee_bps: p.fee_bps.to_string(),
            stripe_price_id: p.stripe_price_id.clone().unwrap_or_default(),
            is_default: p.is_default.then(|| "on".into()),
            archived: p.archived.then(|| "on".into()),
        }
    }

    /// The plan, or every problem with the form (field, message).
    fn parse(&self) -> Result<PlanInput, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let id = self.id.trim().to_lowercase();
        if id.is_empty()
            || id.len() > 32
            || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            errors.push((
                "id",
                "代号须为 1–32 位小写字母、数字或 -。The id is 1–32 lowercase letters, digits or -.".into(),
            ));
        }
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 64 {
            errors.push(("name", "名称须为 1–64 个字符。The name is 1–64 characters.".into()));
        }
        let currency = self.currency.trim().to_uppercase();
        let currency = if currency.is_empty() { "CNY".to_string() } else { currency };
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(("currency", "币种须为 3 位字母代码。The currency is a 3-letter code.".into()));
        }
        let price_minor = match parse_major(self.price.trim(), &currency) {
            Some(p) if p >= 0 => p,
            _ => {
                errors.push(("price", "月费格式不对，例如 99.00。The monthly price looks like 99.00.".into()));
                0
            }
        };
        let mut number = |field: &'static str, text: &str, max: i64| -> Option<i32> {
            let t = text.trim();
            if t.is_empty() {
                return None;
            }
            match t.parse::<i64>() {
                Ok(n) if (0..=max).contains(&n) => Some(n as i32),
                _ => {
                    errors.push((
                        field,
                        format!("须为 0–{max} 的整数，留空表示不限。A whole number 0–{max}, or blank for unlimited."),
                    ));
                    None
                }
            }
        };
        let trial_days = number("trial_days", &self.trial_days, 365).unwrap_or(0);
        let max_products = number("max_products", &self.max_products, 1_000_000_000);
        let max_keys_in_stock = number("max_keys_in_stock", &self.max_keys_in_stock, 1_000_000_000);
        let max_orders_per_month = number("max_orders_per_month", &self.max_orders_per_month, 1_000_000_000);
        let max_custom_domains = number("max_custom_domains", &self.max_custom_domains, 1_000);
        let max_team_members = number("max_team_members", &self.max_team_members, 10_000);
        let api_requests_per_minute = number("api_requests_per_minute", &self.api_requests_per_minute, 1_000_000);
        let storefront_rps = number("storefront_rps", &self.storefront_rps, 1_000_000);
        let fee_bps = number("fee_bps", &self.fee_bps, 10_000).unwrap_or(0);
        let stripe_price_id = Some(self.stripe_price_id.trim().to_string()).filter(|s| !s.is_empty());
        if let Some(p) = &stripe_price_id
            && (!p.starts_with("price_") || p.len() > 255)
        {
            errors.push((
                "stripe_price_id",
                "Stripe Price 的 ID 以 price_ 开头。A Stripe Price id starts with price_.".into(),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(PlanInput {
            id,
            name,
            price_minor,
            currency,
            trial_days,
            max_products,
            max_keys_in_stock,
            max_orders_per_month,
            max_custom_domains,
            max_team_members,
            api_requests_per_minute,
            storefront_rps,
            fee_bps,
            stripe_price_id,
            is_default: self.is_default.is_some(),
            archived: self.archived.is_some(),
        })
    }
}

fn errors_map(errors: &[(&'static str, String)]) -> minijinja::Value {
    minijinja::Value::from_pairs(errors.iter().map(|(k, v)| (*k, v.clone())))
}

pub async fn list_plans(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<FlashParam>,
) -> PageResult<Response> {
    list_page(&state, &op, &csrf, ops_flash(q.m.as_deref()), &PlanForm::default(), &[]).await
}

async fn list_page(
    state: &PlatformState,
    op: &Operator,
    csrf: &str,
    flash: Option<crate::page::Flash>,
    form: &PlanForm,
    errors: &[(&'static str, String)],
) -> PageResult<Response> {
    let plans = all_plans(state.db.reader()).await?;
    let rows: Vec<_> = plans
        .iter()
        .map(|p| context! { p => ser(p), price => format!("{} {}", format_minor(p.price_minor, &p.currency), p.currency) })
        .collect();
    let layout = OpsPage { operator: Some(op), csrf, nav: "plans", flash, title: "套餐 Plans" };
    render_ops("ops_plans.html", layout, context! { form => ser(form), errors => errors_map(errors), plans => rows })
}

pub async fn create_plan(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(f): VerifiedForm<PlanForm>,
) -> PageResult<Response> {
    let input = match f.parse() {
        Ok(p) => p,
        Err(errors) => {
            return Ok(with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                list_page(&state, &op, &csrf, None, &f, &errors).await?,
            ));
        }
    };
    let txn = state.db.begin().await?;
    match insert_plan(&txn, &input).await {
        Ok(()) => {}
        Err(e) if kapu_core::db::is_unique_violation(&e) => {
            let errors = [("id", "这个代号已被使用。That id is taken.".to_string())];
            return Ok(with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                list_page(&state, &op, &csrf, None, &f, &errors).await?,
            ));
        }
        Err(e) => return Err(e.into()),
    }
    record_audit(&txn, &op.actor(), None, "plan.create", &input.id, &describe(&input)).await?;
    txn.commit().await?;
    Ok(Redirect::to("/ops/plans?m=saved").into_response())
}

fn describe(p: &PlanInput) -> String {
    let l = |v: Option<i32>| v.map(|n| n.to_string()).unwrap_or_else(|| "∞".into());
    format!(
        "{} {} {}/month, trial {} d, products {}, keys {}, orders/month {}, domains {}, team {}, api/min {}, rps {}, fee {} bps{}{}",
        p.name,
        format_minor(p.price_minor, &p.currency),
        p.currency,
        p.trial_days,
        l(p.max_products),
        l(p.max_keys_in_stock),
        l(p.max_orders_per_month),
        l(p.max_custom_domains),
        l(p.max_team_members),
        l(p.api_requests_per_minute),
        l(p.storefront_rps),
        p.fee_bps,
        if p.is_default { ", default" } else { "" },
        if p.archived { ", archived" } else { "" },
    )
}

pub async fn edit_plan(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let plan = find_plan(state.db.reader(), &id).await?.ok_or(PageError::NotFound)?;
    edit_page(&op, &csrf, &PlanForm::from_model(&plan), &[])
}

fn edit_page(op: &Operator, csrf: &str, form: &PlanForm, errors: &[(&'static str, String)]) -> PageResult<Response> {
    let title = format!("套餐 Plan {}", form.id);
    let layout = OpsPage { operator: Some(op), csrf, nav: "plans", flash: None, title: &title };
    render_ops("ops_plan.html", layout, context! { form => ser(form), errors => errors_map(errors) })
}

pub async fn update_plan(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    VerifiedForm(mut f): VerifiedForm<PlanForm>,
) -> PageResult<Response> {
    f.id = id.clone();
    let input = match f.parse() {
        Ok(p) => p,
        Err(errors) => return Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, edit_page(&op, &csrf, &f, &errors)?)),
    };
    let txn = state.db.begin().await?;
    if !save_plan(&txn, &input).await? {
        return Err(PageError::NotFound);
    }
    record_audit(&txn, &op.actor(), None, "plan.update", &input.id, &describe(&input)).await?;
    txn.commit().await?;
    for tenant in tenants_on_plan(state.db.reader(), &id).await? {
        state.bus.shop_changed(&tenant);
    }
    Ok(Redirect::to("/ops/plans?m=saved").into_response())
}
