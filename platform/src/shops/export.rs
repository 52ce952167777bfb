//! `POST /shops/{slug}/export`: everything a merchant needs to leave with
//! their shop, as one zip (owner only, audited): products, orders, their
//! customers' emails, coupons and the unsold keys — the only place keys
//! leave Kapu in clear text besides the per-product key export.

use std::collections::BTreeMap;
use std::io::Write;

use axum::extract::State;
use axum::response::Response;
use chrono::Utc;
use kapu_core::money::format_minor;
use kapu_core::store::catalog_admin::{export_available_keys_of_product_for_tenant, list_all_products_for_tenant};
use kapu_core::store::coupons::list_coupons_for_tenant;
use kapu_core::store::order_search::{OrderFilter, all_orders_for_tenant};

use crate::audit::shop_action;
use crate::auth::csrf::VerifiedForm;
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::OwnerAccess;
use crate::error::{PageError, PageResult};
use crate::orders::export::{MAX_ROWS, csv_row, orders_csv};
use crate::orders::when;
use crate::state::PlatformState;

const README: &str = "\
Kapu 店铺数据导出 / Kapu shop export

products.csv     商品 Products
orders.csv       订单（最多 100,000 条，最新的在前）Orders (up to 100,000, newest first)
customers.csv    买家邮箱及其订单数 Buyers' email addresses and their orders
coupons.csv      优惠券 Coupons
unsold_keys.csv  未售出的卡密（明文！请妥善保管）Unsold keys, IN CLEAR TEXT: keep this file safe
manifest.json    店铺、导出时间与各文件行数 Shop, time of export and rows per file

CSV 文件为 UTF-8（带 BOM），时间为 UTC。CSV files are UTF-8 with a BOM; times are UTC.
";

/// The shop's data, zipped.
pub async fn export_shop(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    let (db, tenant) = (state.db.reader(), access.tenant_id());
    let products = list_all_products_for_tenant(db, tenant).await?;
    let orders = all_orders_for_tenant(db, tenant, &OrderFilter::default(), MAX_ROWS).await?;
    let coupons = list_coupons_for_tenant(db, tenant).await?;
    let keys = state.master.tenant(tenant);

    let bom = "\u{feff}";
    let mut products_csv =
        format!("{bom}id,name,category_id,kind,price,currency,visible,min_qty,max_qty,sort_order,description\n");
    let mut keys_csv = format!("{bom}product_id,product_name,key\n");
    let mut unsold = 0usize;
    for p in &products {
        products_csv.push_str(&csv_row(&[
            p.id.clone(),
            p.name.clone(),
            p.category_id.clone().unwrap_or_default(),
            p.kind.clone(),
            format_minor(p.price_minor, &p.currency),
            p.currency.clone(),
            p.visible.to_string(),
            p.min_qty.to_string(),
            p.max_qty.to_string(),
            p.sort_order.to_string(),
            p.description.clone(),
        ]));
        for k in export_available_keys_of_product_for_tenant(db, &keys, tenant, &p.id).await? {
            keys_csv.push_str(&csv_row(&[p.id.as_str(), p.name.as_str(), k.as_str()]));
            unsold += 1;
        }
    }
    // Buyers by email: how many orders, first and last.
    let mut buyers: BTreeMap<&str, (usize, chrono::DateTime<Utc>, chrono::DateTime<Utc>)> = BTreeMap::new();
    for o in &orders {
        let e = buyers.entry(o.email.as_str()).or_insert((0, o.created_at, o.created_at));
        e.0 += 1;
        e.1 = e.1.min(o.created_at);
        e.2 = e.2.max(o.created_at);
    }
    let mut customers_csv = format!("{bom}email,orders,first_order_utc,last_order_utc\n");
    for (email, (n, first, last)) in &buyers {
        customers_csv.push_str(&csv_row(&[email.to_string(), n.to_string(), when(first), when(last)]));
    }
    let mut coupons_csv = format!("{bom}code,kind,value,product_id,usage_limit,used,expires_at_utc,active\n");
    for c in &coupons {
        coupons_csv.push_str(&csv_row(&[
            c.code.clone(),
            c.kind.clone(),
            c.value.to_string(),
            c.product_id.clone().unwrap_or_default(),
            c.usage_limit.map(|n| n.to_string()).unwrap_or_default(),
            c.used_count.to_string(),
            c.expires_at.as_ref().map(when).unwrap_or_default(),
            c.active.to_string(),
        ]));
    }
    let manifest = serde_json::json!({
        "shop": { "slug": access.shop.slug, "name": access.shop.name },
        "exported_at": Utc::now().to_rfc3339(),
        "rows": {
            "products.csv": products.len(), "orders.csv": orders.len(), "customers.csv": buyers.len(),
            "coupons.csv": coupons.len(), "unsold_keys.csv": unsold,
        },
    });
    let files: [(&str, String); 7] = [
        ("README.txt", README.to_string()),
        ("products.csv", products_csv),
        ("orders.csv", orders_csv(&orders)),
        ("customers.csv", customers_csv),
        ("coupons.csv", coupons_csv),
        ("unsold_keys.csv", keys_csv),
        ("manifest.json", serde_json::to_string_pretty(&manifest).unwrap_or_default()),
    ];
    let zipped = zip_files(&files).map_err(|e| PageError::Internal(format!("zipping the export: {e}")))?;
    shop_action(
        &state,
        &access,
        ip,
        "shop.export",
        &access.shop.slug,
        &format!(
            "{} products, {} orders, {} buyers, {} coupons, {unsold} unsold keys",
            products.len(),
            orders.len(),
            buyers.len(),
            coupons.len()
        ),
    )
    .await?;
    let filename = format!("kapu-{}-{}.zip", access.shop.slug, Utc::now().format("%Y%m%d%H%M%S"));
    Ok(crate::page::download("application/zip", &filename, zipped))
}

fn zip_files(files: &[(&str, String)]) -> zip::result::ZipResult<Vec<u8>> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in files {
        z.start_file(*name, options)?;
        z.write_all(body.as_bytes())?;
    }
    Ok(z.finish()?.into_inner())
}
