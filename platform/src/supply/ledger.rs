//! The supply ledger: `GET /shops/{slug}/supply/ledger` shows a shop's
//! balance with each shop it supplies or resells for and its entries;
//! `GET /ops/supply-ledger.csv` exports every entry for operators.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kapu_core::money::format_minor;
use kapu_core::store::supply::{LedgerView, all_ledger_entries, ledger_view_for_tenant, shop_names};
use minijinja::{Value, context};

use crate::auth::csrf::CsrfToken;
use crate::auth::shop_access::ShopAccess;
use crate::error::PageResult;
use crate::orders::export::csv_row;
use crate::page::{Layout, render};
use crate::state::PlatformState;

pub async fn ledger_page(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
) -> PageResult<Response> {
    let r = state.db.reader();
    let me = access.tenant_id();
    let LedgerView { balances, entries, shops: names } = ledger_view_for_tenant(r, me, 200).await?;
    let name = |id: &str| names.get(id).map(|(_, n)| n.clone()).unwrap_or_else(|| id.to_string());
    let balances: Vec<Value> = balances
        .iter()
        .map(|b| {
            context! {
                shop => name(&b.other_tenant_id), currency => b.currency.clone(), entries => b.entries,
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
    let layout = Layout {
        account: None,
        csrf: &csrf,
        shop: Some(&access),
        nav: "supply",
        flash: None,
        title: "分销账本 Supply ledger",
    };
    render("supply_ledger.html", layout, context! { balances, entries })
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
