//! Leases that make each periodic sweep (reconciliation, the billing sweep,
//! housekeeping) run on one worker process at a time, whatever the number
//! of workers. A lease is one row per sweep: who holds it and until when.
//! Before each pass a worker takes or renews it in one statement; the
//! holder keeps it as long as it keeps sweeping, and when it dies another
//! worker takes it over once it has expired. Jobs themselves need no lease:
//! the queue's claims already hand each job to one worker.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// This process's name as a lease holder (random, for the life of the process).
pub fn this_process() -> &'static str {
    static HOLDER: OnceLock<String> = OnceLock::new();
    HOLDER.get_or_init(crate::ids::new_id)
}

/// Takes the lease `name` for `holder` until `ttl` from now, or renews it
/// if `holder` has it; true when `holder` holds it afterwards. A lease held
/// by another and not yet expired is left alone.
pub async fn take_lease<C: ConnectionTrait>(conn: &C, name: &str, holder: &str, ttl: Duration) -> Result<bool, DbErr> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60));
    let backend = conn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "INSERT INTO sweep_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE sweep_leases.holder = excluded.holder OR sweep_leases.expires_at < $4"
        }
        _ => {
            "INSERT INTO sweep_leases (name, holder, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE sweep_leases.holder = excluded.holder OR sweep_leases.expires_at < ?"
        }
    };
    let r = conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [name.into(), holder.into(), until.into(), now.into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Whether this process may run sweep `name` now (taking or renewing its
/// lease for `ttl`). A database error counts as "no": the pass is skipped
/// and the next one asks again.
pub async fn may_sweep<C: ConnectionTrait>(conn: &C, name: &str, ttl: Duration) -> bool {
    match take_lease(conn, name, this_process(), ttl).await {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!(sweep = name, error = %e, "could not take the sweep's lease; skipping this pass");
            false
        }
    }
}
