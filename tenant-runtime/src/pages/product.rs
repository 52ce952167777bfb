//! `/products/{id}` and its checkout form (`POST /checkout`), which goes
//! through the same `place_order` as the JSON API.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::money::format_minor;
use kapu_core::pricing::parse_tiers;
use minijinja::{Value, context};

use super::{PageError, base_ctx, html, render_string};
use crate::checkout::{OrderInput, place_order};
use crate::error::StoreError;
use crate::http::client_ip::ClientIp;
use crate::http::csrf::SameOriginForm;
use crate::http::host::TenantCtx;
use crate::http::referral::Referral;
use crate::i18n::Lang;
use crate::state::RuntimeState;

/// The checkout form's fields.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct CheckoutForm {
    #[serde(default)]
    pub product_id: String,
    #[serde(default)]
    pub quantity: String,
    #[serde(default)]
    pub email: String,
    #[serde(default, skip_serializing)]
    pub lookup_password: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub coupon: String,
    #[serde(default, skip_serializing)]
    pub pow: String,
    /// Manual products' fields (`field_0`, `field_1`, …).
    #[serde(flatten)]
    pub extra: std::collections::HashMap<String, String>,
}

pub async fn show_product(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    lang: Lang,
    Path(product_id): Path<String>,
) -> Result<Response, PageError> {
    // As a buyer first sees it (no input, no error): the same for everyone,
    // so rendered once and served from the shop's cache.
    let body = state
        .catalog
        .product_page(shop.id(), &product_id, lang, async {
            let form = CheckoutForm { quantity: "1".into(), ..CheckoutForm::default() };
            product_html(&state, &shop, lang, &product_id, &form, None).await
        })
        .await
        .map_err(|e| PageError(e, lang, Some(shop.tenant.clone())))?;
    Ok(html(StatusCode::OK, body))
}

/// Renders the product page, with the buyer's input and an error when a checkout failed.
async fn product_page(
    state: &RuntimeState,
    shop: &TenantCtx,
    lang: Lang,
    product_id: &str,
    form: &CheckoutForm,
    error: &StoreError,
) -> Result<Response, PageError> {
    let body = product_html(state, shop, lang, product_id, form, Some(error))
        .await
        .map_err(|e| PageError(e, lang, Some(shop.tenant.clone())))?;
    Ok(html(error.status(), body))
}

/// The product page's HTML.
async fn product_html(
    state: &RuntimeState,
    shop: &TenantCtx,
    lang: Lang,
    product_id: &str,
    form: &CheckoutForm,
    error: Option<&StoreError>,
) -> Result<String, StoreError> {
    let catalog = state.catalog.catalog(&state.db, shop.id()).await?;
    let product = catalog.product(product_id).ok_or(StoreError::ProductNotFound)?;
    let stock = catalog.stock_of(&product.id);
    let setup = state.catalog.setup(&state.db, &state.master, shop.id()).await?;
    let methods = if shop.tenant.is_test_mode() { &setup.offered.test } else { &setup.offered.live };
    let description = state.catalog.description_html(shop.id(), product);
    let channels: Vec<Value> = methods
        .iter()
        .map(|&m| context! { kind => m, label => kapu_themes::text(lang.tag(), &format!("{m}_label")) })
        .collect();
    let parsed_tiers = parse_tiers(product.wholesale_tiers.as_deref());
    let tiers: Vec<Value> = parsed_tiers
        .iter()
        .map(|t| context! { min_qty => t.min_qty, price => format_minor(t.unit_price_minor, &product.currency) })
        .collect();
    let max_allowed = i64::from(product.max_qty).min(stock as i64).max(1);
    // The total before buying, for the quantity in the form (the minimum at
    // first; what was typed after a refused checkout), wholesale tier
    // applied. The theme's script updates it as the quantity changes, from
    // the same figures (`pricing`); without the script it is right on submit.
    let min_qty = i64::from(product.min_qty.max(1));
    let qty = form
        .quantity
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|q| (min_qty..=max_allowed.max(min_qty)).contains(q))
        .unwrap_or(min_qty);
    let unit = kapu_core::pricing::unit_price(product.price_minor, &parsed_tiers, qty);
    let gross = unit.saturating_mul(qty);
    // A coupon typed in the form counts in the total once it checks out;
    // otherwise the reason it does not is shown by the field.
    let coupon = match form.coupon.trim() {
        "" => None,
        code => Some(check_coupon_for(state, shop, &product.id, code).await?),
    };
    let (discount, coupon_terms, coupon_note) = match &coupon {
        Some(Ok(c)) => (
            kapu_core::store::coupons::discount_for(c, gross),
            serde_json::json!({ "kind": c.kind, "value": c.value }),
            None,
        ),
        Some(Err(r)) => (0, serde_json::Value::Null, Some(StoreError::Coupon(*r).message(lang))),
        None => (0, serde_json::Value::Null, None),
    };
    let pricing = serde_json::json!({
        "base": product.price_minor,
        "tiers": parsed_tiers.iter().map(|t| [t.min_qty, t.unit_price_minor]).collect::<Vec<_>>(),
        "per_major": kapu_core::money::minor_per_major(&product.currency),
        "coupon": coupon_terms,
    })
    .to_string();
    let ctx = context! {
        product => context! {
            id => product.id.clone(), name => product.name.clone(), description => minijinja::Value::from_safe_string(description.to_string()),
            price => format_minor(product.price_minor, &product.currency), stock => stock,
            min_qty => product.min_qty.max(1), max_allowed => max_allowed, tiers => tiers,
            total => format_minor(gross - discount, &product.currency), unit_price => format_minor(unit, &product.currency),
            total_qty => qty, pricing => pricing,
            discount => (discount > 0).then(|| format_minor(discount, &product.currency)), coupon_note,
            manual => product.kind == "manual",
            fields => Value::from(minijinja::value::Serde(
                kapu_core::store::manual_delivery::parse_input_fields(product.input_fields.as_deref())
                    .into_iter()
                    .enumerate()
                    .map(|(i, f)| serde_json::json!({
                        "name": format!("field_{i}"), "label": f.label, "required": f.required,
                        "value": form.extra.get(&format!("field_{i}")).cloned().unwrap_or_default(),
                    }))
                    .collect::<Vec<_>>(),
            )),
        },
        channels => channels,
        form => Value::from(minijinja::value::Serde(form)),
        error => error.map(|e| e.message(lang)),
        challenge => match error {
            Some(StoreError::ChallengeRequired { challenge, .. }) => Some(challenge.clone()),
            _ => None,
        },
        ..base_ctx(&shop.tenant, lang, &format!("/products/{}", product.id))
    };
    render_string(Some(&shop.tenant), "product.html", ctx)
}

/// Whether a coupon code applies to a product now (without taking a use).
async fn check_coupon_for(
    state: &RuntimeState,
    shop: &TenantCtx,
    product_id: &str,
    code: &str,
) -> Result<Result<kapu_core::entities::coupons::Model, kapu_core::store::coupons::CouponRejection>, StoreError> {
    Ok(kapu_core::store::coupons::find_applicable_coupon_for_tenant(
        state.db.reader(),
        shop.id(),
        code,
        product_id,
        chrono::Utc::now(),
    )
    .await?)
}

#[derive(Debug, serde::Deserialize)]
pub struct CouponQuery {
    #[serde(default)]
    code: String,
}

/// `GET /products/{id}/coupon?code=…`: the product page's script asks
/// whether a typed coupon applies, and puts it in the live total. Answers
/// the coupon's terms (`kind`, `value`), or the refusal in the buyer's
/// language; takes no use of it.
pub async fn check_coupon(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    lang: Lang,
    Path(product_id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<CouponQuery>,
) -> Response {
    let answer = async {
        let catalog = state.catalog.catalog(&state.db, shop.id()).await?;
        let product_id = catalog.product(&product_id).map(|p| p.id.clone()).ok_or(StoreError::ProductNotFound)?;
        drop(catalog);
        let code = q.code.trim();
        if code.is_empty() || code.len() > 64 {
            return Err(StoreError::Coupon(kapu_core::store::coupons::CouponRejection::Unknown));
        }
        match check_coupon_for(&state, &shop, &product_id, code).await? {
            Ok(c) => Ok(serde_json::json!({ "code": c.code, "kind": c.kind, "value": c.value })),
            Err(r) => Err(StoreError::Coupon(r)),
        }
    };
    match answer.await {
        Ok(terms) => axum::Json(terms).into_response(),
        Err(e) => e.to_json_response(lang),
    }
}

/// `GET /checkout`: a reload (or back/forward) of the page a refused
/// checkout answered with. Back to the product the buyer came from when the
/// browser says which (a same-shop product page), else the shop's home: never
/// the browser's blank "405".
pub async fn checkout_reloaded(headers: axum::http::HeaderMap, shop: TenantCtx) -> Response {
    let from_product = headers
        .get(axum::http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.strip_prefix(shop.base_url.as_str()))
        .filter(|path| {
            path.strip_prefix("/products/").is_some_and(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
        })
        .map(str::to_string);
    Redirect::to(from_product.as_deref().unwrap_or("/")).into_response()
}

pub async fn submit_checkout(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    ClientIp(ip): ClientIp,
    lang: Lang,
    Referral(affiliate_click): Referral,
    SameOriginForm(form): SameOriginForm<CheckoutForm>,
) -> Result<Response, PageError> {
    let fail = |e: StoreError| PageError(e, lang, Some(shop.tenant.clone()));
    let quantity = form.quantity.trim().parse::<i64>().unwrap_or(0);
    let input = OrderInput {
        product_id: form.product_id.clone(),
        quantity,
        email: form.email.clone(),
        lookup_password: Some(form.lookup_password.clone()),
        channel: Some(form.channel.clone()),
        coupon: Some(form.coupon.clone()),
        pow: Some(form.pow.clone()).filter(|p| !p.is_empty()),
        fields: form
            .extra
            .iter()
            .filter(|(k, _)| k.starts_with("field_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        affiliate_click,
    };
    match place_order(&state, &shop, ip, lang, input).await {
        Ok(placed) => Ok(Redirect::to(&placed.pay_url).into_response()),
        Err(StoreError::ProductNotFound) => Err(fail(StoreError::ProductNotFound)),
        Err(e @ (StoreError::Internal(_) | StoreError::Unavailable(_))) => Err(fail(e)),
        Err(e) => product_page(&state, &shop, lang, &form.product_id, &form, &e).await,
    }
}
