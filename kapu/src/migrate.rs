//! Schema migrations. On PostgreSQL they run under an advisory lock, so
//! several processes starting together apply them once.

use kapu_core::Db;
use kapu_core::db::Engine;
use kapu_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};

/// Advisory lock key: "kapu" in ASCII.
const LOCK_KEY: i64 = 0x6b61_7075;

/// Applies pending migrations.
pub async fn run(db: &Db) -> anyhow::Result<()> {
    match db.engine() {
        Engine::Sqlite => Migrator::up(db.writer(), None).await?,
        Engine::Postgres => {
            // Session-level lock held on one pinned connection for the whole run.
            let conn = db.writer();
            let backend = db.backend();
            let txn_free = sea_orm::TransactionTrait::begin(conn).await?;
            txn_free
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    "SELECT pg_advisory_xact_lock($1)",
                    [LOCK_KEY.into()],
                ))
                .await?;
            Migrator::up(&txn_free, None).await?;
            txn_free.commit().await?;
        }
    }
    Ok(())
}
