//! Storefront checkout: one domain path shared by the JSON API and the pages.
//!
//! Placing an order validates the input, lists the shop's channels for the
//! buyer's payment method, and in one transaction reserves the keys, writes
//! the order and the job that expires it. Only then is the payment started,
//! with failover across the channels (`payments::start`); when none can take
//! it, the order is released at once.

pub mod challenge;
pub mod validate;

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use chrono::{DateTime, Duration, Utc};
use kapu_core::entities::orders;
use kapu_core::ids::{new_id, new_order_no};
use kapu_core::jobs::{NewJob, enqueue};
use kapu_core::store::card_keys::{Reservation, reserve_keys_for_order_for_tenant};
use kapu_core::store::coupons::{
    CouponRejection, discount_for, find_applicable_coupon_for_tenant, take_coupon_use_for_tenant,
};
use kapu_core::store::manual_delivery::{AnswerError, check_answers, parse_input_fields};
use kapu_core::store::orders::{
    lock_unpaid_caps_for_tenant, pending_orders_by_email_reach_cap_for_tenant,
    pending_orders_by_ip_reach_cap_for_tenant, status,
};
use kapu_core::store::products::find_visible_product_for_tenant;
use kapu_core::store::risk::{Verdict, assess_order_for_tenant, record_risk_event_for_tenant};
use sea_orm::{ActiveValue::Set, EntityTrait};

use crate::error::StoreError;
use crate::http::host::TenantCtx;
use crate::i18n::Lang;
use crate::jobs::EXPIRE_ORDER;
use crate::payments::start::{Payable, channel_candidates, start_payment};
use crate::state::RuntimeState;

/// What the buyer asked for.
#[derive(Debug, Clone)]
pub struct OrderInput {
    pub product_id: String,
    pub quantity: i64,
    pub email: String,
    pub lookup_password: Option<String>,
    pub channel: Option<String>,
    /// A coupon code, as typed.
    pub coupon: Option<String>,
    /// The answer to a proof-of-work challenge, when the shop asked for one.
    pub pow: Option<String>,
    /// Manual products: the buyer's answers, by field label or by `field_{index}`.
    pub fields: std::collections::HashMap<String, String>,
}

/// An order just placed.
#[derive(Debug, Clone)]
pub struct PlacedOrder {
    pub order_no: String,
    pub token: String,
    pub amount_minor: i64,
    /// What the coupon took off (0 without one).
    pub discount_minor: i64,
    pub currency: String,
    pub pay_url: String,
    pub expires_at: DateTime<Utc>,
}

/// Places an order (see the module docs).
pub async fn place_order(
    state: &RuntimeState,
    shop: &TenantCtx,
    client_ip: std::net::IpAddr,
    lang: Lang,
    input: OrderInput,
) -> Result<PlacedOrder, StoreError> {
    let tenant = &shop.tenant;
    let email = validate::BuyerEmail::parse(&input.email)?;
    let lookup_password = validate::lookup_password(input.lookup_password.as_deref())?;
    let product = find_visible_product_for_tenant(state.db.reader(), &tenant.id, &input.product_id)
        .await?
        .ok_or(StoreError::ProductNotFound)?;
    let quantity = validate::quantity(input.quantity, product.min_qty, product.max_qty)?;
    let manual = product.kind == "manual";
    let buyer_input = if manual {
        let fields = parse_input_fields(product.input_fields.as_deref());
        let answers = check_answers(&fields, |i, f| {
            input.fields.get(&f.label).or_else(|| input.fields.get(&format!("field_{i}"))).cloned()
        })
        .map_err(|e| match e {
            AnswerError::Missing(label) => StoreError::FieldMissing(label),
            AnswerError::Invalid(label) => StoreError::FieldInvalid(label),
        })?;
        Some(
            serde_json::to_string(&answers.into_iter().collect::<std::collections::BTreeMap<_, _>>())
                .unwrap_or_default(),
        )
    } else {
        None
    };

    match assess_order_for_tenant(state.db.reader(), &tenant.id, &tenant.risk, email.as_str(), client_ip, Utc::now())
        .await?
    {
        Verdict::Allowed | Verdict::Pass => {}
        Verdict::Blocked(kind) => {
            tracing::info!(kind, %client_ip, "order refused by the block list");
            record_stopped(state, &tenant.id, &format!("block_{kind}"), email.as_str(), client_ip).await;
            return Err(StoreError::OrderRefused(kind));
        }
        Verdict::TooFast => {
            record_stopped(state, &tenant.id, "velocity_refused", email.as_str(), client_ip).await;
            return Err(StoreError::TooManyOrders { minutes: tenant.risk.velocity_window_minutes });
        }
        Verdict::Challenge => {
            let answered = input.pow.as_deref().is_some_and(|a| challenge::verify(state, &tenant.id, client_ip, a));
            if !answered {
                record_stopped(state, &tenant.id, "velocity_challenge", email.as_str(), client_ip).await;
                let c = challenge::issue(state, &tenant.id, client_ip);
                return Err(StoreError::ChallengeRequired { challenge: c, difficulty: challenge::DIFFICULTY });
            }
        }
    }

    let keys = state.master.tenant(&tenant.id);
    let method = input.channel.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let candidates = channel_candidates(state, tenant, &keys, method).await?;
    let first_kind = candidates.first().map(|c| c.channel.kind()).unwrap_or_default();

    // Slow hashing happens before the write transaction, never inside it.
    let lookup_hash = match lookup_password {
        Some(p) => Some(hash_password(&p)?),
        None => None,
    };

    let now = Utc::now();
    let expires_at = now + Duration::seconds(tenant.order_ttl_secs(state.cfg.order_ttl_secs));
    let order_id = new_id();
    let order_no = new_order_no(now);
    let tiers = kapu_core::pricing::parse_tiers(product.wholesale_tiers.as_deref());
    let unit_price = kapu_core::pricing::unit_price(product.price_minor, &tiers, i64::from(quantity));
    let gross_minor = unit_price * i64::from(quantity);
    let coupon = match input.coupon.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => Some(
            find_applicable_coupon_for_tenant(state.db.reader(), &tenant.id, code, &product.id, now)
                .await?
                .map_err(StoreError::Coupon)?,
        ),
        None => None,
    };
    let discount_minor = coupon.as_ref().map(|c| discount_for(c, gross_minor)).unwrap_or(0);
    let amount_minor = gross_minor - discount_minor;
    let ip = client_ip.to_string();
    let cap = state.cfg.max_unpaid_orders;

    let txn = state.db.begin().await?;
    let cap_u = u64::from(cap);
    lock_unpaid_caps_for_tenant(&txn, &tenant.id, &ip, email.as_str()).await?;
    if pending_orders_by_ip_reach_cap_for_tenant(&txn, &tenant.id, &ip, now, cap_u).await?
        || pending_orders_by_email_reach_cap_for_tenant(&txn, &tenant.id, email.as_str(), now, cap_u).await?
    {
        return Err(StoreError::TooManyUnpaidOrders { limit: cap });
    }
    if let Some(c) = &coupon
        && !take_coupon_use_for_tenant(&txn, &tenant.id, &c.id).await?
    {
        return Err(StoreError::Coupon(CouponRejection::UsedUp));
    }
    // Manual products have no keys: the merchant delivers after payment.
    if !manual {
        match reserve_keys_for_order_for_tenant(&txn, &tenant.id, &product.id, &order_id, quantity.into(), expires_at)
            .await?
        {
            Reservation::Reserved => {}
            Reservation::Short { available } => return Err(StoreError::OutOfStock { available }),
        }
    }
    orders::Entity::insert(orders::ActiveModel {
        tenant_id: Set(tenant.id.clone()),
        id: Set(order_id.clone()),
        order_no: Set(order_no.clone()),
        product_id: Set(product.id.clone()),
        product_name: Set(product.name.clone()),
        quantity: Set(quantity as i32),
        unit_price_minor: Set(unit_price),
        amount_minor: Set(amount_minor),
        currency: Set(product.currency.clone()),
        email: Set(email.as_str().to_string()),
        lookup_hash: Set(lookup_hash),
        status: Set(status::PENDING.into()),
        channel: Set(first_kind.into()),
        client_ip: Set(ip.clone()),
        locale: Set(lang.tag().into()),
        base_url: Set(shop.base_url.clone()),
        attention_reason: Set(None),
        coupon_code: Set(coupon.as_ref().map(|c| c.code.clone())),
        discount_minor: Set(discount_minor),
        buyer_input: Set(buyer_input),
        delivery_ciphertext: Set(None),
        delivery_nonce: Set(None),
        expires_at: Set(expires_at),
        paid_at: Set(None),
        delivered_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    enqueue(
        &txn,
        NewJob::now(EXPIRE_ORDER, Some(tenant.id.clone()), serde_json::json!({ "order_id": order_id })).at(expires_at),
    )
    .await?;
    if let Some(created) = orders::Entity::find_by_id((tenant.id.clone(), order_id.clone())).one(&txn).await? {
        let data = kapu_core::store::webhooks::order_data(&created, status::PENDING);
        kapu_core::store::webhooks::emit_event_for_tenant(&txn, &tenant.id, "order.created", data, now).await?;
    }
    txn.commit().await?;
    state.stock_changed(&tenant.id).await;

    let token = keys.order_token(&order_id);
    let return_url = format!("{}/orders/{order_no}?token={token}", shop.base_url);
    let payable = Payable {
        order_id: &order_id,
        order_no: &order_no,
        amount_minor,
        currency: &product.currency,
        subject: &product.name,
        method,
        base_url: &shop.base_url,
        return_url: &return_url,
        client_ip: &ip,
    };
    let (start, channel_kind) = match start_payment(state, tenant, &keys, &candidates, &payable).await {
        Ok(started) => started,
        Err(e) => {
            // Nothing can take the money: give the keys and the coupon back now.
            if let Err(release) = crate::jobs::release_unpayable_order(state, &tenant.id, &order_id).await {
                tracing::error!(%order_no, error = %release, "could not release an order no channel could take");
            }
            return Err(e);
        }
    };
    tracing::info!(order_no = %order_no, quantity, amount_minor, channel = channel_kind, "order placed");
    Ok(PlacedOrder {
        order_no,
        token,
        amount_minor,
        discount_minor,
        currency: product.currency,
        pay_url: start.pay_url,
        expires_at,
    })
}

/// Keeps a stopped attempt for the merchant's risk page; failing to record it never fails the request.
async fn record_stopped(state: &RuntimeState, tenant_id: &str, rule: &str, email: &str, ip: std::net::IpAddr) {
    if let Err(e) = record_risk_event_for_tenant(state.db.writer(), tenant_id, rule, email, ip).await {
        tracing::warn!(error = %e, rule, "could not record a risk event");
    }
}

fn hash_password(p: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(p.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Internal(format!("argon2: {e}")))
}
