//! Supply settlement in the console: `GET /ops/supply` shows how the money
//! on the supply ledger moves (the platform setting) and what each
//! reseller owes each supplier; `POST /ops/supply/settlement` changes the
//! setting, and, where the platform collects and pays out,
//! `POST /ops/supply/settle` records a settlement between two shops.
//! Both are audited.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::money::format_minor;
use kapu_core::store::audit::record_audit;
use kapu_core::store::platform_settings::{SupplySettlement, set_supply_settlement, supply_settlement};
use kapu_core::store::supply::{all_balances, shop_names};
use minijinja::{Value, context};

use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::error::{PageError, PageResult};
use crate::ops::session::Operator;
use crate::ops::{FlashParam, OpsPage, ops_flash, render_ops};
use crate::page::with_status;
use crate::state::PlatformState;
use crate::supply::ledger::{SettlementForm, settle};

pub async fn supply_page(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<FlashParam>,
) -> PageResult<Response> {
    page(&state, &op, &csrf, ops_flash(q.m.as_deref()), None).await
}

async fn page(
    state: &PlatformState,
    op: &Operator,
    csrf: &str,
    flash: Option<crate::page::Flash>,
    error: Option<String>,
) -> PageResult<Response> {
    let r = state.db.reader();
    let mode = supply_settlement(r).await?;
    let balances = all_balances(r).await?;
    let names = shop_names(r, balances.iter().flat_map(|b| [b.0.clone(), b.1.clone()])).await?;
    let slug = |id: &str| names.get(id).map(|(s, _)| s.clone()).unwrap_or_else(|| id.to_string());
    let rows: Vec<Value> = balances
        .iter()
        .map(|(supplier, reseller, currency, owed, entries)| {
            context! {
                supplier_id => supplier, reseller_id => reseller, supplier => slug(supplier), reseller => slug(reseller),
                currency, owed => format_minor(*owed, currency), owes => *owed > 0, entries,
            }
        })
        .collect();
    let layout = OpsPage { operator: Some(op), csrf, nav: "supply", flash, title: "分销结算 Supply settlement" };
    let failed = error.is_some();
    let resp = render_ops("ops_supply.html", layout, context! { mode => mode.as_str(), rows, error })?;
    Ok(if failed { with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, resp) } else { resp })
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ModeForm {
    #[serde(default)]
    mode: String,
}

pub async fn set_mode(
    State(state): State<PlatformState>,
    op: Operator,
    VerifiedForm(form): VerifiedForm<ModeForm>,
) -> PageResult<Response> {
    let mode = SupplySettlement::parse(form.mode.trim()).ok_or_else(|| {
        PageError::BadRequest("结算方式只能是 direct 或 platform。The mode is direct or platform.".into())
    })?;
    set_supply_settlement(state.db.writer(), mode, Utc::now()).await?;
    record_audit(state.db.writer(), &op.actor(), None, "supply.settlement_mode", mode.as_str(), "").await?;
    Ok(Redirect::to("/ops/supply?m=saved").into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct OpsSettlementForm {
    #[serde(default)]
    supplier: String,
    #[serde(flatten)]
    rest: SettlementForm,
}

pub async fn record(
    State(state): State<PlatformState>,
    op: Operator,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(form): VerifiedForm<OpsSettlementForm>,
) -> PageResult<Response> {
    if supply_settlement(state.db.reader()).await? != SupplySettlement::Platform {
        let e =
            "店铺之间直接结算时，由供应商记录收款。Where shops settle directly, suppliers record what they receive.";
        return page(&state, &op, &csrf, None, Some(e.into())).await;
    }
    match settle(&state, form.supplier.trim(), &form.rest, "settled by the platform").await? {
        Ok(e) => {
            let detail = format!(
                "{} {} from {} to {}",
                format_minor(-e.amount_minor, &e.currency),
                e.currency,
                e.reseller_tenant_id,
                e.supplier_tenant_id
            );
            record_audit(
                state.db.writer(),
                &op.actor(),
                Some(&e.supplier_tenant_id),
                "supply.settlement_recorded",
                &e.id,
                &detail,
            )
            .await?;
            Ok(Redirect::to("/ops/supply?m=saved").into_response())
        }
        Err(problem) => page(&state, &op, &csrf, None, Some(problem)).await,
    }
}
