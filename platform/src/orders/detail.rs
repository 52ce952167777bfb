//! `GET /shops/{slug}/orders/{order_no}`: one order with its payment
//! attempts, delivered keys (masked) and its jobs (emails).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use kapu_core::money::format_minor;
use kapu_core::store::catalog_admin::mask_key;
use kapu_core::store::manual_delivery::delivered_contents_of_order_for_tenant;
use kapu_core::store::order_admin::{REFUNDABLE, list_jobs_of_order_for_tenant};
use kapu_core::store::orders::find_order_by_no_for_tenant;
use kapu_core::store::payments::list_payments_of_order_for_tenant;
use minijinja::{Value, context};

use crate::auth::csrf::CsrfToken;
use crate::auth::shop_access::ShopAccess;
use crate::error::{PageError, PageResult};
use crate::orders::{status_label, when};
use crate::page::{Layout, flash_for, render};
use crate::shops::list::FlashQuery;
use crate::state::PlatformState;

pub async fn order_detail(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Path((_, order_no)): Path<(String, String)>,
    Query(q): Query<FlashQuery>,
) -> PageResult<Response> {
    let tenant = access.tenant_id();
    let r = state.db.reader();
    let o = find_order_by_no_for_tenant(r, tenant, &order_no).await?.ok_or(PageError::NotFound)?;
    let tkeys = state.master.tenant(tenant);
    let keys: Vec<String> =
        delivered_contents_of_order_for_tenant(r, &tkeys, &o).await?.iter().map(|k| mask_key(k)).collect();
    let money = |m: i64| format!("{} {}", format_minor(m, &o.currency), o.currency);
    let payments: Vec<Value> = list_payments_of_order_for_tenant(r, tenant, &o.id)
        .await?
        .iter()
        .map(|p| {
            let refundable = p.status == kapu_core::store::payments::status::SUCCEEDED
                && kapu_billing::channels::channel_by_kind(&p.channel).is_some_and(|c| c.supports_refund())
                && access.role == kapu_core::store::accounts::Role::Owner;
            // A provider to ask: not the sandbox, which has none.
            let askable = (p.status == kapu_core::store::payments::status::CREATED
                || p.status == kapu_core::store::payments::status::FAILED)
                && kapu_billing::channels::channel_by_kind(&p.channel).is_some_and(|c| !c.test_only());
            context! { id => p.id.clone(), created_at => when(&p.created_at), channel => kapu_billing::forms::label_of(&p.channel), status => p.status.clone(), askable,
            amount => money(p.amount_minor), provider_ref => p.provider_ref.clone(), error => p.error.clone(), refundable }
        })
        .collect();
    let order_jobs = list_jobs_of_order_for_tenant(r, tenant, &o).await?;
    // A buyer email refused for good (no such mailbox…): said plainly, with
    // what the receiving server answered.
    let email_refused = order_jobs
        .iter()
        .filter(|j| j.status == "dead" && kapu_core::jobs::kinds::BUYER_MAIL.contains(&j.kind.as_str()))
        .filter_map(|j| j.last_error.clone())
        .find(|e| kapu_core::mail::MailError::is_refusal_text(e));
    // An order no longer waiting for payment has nothing to expire: its
    // expiry job (still queued for the time the order would have expired,
    // when it will do nothing) is not shown as pending work.
    let waiting = o.status == kapu_core::store::orders::status::PENDING;
    let jobs: Vec<Value> = order_jobs
        .iter()
        .filter(|j| waiting || j.kind != kapu_core::jobs::kinds::EXPIRE_ORDER || j.status != "queued")
        .map(|j| {
            let at = if j.status == "done" { &j.updated_at } else { &j.run_at };
            context! { kind => job_label(&j.kind), state => j.status.clone(), attempts => j.attempts, at => when(at), error => j.last_error.clone() }
        })
        .collect();
    // The notification inspector: what the providers said, what asking them found.
    let notifications: Vec<Value> =
        kapu_core::store::payment_notifications::notifications_of_order_for_tenant(r, tenant, &o.order_no)
            .await?
            .iter()
            .map(crate::shops::notifications::notification_row)
            .collect();
    let checks: Vec<Value> = kapu_core::store::payment_checks::checks_of_order_for_tenant(
        r,
        tenant,
        &o.order_no,
        o.created_at,
    )
    .await?
    .into_iter()
    .map(|c| {
        context! { at => when(&c.created_at), channel => kapu_billing::forms::label_of(&c.channel),
        outcome => c.outcome.clone(), label => crate::shops::channels::outcome_label(&c.outcome), detail => c.detail }
    })
    .collect();
    let deliveries: Vec<Value> =
        kapu_core::store::webhooks::deliveries_of_order_for_tenant(r, tenant, &o.order_no, o.created_at)
            .await?
            .into_iter()
            .map(|d| {
                context! { at => when(&d.created_at), event => d.event_type, status => d.status, attempts => d.attempts,
                code => d.last_status_code, error => d.last_error }
            })
            .collect();
    let order = context! {
        order_no => o.order_no, status_label => status_label(&o.status), status => o.status.clone(),
        product_name => o.product_name, quantity => o.quantity, amount => money(o.amount_minor),
        unit_price => money(o.unit_price_minor), coupon_code => o.coupon_code.clone(), discount => money(o.discount_minor), email => o.email, channel => kapu_billing::forms::label_of(&o.channel), client_ip => o.client_ip,
        created_at => when(&o.created_at), paid_at => o.paid_at.as_ref().map(when),
        delivered_at => o.delivered_at.as_ref().map(when), expires_at => when(&o.expires_at),
        attention_reason => o.attention_reason, email_refused, can_refund => REFUNDABLE.contains(&o.status.as_str()),
        to_fulfil => o.status == kapu_core::store::orders::status::PAID,
        buyer_input => o.buyer_input.as_deref()
            .and_then(|j| serde_json::from_str::<std::collections::BTreeMap<String, String>>(j).ok())
            .map(|m| m.into_iter().map(|(label, value)| context! { label, value }).collect::<Vec<_>>()),
    };
    let layout = Layout {
        account: None,
        csrf: &csrf,
        shop: Some(&access),
        nav: "orders",
        flash: flash_for(q.m.as_deref()),
        title: "订单 Orders",
    };
    render("order.html", layout, context! { order, payments, keys, jobs, notifications, checks, deliveries })
}

fn job_label(kind: &str) -> &str {
    crate::language::bi(match kind {
        "send_delivery_email" => "发货邮件 Delivery email",
        "notify_attention" => "售罄通知邮件 Sold-out notice email",
        "expire_order" => "订单过期 Order expiry",
        "check_payment" => "向渠道查询 Provider check",
        other => other,
    })
}
