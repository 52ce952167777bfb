//! Each test's own database, cloned from a template that is built once per
//! build of the test binary.
//!
//! Migrating (and, for most tests, seeding the demo shop with its 20,000 keys)
//! costs far more than copying the result, so the first test that needs a
//! template builds it under a lock shared by every test process (cargo test
//! runs one process, nextest one per test) and everyone else copies it:
//! - PostgreSQL (`KAPU_TEST_DATABASE_URL` names a server): a database
//!   `kapu_tpl_{build}_{seed}`, cloned with `CREATE DATABASE … TEMPLATE …`;
//!   each test's database is dropped by its guard when the test ends, pass or
//!   panic. Templates of older builds and test databases left behind by a
//!   killed run are swept when a new template is built.
//! - SQLite: a file under the system's temporary directory, copied into the
//!   test's data directory.
//!
//! Templates hold data sealed with [`TEST_MASTER_KEY`], so every app made from
//! them uses that key.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kapu_core::Db;
use kapu_core::crypto::MasterKey;
use kapu_core::entities::tenants;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement, TransactionTrait};

/// The master key of every database made from a template (32 bytes, base64).
pub const TEST_MASTER_KEY: &str = "a2FwdS10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXMhISE=";

pub fn test_master_key() -> MasterKey {
    MasterKey::from_base64(TEST_MASTER_KEY).expect("test master key")
}

/// What a template holds beyond the schema.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Seed {
    /// Migrations only.
    Schema,
    /// What `App::build(cfg, true)` makes: built-in plans and the demo shop,
    /// whose velocity rule is raised so tests may place many orders from 127.0.0.1.
    Demo,
}

impl Seed {
    fn tag(self) -> &'static str {
        match self {
            Seed::Schema => "schema",
            Seed::Demo => "demo",
        }
    }
}

/// A test's database: its URL and, on PostgreSQL, the database to drop when
/// the test ends (SQLite files live in the test's data directory).
pub struct TestDatabase {
    pub url: String,
    drop_on_exit: Option<PgDatabase>,
}

impl TestDatabase {
    pub fn is_postgres(&self) -> bool {
        self.drop_on_exit.is_some()
    }
}

/// A PostgreSQL database that is dropped when this guard is.
struct PgDatabase {
    server: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime (or while a panic unwinds it):
        // do the async work on a thread of its own and wait for it.
        let (server, name) = (self.server.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                let admin = Db::connect(&server, 1).await.ok()?;
                let r = exec(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                admin.close().await;
                r.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test database {}; the next template build sweeps it", self.name);
        }
    }
}

/// The PostgreSQL server tests may create databases on, if one is named.
fn pg_server() -> Option<String> {
    std::env::var("KAPU_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
}

/// `postgres://…/postgres` → `postgres://…/{name}`. Commits do not wait for
/// the WAL to reach the disk (`synchronous_commit=off`): a test's database
/// outlives no server crash, and every transaction keeps its atomicity and
/// isolation, so only the fsync waits go.
fn pg_url(server: &str, name: &str) -> String {
    let base = server.rsplit_once('/').map(|(b, _)| b).expect("server URL has a path");
    format!("{base}/{name}?options[synchronous_commit]=off")
}

/// An empty database (for tests of migrations and of the binary's own start-up).
pub async fn fresh_database(data_dir: &Path) -> TestDatabase {
    match pg_server() {
        Some(server) => {
            let name = test_database_name();
            let admin = Db::connect(&server, 1).await.expect("connect to KAPU_TEST_DATABASE_URL");
            exec(&admin, &format!("CREATE DATABASE {name}")).await.expect("create test database");
            admin.close().await;
            TestDatabase { url: pg_url(&server, &name), drop_on_exit: Some(PgDatabase { server, name }) }
        }
        None => TestDatabase { url: sqlite_url(&data_dir.join("kapu.db")), drop_on_exit: None },
    }
}

/// A database holding what `seed` says, copied from its template.
pub async fn cloned_database(data_dir: &Path, seed: Seed) -> TestDatabase {
    match pg_server() {
        Some(server) => clone_pg(server, seed).await,
        None => {
            let file = data_dir.join("kapu.db");
            let template = sqlite_template(seed).await;
            std::fs::copy(&template, &file).expect("copy the SQLite template");
            TestDatabase { url: sqlite_url(&file), drop_on_exit: None }
        }
    }
}

fn sqlite_url(file: &Path) -> String {
    format!("sqlite://{}?mode=rwc", file.display())
}

/// `kapu_test_{unix seconds}_{random}`: the time lets a later run sweep what
/// a killed run left behind.
fn test_database_name() -> String {
    let rand: u64 = rand::random();
    format!("kapu_test_{}_{rand:016x}", unix_now())
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

/// Identifies this build of the test binary: templates are rebuilt whenever
/// the code (migrations, demo data, anything) changes.
fn build_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let meta = std::fs::metadata(&exe).expect("test binary metadata");
        let mut h = DefaultHasher::new();
        (exe, meta.len(), meta.modified().expect("mtime")).hash(&mut h);
        format!("{:016x}", h.finish())
    })
}

async fn exec(db: &Db, sql: &str) -> Result<(), sea_orm::DbErr> {
    db.writer().execute_raw(Statement::from_string(db.backend(), sql.to_string())).await.map(|_| ())
}

/// Runs `sql` until the server stops answering that another session is still
/// connected to the database in question (a closed pool's backends take a
/// moment to exit).
async fn exec_when_unused(db: &Db, sql: &str) -> Result<(), sea_orm::DbErr> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match exec(db, sql).await {
            Err(e)
                if e.to_string().contains("being accessed by other users")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            r => return r,
        }
    }
}

async fn clone_pg(server: String, seed: Seed) -> TestDatabase {
    let admin = Db::connect(&server, 1).await.expect("connect to KAPU_TEST_DATABASE_URL");
    let name = test_database_name();
    let mut template = pg_template(&admin, &server, seed).await;
    let mut rebuilt = false;
    loop {
        match exec_when_unused(&admin, &format!("CREATE DATABASE {name} TEMPLATE {template}")).await {
            Ok(()) => break,
            // A run of another build swept it: build it again, once.
            Err(e) if e.to_string().contains("does not exist") && !rebuilt => {
                rebuilt = true;
                template = pg_template(&admin, &server, seed).await;
            }
            Err(e) => panic!("create test database from {template}: {e}"),
        }
    }
    admin.close().await;
    TestDatabase { url: pg_url(&server, &name), drop_on_exit: Some(PgDatabase { server, name }) }
}

/// Advisory lock key of template builds: "kapt" in ASCII.
const TEMPLATE_LOCK: i64 = 0x6b61_7074;

async fn pg_database_exists(admin: &Db, name: &str) -> bool {
    let stmt = Statement::from_sql_and_values(
        admin.backend(),
        "SELECT 1 AS one FROM pg_database WHERE datname = $1",
        [name.into()],
    );
    admin.writer().query_one_raw(stmt).await.expect("query pg_database").is_some()
}

/// The name of the template for `seed`, built first if it is missing.
async fn pg_template(admin: &Db, server: &str, seed: Seed) -> String {
    let name = format!("kapu_tpl_{}_{}", build_id(), seed.tag());
    if pg_database_exists(admin, &name).await {
        return name;
    }
    // One builder at a time, across every test process: a transaction-scoped
    // advisory lock on a connection of its own (CREATE DATABASE cannot run
    // inside a transaction, so the work happens on other connections).
    let lock_holder = Db::connect(server, 1).await.expect("connect");
    let txn = lock_holder.writer().begin().await.expect("begin");
    txn.execute_raw(Statement::from_sql_and_values(
        admin.backend(),
        "SELECT pg_advisory_xact_lock($1)",
        [TEMPLATE_LOCK.into()],
    ))
    .await
    .expect("template lock");
    if !pg_database_exists(admin, &name).await {
        sweep_pg(admin).await;
        let building = format!("{name}_building");
        exec(admin, &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).await.expect("drop");
        exec(admin, &format!("CREATE DATABASE {building}")).await.expect("create template");
        let dir = tempfile::tempdir().expect("tempdir");
        fill_template(&pg_url(server, &building), dir.path(), seed).await.close().await;
        // Renamed only when complete, so nobody clones half a template.
        exec_when_unused(admin, &format!("ALTER DATABASE {building} RENAME TO {name}")).await.expect("rename template");
    }
    txn.commit().await.expect("release template lock");
    lock_holder.close().await;
    name
}

/// Drops templates of other builds (unless in use) and test databases older
/// than two hours (left by a run that was killed before its guards ran).
async fn sweep_pg(admin: &Db) {
    let stmt = Statement::from_string(
        admin.backend(),
        "SELECT datname FROM pg_database WHERE datname LIKE 'kapu\\_t%'".to_string(),
    );
    let rows = admin.writer().query_all_raw(stmt).await.expect("list databases");
    let ours = format!("kapu_tpl_{}_", build_id());
    let cutoff = unix_now().saturating_sub(2 * 3600);
    for row in rows {
        let db: String = row.try_get("", "datname").expect("datname");
        let sql = if let Some(rest) = db.strip_prefix("kapu_test_") {
            // kapu_test_{secs}_{rand}, or an older layout's kapu_test_{hex}.
            match rest.split_once('_') {
                Some((secs, _)) if secs.parse::<u64>().is_ok_and(|s| s > cutoff) => continue,
                _ => format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            }
        } else if db.starts_with("kapu_tpl_") && !db.starts_with(&ours) {
            format!("DROP DATABASE IF EXISTS {db}")
        } else {
            continue;
        };
        let _ = exec(admin, &sql).await;
    }
}

/// The SQLite template file for `seed`, built first if it is missing.
async fn sqlite_template(seed: Seed) -> PathBuf {
    let dir = std::env::temp_dir().join("kapu-test-templates");
    let file = dir.join(format!("{}-{}.db", build_id(), seed.tag()));
    if file.exists() {
        return file;
    }
    std::fs::create_dir_all(&dir).expect("template dir");
    let lock_path = dir.join(format!("{}.lock", build_id()));
    let lock = tokio::task::spawn_blocking(move || {
        let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(lock_path)?;
        f.lock()?;
        Ok::<_, std::io::Error>(f)
    })
    .await
    .expect("lock task")
    .expect("template lock");
    if !file.exists() {
        sweep_sqlite(&dir);
        let work = tempfile::tempdir().expect("tempdir");
        let url = sqlite_url(&work.path().join("kapu.db"));
        let db = fill_template(&url, work.path(), seed).await;
        // A compact copy with no WAL beside it; renamed only when complete.
        let partial = file.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        exec(&db, &format!("VACUUM INTO '{}'", partial.display())).await.expect("VACUUM INTO");
        db.close().await;
        std::fs::rename(&partial, &file).expect("publish template");
    }
    drop(lock);
    file
}

/// Removes templates of other builds that nobody has touched for an hour.
fn sweep_sqlite(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let stale = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > Duration::from_secs(3600)))
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with(build_id()) && stale(&p) {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// Builds the contents of a template at `url`; returns the connection (for
/// SQLite's copy), which the caller closes.
async fn fill_template(url: &str, data_dir: &Path, seed: Seed) -> Db {
    match seed {
        Seed::Schema => {
            let db = Db::connect(url, 2).await.expect("connect to template");
            kapu::migrate::run(&db).await.expect("migrate template");
            db
        }
        Seed::Demo => {
            let cfg = kapu_core::Config {
                data_dir: data_dir.to_path_buf(),
                database_url: Some(url.to_string()),
                master_key: Some(kapu_core::secret::Secret::new(TEST_MASTER_KEY.to_string())),
                redis_url: None,
                db_max_connections: 2,
                ..kapu_core::Config::default()
            };
            let app = kapu::App::build(cfg, true).await.expect("template app builds");
            let db = app.db.clone();
            drop(app);
            // Tests place hundreds of orders from 127.0.0.1 on the demo shop; its
            // velocity rule (50 per address in 10 minutes) would ask them for a
            // challenge. Tests of the rule itself use shops of their own.
            tenants::Entity::update_many()
                .col_expr(tenants::Column::VelocityIpMax, sea_orm::sea_query::Expr::value(1_000_000))
                .col_expr(tenants::Column::VelocityEmailMax, sea_orm::sea_query::Expr::value(1_000_000))
                .filter(tenants::Column::Slug.eq("demo"))
                .exec(db.writer())
                .await
                .expect("raise demo velocity limits");
            db
        }
    }
}
