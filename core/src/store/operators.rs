//! Operator accounts and their sessions (platform tables). Operators are not
//! merchants: separate table, separate cookie, TOTP always required.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::entities::{operator_sessions, operators};
use crate::ids::{new_id, new_secret_token, token_hash};

/// Adds an operator; `email` must already be normalized. A taken email is a unique violation.
pub async fn create_operator<C: ConnectionTrait>(
    conn: &C,
    email: &str,
    password_hash: &str,
    sealed_totp: (Vec<u8>, Vec<u8>),
) -> Result<String, DbErr> {
    let id = new_id();
    operators::Entity::insert(operators::ActiveModel {
        id: Set(id.clone()),
        email: Set(email.to_string()),
        password_hash: Set(password_hash.to_string()),
        totp_secret: Set(sealed_totp.0),
        totp_nonce: Set(sealed_totp.1),
        totp_last_step: Set(None),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(id)
}

pub async fn find_operator_by_email<C: ConnectionTrait>(
    conn: &C,
    email: &str,
) -> Result<Option<operators::Model>, DbErr> {
    operators::Entity::find().filter(operators::Column::Email.eq(email)).one(conn).await
}

pub async fn find_operator<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Option<operators::Model>, DbErr> {
    operators::Entity::find_by_id(id.to_string()).one(conn).await
}

/// Records that the code of `step` was used; `false` if it (or a later one) already was.
pub async fn claim_operator_totp_step<C: ConnectionTrait>(conn: &C, id: &str, step: i64) -> Result<bool, DbErr> {
    let r = operators::Entity::update_many()
        .col_expr(operators::Column::TotpLastStep, Expr::value(step))
        .filter(operators::Column::Id.eq(id))
        .filter(
            Condition::any()
                .add(operators::Column::TotpLastStep.is_null())
                .add(operators::Column::TotpLastStep.lt(step)),
        )
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Starts an operator session; returns the cookie value (only its hash is stored).
pub async fn create_operator_session<C: ConnectionTrait>(
    conn: &C,
    operator_id: &str,
    lifetime: Duration,
) -> Result<String, DbErr> {
    let token = new_secret_token();
    let now = Utc::now();
    operator_sessions::Entity::insert(operator_sessions::ActiveModel {
        id_hash: Set(token_hash(&token)),
        operator_id: Set(operator_id.to_string()),
        created_at: Set(now),
        expires_at: Set(now + lifetime),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(token)
}

/// The operator behind a session cookie, if the session is alive.
pub async fn find_operator_by_session<C: ConnectionTrait>(
    conn: &C,
    cookie: &str,
) -> Result<Option<operators::Model>, DbErr> {
    let Some(s) = operator_sessions::Entity::find_by_id(token_hash(cookie)).one(conn).await? else {
        return Ok(None);
    };
    if s.expires_at <= Utc::now() {
        return Ok(None);
    }
    find_operator(conn, &s.operator_id).await
}

pub async fn delete_operator_session<C: ConnectionTrait>(conn: &C, cookie: &str) -> Result<(), DbErr> {
    operator_sessions::Entity::delete_by_id(token_hash(cookie)).exec(conn).await?;
    Ok(())
}

/// Drops expired operator sessions.
pub async fn purge_expired_operator_sessions<C: ConnectionTrait>(conn: &C) -> Result<u64, DbErr> {
    Ok(operator_sessions::Entity::delete_many()
        .filter(operator_sessions::Column::ExpiresAt.lte(Utc::now()))
        .exec(conn)
        .await?
        .rows_affected)
}
