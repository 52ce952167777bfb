//! Create, edit and delete a product:
//! `GET/POST /shops/{slug}/products/new`, `GET/POST …/products/{id}`,
//! `POST …/products/{id}/delete`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::money::{format_minor, parse_major};
use kapu_core::pricing::{Tier, parse_tiers};
use kapu_core::store::catalog_admin::{
    DeleteProduct, ProductFields, category_exists_for_tenant, create_product_for_tenant, delete_product_for_tenant,
    find_product_for_tenant, settle_slug_for_tenant, update_product_for_tenant,
};
use kapu_core::store::manual_delivery::{InputField, parse_input_fields};
use kapu_core::store::plan_limits::{Limit, check_limit};
use kapu_core::store::products::list_categories_for_tenant;
use minijinja::{Value, context};

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::shop_access::ShopAccess;
use crate::error::{PageError, PageResult};
use crate::page::{Flash, Layout, render, with_status};
use crate::state::PlatformState;

/// The form as typed (strings, so a bad value can be shown back as it was).
#[derive(serde::Deserialize, serde::Serialize, Default, Clone)]
pub struct ProductForm {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) category_id: String,
    #[serde(default)]
    pub(crate) price: String,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) tiers: String,
    #[serde(default)]
    pub(crate) min_qty: String,
    #[serde(default)]
    pub(crate) max_qty: String,
    #[serde(default)]
    pub(crate) sort_order: String,
    #[serde(default)]
    pub(crate) low_stock_threshold: String,
    #[serde(default)]
    pub(crate) visible: Option<String>,
    /// `auto_key` or `manual`.
    #[serde(default)]
    pub(crate) kind: String,
    /// Manual products: one field per line, `label | required | pattern`.
    #[serde(default)]
    pub(crate) fields: String,
    /// The readable address (`/products/{slug}`); blank: made from the name.
    #[serde(default)]
    pub(crate) slug: String,
}

impl ProductForm {
    pub(crate) fn blank() -> Self {
        Self {
            min_qty: "1".into(),
            max_qty: "100".into(),
            sort_order: "0".into(),
            low_stock_threshold: "5".into(),
            visible: Some("1".into()),
            kind: "auto_key".into(),
            ..Self::default()
        }
    }

    pub(crate) fn from_model(p: &kapu_core::entities::products::Model) -> Self {
        let tiers = parse_tiers(p.wholesale_tiers.as_deref())
            .iter()
            .map(|t| format!("{}={}", t.min_qty, format_minor(t.unit_price_minor, &p.currency)))
            .collect::<Vec<_>>()
            .join("\n");
        Self {
            name: p.name.clone(),
            slug: p.slug.clone().unwrap_or_default(),
            category_id: p.category_id.clone().unwrap_or_default(),
            price: format_minor(p.price_minor, &p.currency),
            description: p.description.clone(),
            tiers,
            min_qty: p.min_qty.to_string(),
            max_qty: p.max_qty.to_string(),
            sort_order: p.sort_order.to_string(),
            low_stock_threshold: p.low_stock_threshold.to_string(),
            visible: p.visible.then(|| "1".into()),
            kind: p.kind.clone(),
            fields: parse_input_fields(p.input_fields.as_deref())
                .iter()
                .map(|f| {
                    let flag = if f.required { "required" } else { "optional" };
                    match &f.pattern {
                        Some(pat) => format!("{} | {flag} | {pat}", f.label),
                        None => format!("{} | {flag}", f.label),
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// Checks every field; returns the fields or every problem found.
    pub(crate) fn parse(&self, currency: &str) -> Result<ProductFields, Vec<String>> {
        let mut errors = Vec::new();
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push("商品名称需 1–200 个字符。The name must be 1–200 characters.".to_string());
        }
        let price = parse_major(self.price.trim(), currency);
        match price {
            None => errors.push(format!("价格格式不对，例如 9.90。The price must be a number like 9.90 ({currency}).")),
            Some(0) => errors.push("价格必须大于 0。The price must be above 0.".into()),
            Some(p) if p > 100_000_000 => errors.push("价格过高。The price is too high.".into()),
            _ => {}
        }
        let int = |s: &str, lo: i32, hi: i32, what: &str, errors: &mut Vec<String>| match s.trim().parse::<i32>() {
            Ok(v) if (lo..=hi).contains(&v) => v,
            _ => {
                let (zh, en) = what.split_once(' ').unwrap_or((what, what));
                errors.push(format!("{zh}需为 {lo}–{hi} 的整数。{en} must be a whole number from {lo} to {hi}."));
                lo
            }
        };
        let min_qty = int(&self.min_qty, 1, 10_000, "每单最少 Min per order", &mut errors);
        let max_qty = int(&self.max_qty, 1, 10_000, "每单最多 Max per order", &mut errors);
        if min_qty > max_qty {
            errors.push("每单最少不能大于每单最多。Min per order cannot exceed max per order.".into());
        }
        let sort_order = int(&self.sort_order, -1000, 1000, "排序 Sort", &mut errors);
        let low = int(&self.low_stock_threshold, 0, 1_000_000, "库存预警线 Low-stock threshold", &mut errors);
        if self.description.chars().count() > 20_000 {
            errors.push("描述最多 20000 个字符。The description may have at most 20,000 characters.".into());
        }
        let tiers = parse_tier_lines(&self.tiers, currency, price.unwrap_or(0)).unwrap_or_else(|e| {
            errors.extend(e);
            Vec::new()
        });
        let kind = match self.kind.as_str() {
            "" | "auto_key" => "auto_key",
            "manual" => "manual",
            // Kept only for a product that already is one (see `update_product`).
            "external" => "auto_key",
            _ => {
                errors.push("未知的商品类型。Unknown product kind.".into());
                "auto_key"
            }
        };
        let fields = parse_field_lines(&self.fields).unwrap_or_else(|e| {
            errors.push(e);
            Vec::new()
        });
        let slug = match self.slug.trim().to_lowercase() {
            s if s.is_empty() => None,
            s => {
                if let Err(e) = kapu_core::store::catalog_admin::check_product_slug(&s) {
                    errors.push(e.to_string());
                }
                Some(s)
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ProductFields {
            slug,
            kind,
            input_fields: (kind == "manual" && !fields.is_empty())
                .then(|| serde_json::to_string(&fields).unwrap_or_default()),
            category_id: Some(self.category_id.trim().to_string()).filter(|c| !c.is_empty()),
            name,
            description: self.description.replace("\r\n", "\n").trim().to_string(),
            price_minor: price.unwrap_or(0),
            wholesale_tiers: (!tiers.is_empty()).then(|| serde_json::to_string(&tiers).unwrap_or_default()),
            min_qty,
            max_qty,
            visible: self.visible.is_some(),
            sort_order,
            low_stock_threshold: low,
        })
    }
}

/// Parses `label | required | pattern` lines into buyer input fields (at most 10).
pub fn parse_field_lines(text: &str) -> Result<Vec<InputField>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty()) {
        let mut parts = line.splitn(3, '|').map(str::trim);
        let label = parts.next().unwrap_or("").to_string();
        if label.is_empty() || label.chars().count() > 50 {
            return Err(format!(
                "填写项第 {i} 行：名称需 1–50 个字符。Field line {i}: the label must be 1–50 characters."
            ));
        }
        let required = match parts.next().unwrap_or("").to_lowercase().as_str() {
            "" | "optional" | "选填" | "no" => false,
            "required" | "必填" | "yes" | "*" => true,
            _ => {
                return Err(format!(
                    "填写项第 {i} 行：第二项应为 required 或 optional。Field line {i}: the second part must be required or optional."
                ));
            }
        };
        let pattern = parts.next().filter(|p| !p.is_empty()).map(str::to_string);
        if let Some(p) = &pattern {
            use kapu_core::buyer_patterns::{MAX_PATTERN_LEN, PatternError, check};
            match check(p) {
                Ok(_) => {}
                Err(PatternError::TooLong) => {
                    return Err(format!(
                        "填写项第 {i} 行：正则表达式最长 {MAX_PATTERN_LEN} 个字符。Field line {i}: a pattern can be at most {MAX_PATTERN_LEN} characters."
                    ));
                }
                Err(PatternError::Invalid) => {
                    return Err(format!(
                        "填写项第 {i} 行：正则表达式无效或过于复杂。Field line {i}: the pattern is not a valid regular expression, or is too complex."
                    ));
                }
            }
        }
        out.push(InputField { label, required, pattern });
    }
    if out.len() > 10 {
        return Err("最多 10 个填写项。At most 10 fields.".into());
    }
    Ok(out)
}

/// Parses `qty=price` lines into tiers; each tier must be cheaper than the
/// base price and than the tier before. Every bad line is reported, in order.
pub fn parse_tier_lines(text: &str, currency: &str, base_minor: i64) -> Result<Vec<Tier>, Vec<String>> {
    let mut tiers: Vec<Tier> = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty()) {
        let parsed = line.split_once('=').and_then(|(q, p)| {
            let min_qty: i64 = q.trim().parse().ok()?;
            Some((min_qty, parse_major(p.trim(), currency)?))
        });
        let Some((min_qty, unit)) = parsed else {
            errors.push(format!(
                "批发价第 {i} 行「{line}」应为「数量=单价」，例如 10=8.50。Wholesale line {i} (“{line}”) must look like 10=8.50."
            ));
            continue;
        };
        if min_qty < 2 {
            errors.push(format!("批发价第 {i} 行：数量至少为 2。Wholesale line {i}: the quantity must be at least 2."));
            continue;
        }
        if unit == 0 || unit >= base_minor {
            errors.push(format!(
                "批发价第 {i} 行：单价需大于 0 且低于原价。Wholesale line {i}: the unit price must be above 0 and below the base price."
            ));
            continue;
        }
        tiers.push(Tier { min_qty, unit_price_minor: unit });
    }
    tiers.sort_by_key(|t| t.min_qty);
    for w in tiers.windows(2) {
        if w[0].min_qty == w[1].min_qty {
            errors.push(format!(
                "批发价的数量 {} 重复。Two wholesale tiers have the same quantity ({}).",
                w[0].min_qty, w[0].min_qty
            ));
        } else if w[1].unit_price_minor >= w[0].unit_price_minor {
            errors.push(format!(
                "买得越多单价应越低：{} 件的单价不低于 {} 件的。A larger quantity must have a lower unit price: {} costs no less than {}.",
                w[1].min_qty, w[0].min_qty, w[1].min_qty, w[0].min_qty
            ));
        }
    }
    if errors.is_empty() { Ok(tiers) } else { Err(errors) }
}

/// The product form; `product` is the one being edited (callers have it
/// loaded already), whose resale section comes from it unless `supply` is given.
#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    product: Option<&kapu_core::entities::products::Model>,
    form: &ProductForm,
    errors: &[String],
    flash: Option<Flash>,
    supply: Option<Value>,
) -> PageResult<Response> {
    let product_id = product.map(|p| p.id.as_str());
    let supply = match (supply, product) {
        (Some(s), _) => Some(s),
        (None, Some(p)) => Some(crate::supply::listing::supply_section(state, access, p, None, &[]).await?),
        (None, None) => None,
    };
    let categories: Vec<Value> = list_categories_for_tenant(state.db.reader(), access.tenant_id())
        .await?
        .into_iter()
        .map(|c| context! { id => c.id, name => c.name })
        .collect();
    let slug = &access.shop.slug;
    let action = match product_id {
        Some(id) => format!("/shops/{slug}/products/{id}"),
        None => format!("/shops/{slug}/products/new"),
    };
    let layout = Layout { account: None, csrf, shop: Some(access), nav: "products", flash, title: "商品 Products" };
    let page = context! { form => crate::page::ser(form), categories, errors => crate::page::ser(errors), action, product_id, supply };
    let resp = render("product_form.html", layout, page)?;
    Ok(if errors.is_empty() { resp } else { with_status(StatusCode::UNPROCESSABLE_ENTITY, resp) })
}

/// The product page with the resale form refused (its errors shown by the form).
pub(crate) async fn product_page_with_supply_errors(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    product: &kapu_core::entities::products::Model,
    listing: &crate::supply::listing::ListingForm,
    errors: &[String],
) -> PageResult<Response> {
    let supply = crate::supply::listing::supply_section(state, access, product, Some(listing), errors).await?;
    let form = ProductForm::from_model(product);
    let resp = form_page(state, access, csrf, Some(product), &form, &[], None, Some(supply)).await?;
    Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, resp))
}

pub async fn new_product_page(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
) -> PageResult<Response> {
    form_page(&state, &access, &csrf, None, &ProductForm::blank(), &[], None, None).await
}

pub(crate) async fn check_category(
    state: &PlatformState,
    tenant_id: &str,
    f: &ProductFields,
) -> PageResult<Option<String>> {
    match &f.category_id {
        Some(c) if !category_exists_for_tenant(state.db.reader(), tenant_id, c).await? => {
            Ok(Some("所选分类不存在。The chosen category does not exist.".into()))
        }
        _ => Ok(None),
    }
}

pub async fn create_product(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(form): VerifiedForm<ProductForm>,
) -> PageResult<Response> {
    let mut fields = match form.parse(&access.shop.currency) {
        Ok(f) => f,
        Err(errors) => return form_page(&state, &access, &csrf, None, &form, &errors, None, None).await,
    };
    if let Err(e) = settle_slug_for_tenant(state.db.reader(), access.tenant_id(), &mut fields, None).await? {
        return form_page(&state, &access, &csrf, None, &form, &[e.to_string()], None, None).await;
    }
    if let Some(e) = check_category(&state, access.tenant_id(), &fields).await? {
        return form_page(&state, &access, &csrf, None, &form, &[e], None, None).await;
    }
    if let Err(over) = check_limit(state.db.reader(), access.tenant_id(), Limit::Products, 1).await? {
        let page = form_page(&state, &access, &csrf, None, &form, &[over.to_string()], None, None).await?;
        return Ok(crate::page::with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, page));
    }
    let id = create_product_for_tenant(state.db.writer(), access.tenant_id(), &access.shop.currency, &fields).await?;
    state.bus.shop_changed(access.tenant_id());
    Ok(Redirect::to(&format!("/shops/{}/products/{id}/keys?m=product_created", access.shop.slug)).into_response())
}

pub async fn edit_product_page(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Path((_, product_id)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<crate::shops::list::FlashQuery>,
) -> PageResult<Response> {
    let p = find_product_for_tenant(state.db.reader(), access.tenant_id(), &product_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let flash = crate::page::flash_for(q.m.as_deref());
    form_page(&state, &access, &csrf, Some(&p), &ProductForm::from_model(&p), &[], flash, None).await
}

pub async fn update_product(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Path((_, product_id)): Path<(String, String)>,
    VerifiedForm(form): VerifiedForm<ProductForm>,
) -> PageResult<Response> {
    let p = find_product_for_tenant(state.db.reader(), access.tenant_id(), &product_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let mut fields = match form.parse(&p.currency) {
        Ok(f) => f,
        Err(errors) => return form_page(&state, &access, &csrf, Some(&p), &form, &errors, None, None).await,
    };
    if let Err(e) =
        settle_slug_for_tenant(state.db.reader(), access.tenant_id(), &mut fields, Some(&product_id)).await?
    {
        return form_page(&state, &access, &csrf, Some(&p), &form, &[e.to_string()], None, None).await;
    }
    if let Some(e) = check_category(&state, access.tenant_id(), &fields).await? {
        return form_page(&state, &access, &csrf, Some(&p), &form, &[e], None, None).await;
    }
    if let Some(e) = check_resale_fields(&state, &p, &fields).await? {
        return form_page(&state, &access, &csrf, Some(&p), &form, &[e], None, None).await;
    }
    // A product bought from an external supplier stays one (the form shows its kind, read-only).
    if p.kind == kapu_core::store::external_supply::KIND {
        fields.kind = kapu_core::store::external_supply::KIND;
    }
    if !update_product_for_tenant(state.db.writer(), access.tenant_id(), &product_id, &fields).await? {
        return Err(PageError::NotFound);
    }
    // A resale product paused for price is on sale again once its price fits.
    if p.supply_paused.as_deref() == Some("price") {
        kapu_core::store::supply::resume_if_price_fits(state.db.writer(), access.tenant_id(), &product_id).await?;
    }
    state.bus.shop_changed(access.tenant_id());
    Ok(Redirect::to(&format!("/shops/{}/products/{product_id}?m=saved", access.shop.slug)).into_response())
}

/// A product sold from a supplier's stock keeps delivering keys and may not
/// be priced below the supplier's lowest resale price.
async fn check_resale_fields(
    state: &PlatformState,
    p: &kapu_core::entities::products::Model,
    f: &ProductFields,
) -> PageResult<Option<String>> {
    let (Some(st), Some(sp)) = (&p.supply_tenant_id, &p.supply_product_id) else { return Ok(None) };
    if f.kind != "auto_key" {
        return Ok(Some(
            "从供应商进货的商品只能自动发卡。A product sold from a supplier's stock delivers keys automatically."
                .into(),
        ));
    }
    let listing = kapu_core::store::supply::find_listing_for_supplier(state.db.reader(), st, sp).await?;
    if let Some(l) = listing {
        let lowest = kapu_core::store::supply::lowest_resale_price(&l);
        if f.price_minor < lowest {
            return Ok(Some(kapu_core::store::supply::SupplyRefusal::PriceTooLow(lowest).message(&p.currency)));
        }
    }
    Ok(None)
}

pub async fn delete_product(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Path((_, product_id)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    let txn = state.db.begin().await?;
    let outcome = delete_product_for_tenant(&txn, access.tenant_id(), &product_id).await?;
    txn.commit().await?;
    match outcome {
        DeleteProduct::Deleted => {
            state.bus.shop_changed(access.tenant_id());
            Ok(Redirect::to(&format!("/shops/{}/products?m=product_deleted", access.shop.slug)).into_response())
        }
        DeleteProduct::NotFound => Err(PageError::NotFound),
        DeleteProduct::HasOrders(n) => {
            let p = find_product_for_tenant(state.db.reader(), access.tenant_id(), &product_id)
                .await?
                .ok_or(PageError::NotFound)?;
            let msg = format!(
                "该商品有 {n} 笔订单，不能删除；取消勾选「上架」即可隐藏。This product has {n} {} and cannot be deleted; untick \"Visible\" to hide it.",
                crate::language::plural(n, "order", "orders")
            );
            let r =
                form_page(&state, &access, &csrf, Some(&p), &ProductForm::from_model(&p), &[], Flash::error(msg), None)
                    .await?;
            Ok(with_status(StatusCode::CONFLICT, r))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_and_must_fall_with_quantity() {
        let t = parse_tier_lines("10=8.50\n\n 50 = 7 ", "CNY", 990).expect("tiers");
        assert_eq!(t, vec![Tier { min_qty: 10, unit_price_minor: 850 }, Tier { min_qty: 50, unit_price_minor: 700 }]);
        assert!(parse_tier_lines("10=9.90", "CNY", 990).is_err(), "not below base");
        assert!(parse_tier_lines("10=5\n50=6", "CNY", 990).is_err(), "rising price");
        assert!(parse_tier_lines("1=5", "CNY", 990).is_err(), "quantity 1");
        assert!(parse_tier_lines("ten=5", "CNY", 990).is_err());
        // Every bad line, in order, each named with its text.
        let all = parse_tier_lines("ten=5\n10=8\n1=5\n20=abc", "CNY", 990).expect_err("bad");
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(
            all[0].contains("line 1 (“ten=5”)") && all[1].contains("line 3") && all[2].contains("line 4 (“20=abc”)")
        );
    }
}
