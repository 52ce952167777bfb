//! Plans and their limits (platform table), and which plan a shop is on.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use crate::entities::{plans, tenants};

/// The plan every new shop starts on, when no operator has made another the default.
pub const FREE_PLAN_ID: &str = "free";

/// A plan's editable fields (the operator's form, the seed plans).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanInput {
    pub id: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    pub trial_days: i32,
    pub max_products: Option<i32>,
    pub max_keys_in_stock: Option<i32>,
    pub max_orders_per_month: Option<i32>,
    pub max_custom_domains: Option<i32>,
    pub max_team_members: Option<i32>,
    pub api_requests_per_minute: Option<i32>,
    pub storefront_rps: Option<i32>,
    pub fee_bps: i32,
    pub stripe_price_id: Option<String>,
    pub is_default: bool,
    pub archived: bool,
}

/// The plans a new platform starts with: a free plan (the default) and a paid one.
pub fn builtin_plans() -> Vec<PlanInput> {
    vec![
        PlanInput {
            id: FREE_PLAN_ID.into(),
            name: "免费版 Free".into(),
            price_minor: 0,
            currency: "CNY".into(),
            trial_days: 0,
            max_products: Some(20),
            max_keys_in_stock: Some(5_000),
            max_orders_per_month: Some(1_000),
            max_custom_domains: Some(0),
            max_team_members: Some(2),
            api_requests_per_minute: Some(60),
            storefront_rps: Some(50),
            fee_bps: 100,
            stripe_price_id: None,
            is_default: true,
            archived: false,
        },
        PlanInput {
            id: "pro".into(),
            name: "专业版 Pro".into(),
            price_minor: 9_900,
            currency: "CNY".into(),
            trial_days: 14,
            max_products: Some(1_000),
            max_keys_in_stock: Some(500_000),
            max_orders_per_month: Some(100_000),
            max_custom_domains: Some(3),
            max_team_members: Some(10),
            api_requests_per_minute: Some(600),
            storefront_rps: Some(500),
            fee_bps: 50,
            stripe_price_id: None,
            is_default: false,
            archived: false,
        },
    ]
}

/// Inserts the built-in plans when the platform has no plan yet.
pub async fn ensure_builtin_plans<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    if plans::Entity::find().count(conn).await? > 0 {
        return Ok(());
    }
    for p in builtin_plans() {
        insert_plan(conn, &p).await?;
    }
    Ok(())
}

fn active_model(p: &PlanInput) -> plans::ActiveModel {
    let now = Utc::now();
    plans::ActiveModel {
        id: Set(p.id.clone()),
        name: Set(p.name.clone()),
        price_minor: Set(p.price_minor),
        currency: Set(p.currency.clone()),
        trial_days: Set(p.trial_days),
        max_products: Set(p.max_products),
        max_keys_in_stock: Set(p.max_keys_in_stock),
        max_orders_per_month: Set(p.max_orders_per_month),
        max_custom_domains: Set(p.max_custom_domains),
        max_team_members: Set(p.max_team_members),
        api_requests_per_minute: Set(p.api_requests_per_minute),
        storefront_rps: Set(p.storefront_rps),
        fee_bps: Set(p.fee_bps),
        stripe_price_id: Set(p.stripe_price_id.clone()),
        is_default: Set(p.is_default),
        archived: Set(p.archived),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Adds a plan. A taken id is a unique violation. Making it the default
/// takes the flag from the previous default (call inside a transaction).
pub async fn insert_plan<C: ConnectionTrait>(conn: &C, p: &PlanInput) -> Result<(), DbErr> {
    if p.is_default {
        clear_default(conn).await?;
    }
    plans::Entity::insert(active_model(p)).exec_without_returning(conn).await?;
    Ok(())
}

/// Updates a plan's fields (its id stays). `false` if there is no such plan.
/// The default plan cannot be archived, and there is always one default.
pub async fn update_plan<C: ConnectionTrait>(conn: &C, p: &PlanInput) -> Result<bool, DbErr> {
    let Some(current) = find_plan(conn, &p.id).await? else { return Ok(false) };
    let is_default = p.is_default || current.is_default;
    if p.is_default && !current.is_default {
        clear_default(conn).await?;
    }
    let mut am = active_model(p);
    am.is_default = Set(is_default);
    am.archived = Set(p.archived && !is_default);
    am.created_at = Set(current.created_at);
    plans::Entity::update(am).exec(conn).await?;
    Ok(true)
}

async fn clear_default<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    plans::Entity::update_many()
        .col_expr(plans::Column::IsDefault, Expr::value(false))
        .filter(plans::Column::IsDefault.eq(true))
        .exec(conn)
        .await?;
    Ok(())
}

/// Every plan, cheapest first.
pub async fn list_plans<C: ConnectionTrait>(conn: &C) -> Result<Vec<plans::Model>, DbErr> {
    plans::Entity::find().order_by_asc(plans::Column::PriceMinor).order_by_asc(plans::Column::Id).all(conn).await
}

pub async fn find_plan<C: ConnectionTrait>(conn: &C, plan_id: &str) -> Result<Option<plans::Model>, DbErr> {
    plans::Entity::find_by_id(plan_id.to_string()).one(conn).await
}

/// The plan subscribed to through Stripe Price `price_id`.
pub async fn find_plan_by_stripe_price<C: ConnectionTrait>(
    conn: &C,
    price_id: &str,
) -> Result<Option<plans::Model>, DbErr> {
    plans::Entity::find().filter(plans::Column::StripePriceId.eq(price_id)).one(conn).await
}

/// The default plan's id (`free` if, somehow, none is marked).
pub async fn default_plan_id<C: ConnectionTrait>(conn: &C) -> Result<String, DbErr> {
    Ok(plans::Entity::find()
        .filter(plans::Column::IsDefault.eq(true))
        .one(conn)
        .await?
        .map(|p| p.id)
        .unwrap_or_else(|| FREE_PLAN_ID.to_string()))
}

/// The plan a shop is on. A shop pointing at a missing plan gets the default plan.
pub async fn plan_of_tenant<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<plans::Model, DbErr> {
    let plan_id = tenants::Entity::find_by_id(tenant_id.to_string()).one(conn).await?.map(|t| t.plan_id);
    plan_or_default(conn, plan_id.as_deref().unwrap_or_default()).await
}

/// Plan `plan_id`, or the default plan when there is no such plan.
pub async fn plan_or_default<C: ConnectionTrait>(conn: &C, plan_id: &str) -> Result<plans::Model, DbErr> {
    if let Some(p) = find_plan(conn, plan_id).await? {
        return Ok(p);
    }
    let id = default_plan_id(conn).await?;
    find_plan(conn, &id).await?.ok_or_else(|| DbErr::RecordNotFound(format!("default plan {id}")))
}

/// Moves a shop to another plan. `false` if there is no such shop.
pub async fn set_plan_of_tenant<C: ConnectionTrait>(conn: &C, tenant_id: &str, plan_id: &str) -> Result<bool, DbErr> {
    let r = tenants::Entity::update_many()
        .col_expr(tenants::Column::PlanId, Expr::value(plan_id))
        .filter(tenants::Column::Id.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(r.rows_affected > 0)
}

/// Ids of the shops on a plan (to drop their cached limits when it changes).
pub async fn tenants_on_plan<C: ConnectionTrait>(conn: &C, plan_id: &str) -> Result<Vec<String>, DbErr> {
    Ok(tenants::Entity::find()
        .filter(tenants::Column::PlanId.eq(plan_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect())
}
