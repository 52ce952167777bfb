//! Starting a payment with failover.
//!
//! The shop's channels are tried in priority order (only those offering the
//! method the buyer picked). Each channel tried gets its own `payments` row,
//! written before the provider is called and keeping the error if the call
//! fails. A channel whose circuit breaker is open is skipped; a transient
//! failure is retried with backoff before moving on; a refusal moves on at
//! once. The first channel that starts the payment wins.

use kapu_billing::health::Admission;
use kapu_billing::router::{Candidate, Configured, RouteError, candidates, create_with_retries};
use kapu_billing::{ChannelError, PaymentRequest, PaymentStart};
use kapu_core::crypto::TenantKeys;
use kapu_core::entities::orders;
use kapu_core::ids::new_id;
use kapu_core::store::channels::{credentials_of, list_enabled_channels_for_tenant};
use kapu_core::store::payments::{AttemptResult, NewAttempt, insert_attempt, record_attempt_result};
use kapu_core::tenant::Tenant;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use crate::error::StoreError;
use crate::state::RuntimeState;

/// The shop's channels that may take a payment by `method`, best first.
pub async fn channel_candidates(
    state: &RuntimeState,
    tenant: &Tenant,
    keys: &TenantKeys,
    method: Option<&str>,
) -> Result<Vec<Candidate>, StoreError> {
    let configured = list_enabled_channels_for_tenant(state.db.reader(), &tenant.id)
        .await?
        .into_iter()
        .map(|c| Configured { credentials: credentials_of(keys, &c), kind: c.channel })
        .collect();
    candidates(configured, method, tenant.is_test_mode()).map_err(|e| match e {
        RouteError::NotOffered(m) => StoreError::ChannelNotOffered(m),
        RouteError::NoneAvailable => StoreError::NoPaymentChannel,
    })
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
) -> Result<(PaymentStart, &'static str), StoreError> {
    let mut failures = Vec::new();
    for cand in candidates {
        let kind = cand.channel.kind();
        if state.health.admit(&tenant.id, kind) == Admission::Skipped {
            failures.push(format!("{kind}: circuit breaker open"));
            continue;
        }
        let payment_id = new_id();
        insert_attempt(
            state.db.writer(),
            NewAttempt {
                tenant_id: &tenant.id,
                payment_id: &payment_id,
                order_id: order.order_id,
                channel: kind,
                amount_minor: order.amount_minor,
                currency: order.currency,
            },
        )
        .await?;
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
        };
        let ctx = state.providers.context(&tenant.id, keys, tenant.is_test_mode(), &cand.credentials);
        let attempted = create_with_retries(cand.channel.as_ref(), ctx, &req, state.retry).await;
        let latency_ms = u64::try_from(attempted.elapsed.as_millis()).unwrap_or(u64::MAX);
        match attempted.result {
            Ok(start) => {
                state.health.record_success(&tenant.id, kind, attempted.elapsed);
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
                orders::Entity::update_many()
                    .col_expr(orders::Column::Channel, Expr::value(kind))
                    .filter(orders::Column::TenantId.eq(&tenant.id))
                    .filter(orders::Column::Id.eq(order.order_id))
                    .exec(state.db.writer())
                    .await?;
                if !failures.is_empty() {
                    tracing::warn!(order_no = order.order_no, channel = kind, failed = ?failures, "payment started after failover");
                }
                return Ok((start, kind));
            }
            Err(e) => {
                let transient = matches!(e, ChannelError::Transient(_));
                let text = e.to_string();
                state.health.record_failure(&tenant.id, kind, attempted.elapsed, &text, transient);
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
