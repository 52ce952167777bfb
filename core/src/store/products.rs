use std::collections::HashMap;

use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entities::{card_keys, categories, products};

/// Visible products of a tenant, in display order.
pub async fn list_visible_products_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<products::Model>, DbErr> {
    products::Entity::find()
        .filter(products::Column::TenantId.eq(tenant_id))
        .filter(products::Column::Visible.eq(true))
        .order_by_asc(products::Column::SortOrder)
        .order_by_asc(products::Column::Id)
        .all(conn)
        .await
}

/// Categories of a tenant, in display order.
pub async fn list_categories_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<categories::Model>, DbErr> {
    categories::Entity::find()
        .filter(categories::Column::TenantId.eq(tenant_id))
        .order_by_asc(categories::Column::SortOrder)
        .order_by_asc(categories::Column::Id)
        .all(conn)
        .await
}

/// A visible product of a tenant.
pub async fn find_visible_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
) -> Result<Option<products::Model>, DbErr> {
    products::Entity::find_by_id((tenant_id.to_string(), product_id.to_string()))
        .filter(products::Column::Visible.eq(true))
        .one(conn)
        .await
}

/// Keys available now (not reserved, not sold) of one product.
pub async fn available_keys_of_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
) -> Result<u64, DbErr> {
    card_keys::Entity::find()
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .filter(card_keys::Column::ProductId.eq(product_id))
        .filter(card_keys::Column::Status.eq("available"))
        .count(conn)
        .await
}

/// Keys available now of one product, counted up to `cap`: `min(available,
/// cap)`. The database stops after `cap` index entries, so "are there at
/// least n left?" costs n, not the product's whole stock (a full count walks
/// every available key: 180,000 on a big promotion product).
pub async fn available_keys_up_to_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
    cap: u64,
) -> Result<u64, DbErr> {
    use sea_orm::sea_query::Query;
    let mut inner = Query::select();
    inner
        .expr(Expr::val(1))
        .from(card_keys::Entity)
        .and_where(card_keys::Column::TenantId.eq(tenant_id))
        .and_where(card_keys::Column::ProductId.eq(product_id))
        .and_where(card_keys::Column::Status.eq("available"))
        .limit(cap.max(1));
    let count = super::capped_count(inner);
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(backend.build(&count))
        .await?
        .ok_or_else(|| DbErr::Custom("counting a product's keys returned no row".into()))?;
    let n = row.try_get_by_index::<i64>(0)?.max(0) as u64;
    Ok(if cap == 0 { 0 } else { n })
}

/// Keys available now (not reserved, not sold), per product of a tenant.
pub async fn stock_by_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<HashMap<String, u64>, DbErr> {
    let rows: Vec<(String, i64)> = card_keys::Entity::find()
        .select_only()
        .column(card_keys::Column::ProductId)
        .column_as(Expr::from(Func::count(Expr::col(card_keys::Column::Id))), "n")
        .filter(card_keys::Column::TenantId.eq(tenant_id))
        .filter(card_keys::Column::Status.eq("available"))
        .group_by(card_keys::Column::ProductId)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|(p, n)| (p, n.max(0) as u64)).collect())
}
