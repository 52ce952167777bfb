//! Merchant accounts, their sessions, one-time email tokens and shop
//! memberships. Secrets (session cookies, emailed tokens) are stored only as
//! SHA-256 hashes (`ids::token_hash`).

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};

use crate::entities::{account_tokens, accounts, memberships, sessions, tenants};
use crate::ids::{new_id, new_secret_token, token_hash};

/// What an emailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    VerifyEmail,
    ResetPassword,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::VerifyEmail => "verify_email",
            TokenPurpose::ResetPassword => "reset_password",
        }
    }

    /// How long a link stays valid.
    pub fn lifetime(self) -> Duration {
        match self {
            TokenPurpose::VerifyEmail => Duration::hours(48),
            TokenPurpose::ResetPassword => Duration::hours(1),
        }
    }
}

/// Inserts an account; a taken email is a unique violation.
pub async fn create_account<C: ConnectionTrait>(conn: &C, email: &str, password_hash: &str) -> Result<String, DbErr> {
    let id = new_id();
    accounts::Entity::insert(accounts::ActiveModel {
        id: Set(id.clone()),
        email: Set(email.to_string()),
        password_hash: Set(password_hash.to_string()),
        email_verified_at: Set(None),
        totp_secret: Set(None),
        totp_nonce: Set(None),
        totp_last_step: Set(None),
        lang: Set(None),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(id)
}

pub async fn find_account_by_email<C: ConnectionTrait>(
    conn: &C,
    email: &str,
) -> Result<Option<accounts::Model>, DbErr> {
    accounts::Entity::find().filter(accounts::Column::Email.eq(email)).one(conn).await
}

pub async fn find_account<C: ConnectionTrait>(conn: &C, account_id: &str) -> Result<Option<accounts::Model>, DbErr> {
    accounts::Entity::find_by_id(account_id.to_string()).one(conn).await
}

pub async fn set_password_of_account<C: ConnectionTrait>(conn: &C, account_id: &str, hash: &str) -> Result<(), DbErr> {
    accounts::Entity::update_many()
        .col_expr(accounts::Column::PasswordHash, Expr::value(hash))
        .filter(accounts::Column::Id.eq(account_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Stores the merchant's dashboard language (`zh` or `en`), or forgets it (`None`).
pub async fn set_language_of_account<C: ConnectionTrait>(
    conn: &C,
    account_id: &str,
    lang: Option<&str>,
) -> Result<(), DbErr> {
    accounts::Entity::update_many()
        .col_expr(accounts::Column::Lang, Expr::value(lang.map(str::to_string)))
        .filter(accounts::Column::Id.eq(account_id))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn mark_email_verified<C: ConnectionTrait>(conn: &C, account_id: &str) -> Result<(), DbErr> {
    accounts::Entity::update_many()
        .col_expr(accounts::Column::EmailVerifiedAt, Expr::value(Utc::now()))
        .filter(accounts::Column::Id.eq(account_id))
        .filter(accounts::Column::EmailVerifiedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Starts a session; returns the cookie value (never stored).
pub async fn create_session<C: ConnectionTrait>(
    conn: &C,
    account_id: &str,
    lifetime: Duration,
) -> Result<String, DbErr> {
    let token = new_secret_token();
    let now = Utc::now();
    sessions::Entity::insert(sessions::ActiveModel {
        id_hash: Set(token_hash(&token)),
        account_id: Set(account_id.to_string()),
        created_at: Set(now),
        expires_at: Set(now + lifetime),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(token)
}

/// The account id behind a session cookie, if the session exists and has not expired.
pub async fn find_account_id_by_session<C: ConnectionTrait>(conn: &C, cookie: &str) -> Result<Option<String>, DbErr> {
    let Some(session) = sessions::Entity::find_by_id(token_hash(cookie)).one(conn).await? else {
        return Ok(None);
    };
    Ok((session.expires_at > Utc::now()).then_some(session.account_id))
}

pub async fn delete_session<C: ConnectionTrait>(conn: &C, cookie: &str) -> Result<(), DbErr> {
    sessions::Entity::delete_by_id(token_hash(cookie)).exec(conn).await?;
    Ok(())
}

/// Signs an account out everywhere (after a password reset).
pub async fn delete_sessions_of_account<C: ConnectionTrait>(conn: &C, account_id: &str) -> Result<u64, DbErr> {
    Ok(sessions::Entity::delete_many()
        .filter(sessions::Column::AccountId.eq(account_id))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Issues a one-time token; returns it (only its hash is stored).
pub async fn issue_account_token<C: ConnectionTrait>(
    conn: &C,
    account_id: &str,
    purpose: TokenPurpose,
) -> Result<String, DbErr> {
    let token = new_secret_token();
    let now = Utc::now();
    account_tokens::Entity::insert(account_tokens::ActiveModel {
        token_hash: Set(token_hash(&token)),
        account_id: Set(account_id.to_string()),
        purpose: Set(purpose.as_str().into()),
        expires_at: Set(now + purpose.lifetime()),
        used_at: Set(None),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(token)
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Unknown,
    Used,
    Expired,
}

/// Uses a token once: marks it used (conditionally, so two clicks cannot both
/// succeed) and returns its account.
pub async fn consume_account_token<C: ConnectionTrait>(
    conn: &C,
    token: &str,
    purpose: TokenPurpose,
) -> Result<Result<String, TokenRejection>, DbErr> {
    let hash = token_hash(token);
    let Some(row) = account_tokens::Entity::find_by_id(hash.clone())
        .filter(account_tokens::Column::Purpose.eq(purpose.as_str()))
        .one(conn)
        .await?
    else {
        return Ok(Err(TokenRejection::Unknown));
    };
    if row.used_at.is_some() {
        return Ok(Err(TokenRejection::Used));
    }
    if row.expires_at <= Utc::now() {
        return Ok(Err(TokenRejection::Expired));
    }
    let done = account_tokens::Entity::update_many()
        .col_expr(account_tokens::Column::UsedAt, Expr::value(Utc::now()))
        .filter(account_tokens::Column::TokenHash.eq(hash))
        .filter(account_tokens::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    if done.rows_affected == 0 {
        return Ok(Err(TokenRejection::Used));
    }
    Ok(Ok(row.account_id))
}

/// Checks a token without using it (the reset form is shown before it is submitted).
pub async fn peek_account_token<C: ConnectionTrait>(
    conn: &C,
    token: &str,
    purpose: TokenPurpose,
) -> Result<Result<String, TokenRejection>, DbErr> {
    let row = account_tokens::Entity::find_by_id(token_hash(token))
        .filter(account_tokens::Column::Purpose.eq(purpose.as_str()))
        .one(conn)
        .await?;
    Ok(match row {
        None => Err(TokenRejection::Unknown),
        Some(r) if r.used_at.is_some() => Err(TokenRejection::Used),
        Some(r) if r.expires_at <= Utc::now() => Err(TokenRejection::Expired),
        Some(r) => Ok(r.account_id),
    })
}

/// Counts tokens of `purpose` issued to an account since `since` (to cap resends).
pub async fn count_recent_tokens_of_account<C: ConnectionTrait>(
    conn: &C,
    account_id: &str,
    purpose: TokenPurpose,
    since: DateTime<Utc>,
) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    account_tokens::Entity::find()
        .filter(account_tokens::Column::AccountId.eq(account_id))
        .filter(account_tokens::Column::Purpose.eq(purpose.as_str()))
        .filter(account_tokens::Column::CreatedAt.gt(since))
        .count(conn)
        .await
}

/// A role in a shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Staff,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Owner => "owner",
        }
    }

    fn parse(s: &str) -> Role {
        if s == "owner" { Role::Owner } else { Role::Staff }
    }
}

pub async fn add_membership<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    account_id: &str,
    role: Role,
) -> Result<(), DbErr> {
    memberships::Entity::insert(memberships::ActiveModel {
        tenant_id: Set(tenant_id.to_string()),
        account_id: Set(account_id.to_string()),
        role: Set(role.as_str().into()),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The shop with this slug and the account's role in it, or `None` when the
/// shop does not exist *or* the account is not a member (the caller answers 404 to both).
pub async fn find_shop_of_account_by_slug<C: ConnectionTrait>(
    conn: &C,
    account_id: &str,
    slug: &str,
) -> Result<Option<(tenants::Model, Role)>, DbErr> {
    let Some(tenant) = tenants::Entity::find().filter(tenants::Column::Slug.eq(slug)).one(conn).await? else {
        return Ok(None);
    };
    let member = memberships::Entity::find_by_id((tenant.id.clone(), account_id.to_string())).one(conn).await?;
    Ok(member.map(|m| (tenant, Role::parse(&m.role))))
}

/// Every shop the account belongs to, oldest first.
pub async fn list_shops_of_account<C: ConnectionTrait>(
    conn: &C,
    account_id: &str,
) -> Result<Vec<(tenants::Model, Role)>, DbErr> {
    let members = memberships::Entity::find()
        .filter(memberships::Column::AccountId.eq(account_id))
        .order_by_asc(memberships::Column::CreatedAt)
        .all(conn)
        .await?;
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = members.iter().map(|m| m.tenant_id.clone()).collect();
    let tenants = tenants::Entity::find().filter(tenants::Column::Id.is_in(ids)).all(conn).await?;
    Ok(members
        .into_iter()
        .filter_map(|m| {
            let t = tenants.iter().find(|t| t.id == m.tenant_id)?.clone();
            Some((t, Role::parse(&m.role)))
        })
        .collect())
}

/// Drops expired sessions and used or expired tokens older than a day.
pub async fn purge_expired_sessions_and_tokens<C: ConnectionTrait>(conn: &C) -> Result<u64, DbErr> {
    let now = Utc::now();
    let a = sessions::Entity::delete_many().filter(sessions::Column::ExpiresAt.lt(now)).exec(conn).await?;
    let b = account_tokens::Entity::delete_many()
        .filter(account_tokens::Column::ExpiresAt.lt(now - Duration::days(1)))
        .exec(conn)
        .await?;
    Ok(a.rows_affected + b.rows_affected)
}

/// A member of a shop, for the team page.
#[derive(Debug, Clone)]
pub struct Member {
    pub account_id: String,
    pub email: String,
    pub role: Role,
}

/// Every member of a shop, owners first.
pub async fn list_members_of_tenant<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<Vec<Member>, DbErr> {
    let rows = memberships::Entity::find()
        .filter(memberships::Column::TenantId.eq(tenant_id))
        .order_by_asc(memberships::Column::CreatedAt)
        .all(conn)
        .await?;
    let ids: Vec<String> = rows.iter().map(|m| m.account_id.clone()).collect();
    let accounts = accounts::Entity::find().filter(accounts::Column::Id.is_in(ids)).all(conn).await?;
    let mut out: Vec<Member> = rows
        .into_iter()
        .filter_map(|m| {
            let a = accounts.iter().find(|a| a.id == m.account_id)?;
            Some(Member { account_id: m.account_id, email: a.email.clone(), role: Role::parse(&m.role) })
        })
        .collect();
    out.sort_by_key(|m| std::cmp::Reverse(m.role));
    Ok(out)
}

/// Removes a staff member; owners cannot be removed this way. `false` if there was no such staff member.
pub async fn remove_staff_member<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    account_id: &str,
) -> Result<bool, DbErr> {
    let r = memberships::Entity::delete_many()
        .filter(memberships::Column::TenantId.eq(tenant_id))
        .filter(memberships::Column::AccountId.eq(account_id))
        .filter(memberships::Column::Role.eq(Role::Staff.as_str()))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Turns two-factor on (sealed secret) or off (`None`).
pub async fn set_totp_of_account<C: ConnectionTrait>(
    conn: &C,
    account_id: &str,
    sealed: Option<(Vec<u8>, Vec<u8>)>,
) -> Result<(), DbErr> {
    let (secret, nonce) = match sealed {
        Some((c, n)) => (Some(c), Some(n)),
        None => (None, None),
    };
    accounts::Entity::update_many()
        .col_expr(accounts::Column::TotpSecret, Expr::value(secret))
        .col_expr(accounts::Column::TotpNonce, Expr::value(nonce))
        .col_expr(accounts::Column::TotpLastStep, Expr::value(Option::<i64>::None))
        .filter(accounts::Column::Id.eq(account_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records that the code of `step` was used; `false` if that step (or a later
/// one) was already used, so a code seen once cannot be replayed.
pub async fn claim_totp_step<C: ConnectionTrait>(conn: &C, account_id: &str, step: i64) -> Result<bool, DbErr> {
    use sea_orm::Condition;
    let r = accounts::Entity::update_many()
        .col_expr(accounts::Column::TotpLastStep, Expr::value(step))
        .filter(accounts::Column::Id.eq(account_id))
        .filter(
            Condition::any().add(accounts::Column::TotpLastStep.is_null()).add(accounts::Column::TotpLastStep.lt(step)),
        )
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}
