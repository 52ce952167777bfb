//! Affiliates (issue 20, part 3): a shop's referral programme.
//!
//! - **Joining and signing in**: an affiliate is an email address of one
//!   shop with a code; it signs in on the storefront with a link sent by
//!   email (used once, 30 minutes), which opens a 30-day session. Tokens are
//!   kept as hashes.
//! - **Clicks**: a visit with `?ref={code}` is recorded with the client's
//!   address; an address's clicks past the programme's count in 24 hours are
//!   recorded as not counted and attribute nothing (cookie stuffing).
//! - **Commissions**: [`settle_commissions`] (a sweep) gives each delivered
//!   order that names a click a commission, `pending` for the holding period
//!   or `refused` with its reason (the buyer is the affiliate by email or by
//!   an address it signed in from, the affiliate is blocked, the click is
//!   older than the window, the programme is off), and books matured ones on
//!   the affiliate's append-only account. A refund cancels a pending
//!   commission or reverses a booked one ([`on_order_refunded`], in the
//!   refund's transaction).
//! - **Payouts**: the affiliate asks for its whole balance (a `payout` line
//!   takes it off at once, so it cannot be asked twice); the merchant marks
//!   it paid, or rejects it and the amount comes back.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::entities::{
    affiliate_clicks, affiliate_commissions, affiliate_ledger, affiliate_payouts, affiliate_product_rates,
    affiliate_programs, affiliate_tokens, affiliates, orders,
};
use crate::ids::{new_id, new_secret_token, token_hash};
use crate::store::orders::status as order_status;

/// Commission states.
pub mod commission {
    pub const PENDING: &str = "pending";
    pub const BOOKED: &str = "booked";
    pub const CANCELLED: &str = "cancelled";
    pub const REVERSED: &str = "reversed";
    pub const REFUSED: &str = "refused";
}

/// Why a commission was refused.
pub mod refusal {
    pub const SELF_REFERRAL: &str = "self_referral";
    pub const SAME_ADDRESS: &str = "same_address";
    pub const BLOCKED: &str = "blocked";
    pub const WINDOW_PASSED: &str = "window_passed";
    pub const PROGRAMME_OFF: &str = "programme_off";
    pub const UNKNOWN_CLICK: &str = "unknown_click";
}

/// Ledger line kinds.
pub mod line {
    pub const COMMISSION: &str = "commission";
    pub const REVERSAL: &str = "reversal";
    pub const PAYOUT: &str = "payout";
    pub const PAYOUT_RETURNED: &str = "payout_returned";
}

/// Payout states.
pub mod payout {
    pub const REQUESTED: &str = "requested";
    pub const PAID: &str = "paid";
    pub const REJECTED: &str = "rejected";
}

pub const ACTIVE: &str = "active";
pub const BLOCKED: &str = "blocked";
const SIGNIN: &str = "signin";
const SESSION: &str = "session";
/// How long a sign-in link works.
pub const SIGNIN_MINUTES: i64 = 30;
/// How long an affiliate stays signed in.
pub const SESSION_DAYS: i64 = 30;
const KNOWN_NETS: usize = 10;

/// The programme's terms as a merchant sets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramTerms {
    pub enabled: bool,
    pub open_signup: bool,
    pub commission_bps: i32,
    pub holding_days: i32,
    pub window_days: i32,
    pub clicks_per_address: i32,
    pub min_payout_minor: i64,
}

impl Default for ProgramTerms {
    fn default() -> Self {
        ProgramTerms {
            enabled: false,
            open_signup: true,
            commission_bps: 1000,
            holding_days: 7,
            window_days: 30,
            clicks_per_address: 20,
            min_payout_minor: 0,
        }
    }
}

impl From<&affiliate_programs::Model> for ProgramTerms {
    fn from(p: &affiliate_programs::Model) -> Self {
        ProgramTerms {
            enabled: p.enabled,
            open_signup: p.open_signup,
            commission_bps: p.commission_bps,
            holding_days: p.holding_days,
            window_days: p.window_days,
            clicks_per_address: p.clicks_per_address,
            min_payout_minor: p.min_payout_minor,
        }
    }
}

/// A shop's programme, if it ever set one.
pub async fn program_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Option<affiliate_programs::Model>, DbErr> {
    affiliate_programs::Entity::find_by_id(tenant_id.to_string()).one(conn).await
}

/// A shop's programme terms (the defaults, switched off, when it never set any).
pub async fn terms_for_tenant<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<ProgramTerms, DbErr> {
    Ok(program_for_tenant(conn, tenant_id).await?.as_ref().map(ProgramTerms::from).unwrap_or_default())
}

/// Saves a shop's programme terms.
pub async fn save_program_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    t: &ProgramTerms,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = affiliate_programs::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        enabled: Set(t.enabled),
        open_signup: Set(t.open_signup),
        commission_bps: Set(t.commission_bps),
        holding_days: Set(t.holding_days),
        window_days: Set(t.window_days),
        clicks_per_address: Set(t.clicks_per_address),
        min_payout_minor: Set(t.min_payout_minor),
        updated_at: Set(now),
    };
    use affiliate_programs::Column as P;
    affiliate_programs::Entity::insert(row)
        .on_conflict(
            OnConflict::column(P::TenantId)
                .update_columns([
                    P::Enabled,
                    P::OpenSignup,
                    P::CommissionBps,
                    P::HoldingDays,
                    P::WindowDays,
                    P::ClicksPerAddress,
                    P::MinPayoutMinor,
                    P::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The products with their own rate.
pub async fn product_rates_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<affiliate_product_rates::Model>, DbErr> {
    affiliate_product_rates::Entity::find()
        .filter(affiliate_product_rates::Column::TenantId.eq(tenant_id))
        .all(conn)
        .await
}

/// Gives a product its own rate, or (`None`) takes it away.
pub async fn set_product_rate_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
    bps: Option<i32>,
) -> Result<(), DbErr> {
    affiliate_product_rates::Entity::delete_many()
        .filter(affiliate_product_rates::Column::TenantId.eq(tenant_id))
        .filter(affiliate_product_rates::Column::ProductId.eq(product_id))
        .exec(conn)
        .await?;
    if let Some(bps) = bps {
        let row = affiliate_product_rates::Model {
            tenant_id: tenant_id.into(),
            product_id: product_id.into(),
            commission_bps: bps,
        };
        affiliate_product_rates::Entity::insert(row.into_active_model()).exec_without_returning(conn).await?;
    }
    Ok(())
}

pub async fn find_affiliate_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    affiliate_id: &str,
) -> Result<Option<affiliates::Model>, DbErr> {
    affiliates::Entity::find_by_id((tenant_id.to_string(), affiliate_id.to_string())).one(conn).await
}

pub async fn find_affiliate_by_email_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    email: &str,
) -> Result<Option<affiliates::Model>, DbErr> {
    affiliates::Entity::find()
        .filter(affiliates::Column::TenantId.eq(tenant_id))
        .filter(affiliates::Column::Email.eq(email.trim().to_lowercase()))
        .one(conn)
        .await
}

/// A new link code: 8 lower-case letters and digits (no look-alikes).
fn new_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..8).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// The shop's affiliate for `email`, made now if there is none.
pub async fn join_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    email: &str,
    locale: &str,
    now: DateTime<Utc>,
) -> Result<affiliates::Model, DbErr> {
    let email = email.trim().to_lowercase();
    if let Some(a) = find_affiliate_by_email_for_tenant(conn, tenant_id, &email).await? {
        return Ok(a);
    }
    let row = affiliates::Model {
        tenant_id: tenant_id.into(),
        id: new_id(),
        email: email.clone(),
        code: new_code(),
        status: ACTIVE.into(),
        known_nets: String::new(),
        locale: locale.into(),
        created_at: now,
        last_signin_at: None,
    };
    // Two joins at once for one email: the unique index keeps one.
    match affiliates::Entity::insert(row.clone().into_active_model()).exec_without_returning(conn).await {
        Ok(_) => Ok(row),
        Err(e) => match find_affiliate_by_email_for_tenant(conn, tenant_id, &email).await? {
            Some(a) => Ok(a),
            None => Err(e),
        },
    }
}

/// Blocks (`false`) or unblocks an affiliate; whether it exists.
pub async fn set_affiliate_active_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    affiliate_id: &str,
    active: bool,
) -> Result<bool, DbErr> {
    let r = affiliates::Entity::update_many()
        .col_expr(affiliates::Column::Status, Expr::value(if active { ACTIVE } else { BLOCKED }))
        .filter(affiliates::Column::TenantId.eq(tenant_id))
        .filter(affiliates::Column::Id.eq(affiliate_id))
        .exec(conn)
        .await?;
    if !active {
        affiliate_tokens::Entity::delete_many()
            .filter(affiliate_tokens::Column::TenantId.eq(tenant_id))
            .filter(affiliate_tokens::Column::AffiliateId.eq(affiliate_id))
            .exec(conn)
            .await?;
    }
    Ok(r.rows_affected == 1)
}

/// Queues the email with a sign-in link to `{base_url}/affiliate`; the
/// job makes the token when it runs (a job's payload holds no secret).
pub async fn queue_signin_link<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    affiliate_id: &str,
    base_url: &str,
    locale: &str,
) -> Result<(), DbErr> {
    let job = crate::jobs::NewJob::now(
        crate::jobs::kinds::SEND_AFFILIATE_LINK,
        Some(tenant_id.to_string()),
        serde_json::json!({ "affiliate_id": affiliate_id, "base_url": base_url, "locale": locale }),
    );
    crate::jobs::enqueue(conn, job).await?;
    Ok(())
}

/// A sign-in link's token for the affiliate (the raw token; only its hash is kept).
pub async fn issue_signin_token<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    affiliate_id: &str,
    now: DateTime<Utc>,
) -> Result<String, DbErr> {
    issue_token(conn, tenant_id, affiliate_id, SIGNIN, now + Duration::minutes(SIGNIN_MINUTES), now).await
}

async fn issue_token<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    affiliate_id: &str,
    purpose: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<String, DbErr> {
    let token = new_secret_token();
    let row = affiliate_tokens::Model {
        token_hash: token_hash(&token),
        tenant_id: tenant_id.into(),
        affiliate_id: affiliate_id.into(),
        purpose: purpose.into(),
        expires_at,
        used_at: None,
        created_at: now,
    };
    affiliate_tokens::Entity::insert(row.into_active_model()).exec_without_returning(conn).await?;
    Ok(token)
}

/// Spends a sign-in link (once, before it expires, for an active
/// affiliate of this shop) and opens a session: the affiliate and the
/// session's token. The client's address is remembered as the affiliate's.
pub async fn redeem_signin_token<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    token: &str,
    client_net: &str,
    now: DateTime<Utc>,
) -> Result<Option<(affiliates::Model, String)>, DbErr> {
    let hash = token_hash(token);
    let Some(t) = affiliate_tokens::Entity::find_by_id(hash.clone()).one(conn).await? else { return Ok(None) };
    if t.tenant_id != tenant_id || t.purpose != SIGNIN || t.used_at.is_some() || t.expires_at <= now {
        return Ok(None);
    }
    let spent = affiliate_tokens::Entity::update_many()
        .col_expr(affiliate_tokens::Column::UsedAt, Expr::value(now))
        .filter(affiliate_tokens::Column::TokenHash.eq(&hash))
        .filter(affiliate_tokens::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    if spent.rows_affected != 1 {
        return Ok(None);
    }
    let Some(a) = find_affiliate_for_tenant(conn, tenant_id, &t.affiliate_id).await? else { return Ok(None) };
    if a.status != ACTIVE {
        return Ok(None);
    }
    let mut nets: Vec<&str> = a.known_nets.split(',').filter(|n| !n.is_empty() && *n != client_net).collect();
    nets.push(client_net);
    let keep = nets.len().saturating_sub(KNOWN_NETS);
    let known = nets[keep..].join(",");
    affiliates::Entity::update_many()
        .col_expr(affiliates::Column::KnownNets, Expr::value(known.clone()))
        .col_expr(affiliates::Column::LastSigninAt, Expr::value(now))
        .filter(affiliates::Column::TenantId.eq(tenant_id))
        .filter(affiliates::Column::Id.eq(&a.id))
        .exec(conn)
        .await?;
    let session = issue_token(conn, tenant_id, &a.id, SESSION, now + Duration::days(SESSION_DAYS), now).await?;
    Ok(Some((affiliates::Model { known_nets: known, last_signin_at: Some(now), ..a }, session)))
}

/// The active affiliate a session token belongs to, on this shop.
pub async fn affiliate_of_session<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<affiliates::Model>, DbErr> {
    let Some(t) = affiliate_tokens::Entity::find_by_id(token_hash(token)).one(conn).await? else { return Ok(None) };
    if t.tenant_id != tenant_id || t.purpose != SESSION || t.expires_at <= now {
        return Ok(None);
    }
    Ok(find_affiliate_for_tenant(conn, tenant_id, &t.affiliate_id).await?.filter(|a| a.status == ACTIVE))
}

/// Ends a session.
pub async fn end_session<C: ConnectionTrait>(conn: &C, tenant_id: &str, token: &str) -> Result<(), DbErr> {
    affiliate_tokens::Entity::delete_many()
        .filter(affiliate_tokens::Column::TokenHash.eq(token_hash(token)))
        .filter(affiliate_tokens::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes sign-in links and sessions that expired (the housekeeping sweep).
pub async fn purge_expired_tokens<C: ConnectionTrait>(conn: &C, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let r =
        affiliate_tokens::Entity::delete_many().filter(affiliate_tokens::Column::ExpiresAt.lt(now)).exec(conn).await?;
    Ok(r.rows_affected)
}

/// A click just recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub id: String,
    /// Whether it may attribute an order (false past the address's count).
    pub counted: bool,
    /// The programme's attribution window: how long the cookie lives.
    pub window_days: i32,
}

/// Records a visit through `code`'s link from `client_net`; `None` when
/// the shop runs no programme or no active affiliate has that code.
pub async fn record_click<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    code: &str,
    client_net: &str,
    now: DateTime<Utc>,
) -> Result<Option<Click>, DbErr> {
    let code = code.trim();
    if code.is_empty() || code.len() > 32 {
        return Ok(None);
    }
    let Some(program) = program_for_tenant(conn, tenant_id).await?.filter(|p| p.enabled) else { return Ok(None) };
    let affiliate = affiliates::Entity::find()
        .filter(affiliates::Column::TenantId.eq(tenant_id))
        .filter(affiliates::Column::Code.eq(code.to_lowercase()))
        .filter(affiliates::Column::Status.eq(ACTIVE))
        .one(conn)
        .await?;
    let Some(affiliate) = affiliate else { return Ok(None) };
    let recent: u64 = {
        use sea_orm::PaginatorTrait;
        affiliate_clicks::Entity::find()
            .filter(affiliate_clicks::Column::TenantId.eq(tenant_id))
            .filter(affiliate_clicks::Column::ClientNet.eq(client_net))
            .filter(affiliate_clicks::Column::CreatedAt.gt(now - Duration::hours(24)))
            .count(conn)
            .await?
    };
    let counted = recent < u64::try_from(program.clicks_per_address.max(0)).unwrap_or(0);
    let click = affiliate_clicks::Model {
        tenant_id: tenant_id.into(),
        id: new_id(),
        affiliate_id: affiliate.id,
        client_net: client_net.into(),
        counted,
        created_at: now,
    };
    affiliate_clicks::Entity::insert(click.clone().into_active_model()).exec_without_returning(conn).await?;
    Ok(Some(Click { id: click.id, counted, window_days: program.window_days }))
}

/// The click an order may name: a counted click of this shop, from the
/// cookie's value (anything else names none).
pub async fn click_for_order<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    cookie: &str,
) -> Result<Option<String>, DbErr> {
    if cookie.is_empty() || cookie.len() > 32 || !cookie.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(None);
    }
    let click = affiliate_clicks::Entity::find_by_id((tenant_id.to_string(), cookie.to_string())).one(conn).await?;
    Ok(click.filter(|c| c.counted).map(|c| c.id))
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    pub pending: u64,
    pub refused: u64,
    pub booked: u64,
    pub cancelled: u64,
}

const SWEEP_BATCH: u64 = 500;
/// How old an order the sweep still gives a commission (a manual delivery may take a while).
const LOOK_BACK_DAYS: i64 = 60;

/// Gives delivered orders through a click their commission, and books
/// the ones whose holding period is over (see the module docs). Safe to
/// run on several workers at once: every step is conditional.
pub async fn settle_commissions<C: ConnectionTrait>(conn: &C, now: DateTime<Utc>) -> Result<Settled, DbErr> {
    let mut done = Settled::default();
    let backend = conn.get_database_backend();
    let since = match backend {
        sea_orm::DbBackend::Postgres => "$1",
        _ => "?",
    };
    // Orders of the last LOOK_BACK_DAYS only: the scan stays bounded however
    // many referred orders the platform has seen.
    let sql = format!(
        "SELECT o.tenant_id, o.id FROM orders o WHERE o.affiliate_click_id IS NOT NULL AND o.status = '{}' \
         AND o.created_at > {since} \
         AND NOT EXISTS (SELECT 1 FROM affiliate_commissions c WHERE c.tenant_id = o.tenant_id AND c.order_id = o.id) \
         LIMIT {SWEEP_BATCH}",
        order_status::DELIVERED
    );
    let from = now - Duration::days(LOOK_BACK_DAYS);
    let rows = conn.query_all_raw(Statement::from_sql_and_values(backend, sql, [from.into()])).await?;
    for row in rows {
        let tenant_id: String = row.try_get_by_index(0)?;
        let order_id: String = row.try_get_by_index(1)?;
        let Some(order) = orders::Entity::find_by_id((tenant_id.clone(), order_id)).one(conn).await? else { continue };
        let c = decide_commission(conn, &order, now).await?;
        let refused = c.status == commission::REFUSED;
        let inserted = affiliate_commissions::Entity::insert(c.into_active_model())
            .on_conflict(
                OnConflict::columns([affiliate_commissions::Column::TenantId, affiliate_commissions::Column::OrderId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await
            .or_else(|e| if matches!(e, DbErr::RecordNotInserted) { Ok(0) } else { Err(e) })?;
        if inserted == 1 {
            if refused {
                done.refused += 1;
            } else {
                done.pending += 1;
            }
        }
    }
    let due = affiliate_commissions::Entity::find()
        .filter(affiliate_commissions::Column::Status.eq(commission::PENDING))
        .filter(affiliate_commissions::Column::MaturesAt.lte(now))
        .limit(SWEEP_BATCH)
        .all(conn)
        .await?;
    for c in due {
        let order = orders::Entity::find_by_id((c.tenant_id.clone(), c.order_id.clone())).one(conn).await?;
        let still_delivered = order.as_ref().is_some_and(|o| o.status == order_status::DELIVERED);
        let to = if still_delivered { commission::BOOKED } else { commission::CANCELLED };
        if !move_commission(conn, &c, commission::PENDING, to, now).await? {
            continue;
        }
        if still_delivered {
            book_line(
                conn,
                &c.tenant_id,
                &c.affiliate_id,
                line::COMMISSION,
                Some(&c.order_id),
                None,
                c.amount_minor,
                &c.currency,
                now,
            )
            .await?;
            tell_merchant(conn, &c, "affiliate.commission_booked", now).await?;
            done.booked += 1;
        } else {
            done.cancelled += 1;
        }
    }
    Ok(done)
}

/// The commission a delivered order earns, or its refusal.
async fn decide_commission<C: ConnectionTrait>(
    conn: &C,
    order: &orders::Model,
    now: DateTime<Utc>,
) -> Result<affiliate_commissions::Model, DbErr> {
    let tenant_id = &order.tenant_id;
    let click_id = order.affiliate_click_id.clone().unwrap_or_default();
    let click = affiliate_clicks::Entity::find_by_id((tenant_id.clone(), click_id)).one(conn).await?;
    let affiliate = match &click {
        Some(c) => find_affiliate_for_tenant(conn, tenant_id, &c.affiliate_id).await?,
        None => None,
    };
    let program = program_for_tenant(conn, tenant_id).await?;
    let rate_bps = match affiliate_product_rates::Entity::find_by_id((tenant_id.clone(), order.product_id.clone()))
        .one(conn)
        .await?
    {
        Some(r) => r.commission_bps,
        None => program.as_ref().map(|p| p.commission_bps).unwrap_or(0),
    };
    let delivered = order.delivered_at.unwrap_or(now);
    let holding = program.as_ref().map(|p| p.holding_days).unwrap_or(0).max(0);
    let reason = match (&click, &affiliate, &program) {
        (None, _, _) | (_, None, _) => Some(refusal::UNKNOWN_CLICK),
        (_, _, None) => Some(refusal::PROGRAMME_OFF),
        (_, _, Some(p)) if !p.enabled => Some(refusal::PROGRAMME_OFF),
        (_, Some(a), _) if a.status != ACTIVE => Some(refusal::BLOCKED),
        (_, Some(a), _) if a.email.eq_ignore_ascii_case(order.email.trim()) => Some(refusal::SELF_REFERRAL),
        (_, Some(a), _) if a.known_nets.split(',').any(|n| !n.is_empty() && n == order.client_net) => {
            Some(refusal::SAME_ADDRESS)
        }
        (Some(c), _, Some(p)) if order.created_at - c.created_at > Duration::days(i64::from(p.window_days.max(0))) => {
            Some(refusal::WINDOW_PASSED)
        }
        _ => None,
    };
    let amount_minor = order.amount_minor.saturating_mul(i64::from(rate_bps.max(0))) / 10_000;
    Ok(affiliate_commissions::Model {
        tenant_id: tenant_id.clone(),
        order_id: order.id.clone(),
        affiliate_id: affiliate.map(|a| a.id).unwrap_or_default(),
        order_no: order.order_no.clone(),
        base_minor: order.amount_minor,
        rate_bps,
        amount_minor,
        currency: order.currency.clone(),
        status: if reason.is_some() { commission::REFUSED } else { commission::PENDING }.into(),
        reason: reason.map(Into::into),
        matures_at: delivered + Duration::days(i64::from(holding)),
        created_at: now,
        decided_at: reason.map(|_| now),
    })
}

/// Moves a commission from one state to another, if it is still in the first.
async fn move_commission<C: ConnectionTrait>(
    conn: &C,
    c: &affiliate_commissions::Model,
    from: &str,
    to: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = affiliate_commissions::Entity::update_many()
        .col_expr(affiliate_commissions::Column::Status, Expr::value(to))
        .col_expr(affiliate_commissions::Column::DecidedAt, Expr::value(now))
        .filter(affiliate_commissions::Column::TenantId.eq(&c.tenant_id))
        .filter(affiliate_commissions::Column::OrderId.eq(&c.order_id))
        .filter(affiliate_commissions::Column::Status.eq(from))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// A refunded order's commission: cancelled while holding, reversed on the
/// account once booked. In the refund's transaction.
pub async fn on_order_refunded<C: ConnectionTrait>(
    conn: &C,
    order: &orders::Model,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if order.affiliate_click_id.is_none() {
        return Ok(());
    }
    let Some(c) =
        affiliate_commissions::Entity::find_by_id((order.tenant_id.clone(), order.id.clone())).one(conn).await?
    else {
        return Ok(());
    };
    if c.status == commission::PENDING {
        move_commission(conn, &c, commission::PENDING, commission::CANCELLED, now).await?;
    } else if c.status == commission::BOOKED
        && move_commission(conn, &c, commission::BOOKED, commission::REVERSED, now).await?
    {
        book_line(
            conn,
            &c.tenant_id,
            &c.affiliate_id,
            line::REVERSAL,
            Some(&c.order_id),
            None,
            -c.amount_minor,
            &c.currency,
            now,
        )
        .await?;
        tell_merchant(conn, &c, "affiliate.commission_reversed", now).await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn book_line<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    affiliate_id: &str,
    kind: &str,
    order_id: Option<&str>,
    payout_id: Option<&str>,
    amount_minor: i64,
    currency: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = affiliate_ledger::Model {
        id: new_id(),
        tenant_id: tenant_id.into(),
        affiliate_id: affiliate_id.into(),
        kind: kind.into(),
        entry_key: format!("{kind}:{}", order_id.or(payout_id).unwrap_or_default()),
        order_id: order_id.map(Into::into),
        payout_id: payout_id.map(Into::into),
        amount_minor,
        currency: currency.into(),
        created_at: now,
    };
    affiliate_ledger::Entity::insert(row.into_active_model()).exec_without_returning(conn).await?;
    Ok(())
}

/// The merchant's webhook event for a commission booked or reversed.
async fn tell_merchant<C: ConnectionTrait>(
    conn: &C,
    c: &affiliate_commissions::Model,
    event: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let code = find_affiliate_for_tenant(conn, &c.tenant_id, &c.affiliate_id).await?.map(|a| a.code);
    crate::store::webhooks::emit_event_for_tenant(conn, &c.tenant_id, event, commission_data(c, code.as_deref()), now)
        .await?;
    Ok(())
}

/// A commission as the merchant API and webhooks show it.
pub fn commission_data(c: &affiliate_commissions::Model, code: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "order_no": c.order_no, "affiliate_id": c.affiliate_id, "affiliate_code": code,
        "status": c.status, "reason": c.reason,
        "base": crate::money::format_minor(c.base_minor, &c.currency), "rate_bps": c.rate_bps,
        "amount": crate::money::format_minor(c.amount_minor, &c.currency), "amount_minor": c.amount_minor,
        "currency": c.currency, "matures_at": c.matures_at, "created_at": c.created_at,
    })
}

/// An affiliate's balance: the sum of its account, per currency.
pub async fn balance_of<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    affiliate_id: &str,
) -> Result<Vec<(String, i64)>, DbErr> {
    let rows: Vec<(String, i64)> = affiliate_ledger::Entity::find()
        .select_only()
        .column(affiliate_ledger::Column::Currency)
        .column(affiliate_ledger::Column::AmountMinor)
        .filter(affiliate_ledger::Column::TenantId.eq(tenant_id))
        .filter(affiliate_ledger::Column::AffiliateId.eq(affiliate_id))
        .into_tuple()
        .all(conn)
        .await?;
    let mut out: Vec<(String, i64)> = Vec::new();
    for (cur, amount) in rows {
        match out.iter_mut().find(|(c, _)| *c == cur) {
            Some((_, sum)) => *sum += amount,
            None => out.push((cur, amount)),
        }
    }
    out.sort();
    Ok(out)
}

/// Why a payout cannot be asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayoutRefusal {
    NothingToPay,
    BelowMinimum { minimum_minor: i64 },
    NoDetails,
}

/// Asks for the affiliate's whole balance in `currency`: under a lock on
/// the affiliate, the balance is read and a `payout` line takes it off.
pub async fn request_payout<C: ConnectionTrait>(
    txn: &C,
    tenant_id: &str,
    affiliate_id: &str,
    currency: &str,
    details: &str,
    now: DateTime<Utc>,
) -> Result<Result<affiliate_payouts::Model, PayoutRefusal>, DbErr> {
    let details = details.trim();
    if details.is_empty() {
        return Ok(Err(PayoutRefusal::NoDetails));
    }
    affiliates::Entity::find_by_id((tenant_id.to_string(), affiliate_id.to_string())).lock_exclusive().one(txn).await?;
    let balance =
        balance_of(txn, tenant_id, affiliate_id).await?.into_iter().find(|(c, _)| c == currency).map_or(0, |(_, b)| b);
    if balance <= 0 {
        return Ok(Err(PayoutRefusal::NothingToPay));
    }
    let minimum = terms_for_tenant(txn, tenant_id).await?.min_payout_minor;
    if balance < minimum {
        return Ok(Err(PayoutRefusal::BelowMinimum { minimum_minor: minimum }));
    }
    let p = affiliate_payouts::Model {
        tenant_id: tenant_id.into(),
        id: new_id(),
        affiliate_id: affiliate_id.into(),
        amount_minor: balance,
        currency: currency.into(),
        status: payout::REQUESTED.into(),
        details: details.chars().take(255).collect(),
        note: None,
        requested_at: now,
        decided_at: None,
    };
    affiliate_payouts::Entity::insert(p.clone().into_active_model()).exec_without_returning(txn).await?;
    book_line(txn, tenant_id, affiliate_id, line::PAYOUT, None, Some(&p.id), -balance, currency, now).await?;
    let code = find_affiliate_for_tenant(txn, tenant_id, affiliate_id).await?.map(|a| a.code);
    crate::store::webhooks::emit_event_for_tenant(
        txn,
        tenant_id,
        "affiliate.payout_requested",
        payout_data(&p, code.as_deref()),
        now,
    )
    .await?;
    Ok(Ok(p))
}

/// A payout as the merchant API and webhooks show it (the details are the affiliate's own words).
pub fn payout_data(p: &affiliate_payouts::Model, code: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "payout_id": p.id, "affiliate_id": p.affiliate_id, "affiliate_code": code, "status": p.status,
        "amount": crate::money::format_minor(p.amount_minor, &p.currency), "amount_minor": p.amount_minor,
        "currency": p.currency, "details": p.details, "note": p.note,
        "requested_at": p.requested_at, "decided_at": p.decided_at,
    })
}

/// The merchant's answer to a requested payout: paid, or rejected (the
/// amount goes back on the affiliate's account). `None` when there is no
/// such request still open.
pub async fn decide_payout_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    payout_id: &str,
    paid: bool,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Option<affiliate_payouts::Model>, DbErr> {
    let Some(p) =
        affiliate_payouts::Entity::find_by_id((tenant_id.to_string(), payout_id.to_string())).one(conn).await?
    else {
        return Ok(None);
    };
    let to = if paid { payout::PAID } else { payout::REJECTED };
    let note = Some(note.trim()).filter(|n| !n.is_empty()).map(|n| n.chars().take(255).collect::<String>());
    let r = affiliate_payouts::Entity::update_many()
        .col_expr(affiliate_payouts::Column::Status, Expr::value(to))
        .col_expr(affiliate_payouts::Column::Note, Expr::value(note.clone()))
        .col_expr(affiliate_payouts::Column::DecidedAt, Expr::value(now))
        .filter(affiliate_payouts::Column::TenantId.eq(tenant_id))
        .filter(affiliate_payouts::Column::Id.eq(payout_id))
        .filter(affiliate_payouts::Column::Status.eq(payout::REQUESTED))
        .exec(conn)
        .await?;
    if r.rows_affected != 1 {
        return Ok(None);
    }
    if !paid {
        book_line(
            conn,
            tenant_id,
            &p.affiliate_id,
            line::PAYOUT_RETURNED,
            None,
            Some(&p.id),
            p.amount_minor,
            &p.currency,
            now,
        )
        .await?;
    }
    Ok(Some(affiliate_payouts::Model { status: to.into(), note, decided_at: Some(now), ..p }))
}

/// A shop's payouts (of one affiliate, or all), newest first.
pub async fn payouts_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    affiliate_id: Option<&str>,
    limit: u64,
) -> Result<Vec<affiliate_payouts::Model>, DbErr> {
    let mut q = affiliate_payouts::Entity::find().filter(affiliate_payouts::Column::TenantId.eq(tenant_id));
    if let Some(a) = affiliate_id {
        q = q.filter(affiliate_payouts::Column::AffiliateId.eq(a));
    }
    q.order_by_desc(affiliate_payouts::Column::RequestedAt)
        .order_by_desc(affiliate_payouts::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// A shop's commissions (of one affiliate, or all), newest first.
pub async fn commissions_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    affiliate_id: Option<&str>,
    limit: u64,
) -> Result<Vec<affiliate_commissions::Model>, DbErr> {
    let mut q = affiliate_commissions::Entity::find().filter(affiliate_commissions::Column::TenantId.eq(tenant_id));
    if let Some(a) = affiliate_id {
        q = q.filter(affiliate_commissions::Column::AffiliateId.eq(a));
    }
    q.order_by_desc(affiliate_commissions::Column::CreatedAt)
        .order_by_desc(affiliate_commissions::Column::OrderId)
        .limit(limit)
        .all(conn)
        .await
}

/// One affiliate as its merchant (or itself) sees it.
#[derive(Debug, Clone)]
pub struct AffiliateFigures {
    pub affiliate: affiliates::Model,
    /// Clicks in the last 30 days: counted, and refused (past the address's count).
    pub clicks: (u64, u64),
    /// Orders with a commission that was not refused.
    pub orders: u64,
    pub refused: u64,
    pub pending_minor: i64,
    pub booked_minor: i64,
    /// What its account holds now (booked, less payouts asked for).
    pub balance_minor: i64,
}

/// Figures of one affiliate.
pub async fn figures_of<C: ConnectionTrait>(
    conn: &C,
    affiliate: affiliates::Model,
    now: DateTime<Utc>,
) -> Result<AffiliateFigures, DbErr> {
    let tenant_id = affiliate.tenant_id.clone();
    let id = affiliate.id.clone();
    Ok(figures(conn, &tenant_id, Some(&id), vec![affiliate], now).await?.remove(0))
}

/// Every affiliate of a shop with its figures, newest first.
pub async fn affiliates_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<AffiliateFigures>, DbErr> {
    let all = affiliates::Entity::find()
        .filter(affiliates::Column::TenantId.eq(tenant_id))
        .order_by_desc(affiliates::Column::CreatedAt)
        .limit(500)
        .all(conn)
        .await?;
    figures(conn, tenant_id, None, all, now).await
}

/// The figures of `of` (all of one affiliate's shop, or only `only`), from
/// three reads of the shop's clicks, commissions and account lines.
async fn figures<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    only: Option<&str>,
    of: Vec<affiliates::Model>,
    now: DateTime<Utc>,
) -> Result<Vec<AffiliateFigures>, DbErr> {
    let mut clicks = affiliate_clicks::Entity::find()
        .select_only()
        .columns([affiliate_clicks::Column::AffiliateId, affiliate_clicks::Column::Counted])
        .filter(affiliate_clicks::Column::TenantId.eq(tenant_id))
        .filter(affiliate_clicks::Column::CreatedAt.gte(now - Duration::days(30)));
    let mut commissions = affiliate_commissions::Entity::find()
        .select_only()
        .columns([
            affiliate_commissions::Column::AffiliateId,
            affiliate_commissions::Column::Status,
            affiliate_commissions::Column::AmountMinor,
        ])
        .filter(affiliate_commissions::Column::TenantId.eq(tenant_id));
    let mut lines = affiliate_ledger::Entity::find()
        .select_only()
        .columns([affiliate_ledger::Column::AffiliateId, affiliate_ledger::Column::AmountMinor])
        .filter(affiliate_ledger::Column::TenantId.eq(tenant_id));
    if let Some(a) = only {
        clicks = clicks.filter(affiliate_clicks::Column::AffiliateId.eq(a));
        commissions = commissions.filter(affiliate_commissions::Column::AffiliateId.eq(a));
        lines = lines.filter(affiliate_ledger::Column::AffiliateId.eq(a));
    }
    let clicks: Vec<(String, bool)> = clicks.into_tuple().all(conn).await?;
    let commissions: Vec<(String, String, i64)> = commissions.into_tuple().all(conn).await?;
    let lines: Vec<(String, i64)> = lines.into_tuple().all(conn).await?;
    Ok(of
        .into_iter()
        .map(|affiliate| {
            let id = affiliate.id.as_str();
            let counted = clicks.iter().filter(|(a, c)| a == id && *c).count() as u64;
            let all_clicks = clicks.iter().filter(|(a, _)| a == id).count() as u64;
            let mine: Vec<(&str, i64)> =
                commissions.iter().filter(|(a, ..)| a == id).map(|(_, s, m)| (s.as_str(), *m)).collect();
            let sum = |st: &str| mine.iter().filter(|(s, _)| *s == st).map(|(_, m)| m).sum::<i64>();
            let refused = mine.iter().filter(|(s, _)| *s == commission::REFUSED).count() as u64;
            AffiliateFigures {
                clicks: (counted, all_clicks - counted),
                orders: mine.len() as u64 - refused,
                refused,
                pending_minor: sum(commission::PENDING),
                booked_minor: sum(commission::BOOKED),
                balance_minor: lines.iter().filter(|(a, _)| a == id).map(|(_, m)| m).sum(),
                affiliate,
            }
        })
        .collect())
}

/// The link code of each affiliate of a shop, by id.
pub async fn codes_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<std::collections::HashMap<String, String>, DbErr> {
    let rows: Vec<(String, String)> = affiliates::Entity::find()
        .select_only()
        .columns([affiliates::Column::Id, affiliates::Column::Code])
        .filter(affiliates::Column::TenantId.eq(tenant_id))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// A rate in basis points as a percentage without trailing zeros:
/// `1000` → `10`, `1250` → `12.5`, `5` → `0.05`.
pub fn percent(bps: i32) -> String {
    let s = format!("{}.{:02}", bps / 100, bps % 100);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rates_read_as_percentages_without_trailing_zeros() {
        assert_eq!(super::percent(1000), "10");
        assert_eq!(super::percent(1250), "12.5");
        assert_eq!(super::percent(1205), "12.05");
        assert_eq!(super::percent(5), "0.05");
        assert_eq!(super::percent(0), "0");
    }
}
