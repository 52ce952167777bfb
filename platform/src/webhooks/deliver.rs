//! Delivering one webhook: `POST` the JSON body with the Standard Webhooks
//! headers (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,…`)
//! through the provider HTTP client (no loopback or private addresses for a
//! merchant's URL, no redirects, bounded time). A 2xx answer delivers it;
//! anything else is retried on `KAPU_WEBHOOK_RETRY_SECS` (about a day in
//! all); when the last try fails the endpoint is turned off and the shop's
//! owner is emailed.

use chrono::{Duration, Utc};
use kapu_billing::channel::exchange;
use kapu_core::mail::{Mailer, OutgoingMail};

use crate::language::{Lang, for_reader, subject_for};
use kapu_core::store::audit::{Actor, record_audit};
use kapu_core::store::tenant_admin::owner_contact_of;
use kapu_core::store::webhooks::{
    find_delivery_for_tenant, find_endpoint_for_tenant, queue_delivery, record_attempt_for_tenant,
    set_endpoint_enabled_for_tenant, sign,
};

use crate::state::PlatformState;

/// Seconds to wait before each retry, from `KAPU_WEBHOOK_RETRY_SECS`.
pub fn retry_schedule(text: &str) -> Vec<i64> {
    text.split(',').filter_map(|s| s.trim().parse::<i64>().ok()).filter(|s| *s >= 0).collect()
}

#[derive(Debug, serde::Deserialize)]
pub struct DeliverJob {
    pub delivery_id: String,
}

/// Runs a `deliver_webhook` job for `tenant_id`.
pub async fn deliver_webhook(
    state: &PlatformState,
    mailer: &Mailer,
    tenant_id: &str,
    job: &DeliverJob,
) -> anyhow::Result<()> {
    let db = state.db.writer();
    let Some(d) = find_delivery_for_tenant(db, tenant_id, &job.delivery_id).await? else { return Ok(()) };
    if d.status != "pending" {
        return Ok(());
    }
    let Some(ep) = find_endpoint_for_tenant(db, tenant_id, &d.endpoint_id).await? else {
        record_attempt_for_tenant(db, tenant_id, &d.id, None, Some("endpoint deleted"), false, None).await?;
        return Ok(());
    };
    if !ep.enabled {
        record_attempt_for_tenant(db, tenant_id, &d.id, None, Some("endpoint disabled"), false, None).await?;
        return Ok(());
    }
    let secret = state.master.tenant(tenant_id).open(&ep.secret_ciphertext, &ep.secret_nonce)?;
    let now = Utc::now();
    let msg_id = format!("msg_{}", d.id);
    let request = state
        .providers
        .http
        .post(&ep.url)
        .timeout(state.providers.timeout)
        .header("content-type", "application/json")
        .header("user-agent", "Kapu-Webhooks/1")
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", now.timestamp().to_string())
        .header("webhook-signature", sign(&secret, &msg_id, now.timestamp(), &d.payload))
        .body(d.payload.clone());
    let (code, error) = match exchange(request, state.providers.allow_private_hosts).await {
        Ok(a) if a.status.is_success() => (Some(i32::from(a.status.as_u16())), None),
        Ok(a) => (Some(i32::from(a.status.as_u16())), Some(format!("answered {}", a.status.as_u16()))),
        Err(e) => (None, Some(e.to_string())),
    };
    if error.is_none() {
        record_attempt_for_tenant(db, tenant_id, &d.id, code, None, true, None).await?;
        kapu_core::metrics::webhook_delivery("delivered");
        return Ok(());
    }
    let schedule = retry_schedule(&state.cfg.webhook_retry_secs);
    let next = schedule.get(d.attempts.max(0) as usize).map(|secs| now + Duration::seconds(*secs));
    kapu_core::metrics::webhook_delivery(if next.is_some() { "failed" } else { "gave_up" });
    record_attempt_for_tenant(db, tenant_id, &d.id, code, error.as_deref(), false, next).await?;
    match next {
        Some(at) => queue_delivery(db, tenant_id, &d.id, at).await?,
        None => {
            let reason = format!(
                "{} 次投递均失败，已自动停用。Turned off after {} failed attempts (last: {}).",
                d.attempts + 1,
                d.attempts + 1,
                error.as_deref().unwrap_or_default()
            );
            set_endpoint_enabled_for_tenant(db, tenant_id, &ep.id, false, Some(&reason)).await?;
            record_audit(db, &Actor::system(), Some(tenant_id), "webhook.disable", &ep.url, &reason).await?;
            if let Some((to, lang)) = owner_contact_of(db, tenant_id).await? {
                let lang = lang.as_deref().and_then(Lang::parse_choice);
                let url = &ep.url;
                let last = error.as_deref().unwrap_or_default();
                let text = for_reader(
                    lang,
                    format!(
                        "发往 {url} 的 Webhook 连续 {} 次投递失败，已被停用（最后一次：{last}）。修复后请在店铺后台“Webhooks”页面重新启用并重发。",
                        d.attempts + 1
                    ),
                    format!(
                        "Deliveries to {url} failed {} times in a row (last: {last}), so Kapu turned the endpoint off. Fix it, then turn it back on and redeliver from the Webhooks page of your dashboard.",
                        d.attempts + 1
                    ),
                );
                let mail = OutgoingMail {
                    to,
                    subject: subject_for(lang, "Webhook 已停用".into(), "A webhook endpoint was turned off".into()),
                    text: format!("{text}\n\n— Kapu\n"),
                    html: None,
                    shop_name: None,
                };
                mailer.send(&mail).await?;
            }
        }
    }
    Ok(())
}
