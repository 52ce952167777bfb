//! Database connection: SQLite (embedded default) or PostgreSQL.
//!
//! On SQLite every write transaction goes through one dedicated writer
//! connection, so writers queue in-process instead of failing with
//! "database is locked"; readers use a separate pool and, in WAL mode, never
//! block the writer. On PostgreSQL both handles are the same pool and row
//! locks (`FOR UPDATE SKIP LOCKED`) do the serializing.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr};
use sea_orm::{Statement, TransactionTrait};

/// Which database engine is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Handles to the database.
#[derive(Debug, Clone)]
pub struct Db {
    read: DatabaseConnection,
    write: DatabaseConnection,
    engine: Engine,
    sqlite_file: Option<std::path::PathBuf>,
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL {0:?}: use sqlite://… or postgres://…")]
    Unsupported(String),
    #[error("cannot create data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("cannot connect to the database: {0}")]
    Db(#[from] DbErr),
}

impl Db {
    /// Opens `url`. `max_connections` sizes the PostgreSQL pool and the SQLite reader pool.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, ConnectError> {
        Self::connect_with(url, max_connections, Duration::from_secs(10)).await
    }

    /// Opens `url`, waiting at most `acquire` for a PostgreSQL connection
    /// (a request then fails with "unavailable" instead of hanging while
    /// the database is away).
    pub async fn connect_with(url: &str, max_connections: u32, acquire: Duration) -> Result<Self, ConnectError> {
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, max_connections).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut opts = ConnectOptions::new(url);
            opts.max_connections(max_connections.max(2))
                .min_connections(1)
                .acquire_timeout(acquire)
                .connect_timeout(acquire)
                .sqlx_logging(false);
            let pool = Database::connect(opts).await?;
            Ok(Self { read: pool.clone(), write: pool, engine: Engine::Postgres, sqlite_file: None })
        } else {
            Err(ConnectError::Unsupported(redact_url(url)))
        }
    }

    async fn connect_sqlite(url: &str, readers: u32) -> Result<Self, ConnectError> {
        if let Some(path) = sqlite_path(url)
            && let Some(dir) = std::path::Path::new(&path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|source| ConnectError::DataDir { path: dir.display().to_string(), source })?;
        }
        let tune = |o: SqliteConnectOptions| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        };
        let mut w = ConnectOptions::new(url);
        w.max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(tune);
        let write = Database::connect(w).await?;
        let mut r = ConnectOptions::new(url);
        r.max_connections(readers.max(1))
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(tune);
        let read = Database::connect(r).await?;
        Ok(Self { read, write, engine: Engine::Sqlite, sqlite_file: sqlite_path(url).map(Into::into) })
    }

    /// The connection for reads outside a transaction.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.read
    }

    /// The connection for writes (serialized on SQLite). Use [`begin`](Self::begin) for
    /// anything that reads before it writes.
    pub fn writer(&self) -> &DatabaseConnection {
        &self.write
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.write.begin().await
    }

    /// The SQLite database file, if that is the engine.
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        self.sqlite_file.as_deref()
    }

    /// This process's connections: (open, idle, limit), over every pool
    /// (PostgreSQL's one; SQLite's writer and readers).
    pub fn pool_figures(&self) -> (u64, u64, u64) {
        let mut figures = (0u64, 0u64, 0u64);
        let mut add = |size: u32, idle: usize, max: u32| {
            figures.0 += u64::from(size);
            figures.1 += idle as u64;
            figures.2 += u64::from(max);
        };
        match self.engine {
            Engine::Postgres => {
                let p = self.write.get_postgres_connection_pool();
                add(p.size(), p.num_idle(), p.options().get_max_connections());
            }
            Engine::Sqlite => {
                for c in [&self.write, &self.read] {
                    let p = c.get_sqlite_connection_pool();
                    add(p.size(), p.num_idle(), p.options().get_max_connections());
                }
            }
        }
        figures
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// sea-orm backend of the engine.
    pub fn backend(&self) -> DbBackend {
        self.write.get_database_backend()
    }

    /// Round trip to the database (for `/readyz`).
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.read.query_one_raw(Statement::from_string(self.backend(), "SELECT 1")).await.map(|_| ())
    }

    /// Closes both pools.
    pub async fn close(self) {
        let _ = self.read.close().await;
        let _ = self.write.close().await;
    }
}

/// The file path of a `sqlite://path?…` URL.
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

/// A database URL with any password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// True when `err` is a unique-constraint violation.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

/// True when the database could not be reached (pool exhausted, connection
/// lost): the request may succeed later, so callers answer 503.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        // The connection broke under a statement (the server went away).
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => matches!(
            e.as_ref(),
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(sqlite_path("sqlite://./data/kapu.db?mode=rwc").as_deref(), Some("./data/kapu.db"));
        assert_eq!(redact_url("postgres://kapu:hunter2@db:5432/kapu"), "postgres://kapu:***@db:5432/kapu");
    }

    #[tokio::test]
    async fn sqlite_opens_in_wal_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("x/k.db").display());
        let db = Db::connect(&url, 2).await.expect("connect");
        db.ping().await.expect("ping");
        let row = db
            .reader()
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA journal_mode"))
            .await
            .expect("pragma")
            .expect("row");
        let mode: String = row.try_get_by_index(0).expect("mode");
        assert_eq!(mode, "wal");
    }
}
