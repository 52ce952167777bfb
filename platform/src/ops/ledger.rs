//! The platform fee ledger: `GET /ops/ledger?month=YYYY-MM` (per-shop totals
//! of the month) and `GET /ops/ledger.csv?month=YYYY-MM` (one row per paid
//! order, for invoicing).

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use kapu_core::entities::tenants;
use kapu_core::money::format_minor;
use kapu_core::store::audit::record_audit;
use kapu_core::store::fee_ledger::{ledger_for_month, month_of};
use minijinja::context;
use sea_orm::EntityTrait;

use crate::auth::csrf::CsrfToken;
use crate::error::{PageError, PageResult};
use crate::ops::session::Operator;
use crate::ops::{OpsPage, render_ops};
use crate::orders::export::csv_field;
use crate::state::PlatformState;

#[derive(serde::Deserialize, Default)]
pub struct MonthParam {
    #[serde(default)]
    month: String,
}

fn month(p: &MonthParam) -> PageResult<String> {
    let m = p.month.trim();
    if m.is_empty() {
        return Ok(month_of(Utc::now()));
    }
    let ok = m.len() == 7
        && m.as_bytes()[4] == b'-'
        && m[..4].bytes().all(|b| b.is_ascii_digit())
        && m[5..].parse::<u32>().is_ok_and(|n| (1..=12).contains(&n));
    if !ok {
        return Err(PageError::BadRequest(format!("月份格式为 YYYY-MM。The month looks like 2026-11, not {m:?}.")));
    }
    Ok(m.to_string())
}

/// Slugs of the shops in `rows`, by id.
async fn slugs(state: &PlatformState) -> PageResult<std::collections::HashMap<String, String>> {
    Ok(tenants::Entity::find().all(state.db.reader()).await?.into_iter().map(|t| (t.id, t.slug)).collect())
}

pub async fn ledger_page(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    Query(p): Query<MonthParam>,
) -> PageResult<Response> {
    let month = month(&p)?;
    let rows = ledger_for_month(state.db.reader(), &month, None).await?;
    let slugs = slugs(&state).await?;
    // Per shop and currency: orders, amount, fee.
    let mut totals: Vec<(String, String, u64, i64, i64)> = Vec::new();
    for r in &rows {
        match totals.iter_mut().find(|t| t.0 == r.tenant_id && t.1 == r.currency) {
            Some(t) => {
                t.2 += 1;
                t.3 += r.amount_minor;
                t.4 += r.fee_minor;
            }
            None => totals.push((r.tenant_id.clone(), r.currency.clone(), 1, r.amount_minor, r.fee_minor)),
        }
    }
    let totals: Vec<_> = totals
        .iter()
        .map(|(t, c, n, amount, fee)| {
            context! {
                tenant_id => t, slug => slugs.get(t).cloned().unwrap_or_default(), currency => c, orders => n,
                amount => format_minor(*amount, c), fee => format_minor(*fee, c),
            }
        })
        .collect();
    let layout =
        OpsPage { operator: Some(&op), csrf: &csrf, nav: "ledger", flash: None, title: "平台费 Fee ledger" };
    render_ops("ops_ledger.html", layout, context! { month => month, totals => totals })
}

pub async fn ledger_csv(
    State(state): State<PlatformState>,
    op: Operator,
    Query(p): Query<MonthParam>,
) -> PageResult<Response> {
    let month = month(&p)?;
    let rows = ledger_for_month(state.db.reader(), &month, None).await?;
    let slugs = slugs(&state).await?;
    let mut out = String::from("\u{feff}month,shop,tenant_id,order_no,paid_at,plan,currency,amount,fee_bps,fee\r\n");
    for r in &rows {
        let cols = [
            r.month.clone(),
            slugs.get(&r.tenant_id).cloned().unwrap_or_default(),
            r.tenant_id.clone(),
            r.order_no.clone(),
            r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.plan_id.clone(),
            r.currency.clone(),
            format_minor(r.amount_minor, &r.currency),
            r.fee_bps.to_string(),
            format_minor(r.fee_minor, &r.currency),
        ];
        out.push_str(&cols.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    record_audit(state.db.writer(), &op.actor(), None, "ledger.export", &month, &format!("{} rows", rows.len()))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"kapu-fees-{month}.csv\"")),
        ],
        out,
    )
        .into_response())
}
