//! Starting a payment with failover.
//!
//! The shop's channels are tried in priority order (only those offering the
//! method the buyer picked). Each channel tried gets its own `payments` row,
//! written before the provider is called and keeping the error if the call
//! fails. A channel whose circuit breaker is open is skipped; a transient
//! failure is retried with backoff before moving on; a refusal moves on at
//! once. The first channel that starts the payment wins.

use kapu_billing::health::Admission;
use kapu_billing::router::{Candidate, RouteError, candidates, create_with_retries};
use kapu_billing::{ChannelError, PaymentRequest, PaymentStart};
use kapu_core::crypto::TenantKeys;
use kapu_core::entities::orders;
use kapu_core::ids::new_id;
use kapu_core::store::payments::{AttemptResult, NewAttempt, insert_attempt, record_attempt_result};
use kapu_core::tenant::Tenant;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use crate::catalog::ShopSetup;
use crate::error::StoreError;
use crate::state::RuntimeState;

/// The shop's channels that may take a payment by `method`, best first.
pub fn channel_candidates(
    setup: &ShopSetup,
    tenant: &Tenant,
    method: Option<&str>,
) -> Result<Vec<Candidate>, StoreError> {
    candidates(setup.channels.clone(), method, tenant.is_test_mode()).map_err(|e| match e {
        RouteError::NotOffered(m) => StoreError::ChannelNotOffered(m),
        RouteError::NoneAvailable => StoreError::NoPaymentChannel,
    })
}

/// The attempt row checkout writes in the order's transaction: for the
/// first candidate whose breaker would let the call through.
pub struct WrittenAttempt {
    pub payment_id: String,
    pub channel: &'static str,
}

impl WrittenAttempt {
    /// Picks the channel and a new payment id (`None` when every breaker is open).
    pub async fn pick(state: &RuntimeState, tenant: &Tenant, candidates: &[Candidate]) -> Option<Self> {
        for c in candidates {
            let channel = c.channel.kind();
            if state.health.would_admit(&tenant.id, channel).await {
                return Some(Self { payment_id: new_id(), channel });
            }
        }
        None
    }
}

/// The channel an order names when it is written: the one whose attempt is
/// written with it, else the first candidate. Only a failover changes it.
pub fn order_channel(with_order: Option<&WrittenAttempt>, candidates: &[Candidate]) -> Option<&'static str> {
    with_order.map(|w| w.channel).or_else(|| candidates.first().map(|c| c.channel.kind()))
}

/// Writes the `payments` row of a try on `channel`, in the caller's
/// transaction (checkout writes the first channel's with the order).
pub async fn insert_attempt_row<C: sea_orm::ConnectionTrait>(
    conn: &C,
    tenant: &Tenant,
    payment_id: &str,
    channel: &str,
    order: &Payable<'_>,
) -> Result<(), StoreError> {
    insert_attempt(
        conn,
        NewAttempt {
            tenant_id: &tenant.id,
            payment_id,
            order_id: order.order_id,
            channel,
            amount_minor: order.amount_minor,
            currency: order.currency,
        },
    )
    .await?;
    Ok(())
}

/// The order a payment is for.
pub struct Payable<'a> {
    pub order_id: &'a str,
    pub order_no: &'a str,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub subject: &'a str,
    pub method: Option<&'a str>,
    pub base_url: &'a str,
    pub return_url: &'a str,
    pub client_ip: &'a str,
    /// The order's access token (Kapu's own pay pages ask for it).
    pub order_token: &'a str,
}

/// Tries `candidates` in order until one starts the payment. Returns the
/// start and the kind of the channel that took it, or
/// [`StoreError::PaymentChannelsDown`] naming what each channel said.
pub async fn start_payment(
    state: &RuntimeState,
    tenant: &Tenant,
    keys: &TenantKeys,
    candidates: &[Candidate],
    order: &Payable<'_>,
    with_order: Option<&WrittenAttempt>,
) -> Result<(PaymentStart, &'static str), StoreError> {
    let mut failures = Vec::new();
    let named = order_channel(with_order, candidates);
    let mut unused = with_order;
    for cand in candidates {
        let kind = cand.channel.kind();
        // The row the order's transaction wrote, when it is this channel's.
        let written = unused.filter(|w| w.channel == kind).inspect(|_| unused = None).map(|w| w.payment_id.clone());
        if state.health.admit(&tenant.id, kind).await == Admission::Skipped {
            failures.push(format!("{kind}: circuit breaker open"));
            if let Some(payment_id) = written {
                let skipped = AttemptResult { calls: 0, latency_ms: 0, outcome: Err("circuit breaker open") };
                record_attempt_result(state.db.writer(), &tenant.id, &payment_id, skipped).await?;
            }
            continue;
        }
        let payment_id = match written {
            Some(id) => id,
            None => {
                let id = new_id();
                insert_attempt_row(state.db.writer(), tenant, &id, kind, order).await?;
                id
            }
        };
        let req = PaymentRequest {
            notify_url: format!("{}/api/v1/payments/{payment_id}/notify", order.base_url),
            payment_id: payment_id.clone(),
            order_no: order.order_no.to_string(),
            amount_minor: order.amount_minor,
            currency: order.currency.to_string(),
            subject: order.subject.to_string(),
            method: order.method.map(str::to_string),
            base_url: order.base_url.to_string(),
            return_url: order.return_url.to_string(),
            client_ip: order.client_ip.to_string(),
            order_token: order.order_token.to_string(),
        };
        let ctx = state.providers.context(&tenant.id, keys, tenant.is_test_mode(), &cand.credentials);
        let attempted = create_with_retries(cand.channel.as_ref(), ctx, &req, state.retry).await;
        let latency_ms = u64::try_from(attempted.elapsed.as_millis()).unwrap_or(u64::MAX);
        match attempted.result {
            Ok(start) => {
                state.health.record_success(&tenant.id, kind, attempted.elapsed).await;
                record_attempt_result(
                    state.db.writer(),
                    &tenant.id,
                    &payment_id,
                    AttemptResult {
                        calls: attempted.calls,
                        latency_ms,
                        outcome: Ok((&start.pay_url, start.qr_payload.as_deref(), start.provider_ref.as_deref())),
                    },
                )
                .await?;
                // The order names the channel of the attempt written with it; only a failover changes it.
                if named != Some(kind) {
                    orders::Entity::update_many()
                        .col_expr(orders::Column::Channel, Expr::value(kind))
                        .filter(orders::Column::TenantId.eq(&tenant.id))
                        .filter(orders::Column::Id.eq(order.order_id))
                        .exec(state.db.writer())
                        .await?;
                }
                if !failures.is_empty() {
                    tracing::warn!(order_no = order.order_no, channel = kind, failed = ?failures, "payment started after failover");
                }
                return Ok((start, kind));
            }
            Err(e) => {
                let transient = matches!(e, ChannelError::Transient(_));
                let text = e.to_string();
                state.health.record_failure(&tenant.id, kind, attempted.elapsed, &text, transient).await;
                record_attempt_result(
                    state.db.writer(),
                    &tenant.id,
                    &payment_id,
                    AttemptResult { calls: attempted.calls, latency_ms, outcome: Err(&text) },
                )
                .await?;
                tracing::warn!(order_no = order.order_no, channel = kind, calls = attempted.calls, error = %text, "channel could not start the payment");
                failures.push(format!("{kind}: {text}"));
            }
        }
    }
    Err(StoreError::PaymentChannelsDown(failures.join("; ")))
}
