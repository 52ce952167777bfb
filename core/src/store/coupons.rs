//! Coupons: created by the merchant, applied at checkout. A use is taken
//! with a conditional UPDATE in the checkout transaction (so a limit of N can
//! never admit N+1 orders) and given back when an unpaid order expires.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, ExprTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::coupons;
use crate::ids::new_id;

/// Normalizes a code as buyers type it: trimmed, uppercase.
pub fn normalize_code(raw: &str) -> String {
    raw.trim().to_uppercase()
}

/// Why a coupon does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponRejection {
    Unknown,
    Expired,
    UsedUp,
    WrongProduct,
}

/// What a coupon takes off `amount_minor`; the order always keeps at least one minor unit to pay.
pub fn discount_for(c: &coupons::Model, amount_minor: i64) -> i64 {
    let raw = match c.kind.as_str() {
        "percent" => amount_minor * Ord::clamp(c.value, 0, 100) / 100,
        _ => Ord::max(c.value, 0),
    };
    Ord::max(Ord::min(raw, amount_minor - 1), 0)
}

/// Checks a coupon for a product at `now` (without taking a use).
pub async fn find_applicable_coupon_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    code: &str,
    product_id: &str,
    now: DateTime<Utc>,
) -> Result<Result<coupons::Model, CouponRejection>, DbErr> {
    let Some(c) = coupons::Entity::find()
        .filter(coupons::Column::TenantId.eq(tenant_id))
        .filter(coupons::Column::Code.eq(normalize_code(code)))
        .one(conn)
        .await?
    else {
        return Ok(Err(CouponRejection::Unknown));
    };
    Ok(if !c.active {
        Err(CouponRejection::Unknown)
    } else if c.expires_at.is_some_and(|t| t <= now) {
        Err(CouponRejection::Expired)
    } else if c.product_id.as_deref().is_some_and(|p| p != product_id) {
        Err(CouponRejection::WrongProduct)
    } else if c.usage_limit.is_some_and(|l| c.used_count >= l) {
        Err(CouponRejection::UsedUp)
    } else {
        Ok(c)
    })
}

/// Takes one use; `false` when the limit was reached meanwhile.
pub async fn take_coupon_use_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    coupon_id: &str,
) -> Result<bool, DbErr> {
    let r = coupons::Entity::update_many()
        .col_expr(coupons::Column::UsedCount, Expr::col(coupons::Column::UsedCount).add(1))
        .filter(coupons::Column::TenantId.eq(tenant_id))
        .filter(coupons::Column::Id.eq(coupon_id))
        .filter(
            Condition::any()
                .add(coupons::Column::UsageLimit.is_null())
                .add(Expr::col(coupons::Column::UsedCount).lt(Expr::col(coupons::Column::UsageLimit))),
        )
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Gives a use back (an unpaid order using it expired).
pub async fn release_coupon_use_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    code: &str,
) -> Result<(), DbErr> {
    coupons::Entity::update_many()
        .col_expr(coupons::Column::UsedCount, Expr::col(coupons::Column::UsedCount).sub(1))
        .filter(coupons::Column::TenantId.eq(tenant_id))
        .filter(coupons::Column::Code.eq(code))
        .filter(coupons::Column::UsedCount.gt(0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Takes a use back for an order paid after it expired (its use had been
/// given back): the buyer paid the discounted price, so the use counts, even
/// past the limit.
pub async fn retake_coupon_use_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    code: &str,
) -> Result<(), DbErr> {
    coupons::Entity::update_many()
        .col_expr(coupons::Column::UsedCount, Expr::col(coupons::Column::UsedCount).add(1))
        .filter(coupons::Column::TenantId.eq(tenant_id))
        .filter(coupons::Column::Code.eq(code))
        .exec(conn)
        .await?;
    Ok(())
}

/// A new coupon as the merchant fills it in.
#[derive(Debug, Clone)]
pub struct NewCoupon {
    pub code: String,
    pub kind: &'static str,
    pub value: i64,
    pub product_id: Option<String>,
    pub usage_limit: Option<i32>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Inserts a coupon; a taken code is a unique violation.
pub async fn create_coupon_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    c: &NewCoupon,
) -> Result<String, DbErr> {
    let id = new_id();
    coupons::Entity::insert(coupons::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        id: Set(id.clone()),
        code: Set(normalize_code(&c.code)),
        kind: Set(c.kind.into()),
        value: Set(c.value),
        product_id: Set(c.product_id.clone()),
        usage_limit: Set(c.usage_limit),
        used_count: Set(0),
        expires_at: Set(c.expires_at),
        active: Set(true),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(id)
}

pub async fn list_coupons_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<coupons::Model>, DbErr> {
    coupons::Entity::find()
        .filter(coupons::Column::TenantId.eq(tenant_id))
        .order_by_desc(coupons::Column::Id)
        .all(conn)
        .await
}

/// Switches a coupon on or off; `false` if the tenant has no such coupon.
pub async fn set_coupon_active_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    coupon_id: &str,
    active: bool,
) -> Result<bool, DbErr> {
    let r = coupons::Entity::update_many()
        .col_expr(coupons::Column::Active, Expr::value(active))
        .filter(coupons::Column::TenantId.eq(tenant_id))
        .filter(coupons::Column::Id.eq(coupon_id))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Up to `limit` coupons with ids before `before`, newest first (API pages).
pub async fn coupons_page_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    before: Option<&str>,
    limit: u64,
) -> Result<Vec<coupons::Model>, DbErr> {
    let mut q = coupons::Entity::find().filter(coupons::Column::TenantId.eq(tenant_id));
    if let Some(before) = before {
        q = q.filter(coupons::Column::Id.lt(before));
    }
    q.order_by_desc(coupons::Column::Id).limit(limit).all(conn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coupon(kind: &str, value: i64) -> coupons::Model {
        coupons::Model {
            tenant_id: "t".into(),
            id: "c".into(),
            code: "X".into(),
            kind: kind.into(),
            value,
            product_id: None,
            usage_limit: None,
            used_count: 0,
            expires_at: None,
            active: true,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn discounts_never_make_an_order_free() {
        assert_eq!(discount_for(&coupon("percent", 10), 9990), 999);
        assert_eq!(discount_for(&coupon("percent", 15), 999), 149, "rounds down, in the buyer's disfavour by < 1 fen");
        assert_eq!(discount_for(&coupon("fixed", 500), 9990), 500);
        assert_eq!(discount_for(&coupon("fixed", 50_000), 9990), 9989);
        assert_eq!(normalize_code("  save10 "), "SAVE10");
    }
}
