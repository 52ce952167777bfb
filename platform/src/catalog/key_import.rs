//! Importing card keys: `POST /shops/{slug}/products/{id}/keys` (paste or
//! upload, multipart), then `GET /shops/{slug}/imports/{id}` (progress page)
//! and `…/imports/{id}.json` (progress for the page's script).
//!
//! The request only reads and splits the text, records the import and hands
//! it to a background task, which inserts chunks of 1,000 keys, each in its
//! own short transaction, so storefront checkouts keep flowing between
//! chunks (SQLite has one writer). An import cut short by a restart shows as
//! interrupted; importing the same text again finishes it, because keys the
//! product already holds are skipped.

use kapu_core::store::plan_limits::check_key_room_exactly;
use std::collections::HashSet;

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::store::catalog_admin::find_product_for_tenant;
use kapu_core::store::key_imports::{
    Delimiter, Entry, ImportProgress, MAX_PROBLEMS, Problem, create_key_import_for_tenant, effective_status,
    find_key_import_for_tenant, import_chunk_for_tenant, refresh_card_key_statistics, split_entries,
    update_key_import_for_tenant,
};
use minijinja::{Value, context};

use crate::auth::csrf::{CsrfToken, verify_token};
use crate::auth::shop_access::ShopAccess;
use crate::catalog::keys::render_keys_page;
use crate::error::{PageError, PageResult};
use crate::page::{Layout, render, with_status};
use crate::state::PlatformState;

/// Largest upload accepted (pasted text and file together).
pub const MAX_UPLOAD_BYTES: usize = 16 * 1024 * 1024;
/// Most keys in one import.
pub const MAX_KEYS: usize = 200_000;
const CHUNK: usize = 1000;

pub async fn import_keys(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    headers: axum::http::HeaderMap,
    Path((_, product_id)): Path<(String, String)>,
    mut multipart: Multipart,
) -> PageResult<Response> {
    let mut token = String::new();
    let mut text = String::new();
    let mut delimiter = String::new();
    let mut not_utf8 = false;
    while let Some(field) =
        multipart.next_field().await.map_err(|e| PageError::BadRequest(upload_error(&e.body_text())))?
    {
        let name = field.name().unwrap_or("").to_string();
        let bytes = field.bytes().await.map_err(|e| PageError::BadRequest(upload_error(&e.body_text())))?;
        match name.as_str() {
            "csrf" => token = String::from_utf8_lossy(&bytes).into_owned(),
            "delimiter" => delimiter = String::from_utf8_lossy(&bytes).into_owned(),
            "text" | "file" => match std::str::from_utf8(&bytes) {
                Ok(s) => {
                    text.push_str(s);
                    text.push('\n');
                }
                Err(_) => not_utf8 = true,
            },
            _ => {}
        }
    }
    verify_token(&state, &headers, &token)?;
    let product = find_product_for_tenant(state.db.reader(), access.tenant_id(), &product_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let refuse = |msg: String| {
        let (state, access, csrf, product) = (&state, &access, &csrf, &product);
        async move {
            let r = render_keys_page(state, access, csrf, product, None, &[msg]).await?;
            Ok::<_, PageError>(with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, r))
        }
    };
    if product.kind == kapu_core::store::external_supply::KIND {
        return refuse("该商品在付款后向外部供应商进货，不能导入卡密。This product is bought from its external supplier after each payment; it takes no keys of its own.".into()).await;
    }
    if product.supply_tenant_id.is_some() {
        return refuse("该商品从供应商库存发货，不能导入卡密。This product delivers from its supplier's stock; it takes no keys of its own.".into()).await;
    }
    if not_utf8 {
        return refuse("文件不是 UTF-8 编码，请另存为 UTF-8 后再上传。The file is not UTF-8 text; save it as UTF-8 and upload again.".into()).await;
    }
    let Some(delimiter) = Delimiter::parse(&delimiter) else {
        return refuse("请选择分隔符。Choose a delimiter.".into()).await;
    };
    let entries = split_entries(&text, delimiter);
    if entries.is_empty() {
        return refuse("没有找到卡密：请粘贴或上传至少一行。No keys found: paste or upload at least one line.".into())
            .await;
    }
    if entries.len() > MAX_KEYS {
        return refuse(format!(
            "一次最多导入 {MAX_KEYS} 个卡密（本次 {}）。请分批导入。At most {MAX_KEYS} keys per import ({} given); split the file.",
            entries.len(),
            entries.len()
        ))
        .await;
    }
    let tenant_id = access.tenant_id().to_string();
    // Checked and recorded in one transaction, with the shop locked: two
    // imports started together cannot both take the last room of the plan.
    let txn = state.db.begin().await?;
    if let Err(over) = check_key_room_exactly(&txn, &tenant_id, entries.len() as u64).await? {
        drop(txn);
        return refuse(over.to_string()).await;
    }
    let blank = kapu_core::store::key_imports::count_blank_lines(&text) as i64;
    let import_id = create_key_import_for_tenant(&txn, &tenant_id, &product.id, entries.len() as i64, blank).await?;
    txn.commit().await?;
    tracing::info!(tenant = %tenant_id, product = %product.id, import = %import_id, keys = entries.len(), "key import started");
    tokio::spawn(run_import(state.clone(), tenant_id, product.id.clone(), import_id.clone(), entries));
    Ok(Redirect::to(&format!("/shops/{}/imports/{import_id}", access.shop.slug)).into_response())
}

fn upload_error(detail: &str) -> String {
    format!("上传失败（文件最大 {} MB）。The upload failed (16 MB at most): {detail}", MAX_UPLOAD_BYTES / (1024 * 1024))
}

/// Inserts the entries chunk by chunk, recording progress after each.
async fn run_import(
    state: PlatformState,
    tenant_id: String,
    product_id: String,
    import_id: String,
    entries: Vec<Entry>,
) {
    let keys = state.master.tenant(&tenant_id);
    let mut seen = HashSet::new();
    let mut p = ImportProgress::default();
    let mut last_notice = std::time::Instant::now();
    for (i, chunk) in entries.chunks(CHUNK).enumerate() {
        // Keep the planner's picture of card_keys current while it grows
        // (PostgreSQL; once more at the end): without it a sale that starts
        // right after an import picks keys at a third of the rate.
        if i % 20 == 1
            && let Err(e) = refresh_card_key_statistics(state.db.writer()).await
        {
            tracing::warn!(error = %e, "ANALYZE card_keys failed; the import goes on");
        }
        let step = async {
            let txn = state.db.begin().await?;
            let out = import_chunk_for_tenant(&txn, &keys, &tenant_id, &product_id, chunk, &mut seen).await?;
            p.processed += chunk.len() as i64;
            p.imported += out.imported as i64;
            p.duplicate += out.duplicate as i64;
            p.invalid += out.invalid as i64;
            let room = MAX_PROBLEMS.saturating_sub(p.problems.len());
            p.problems.extend(out.problems.into_iter().take(room));
            update_key_import_for_tenant(&txn, &tenant_id, &import_id, "running", &p, None).await?;
            txn.commit().await
        };
        if let Err(e) = step.await {
            tracing::error!(tenant = %tenant_id, import = %import_id, error = %e, "key import failed");
            let msg = "导入中途出错，已导入的卡密保留；再次导入同一文件即可补齐。The import stopped on an error; keys imported so far are kept — import the same file again to finish.";
            let _ =
                update_key_import_for_tenant(state.db.writer(), &tenant_id, &import_id, "failed", &p, Some(msg)).await;
            state.bus.stock_changed(&tenant_id);
            return;
        }
        // Let the storefront see new stock as it arrives, at most once a second
        // (each notice makes the storefront count the product's keys again).
        if last_notice.elapsed() >= std::time::Duration::from_secs(1) {
            state.bus.stock_changed(&tenant_id);
            last_notice = std::time::Instant::now();
        }
    }
    if let Err(e) = refresh_card_key_statistics(state.db.writer()).await {
        tracing::warn!(error = %e, "ANALYZE card_keys failed after an import");
    }
    state.bus.stock_changed(&tenant_id);
    if let Err(e) = update_key_import_for_tenant(state.db.writer(), &tenant_id, &import_id, "done", &p, None).await {
        tracing::error!(import = %import_id, error = %e, "could not record the end of a key import");
    }
    tracing::info!(tenant = %tenant_id, import = %import_id, imported = p.imported, duplicate = p.duplicate, invalid = p.invalid, "key import done");
}

fn status_label(status: &str) -> &'static str {
    crate::language::bi(match status {
        "running" => "导入中 Importing…",
        "done" => "已完成 Done",
        "failed" => "失败 Failed",
        "interrupted" => "已中断 Interrupted",
        _ => "未知 Unknown",
    })
}

fn reason_label(reason: &str) -> &'static str {
    crate::language::bi(match reason {
        "too_long" => "过长（超过 1024 字节）Too long (over 1,024 bytes)",
        "control_characters" => "含控制字符 Contains control characters",
        "duplicate_in_file" => "与文件中前面的行重复 Repeats an earlier line",
        "already_on_product" => "该商品已有此卡密 The product already has this key",
        _ => "无效 Invalid",
    })
}

pub async fn import_page(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Path((_, import_id)): Path<(String, String)>,
) -> PageResult<Response> {
    if let Some(id) = import_id.strip_suffix(".json") {
        return import_json(&state, &access, id).await;
    }
    let i = find_key_import_for_tenant(state.db.reader(), access.tenant_id(), &import_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let product = find_product_for_tenant(state.db.reader(), access.tenant_id(), &i.product_id).await?;
    let status = effective_status(&i, Utc::now()).to_string();
    let mut problems: Vec<Problem> = serde_json::from_str(&i.problems).unwrap_or_default();
    // In line order, each with the text that caused it.
    problems.sort_by_key(|p| p.line);
    let not_listed = (i.duplicate + i.invalid - problems.len() as i64).max(0);
    let problems: Vec<Value> = problems
        .iter()
        .map(|p| context! { line => p.line, reason => reason_label(&p.reason), text => p.text.clone() })
        .collect();
    let page = context! {
        product_name => product.map(|p| p.name).unwrap_or_default(),
        import => context! {
            id => i.id, product_id => i.product_id, status_label => status_label(&status), status,
            total => i.total, processed => i.processed, imported => i.imported, duplicate => i.duplicate,
            invalid => i.invalid, error => i.error, problems, not_listed, blank_lines => i.blank_lines,
        },
    };
    let layout = Layout {
        account: None,
        csrf: &csrf,
        shop: Some(&access),
        nav: "products",
        flash: None,
        title: "导入卡密 Key import",
    };
    render("import.html", layout, page)
}

async fn import_json(state: &PlatformState, access: &ShopAccess, import_id: &str) -> PageResult<Response> {
    let i = find_key_import_for_tenant(state.db.reader(), access.tenant_id(), import_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let status = effective_status(&i, Utc::now());
    Ok(Json(serde_json::json!({
        "id": i.id, "status": status, "status_label": status_label(status), "total": i.total,
        "processed": i.processed, "imported": i.imported, "duplicate": i.duplicate, "invalid": i.invalid,
    }))
    .into_response())
}
