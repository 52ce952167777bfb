//! The notification inspector's shop-wide page (owner only):
//! `GET /shops/{slug}/payments/notifications[?verdict=…]`, every payment
//! notification the shop received, newest first, with its verdict and the
//! reason in words, the source address, and the body as it came (secrets
//! and signatures masked; bodies kept 7 days). The answer to "the buyer
//! paid but the order did not update": either no notification came (ask
//! the provider from the order page), or it came and here is why it was
//! refused.

use axum::extract::{Query, State};
use axum::response::Response;
use kapu_core::entities::payment_notifications;
use kapu_core::store::payment_notifications::{Verdict, recent_notifications_for_tenant};
use minijinja::{Value, context};

use crate::auth::csrf::CsrfToken;
use crate::auth::shop_access::OwnerAccess;
use crate::error::PageResult;
use crate::orders::when;
use crate::page::{Layout, render};
use crate::state::PlatformState;

/// One notification as the inspector shows it (here and on the order page).
pub fn notification_row(n: &payment_notifications::Model) -> Value {
    let verdict = Verdict::parse(&n.verdict);
    let (zh, en) = verdict.map_or(("", ""), Verdict::meaning);
    context! {
        at => when(&n.created_at), channel => kapu_billing::forms::label_of(&n.channel), source_ip => n.source_ip.clone(),
        verdict => n.verdict.clone(), meaning_zh => zh, meaning_en => en, reason => n.reason.clone(),
        rejected => verdict.is_some_and(Verdict::is_rejection), order_no => n.order_no.clone(),
        body => n.body.clone(),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    verdict: Option<String>,
}

pub async fn notifications_page(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    Query(f): Query<Filter>,
) -> PageResult<Response> {
    let verdict = f.verdict.as_deref().and_then(Verdict::parse);
    let rows =
        recent_notifications_for_tenant(state.db.reader(), access.tenant_id(), verdict.map(Verdict::as_str), 200)
            .await?;
    let notifications: Vec<Value> = rows.iter().map(notification_row).collect();
    let filters: Vec<Value> = Verdict::ALL
        .iter()
        .map(|v| context! { value => v.as_str(), zh => v.meaning().0, en => v.meaning().1, on => Some(*v) == verdict })
        .collect();
    let layout = Layout {
        account: None,
        csrf: &csrf,
        shop: Some(&access),
        nav: "channels",
        flash: None,
        title: "支付通知 Payment notifications",
    };
    render("notifications.html", layout, context! { notifications, filters, verdict => verdict.map(Verdict::as_str) })
}
