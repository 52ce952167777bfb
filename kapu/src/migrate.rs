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
        Engine::Sqlite => {
            // Processes sharing one SQLite file take turns through an OS file lock.
            let _lock = match db.sqlite_file() {
                Some(file) => Some(lock_file(file.with_extension("migrate-lock")).await?),
                None => None,
            };
            Migrator::up(db.writer(), None).await?;
        }
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

/// Blocks (off the async threads) until an exclusive lock on `path` is held.
async fn lock_file(path: std::path::PathBuf) -> anyhow::Result<std::fs::File> {
    Ok(tokio::task::spawn_blocking(move || {
        let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        f.lock()?;
        Ok::<_, std::io::Error>(f)
    })
    .await??)
}
