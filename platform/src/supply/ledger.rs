//! The supply ledger: `GET /shops/{slug}/supply/ledger` shows a shop's
//! balance with each shop it supplies or resells for and its entries, and
//! how the platform settles them; where shops settle directly, a supplier
//! records a payment it received (`POST …/supply/ledger/settle`);
//! `GET /ops/supply-ledger.csv` exports every entry for operators.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::money::format_minor;
use kapu_core::store::platform_settings::{SupplySettlement, supply_settlement};
use kapu_core::store::supply::{
    LedgerView, SettlementRefusal, all_ledger_entries, ledger_view_for_tenant, record_settlement, shop_names,
};
use minijinja::{Value, context};

use crate::audit::shop_action;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::{OwnerAccess, ShopAccess};
use crate::error::PageResult;
use crate::orders::export::csv_row;
use crate::page::{Layout, render};
use crate::state::PlatformState;

pub async fn ledger_page(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<crate::shops::list::FlashQuery>,
) -> PageResult<Response> {
    page(&state, &access, &csrf, &[], crate::page::flash_for(q.m.as_deref())).await
}

/// The ledger page, with the errors of a settlement just refused, or a flash.
pub(crate) async fn page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    errors: &[String],
    flash: Option<crate::page::Flash>,
) -> PageResult<Response> {
    let r = state.db.reader();
    let me = access.tenant_id();
    let LedgerView { balances, entries, shops: names } = ledger_view_for_tenant(r, me, 200).await?;
    let name = |id: &str| names.get(id).map(|(_, n)| n.clone()).unwrap_or_else(|| id.to_string());
    let any_owed = balances.iter().any(|b| b.owed_to_me_minor > 0);
    let balances: Vec<Value> = balances
        .iter()
        .map(|b| {
            context! {
                shop => name(&b.other_tenant_id), other_id => b.other_tenant_id.clone(),
                currency => b.currency.clone(), entries => b.entries,
                owed_to_me_field => format_minor(b.owed_to_me_minor.max(0), &b.currency),
                owed_to_me => (b.owed_to_me_minor > 0).then(|| format_minor(b.owed_to_me_minor, &b.currency)),
                i_owe => (b.owed_to_me_minor < 0).then(|| format_minor(-b.owed_to_me_minor, &b.currency)),
            }
        })
        .collect();
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            let supplying = e.supplier_tenant_id == me;
            // Positive: owed to this shop.
            let signed = if supplying { e.amount_minor } else { -e.amount_minor };
            context! {
                at => e.created_at.format("%Y-%m-%d %H:%M").to_string(), kind => e.kind.clone(),
                role => if supplying { "supplier" } else { "reseller" },
                other => name(if supplying { &e.reseller_tenant_id } else { &e.supplier_tenant_id }),
                order_no => e.order_no.clone(), product => e.product_name.clone(), quantity => e.quantity,
                amount => format!("{}{}", if signed < 0 { "−" } else { "+" }, format_minor(signed.abs(), &e.currency)),
                currency => e.currency.clone(),
            }
        })
        .collect();
    let settlement = supply_settlement(r).await?.as_str();
    let layout =
        Layout { account: None, csrf, shop: Some(access), nav: "supply", flash, title: "分销账本 Supply ledger" };
    let resp = render(
        "supply_ledger.html",
        layout,
        context! { balances, entries, settlement, any_owed, owner => access.is_owner(), errors => crate::page::ser(errors) },
    )?;
    Ok(if errors.is_empty() { resp } else { crate::page::with_status(StatusCode::UNPROCESSABLE_ENTITY, resp) })
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SettlementForm {
    #[serde(default)]
    reseller: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    note: String,
}

/// `POST /shops/{slug}/supply/ledger/settle` (owner, when shops settle
/// directly): the supplier records a payment it received from a reseller.
pub async fn record_payment_received(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(form): VerifiedForm<SettlementForm>,
) -> PageResult<Response> {
    if supply_settlement(state.db.reader()).await? != SupplySettlement::Direct {
        let e = "本平台由平台代收代付分销款，结算由平台记录。On this platform the platform collects and pays out; operators record settlements.";
        return page(&state, &access, &csrf, &[e.to_string()], None).await;
    }
    let recorded = settle(&state, access.tenant_id(), &form, "payment received").await?;
    match recorded {
        Ok(e) => {
            let detail =
                format!("{} {} from {}", format_minor(-e.amount_minor, &e.currency), e.currency, form.reseller);
            shop_action(&state, &access, ip, "supply.settlement_recorded", &e.id, &detail).await?;
            Ok(Redirect::to(&format!("/shops/{}/supply/ledger?m=saved", access.shop.slug)).into_response())
        }
        Err(problem) => page(&state, &access, &csrf, &[problem], None).await,
    }
}

/// Checks a settlement form and records it for `supplier`: the entry, or
/// what is wrong (in both languages).
pub(crate) async fn settle(
    state: &PlatformState,
    supplier: &str,
    form: &SettlementForm,
    what: &str,
) -> PageResult<Result<kapu_core::entities::supply_ledger::Model, String>> {
    let currency = form.currency.trim();
    let Some(amount) = kapu_core::money::parse_major(&form.amount, currency) else {
        return Ok(Err("金额格式不正确 The amount is not a valid amount".into()));
    };
    let note = if form.note.trim().is_empty() { what.to_string() } else { form.note.trim().to_string() };
    let txn = state.db.begin().await?;
    let done =
        record_settlement(&txn, supplier, form.reseller.trim(), currency, amount, &note, chrono::Utc::now()).await;
    match done {
        Ok(Ok(e)) => {
            txn.commit().await?;
            Ok(Ok(e))
        }
        Ok(Err(refusal)) => {
            let _ = txn.rollback().await;
            Ok(Err(match refusal {
                SettlementRefusal::NotPositive => "金额须大于 0 The amount must be more than 0".to_string(),
                SettlementRefusal::MoreThanOwed { owed } => {
                    let o = format_minor(owed, currency);
                    format!("金额超过对方所欠的 {o} {currency} The amount is more than the {o} {currency} owed")
                }
            }))
        }
        Err(e) => {
            let _ = txn.rollback().await;
            Err(e.into())
        }
    }
}

/// Every ledger entry, oldest first, for operators.
pub async fn export_ledger_csv(
    State(state): State<PlatformState>,
    _op: crate::ops::session::Operator,
) -> PageResult<Response> {
    let r = state.db.reader();
    let entries = all_ledger_entries(r).await?;
    let names =
        shop_names(r, entries.iter().flat_map(|e| [e.supplier_tenant_id.clone(), e.reseller_tenant_id.clone()]))
            .await?;
    let slug = |id: &str| names.get(id).map(|(s, _)| s.clone()).unwrap_or_default();
    // Amounts are positive in one column or the other (a leading minus would
    // be defused as a formula): `owed` books a resale, `reversed` a refund.
    let mut out = String::from("created_at,kind,supplier,reseller,order_no,product,quantity,owed,reversed,currency\n");
    for e in &entries {
        let row = [
            e.created_at.to_rfc3339(),
            e.kind.clone(),
            slug(&e.supplier_tenant_id),
            slug(&e.reseller_tenant_id),
            e.order_no.clone(),
            e.product_name.clone(),
            e.quantity.to_string(),
            if e.amount_minor >= 0 { format_minor(e.amount_minor, &e.currency) } else { String::new() },
            if e.amount_minor < 0 { format_minor(-e.amount_minor, &e.currency) } else { String::new() },
            e.currency.clone(),
        ];
        out.push_str(&csv_row(&row));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"supply-ledger.csv\""),
        ],
        out,
    )
        .into_response())
}
