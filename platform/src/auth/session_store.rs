//! Where sessions live: the `sessions` table by default, Redis when
//! `KAPU_REDIS_URL` is set (then no database read is needed to know who is
//! asking). Either way only the SHA-256 of the cookie is stored.
//!
//! Redis keys, under `KAPU_REDIS_PREFIX` (`kapu:` by default):
//! `{prefix}session:{hash}` → account id (expiring with the session) and
//! `{prefix}account-sessions:{account id}` → the set of that account's
//! session hashes, so "sign out everywhere" can find them.

use chrono::Duration;
use kapu_core::Db;
use kapu_core::ids::{new_secret_token, token_hash};
use kapu_core::store::accounts::{
    create_session, delete_session, delete_sessions_of_account, find_account_id_by_session,
};
use redis::AsyncCommands;

use crate::error::PageError;

#[derive(Clone)]
pub enum SessionStore {
    Database,
    Redis { conn: redis::aio::ConnectionManager, prefix: String },
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SessionStore::Database => "SessionStore::Database",
            SessionStore::Redis { .. } => "SessionStore::Redis",
        })
    }
}

fn unavailable(e: redis::RedisError) -> PageError {
    PageError::Unavailable(format!("session store (Redis): {e}"))
}

fn session_key(prefix: &str, hash: &str) -> String {
    format!("{prefix}session:{hash}")
}

fn account_key(prefix: &str, account_id: &str) -> String {
    format!("{prefix}account-sessions:{account_id}")
}

impl SessionStore {
    /// Starts a session; returns the cookie value.
    pub async fn create(&self, db: &Db, account_id: &str, lifetime: Duration) -> Result<String, PageError> {
        match self {
            SessionStore::Database => Ok(create_session(db.writer(), account_id, lifetime).await?),
            SessionStore::Redis { conn, prefix } => {
                let token = new_secret_token();
                let hash = token_hash(&token);
                let secs = lifetime.num_seconds().max(1) as u64;
                let mut c = conn.clone();
                redis::pipe()
                    .atomic()
                    .set_ex(session_key(prefix, &hash), account_id, secs)
                    .sadd(account_key(prefix, account_id), &hash)
                    .expire(account_key(prefix, account_id), secs as i64)
                    .query_async::<()>(&mut c)
                    .await
                    .map_err(unavailable)?;
                Ok(token)
            }
        }
    }

    /// The account id behind a cookie, if its session is alive.
    pub async fn account_of(&self, db: &Db, cookie: &str) -> Result<Option<String>, PageError> {
        match self {
            SessionStore::Database => Ok(find_account_id_by_session(db.reader(), cookie).await?),
            SessionStore::Redis { conn, prefix } => {
                let mut c = conn.clone();
                c.get(session_key(prefix, &token_hash(cookie))).await.map_err(unavailable)
            }
        }
    }

    /// Ends one session.
    pub async fn delete(&self, db: &Db, cookie: &str) -> Result<(), PageError> {
        match self {
            SessionStore::Database => Ok(delete_session(db.writer(), cookie).await?),
            SessionStore::Redis { conn, prefix } => {
                let mut c = conn.clone();
                let _: () = c.del(session_key(prefix, &token_hash(cookie))).await.map_err(unavailable)?;
                Ok(())
            }
        }
    }

    /// Ends every session of an account (after a password reset); returns how many.
    pub async fn delete_all_of_account(&self, db: &Db, account_id: &str) -> Result<u64, PageError> {
        match self {
            SessionStore::Database => Ok(delete_sessions_of_account(db.writer(), account_id).await?),
            SessionStore::Redis { conn, prefix } => {
                let mut c = conn.clone();
                let hashes: Vec<String> = c.smembers(account_key(prefix, account_id)).await.map_err(unavailable)?;
                let mut keys: Vec<String> = hashes.iter().map(|h| session_key(prefix, h)).collect();
                keys.push(account_key(prefix, account_id));
                let removed: u64 = c.del(keys).await.map_err(unavailable)?;
                Ok(removed.saturating_sub(1))
            }
        }
    }
}
