//! A supplier's resale terms for one product: `POST
//! /shops/{slug}/products/{id}/resale`, shown on the product's edit page
//! (with, for a product sold from another shop's stock, where it comes from
//! and the margin).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::entities::products;
use kapu_core::money::{format_minor, parse_major};
use kapu_core::store::catalog_admin::find_product_for_tenant;
use kapu_core::store::supply::{
    Audience, ListingTerms, allowed_shops, find_listing_for_supplier, lowest_resale_price, save_listing_for_supplier,
    shop_names,
};
use minijinja::{Value, context};

use crate::audit::shop_action;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::ShopAccess;
use crate::error::{PageError, PageResult};
use crate::state::PlatformState;
use crate::subscriptions::notices::{BillingNotice, queue_notice};

/// The resale form as typed.
#[derive(serde::Deserialize, serde::Serialize, Default, Clone)]
pub struct ListingForm {
    #[serde(default)]
    pub(crate) open: String,
    #[serde(default)]
    pub(crate) wholesale: String,
    #[serde(default)]
    pub(crate) min_resale: String,
    #[serde(default)]
    pub(crate) audience: String,
    #[serde(default)]
    pub(crate) allowed_shops: String,
    #[serde(default)]
    pub(crate) per_order_cap: String,
    #[serde(default)]
    pub(crate) daily_cap: String,
    #[serde(default)]
    pub(crate) exact_stock: String,
}

fn optional_count(text: &str, what: &str, errors: &mut Vec<String>) -> Option<i32> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    match t.parse::<i32>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Some(n),
        _ => {
            let (zh, en) = what.split_once(' ').unwrap_or((what, what));
            errors.push(format!("{zh}须为 1 到 1000000 之间的整数，或留空表示不限。{en} must be a whole number from 1 to 1,000,000, or empty for no limit."));
            None
        }
    }
}

impl ListingForm {
    /// Checks the terms against the product: every problem, bilingual. Slugs
    /// in the audience list are resolved to shops by the caller.
    fn parse(&self, product: &products::Model) -> Result<(ListingTerms, Vec<String>), Vec<String>> {
        let currency = &product.currency;
        let mut errors = Vec::new();
        let wholesale = match parse_major(self.wholesale.trim(), currency) {
            Some(w) if w > 0 => w,
            _ => {
                errors.push(format!("批发价须为正数金额，例如 8.50。The wholesale price must be an amount above zero, like 8.50 ({currency})."));
                0
            }
        };
        let min_resale = match self.min_resale.trim() {
            "" => None,
            t => match parse_major(t, currency) {
                Some(m) if m >= wholesale => Some(m),
                Some(_) => {
                    errors.push(
                        "最低售价不能低于批发价。The minimum resale price cannot be below the wholesale price.".into(),
                    );
                    None
                }
                None => {
                    errors.push(format!("最低售价须为金额，例如 9.90，或留空。The minimum resale price must be an amount like 9.90 ({currency}), or empty."));
                    None
                }
            },
        };
        let per_order_cap = optional_count(&self.per_order_cap, "每单上限 Per-order cap", &mut errors);
        let daily_cap = optional_count(&self.daily_cap, "每日上限 Daily cap", &mut errors);
        let audience = Audience::parse(&self.audience);
        let slugs: Vec<String> = self
            .allowed_shops
            .split([',', '\n', ' ', '，'])
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if audience == Audience::Listed && slugs.is_empty() {
            errors.push("选择“仅指定店铺”时，请填写至少一个店铺地址。Name at least one shop (by its address) for “only these shops”.".into());
        }
        if product.kind == "manual" || product.supply_tenant_id.is_some() {
            errors.push("只有自有库存的自动发卡商品可以开放分销。Only automatic-key products with their own stock can be offered for resale.".into());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let terms = ListingTerms {
            wholesale_minor: wholesale,
            min_resale_minor: min_resale,
            audience,
            allowed_shops: Vec::new(),
            per_order_cap,
            daily_cap,
            exact_stock: self.exact_stock == "1",
            open: self.open == "1",
        };
        Ok((terms, slugs))
    }
}

/// What the product page shows about resale: the supplier's terms form for
/// an own product, or the source and margin of a product sold from another
/// shop's stock.
pub(crate) async fn supply_section(
    state: &PlatformState,
    access: &ShopAccess,
    product: &products::Model,
    form: Option<&ListingForm>,
    errors: &[String],
) -> PageResult<Value> {
    let r = state.db.reader();
    let currency = &product.currency;
    if let (Some(st), Some(sp)) = (&product.supply_tenant_id, &product.supply_product_id) {
        let names = shop_names(r, [st.clone()]).await?;
        let supplier = names.get(st).map(|(_, n)| n.clone()).unwrap_or_default();
        let listing = find_listing_for_supplier(r, st, sp).await?;
        let (wholesale, lowest, margin, open) = match &listing {
            Some(l) => (
                Some(format_minor(l.wholesale_minor, currency)),
                Some(format_minor(lowest_resale_price(l), currency)),
                Some(format_minor(product.price_minor - l.wholesale_minor, currency)),
                l.open,
            ),
            None => (None, None, None, false),
        };
        return Ok(context! {
            resale => true, supplier, wholesale, lowest, margin, open,
            paused => product.supply_paused.clone(),
        });
    }
    let listing = find_listing_for_supplier(r, access.tenant_id(), &product.id).await?;
    let form = match (form, &listing) {
        (Some(f), _) => f.clone(),
        (None, Some(l)) => {
            let ids = allowed_shops(l);
            let names = shop_names(r, ids.clone()).await?;
            ListingForm {
                open: if l.open { "1".into() } else { String::new() },
                wholesale: format_minor(l.wholesale_minor, currency),
                min_resale: l.min_resale_minor.map(|m| format_minor(m, currency)).unwrap_or_default(),
                audience: l.audience.clone(),
                allowed_shops: ids
                    .iter()
                    .filter_map(|id| names.get(id).map(|(slug, _)| slug.clone()))
                    .collect::<Vec<_>>()
                    .join(", "),
                per_order_cap: l.per_order_cap.map(|n| n.to_string()).unwrap_or_default(),
                daily_cap: l.daily_cap.map(|n| n.to_string()).unwrap_or_default(),
                exact_stock: if l.exact_stock { "1".into() } else { String::new() },
            }
        }
        (None, None) => ListingForm { audience: "any".into(), open: "1".into(), ..ListingForm::default() },
    };
    Ok(context! {
        resale => false, offerable => product.kind != "manual", listed => listing.is_some(),
        listing_open => listing.as_ref().is_some_and(|l| l.open),
        form => crate::page::ser(&form), errors => crate::page::ser(errors),
    })
}

pub async fn save_listing(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    Path((_, product_id)): Path<(String, String)>,
    VerifiedForm(form): VerifiedForm<ListingForm>,
) -> PageResult<Response> {
    let product = find_product_for_tenant(state.db.reader(), access.tenant_id(), &product_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let refuse = |errors: Vec<String>| {
        let (state, access, csrf, product, form) = (&state, &access, &csrf, &product, &form);
        async move {
            crate::catalog::product_form::product_page_with_supply_errors(state, access, csrf, product, form, &errors)
                .await
        }
    };
    let detail = match apply_listing(&state, access.tenant_id(), &access.shop.name, &product, &form).await? {
        Ok(detail) => detail,
        Err(errors) => return refuse(errors).await,
    };
    shop_action(&state, &access, ip, "supply.listing_saved", &product.id, &detail).await?;
    Ok(Redirect::to(&format!("/shops/{}/products/{}?m=saved#resale", access.shop.slug, product.id)).into_response())
}

/// Checks and saves a product's resale terms (the dashboard's form and the
/// merchant API's `PUT /supply/listings/{product_id}`): every problem, or the
/// audit detail of what was saved. Resellers whose price the new wholesale
/// price passes are paused and emailed; those it fits again resume.
pub(crate) async fn apply_listing(
    state: &PlatformState,
    tenant_id: &str,
    shop_name: &str,
    product: &products::Model,
    form: &ListingForm,
) -> PageResult<Result<String, Vec<String>>> {
    let (mut terms, slugs) = match form.parse(product) {
        Ok(t) => t,
        Err(errors) => return Ok(Err(errors)),
    };
    if terms.audience == Audience::Listed {
        let shops = kapu_core::store::supply::shops_by_slugs(state.db.reader(), &slugs).await?;
        let unknown: Vec<&String> = slugs.iter().filter(|s| !shops.iter().any(|(slug, _)| slug == *s)).collect();
        if !unknown.is_empty() {
            let list = unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            return Ok(Err(vec![format!("找不到这些店铺：{list}。No shop has these addresses: {list}.")]));
        }
        terms.allowed_shops = shops.into_iter().map(|(_, id)| id).filter(|id| id != tenant_id).collect();
    }
    let txn = state.db.begin().await?;
    let effect = save_listing_for_supplier(&txn, tenant_id, &product.id, &terms, Utc::now()).await?;
    // Each reseller whose product the new price paused is told by email.
    for (reseller, _) in &effect.paused_for_price {
        let notice = BillingNotice::ResalePaused {
            supplier_name: shop_name.to_string(),
            product_name: product.name.clone(),
            wholesale: format!("{} {}", format_minor(terms.wholesale_minor, &product.currency), product.currency),
        };
        queue_notice(&txn, reseller, notice).await?;
    }
    txn.commit().await?;
    // Resellers' storefronts show the new terms (stock, paused products) at once.
    for (reseller, _) in effect.paused_for_price.iter().chain(effect.resumed.iter()) {
        state.bus.shop_changed(reseller);
    }
    Ok(Ok(format!(
        "{} wholesale {} {}, audience {}, per order {}, daily {}, exact stock {}; {} reseller product(s) paused for price, {} resumed",
        if terms.open { "open" } else { "closed" },
        format_minor(terms.wholesale_minor, &product.currency),
        product.currency,
        terms.audience.as_str(),
        terms.per_order_cap.map_or("no cap".to_string(), |n| n.to_string()),
        terms.daily_cap.map_or("no cap".to_string(), |n| n.to_string()),
        if terms.exact_stock { "shown" } else { "banded" },
        effect.paused_for_price.len(),
        effect.resumed.len(),
    )))
}
