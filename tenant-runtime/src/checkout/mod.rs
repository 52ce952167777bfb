//! Storefront checkout: one domain path shared by the JSON API and the pages.
//!
//! Placing an order validates the input against the shop's cached setup
//! (product, block and allow lists, the channels for the buyer's payment
//! method), and in one transaction counts the buyer's recent and unpaid
//! orders (velocity rule and unpaid cap, exact under concurrency), reserves
//! the keys, and writes the order, the job that expires it and the first
//! channel's payment attempt. Only then is the provider called, with
//! failover across the channels (`payments::start`); when none can take it,
//! the order is released at once.

pub mod challenge;
pub mod validate;

use chrono::{DateTime, Duration, Utc};
use kapu_core::entities::orders;
use kapu_core::fleet::limits::client_key;
use kapu_core::ids::{new_id, new_order_no};
use kapu_core::jobs::{NewJob, enqueue};
use kapu_core::store::card_keys::{Reservation, reserve_keys_for_order_for_tenant};
use kapu_core::store::coupons::{
    CouponRejection, discount_for, find_applicable_coupon_for_tenant, take_coupon_use_for_tenant,
};
use kapu_core::store::manual_delivery::{AnswerError, check_answers, parse_input_fields};
use kapu_core::store::orders::{
    BuyerOrderWindow, BuyerOrders, count_buyer_orders_for_tenant, lock_unpaid_caps_for_tenant, status,
};
use kapu_core::store::risk::{
    Verdict, record_risk_event_for_tenant, screen_by_lists, velocity_count_cap, velocity_verdict, velocity_window_start,
};
use sea_orm::{EntityTrait, IntoActiveModel};

use crate::error::StoreError;
use crate::http::host::TenantCtx;
use crate::i18n::Lang;
use crate::jobs::EXPIRE_ORDER;
use crate::payments::start::{
    Payable, WrittenAttempt, channel_candidates, insert_attempt_row, order_channel, start_payment,
};
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
    /// The affiliate click the buyer came through (the `kapu_ref` cookie, unchecked).
    pub affiliate_click: Option<String>,
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
    // The product, the shop's channels and its risk lists come from the
    // per-shop cache: a checkout reads nothing it could know already.
    let catalog = state.catalog.catalog(&state.db, &tenant.id).await?;
    let product = catalog.product(&input.product_id).cloned().ok_or(StoreError::ProductNotFound)?;
    let in_stock = catalog.stock_of(&product.id);
    drop(catalog);
    let setup = state.catalog.setup(&state.db, &state.master, &tenant.id).await?;
    if product.supply_tenant_id.is_some() && in_stock == 0 {
        // A resale product shown with no stock may be paused rather than sold out: say which.
        let why = kapu_core::store::supply::source_for_resale_order(
            state.db.reader(),
            &product,
            u64::try_from(input.quantity.max(1)).unwrap_or(1),
            Utc::now(),
        )
        .await?;
        if let Err(refusal) = why {
            return Err(StoreError::ResaleUnavailable(refusal));
        }
    }
    // A product bought from an external supplier: while its supplier is not
    // answering (the breaker is open) it is "temporarily unavailable", not
    // sold out, and the rest of the shop sells on.
    let external = product.kind == kapu_core::store::external_supply::KIND;
    if external {
        let reachable = match &product.external_connection_id {
            Some(c) => state.health.would_admit(&tenant.id, &crate::supplier::breaker_kind(c)).await,
            None => false,
        };
        if !reachable {
            return Err(StoreError::ResaleUnavailable(kapu_core::store::supply::SupplyRefusal::SupplierUnreachable));
        }
    }
    let quantity = validate::quantity(input.quantity, product.min_qty, product.max_qty, in_stock)?;
    let manual = product.kind == "manual";
    // Manual and external products hold no keys of the shop's until delivery.
    let holds_keys = !manual && !external;
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

    let listed = screen_by_lists(&setup.risk_entries, email.as_str(), client_ip);
    if let Some(Verdict::Blocked(kind)) = listed {
        tracing::info!(kind, %client_ip, "order refused by the block list");
        record_stopped(state, &tenant.id, &format!("block_{kind}"), email.as_str(), client_ip).await;
        return Err(StoreError::OrderRefused(kind));
    }
    let allow_listed = listed == Some(Verdict::Allowed);

    let keys = state.master.tenant(&tenant.id);
    let method = input.channel.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let candidates = channel_candidates(&setup, tenant, method)?;

    // Slow hashing happens before the write transaction, never inside it,
    // and only for a buyer under the unpaid-order cap (checked again, exactly,
    // in the transaction): a flood of orders with passwords from one client
    // is refused before it costs a hash each.
    let lookup_hash = match lookup_password {
        Some(p) => {
            let cap = state.cfg.max_unpaid_orders;
            let window = buyer_window(tenant, cap, Utc::now());
            let counts = count_buyer_orders_for_tenant(
                state.db.reader(),
                &tenant.id,
                &client_key(client_ip),
                email.as_str(),
                window,
            )
            .await?;
            if over_unpaid_cap(&counts, cap) {
                return Err(StoreError::TooManyUnpaidOrders { limit: cap });
            }
            Some(kapu_core::passwords::hash(p).await.map_err(|_| StoreError::RateLimited { retry_after_secs: 1 })?)
        }
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
    // A resale product takes its supplier's keys: whose stock, which product.
    let (stock_tenant, stock_product) = match (&product.supply_tenant_id, &product.supply_product_id) {
        (Some(t), Some(p)) => (t.clone(), p.clone()),
        _ => (tenant.id.clone(), product.id.clone()),
    };
    let resale = product.supply_tenant_id.is_some();
    let lane_start = if holds_keys { lane_start(state, &stock_tenant, &stock_product).await } else { None };
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
        order_token: &token,
    };
    // The attempt of the channel most likely to take the payment is written with the order.
    let written = WrittenAttempt::pick(state, tenant, &candidates).await;
    // An affiliate's click counts only if it is one of this shop's (read only when there is a cookie).
    let affiliate_click_id = match input.affiliate_click.as_deref() {
        Some(c) => kapu_core::store::affiliates::click_for_order(state.db.reader(), &tenant.id, c).await?,
        None => None,
    };

    // Every way out of the transaction ends it explicitly: a dropped one
    // would keep its advisory and row locks until its connection is reused.
    let txn = state.db.begin().await?;
    let written_order = async {
        let net = client_key(client_ip);
        lock_unpaid_caps_for_tenant(&txn, &tenant.id, &net, email.as_str()).await?;
        let window = buyer_window(tenant, cap, now);
        let counts = count_buyer_orders_for_tenant(&txn, &tenant.id, &net, email.as_str(), window).await?;
        if !allow_listed {
            match velocity_verdict(&tenant.risk, counts.recent_by_ip, counts.recent_by_email) {
                Verdict::TooFast => {
                    return Err(StoreError::TooManyOrders { minutes: tenant.risk.velocity_window_minutes });
                }
                Verdict::Challenge => {
                    let solved = match input.pow.as_deref() {
                        Some(answer) => challenge::verify(state, &tenant.id, client_ip, answer).await,
                        None => false,
                    };
                    if input.pow.is_some() {
                        kapu_core::metrics::challenge(if solved { "passed" } else { "failed" });
                    }
                    if !solved {
                        kapu_core::metrics::challenge("issued");
                        let c = challenge::issue(state, &tenant.id, client_ip);
                        return Err(StoreError::ChallengeRequired { challenge: c, difficulty: challenge::DIFFICULTY });
                    }
                }
                _ => {}
            }
        }
        if over_unpaid_cap(&counts, cap) {
            return Err(StoreError::TooManyUnpaidOrders { limit: cap });
        }
        if let Some(c) = &coupon
            && !take_coupon_use_for_tenant(&txn, &tenant.id, &c.id).await?
        {
            return Err(StoreError::Coupon(CouponRejection::UsedUp));
        }
        // A resale: the supplier's terms are checked in this transaction.
        let supply_unit_minor = if resale {
            match kapu_core::store::supply::source_for_resale_order(&txn, &product, quantity.into(), now).await? {
                Ok(source) => Some(source.wholesale_minor),
                Err(refusal) => return Err(StoreError::ResaleUnavailable(refusal)),
            }
        } else {
            None
        };
        // Manual products have no keys: the merchant delivers after payment;
        // external ones are bought from the supplier after payment.
        if holds_keys {
            let reserved = reserve_keys_for_order_for_tenant(
                &txn,
                &stock_tenant,
                &stock_product,
                &order_id,
                quantity.into(),
                expires_at,
                lane_start.as_deref(),
            )
            .await?;
            if let Reservation::Short { available } = reserved {
                kapu_core::metrics::stock_out();
                return Err(StoreError::OutOfStock { available });
            }
        }
        let order = orders::Model {
            tenant_id: tenant.id.clone(),
            id: order_id.clone(),
            order_no: order_no.clone(),
            product_id: product.id.clone(),
            product_name: product.name.clone(),
            quantity: quantity as i32,
            unit_price_minor: unit_price,
            amount_minor,
            currency: product.currency.clone(),
            email: email.as_str().to_string(),
            lookup_hash,
            status: status::PENDING.into(),
            channel: order_channel(written.as_ref(), &candidates).unwrap_or_default().into(),
            client_ip: ip.clone(),
            client_net: net.clone(),
            locale: lang.tag().into(),
            base_url: shop.base_url.clone(),
            attention_reason: None,
            coupon_code: coupon.as_ref().map(|c| c.code.clone()),
            discount_minor,
            buyer_input,
            delivery_ciphertext: None,
            delivery_nonce: None,
            stock_tenant_id: resale.then(|| stock_tenant.clone()),
            supply_unit_minor,
            external_connection_id: if external { product.external_connection_id.clone() } else { None },
            affiliate_click_id,
            expires_at,
            paid_at: None,
            delivered_at: None,
            created_at: now,
            updated_at: now,
        };
        orders::Entity::insert(order.clone().into_active_model()).exec_without_returning(&txn).await?;
        enqueue(
            &txn,
            NewJob::now(EXPIRE_ORDER, Some(tenant.id.clone()), serde_json::json!({ "order_id": order_id }))
                .at(expires_at),
        )
        .await?;
        // Written before the provider is called, as every attempt is.
        if let Some(w) = &written {
            insert_attempt_row(&txn, tenant, &w.payment_id, w.channel, &payable).await?;
        }
        if setup.webhooks {
            let data = kapu_core::store::webhooks::order_data(&order, status::PENDING);
            kapu_core::store::webhooks::emit_event_for_tenant(&txn, &tenant.id, "order.created", data, now).await?;
        }
        Ok::<_, StoreError>(())
    }
    .await;
    match written_order {
        Ok(()) => {}
        Err(e) => {
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(error = %rollback, "could not roll back a refused checkout");
            }
            let rule = match &e {
                StoreError::TooManyOrders { .. } => Some("velocity_refused"),
                StoreError::ChallengeRequired { .. } => Some("velocity_challenge"),
                _ => None,
            };
            if let Some(rule) = rule {
                record_stopped(state, &tenant.id, rule, email.as_str(), client_ip).await;
            }
            return Err(e);
        }
    };
    txn.commit().await?;
    kapu_core::metrics::order_event(kapu_core::metrics::ORDERS_CREATED, 1);
    if holds_keys {
        state.keys_reserved(&tenant.id, &product.id, quantity.into()).await;
    }

    let (start, channel_kind) = match start_payment(state, tenant, &keys, &candidates, &payable, written.as_ref()).await
    {
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

/// Where this checkout starts looking for a key (see
/// `CatalogCache::lane_start`); only a hint, so a failure to work it out
/// just starts at the first key.
async fn lane_start(state: &RuntimeState, tenant_id: &str, product_id: &str) -> Option<String> {
    match state.catalog.lane_start(&state.db, tenant_id, product_id).await {
        Ok(start) => start,
        Err(e) => {
            tracing::warn!(error = %e, "could not split a product's keys into lanes");
            None
        }
    }
}

/// Keeps a stopped attempt for the merchant's risk page; failing to record it never fails the request.
async fn record_stopped(state: &RuntimeState, tenant_id: &str, rule: &str, email: &str, ip: std::net::IpAddr) {
    if let Err(e) = record_risk_event_for_tenant(state.db.writer(), tenant_id, rule, email, ip).await {
        tracing::warn!(error = %e, rule, "could not record a risk event");
    }
}

/// What the buyer's orders are counted against: the unpaid-order cap and
/// the shop's velocity window.
fn buyer_window(tenant: &kapu_core::tenant::Tenant, cap: u32, now: chrono::DateTime<Utc>) -> BuyerOrderWindow {
    BuyerOrderWindow {
        now,
        unpaid_cap: u64::from(cap),
        recent_since: velocity_window_start(&tenant.risk, now),
        recent_cap: velocity_count_cap(&tenant.risk),
    }
}

/// Whether the buyer (by address or by email) already holds `cap` unpaid orders.
fn over_unpaid_cap(counts: &BuyerOrders, cap: u32) -> bool {
    counts.unpaid_by_ip >= u64::from(cap) || counts.unpaid_by_email >= u64::from(cap)
}
