//! `kapu backup` and `kapu restore`: a consistent copy of the database taken
//! while serving, with a manifest that says what it holds, and its restore
//! into an empty database.
//!
//! - SQLite: `VACUUM INTO` writes a consistent snapshot (readers and writers
//!   carry on); the manifest's counts are read from the copy itself.
//! - PostgreSQL: `pg_dump --format=custom` run on a snapshot exported from a
//!   read-only transaction, in which the manifest's counts are taken: the
//!   dump and the counts see the same instant. `pg_restore` restores it.
//!
//! The backup is `FILE`, its manifest `FILE.manifest.json` (schema version,
//! time, rows per table, SHA-256 of `FILE`). The master key is never in
//! either: without it nothing sealed in the backup (card keys, channel
//! credentials, webhook secrets) can be read, so it is kept apart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use kapu_core::Db;
use kapu_core::db::Engine;
use sea_orm::{AccessMode, ConnectionTrait, IsolationLevel, Statement, TransactionTrait};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a backup says about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// `sqlite` (a SQLite database file) or `pg_dump` (pg_dump's custom format).
    pub format: String,
    /// The last migration applied to the backed-up database.
    pub schema_version: String,
    pub created_at: String,
    pub kapu_version: String,
    /// Rows per table at the instant of the backup.
    pub tables: BTreeMap<String, u64>,
    /// SHA-256 of the backup file, hex.
    pub sha256: String,
    pub master_key: String,
}

const MASTER_KEY_NOTE: &str = "not included: keep KAPU_MASTER_KEY (or the data directory's master.key) apart from \
     backups; a restore needs the same key to read card keys, channel credentials and webhook secrets";

/// `file` with `suffix` appended to its name (`kapu.db` → `kapu.db-wal`).
fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Where a backup's manifest lives.
pub fn manifest_path(file: &Path) -> PathBuf {
    with_suffix(file, ".manifest.json")
}

/// The user tables of the database `conn` is in, sorted.
async fn tables<C: ConnectionTrait>(conn: &C) -> anyhow::Result<Vec<String>> {
    let sql = match conn.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        _ => "SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
    };
    let rows = conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql)).await?;
    Ok(rows.iter().map(|r| r.try_get::<String>("", "t")).collect::<Result<_, _>>()?)
}

/// Rows per table (every table: the migrations' own included).
async fn counts<C: ConnectionTrait>(conn: &C) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for t in tables(conn).await? {
        // Table names come from the catalog, quoted as identifiers.
        let sql = format!("SELECT COUNT(*) AS n FROM \"{}\"", t.replace('"', "\"\""));
        let row = conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql)).await?;
        let n: i64 = row.context("count")?.try_get("", "n")?;
        out.insert(t, n as u64);
    }
    Ok(out)
}

async fn schema_version<C: ConnectionTrait>(conn: &C) -> anyhow::Result<String> {
    let sql = "SELECT version FROM seaql_migrations ORDER BY version DESC LIMIT 1";
    let row = conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql)).await?;
    Ok(row.context("no migration applied: not a Kapu database")?.try_get("", "version")?)
}

fn sha256_of(file: &Path) -> anyhow::Result<String> {
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(file).with_context(|| file.display().to_string())?;
    std::io::copy(&mut f, &mut h)?;
    Ok(kapu_core::crypto::hex(&h.finalize()))
}

/// A libpq connection string for pg_dump / pg_restore: the URL without the
/// parameters only Kapu's driver understands (`options[…]`).
fn libpq_url(url: &str) -> String {
    match url.split_once('?') {
        None => url.to_string(),
        Some((base, query)) => {
            let kept: Vec<&str> = query.split('&').filter(|kv| !kv.contains('[') && !kv.is_empty()).collect();
            if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) }
        }
    }
}

/// Takes a backup of `db` into `out` (and its manifest beside it).
pub async fn backup(db: &Db, database_url: &str, out: &Path) -> anyhow::Result<Manifest> {
    if out.exists() {
        bail!("{} exists; choose a new file (a backup never overwrites one)", out.display());
    }
    let (format, tables, schema_version) = match db.engine() {
        Engine::Sqlite => {
            let tmp = out.with_extension("partial");
            let _ = std::fs::remove_file(&tmp);
            let target = tmp.to_str().context("backup path is not UTF-8")?.replace('\'', "''");
            db.writer()
                .execute_raw(Statement::from_string(db.backend(), format!("VACUUM INTO '{target}'")))
                .await
                .context("VACUUM INTO")?;
            let copy = Db::connect(&format!("sqlite://{}?mode=rw", tmp.display()), 1).await?;
            let (tables, version) = (counts(copy.reader()).await?, schema_version(copy.reader()).await?);
            copy.close().await;
            std::fs::rename(&tmp, out)?;
            ("sqlite", tables, version)
        }
        Engine::Postgres => {
            let txn =
                db.writer().begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?;
            let row = txn
                .query_one_raw(Statement::from_string(db.backend(), "SELECT pg_export_snapshot() AS s"))
                .await?
                .context("snapshot")?;
            let snapshot: String = row.try_get("", "s")?;
            let (tables, version) = (counts(&txn).await?, schema_version(&txn).await?);
            let status = tokio::process::Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--snapshot", &snapshot, "--file"])
                .arg(out)
                .arg(libpq_url(database_url))
                .status()
                .await
                .context("running pg_dump (Debian package postgresql-client)")?;
            txn.commit().await?;
            if !status.success() {
                let _ = std::fs::remove_file(out);
                bail!("pg_dump failed ({status})");
            }
            ("pg_dump", tables, version)
        }
    };
    let manifest = Manifest {
        format: format.into(),
        schema_version,
        created_at: chrono::Utc::now().to_rfc3339(),
        kapu_version: env!("CARGO_PKG_VERSION").into(),
        tables,
        sha256: sha256_of(out)?,
        master_key: MASTER_KEY_NOTE.into(),
    };
    std::fs::write(manifest_path(out), serde_json::to_vec_pretty(&manifest)?)?;
    Ok(manifest)
}

/// Reads and checks a backup's manifest: present, the file's checksum, a
/// schema this binary knows (it migrates forward after the restore, never back).
pub fn checked_manifest(file: &Path) -> anyhow::Result<Manifest> {
    let path = manifest_path(file);
    let text = std::fs::read(&path).with_context(|| format!("{}: the backup's manifest", path.display()))?;
    let manifest: Manifest = serde_json::from_slice(&text).with_context(|| path.display().to_string())?;
    let sum = sha256_of(file)?;
    if sum != manifest.sha256 {
        bail!(
            "{} does not match its manifest (SHA-256 {sum}, manifest {}): damaged or not this backup",
            file.display(),
            manifest.sha256
        );
    }
    use kapu_migrations::MigratorTrait;
    let known: Vec<String> = kapu_migrations::Migrator::migrations().iter().map(|m| m.name().to_string()).collect();
    if !known.contains(&manifest.schema_version) {
        bail!(
            "the backup's schema ({}) is unknown to this kapu {}; restore it with the version that took it or a newer one",
            manifest.schema_version,
            env!("CARGO_PKG_VERSION")
        );
    }
    Ok(manifest)
}

/// Restores `file` into the database of `database_url` (empty, unless
/// `force`), then checks every table's rows against the manifest.
pub async fn restore(database_url: &str, file: &Path, force: bool) -> anyhow::Result<Manifest> {
    let manifest = checked_manifest(file)?;
    let db = Db::connect(database_url, 2).await?;
    let existing = tables(db.reader()).await?;
    if !existing.is_empty() && !force {
        db.close().await;
        bail!(
            "the target database is not empty ({} tables); restore into an empty one, or pass --force to replace it",
            existing.len()
        );
    }
    match (db.engine(), manifest.format.as_str()) {
        (Engine::Sqlite, "sqlite") => {
            let target = db.sqlite_file().context("SQLite database without a file")?.to_path_buf();
            db.close().await;
            let tmp = target.with_extension("restoring");
            std::fs::copy(file, &tmp)?;
            for journal in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(with_suffix(&target, journal));
            }
            std::fs::rename(&tmp, &target)?;
        }
        (Engine::Postgres, "pg_dump") => {
            db.close().await;
            let mut cmd = tokio::process::Command::new("pg_restore");
            cmd.args(["--no-owner", "--exit-on-error", "--single-transaction", "--dbname"])
                .arg(libpq_url(database_url));
            if force && !existing.is_empty() {
                cmd.args(["--clean", "--if-exists"]);
            }
            let status =
                cmd.arg(file).status().await.context("running pg_restore (Debian package postgresql-client)")?;
            if !status.success() {
                bail!("pg_restore failed ({status}); the target is unchanged (one transaction)");
            }
        }
        (engine, format) => bail!("a {format} backup cannot be restored into {engine:?}; use the engine it came from"),
    }
    let db = Db::connect(database_url, 2).await?;
    let restored = counts(db.reader()).await?;
    db.close().await;
    if restored != manifest.tables {
        let differ: Vec<String> = manifest
            .tables
            .iter()
            .filter(|(t, n)| restored.get(*t) != Some(n))
            .map(|(t, n)| format!("{t}: {n} in the backup, {} restored", restored.get(t).copied().unwrap_or(0)))
            .collect();
        bail!("restored rows differ from the manifest: {}", differ.join("; "));
    }
    Ok(manifest)
}
