//! Keeps the planner's statistics of the tables a sale grows current
//! (PostgreSQL), whatever autovacuum does.
//!
//! PostgreSQL plans a prepared statement once for all parameter values
//! after a few runs, with the statistics it has then. Plans made while
//! `orders` was empty (a new platform, a launch sale on a fresh database)
//! stay in use until the table is analyzed; autovacuum analyzes it only
//! after its next nap (a minute by default, later when its workers are
//! busy, never where it is off). Measured in `bench/long_sale.sh`: the
//! buyer-count statement kept such a plan and orders fell from 498 to 93 a
//! second in 74 s; an `ANALYZE orders` brought them back to about 900.
//! So every few seconds Kapu analyzes each of these tables whose rows
//! changed by more than a tenth (at least 1,000) since its last analysis;
//! an `ANALYZE` samples at most 30,000 rows, and a new analysis makes the
//! server plan the statements on that table again.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// The tables checkout and payment confirmation query by buyer, key and job.
pub const SALE_TABLES: &[&str] = &["orders", "payments", "jobs", "card_keys"];

/// Analyzes each of [`SALE_TABLES`] changed by more than a tenth (at least
/// 1,000 rows) since its last analysis; returns the tables it analyzed.
/// Nothing on SQLite.
pub async fn analyze_changed_sale_tables<C: ConnectionTrait>(conn: &C) -> Result<Vec<String>, DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(Vec::new());
    }
    let names = SALE_TABLES.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
    let rows = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT relname::text FROM pg_stat_user_tables WHERE schemaname = current_schema() \
                 AND relname IN ({names}) AND n_mod_since_analyze > GREATEST(1000, n_live_tup / 10)"
            ),
        ))
        .await?;
    let mut analyzed = Vec::new();
    for row in rows {
        let table: String = row.try_get_by_index(0)?;
        // Only names of SALE_TABLES come back from the query above.
        if SALE_TABLES.contains(&table.as_str()) {
            conn.execute_unprepared(&format!("ANALYZE {table}")).await?;
            analyzed.push(table);
        }
    }
    Ok(analyzed)
}
