//! The merchant's side of the catalog: every product (hidden ones too),
//! categories, and what the dashboard shows about each product's keys.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::crypto::TenantKeys;
use crate::entities::{card_keys, categories, orders, products};
use crate::ids::new_id;
use crate::store::card_keys::KeyReadError;

/// Every product of a tenant, in display order.
pub async fn list_all_products_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<products::Model>, DbErr> {
    products::Entity::find()
        .filter(products::Column::TenantId.eq(tenant_id))
        .order_by_asc(products::Column::SortOrder)
        .order_by_asc(products::Column::Id)
        .all(conn)
        .await
}

/// A product of a tenant, visible or not.
pub async fn find_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
) -> Result<Option<products::Model>, DbErr> {
    products::Entity::find_by_id((tenant_id.to_string(), product_id.to_string())).one(conn).await
}

/// The fields a merchant edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFields {
    pub category_id: Option<String>,
    pub name: String,
    /// The readable address (`/products/{slug}`); none: the id.
    pub slug: Option<String>,
    pub description: String,
    pub price_minor: i64,
    pub wholesale_tiers: Option<String>,
    pub min_qty: i32,
    pub max_qty: i32,
    pub visible: bool,
    pub sort_order: i32,
    pub low_stock_threshold: i32,
    /// `auto_key` or `manual`.
    pub kind: &'static str,
    /// Manual products: the fields' JSON.
    pub input_fields: Option<String>,
}

/// Creates a product; returns its id.
pub async fn create_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    currency: &str,
    f: &ProductFields,
) -> Result<String, DbErr> {
    let id = new_id();
    products::Entity::insert(products::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        id: Set(id.clone()),
        category_id: Set(f.category_id.clone()),
        name: Set(f.name.clone()),
        description: Set(f.description.clone()),
        kind: Set(f.kind.into()),
        price_minor: Set(f.price_minor),
        currency: Set(currency.into()),
        wholesale_tiers: Set(f.wholesale_tiers.clone()),
        min_qty: Set(f.min_qty),
        max_qty: Set(f.max_qty),
        visible: Set(f.visible),
        sort_order: Set(f.sort_order),
        low_stock_threshold: Set(f.low_stock_threshold),
        input_fields: Set(f.input_fields.clone()),
        slug: Set(f.slug.clone()),
        supply_tenant_id: Set(None),
        supply_product_id: Set(None),
        supply_paused: Set(None),
        external_connection_id: Set(None),
        external_sku: Set(None),
        external_stock: Set(None),
        external_stock_at: Set(None),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(id)
}

/// Updates a product; `false` when the tenant has no such product.
pub async fn update_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
    f: &ProductFields,
) -> Result<bool, DbErr> {
    let Some(p) = find_product_for_tenant(conn, tenant_id, product_id).await? else {
        return Ok(false);
    };
    let mut m = p.into_active_model();
    m.category_id = Set(f.category_id.clone());
    m.name = Set(f.name.clone());
    m.slug = Set(f.slug.clone());
    m.description = Set(f.description.clone());
    m.price_minor = Set(f.price_minor);
    m.wholesale_tiers = Set(f.wholesale_tiers.clone());
    m.min_qty = Set(f.min_qty);
    m.max_qty = Set(f.max_qty);
    m.visible = Set(f.visible);
    m.sort_order = Set(f.sort_order);
    m.low_stock_threshold = Set(f.low_stock_threshold);
    m.kind = Set(f.kind.into());
    m.input_fields = Set(f.input_fields.clone());
    m.update(conn).await?;
    Ok(true)
}

/// A product slug from its name: ASCII letters and digits, lower-cased,
/// other runs as one `-`, at most 64 characters; none when fewer than 2
/// remain (a Chinese name, say: the merchant types one, or the id serves).
pub fn slug_from_name(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_end_matches('-').chars().take(64).collect();
    let out = out.trim_end_matches('-').to_string();
    (out.len() >= 2 && check_product_slug(&out).is_ok()).then_some(out)
}

/// Whether a typed slug is usable: 2–64 of `a-z`, `0-9` and `-`, starting
/// and ending with a letter or digit, and not shaped like a product id (32
/// hex digits), so an address never means two products.
pub fn check_product_slug(slug: &str) -> Result<(), &'static str> {
    let ok_chars = slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ends =
        slug.starts_with(|c: char| c.is_ascii_alphanumeric()) && slug.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !(2..=64).contains(&slug.len()) || !ok_chars || !ends {
        return Err(
            "商品地址需为 2–64 位小写字母、数字或连字符，首尾为字母或数字。The product address must be 2–64 lowercase letters, digits or hyphens, starting and ending with a letter or digit.",
        );
    }
    if slug.len() == 32 && slug.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(
            "商品地址不能是 32 位十六进制（与商品编号相同的形式）。The product address cannot be 32 hex digits (the shape of product ids).",
        );
    }
    Ok(())
}

/// Whether another product of the shop uses `slug` (or has it as its id).
pub async fn slug_taken_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    slug: &str,
    except_product_id: Option<&str>,
) -> Result<bool, DbErr> {
    use sea_orm::Condition;
    let mut q = products::Entity::find()
        .filter(products::Column::TenantId.eq(tenant_id))
        .filter(Condition::any().add(products::Column::Slug.eq(slug)).add(products::Column::Id.eq(slug)));
    if let Some(id) = except_product_id {
        q = q.filter(products::Column::Id.ne(id));
    }
    Ok(q.count(conn).await? > 0)
}

/// The slug a product gets: the one typed (checked by the caller), else one
/// made from its name, numbered (`-2`, `-3`, …) until no other product of the
/// shop has it; none when the name gives none.
pub async fn settle_slug_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    f: &mut ProductFields,
    except_product_id: Option<&str>,
) -> Result<Result<(), &'static str>, DbErr> {
    if let Some(s) = &f.slug {
        if slug_taken_for_tenant(conn, tenant_id, s, except_product_id).await? {
            return Ok(Err("另一个商品已使用这个地址。Another product of this shop uses this address."));
        }
        return Ok(Ok(()));
    }
    let Some(base) = slug_from_name(&f.name) else { return Ok(Ok(())) };
    for n in 1..50 {
        let candidate =
            if n == 1 { base.clone() } else { format!("{}-{n}", base.chars().take(60).collect::<String>()) };
        if !slug_taken_for_tenant(conn, tenant_id, &candidate, except_product_id).await? {
            f.slug = Some(candidate);
            break;
        }
    }
    Ok(Ok(()))
}

/// Why a product could not be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteProduct {
    Deleted,
    NotFound,
    /// Orders point at it: hide it instead, so order history stays whole.
    HasOrders(u64),
}

/// Deletes a product and its keys, unless orders point at it.
pub async fn delete_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
) -> Result<DeleteProduct, DbErr> {
    if find_product_for_tenant(conn, tenant_id, product_id).await?.is_none() {
        return Ok(DeleteProduct::NotFound);
    }
    let n = orders::Entity::find()
        .filter(orders::Column::TenantId.eq(tenant_id))
        .filter(orders::Column::ProductId.eq(product_id))
        .count(conn)
        .await?;
    if n > 0 {
        return Ok(DeleteProduct::HasOrders(n));
    }
    // Keys held or sold by orders on resellers' shops count as orders too.
    let held = card_keys::Entity::find()
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .filter(card_keys::Column::ProductId.eq(product_id))
        .filter(card_keys::Column::Status.ne("available"))
        .count(conn)
        .await?;
    if held > 0 {
        return Ok(DeleteProduct::HasOrders(held));
    }
    crate::entities::supply_listings::Entity::delete_many()
        .filter(crate::entities::supply_listings::Column::TenantId.eq(tenant_id))
        .filter(crate::entities::supply_listings::Column::ProductId.eq(product_id))
        .exec(conn)
        .await?;
    card_keys::Entity::delete_many()
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .filter(card_keys::Column::ProductId.eq(product_id))
        .exec(conn)
        .await?;
    products::Entity::delete_by_id((tenant_id.to_string(), product_id.to_string())).exec(conn).await?;
    Ok(DeleteProduct::Deleted)
}

/// Adds a category; returns its id.
pub async fn create_category_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    name: &str,
    sort_order: i32,
) -> Result<String, DbErr> {
    let id = new_id();
    categories::Entity::insert(categories::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        id: Set(id.clone()),
        name: Set(name.into()),
        sort_order: Set(sort_order),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(id)
}

/// Deletes a category; its products become uncategorised. `false` if not found.
pub async fn delete_category_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    category_id: &str,
) -> Result<bool, DbErr> {
    products::Entity::update_many()
        .col_expr(products::Column::CategoryId, Expr::value(Option::<String>::None))
        .filter(products::Column::TenantId.eq(tenant_id))
        .filter(products::Column::CategoryId.eq(category_id))
        .exec(conn)
        .await?;
    let r = categories::Entity::delete_by_id((tenant_id.to_string(), category_id.to_string())).exec(conn).await?;
    Ok(r.rows_affected > 0)
}

/// Whether the tenant has this category.
pub async fn category_exists_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    category_id: &str,
) -> Result<bool, DbErr> {
    Ok(categories::Entity::find_by_id((tenant_id.to_string(), category_id.to_string())).one(conn).await?.is_some())
}

/// Keys of one product by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeyCounts {
    pub available: u64,
    pub reserved: u64,
    pub sold: u64,
}

/// Key counts per product of a tenant.
pub async fn key_counts_by_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<HashMap<String, KeyCounts>, DbErr> {
    let rows: Vec<(String, String, i64)> = card_keys::Entity::find()
        .select_only()
        .column(card_keys::Column::ProductId)
        .column(card_keys::Column::Status)
        .column_as(Expr::from(Func::count(Expr::col(card_keys::Column::Id))), "n")
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .group_by(card_keys::Column::ProductId)
        .group_by(card_keys::Column::Status)
        .into_tuple()
        .all(conn)
        .await?;
    let mut out: HashMap<String, KeyCounts> = HashMap::new();
    for (product, status, n) in rows {
        let c = out.entry(product).or_default();
        let n = n.max(0) as u64;
        match status.as_str() {
            "available" => c.available = n,
            "reserved" => c.reserved = n,
            _ => c.sold += n,
        }
    }
    Ok(out)
}

/// One key as the dashboard lists it: masked, never whole.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MaskedKey {
    pub masked: String,
    pub status: String,
    pub order_id: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
}

/// Shows the first and last few characters of a key, stars between.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let n = chars.len();
    if n <= 4 {
        return "*".repeat(n.max(4));
    }
    let show = if n >= 12 { 4 } else { 2 };
    let head: String = chars[..show].iter().collect();
    let tail: String = chars[n - show..].iter().collect();
    format!("{head}{}{tail}", "*".repeat((n - 2 * show).clamp(4, 12)))
}

/// The newest `limit` keys of a product, masked.
pub async fn list_masked_keys_of_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    keys: &TenantKeys,
    tenant_id: &str,
    product_id: &str,
    limit: u64,
) -> Result<Vec<MaskedKey>, KeyReadError> {
    let rows = card_keys::Entity::find()
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .filter(card_keys::Column::ProductId.eq(product_id))
        .order_by_desc(card_keys::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let plain = keys.open(&r.ciphertext, &r.nonce)?;
        out.push(MaskedKey {
            masked: mask_key(&String::from_utf8_lossy(&plain)),
            status: r.status,
            order_id: r.order_id,
            created_at: r.created_at,
        });
    }
    Ok(out)
}

/// Deletes a product's available keys (reserved ones belong to open orders
/// and sold ones to order history); returns how many went.
pub async fn delete_available_keys_of_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
) -> Result<u64, DbErr> {
    let r = card_keys::Entity::delete_many()
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .filter(card_keys::Column::ProductId.eq(product_id))
        .filter(card_keys::Column::Status.eq("available"))
        .exec(conn)
        .await?;
    Ok(r.rows_affected)
}

/// Every available key of a product, decrypted, oldest first (owner export).
pub async fn export_available_keys_of_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    keys: &TenantKeys,
    tenant_id: &str,
    product_id: &str,
) -> Result<Vec<String>, KeyReadError> {
    let rows: Vec<(Vec<u8>, Vec<u8>)> = card_keys::Entity::find()
        .select_only()
        .column(card_keys::Column::Ciphertext)
        .column(card_keys::Column::Nonce)
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .filter(card_keys::Column::ProductId.eq(product_id))
        .filter(card_keys::Column::Status.eq("available"))
        .order_by_asc(card_keys::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (c, n) in rows {
        out.push(String::from_utf8_lossy(&keys.open(&c, &n)?).into_owned());
    }
    Ok(out)
}

/// Up to `limit` products with ids after `after`, oldest first (API pages).
pub async fn products_page_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<products::Model>, DbErr> {
    let mut q = products::Entity::find().filter(products::Column::TenantId.eq(tenant_id));
    if let Some(after) = after {
        q = q.filter(products::Column::Id.gt(after));
    }
    q.order_by_asc(products::Column::Id).limit(limit).all(conn).await
}

#[cfg(test)]
mod tests {
    use super::{check_product_slug, mask_key, slug_from_name};

    #[test]
    fn slugs_come_from_names_and_typed_ones_are_checked() {
        assert_eq!(slug_from_name("Steam Wallet ¥50 (CN)").as_deref(), Some("steam-wallet-50-cn"));
        assert_eq!(slug_from_name("网易一卡通 100 点").as_deref(), Some("100"));
        assert_eq!(slug_from_name("网易一卡通"), None);
        assert_eq!(slug_from_name("  Windows 11 专业版 / Pro  ").as_deref(), Some("windows-11-pro"));
        assert!(check_product_slug("win11-pro").is_ok());
        for bad in ["W", "Win11", "-edge", "edge-", "a b", "0123456789abcdef0123456789abcdef"] {
            assert!(check_product_slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn masks_keep_only_the_ends() {
        assert_eq!(mask_key("ABCD-EFGH-IJKL-MNOP"), "ABCD***********MNOP");
        assert_eq!(mask_key("abcdefg"), "ab***fg".replace("***", "****"));
        assert_eq!(mask_key("abc"), "****");
        assert!(!mask_key("SECRET-CODE-123456").contains("CODE"));
    }
}
