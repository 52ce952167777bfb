//! Platform-wide figures for the operator console (deliberately across
//! every tenant; only the console calls these).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entities::{jobs, orders, payments, tenants};

/// `(key, count)` pairs.
pub type Counts = Vec<(String, i64)>;

/// Shops by status and by plan.
pub async fn tenants_by_status_and_plan<C: ConnectionTrait>(conn: &C) -> Result<(Counts, Counts), DbErr> {
    let by = |col: tenants::Column| {
        tenants::Entity::find()
            .select_only()
            .column(col)
            .column_as(tenants::Column::Id.count(), "n")
            .group_by(col)
            .order_by_asc(col)
            .into_tuple::<(String, i64)>()
            .all(conn)
    };
    Ok((by(tenants::Column::Status).await?, by(tenants::Column::PlanId).await?))
}

/// Orders created since `since`, all shops.
pub async fn orders_since<C: ConnectionTrait>(conn: &C, since: DateTime<Utc>) -> Result<u64, DbErr> {
    orders::Entity::find().filter(orders::Column::CreatedAt.gte(since)).count(conn).await
}

/// Payment attempts since `since` by channel kind: (channel, succeeded, total).
pub async fn payment_success_by_channel<C: ConnectionTrait>(
    conn: &C,
    since: DateTime<Utc>,
) -> Result<Vec<(String, i64, i64)>, DbErr> {
    let rows: Vec<(String, String, i64)> = payments::Entity::find()
        .select_only()
        .column(payments::Column::Channel)
        .column(payments::Column::Status)
        .column_as(payments::Column::Id.count(), "n")
        .filter(payments::Column::CreatedAt.gte(since))
        .group_by(payments::Column::Channel)
        .group_by(payments::Column::Status)
        .into_tuple()
        .all(conn)
        .await?;
    let mut out: Vec<(String, i64, i64)> = Vec::new();
    for (channel, status, n) in rows {
        let ok = if status == "succeeded" || status == "refunded" { n } else { 0 };
        match out.iter_mut().find(|(c, _, _)| *c == channel) {
            Some(row) => {
                row.1 += ok;
                row.2 += n;
            }
            None => out.push((channel, ok, n)),
        }
    }
    out.sort();
    Ok(out)
}

/// Dead jobs, newest first.
pub async fn dead_jobs<C: ConnectionTrait>(conn: &C, limit: u64) -> Result<Vec<jobs::Model>, DbErr> {
    jobs::Entity::find()
        .filter(jobs::Column::Status.eq("dead"))
        .order_by_desc(jobs::Column::UpdatedAt)
        .limit(limit)
        .all(conn)
        .await
}

/// Puts a dead job back in the queue with a fresh set of attempts. `false` if it is not dead.
pub async fn retry_dead_job<C: ConnectionTrait>(conn: &C, id: i64) -> Result<bool, DbErr> {
    let now = Utc::now();
    let r = jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value("queued"))
        .col_expr(jobs::Column::Attempts, Expr::value(0))
        .col_expr(jobs::Column::RunAt, Expr::value(now))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
        .filter(jobs::Column::Id.eq(id))
        .filter(jobs::Column::Status.eq("dead"))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Payment attempts that failed with an error since `since`, newest first.
pub async fn recent_payment_errors<C: ConnectionTrait>(
    conn: &C,
    since: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<payments::Model>, DbErr> {
    payments::Entity::find()
        .filter(payments::Column::CreatedAt.gte(since))
        .filter(payments::Column::Error.is_not_null())
        .order_by_desc(payments::Column::UpdatedAt)
        .limit(limit)
        .all(conn)
        .await
}
