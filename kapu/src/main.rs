//! `kapu`: hosted auto-delivery shops for digital goods.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kapu::App;
use kapu_core::Config;
use tokio_util::sync::CancellationToken;

/// The binary's allocator (see kapu/Cargo.toml): no arena lock shared by the
/// runtime's threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "kapu", version, about = "Kapu (卡铺): hosted auto-delivery shops for digital goods")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database and serve the platform and every shop.
    Serve {
        /// Address to listen on (overrides KAPU_LISTEN).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Create the demo shop (demo.<shop domain>) if it does not exist.
        #[arg(long)]
        demo: bool,
        /// What this process does (overrides KAPU_ROLE): `all` (the default:
        /// everything in one process), `storefront` (shop hosts), `platform`
        /// (the dashboard host) or `worker` (jobs and sweeps). Every role but
        /// `all` needs PostgreSQL.
        #[arg(long, value_parser = ["all", "storefront", "platform", "worker"])]
        role: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Back up the database while serving: a consistent copy in FILE (a
    /// SQLite file, or pg_dump's custom format on PostgreSQL) and its
    /// manifest in FILE.manifest.json. The master key is not included.
    Backup {
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Restore a backup into the configured database, which must be empty
    /// (or pass --force to replace it); checks the manifest first and every
    /// table's rows after, then migrates forward. Start Kapu afterwards with
    /// the master key the backup was taken with.
    Restore {
        #[arg(long)]
        from: std::path::PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Check the database against Kapu's promises (every key held by at
    /// most one order and each order holding its quantity, every paid order
    /// delivered or flagged, no job stuck); prints what breaks one and
    /// exits with status 1 if anything does. Safe while serving.
    Check {
        /// Seconds a queued job may be late before it counts as stuck.
        #[arg(long, default_value_t = 60)]
        grace_secs: i64,
    },
    /// Manage platform operators (the `/ops` console).
    Operator {
        #[command(subcommand)]
        action: OperatorCommand,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create an operator. Prints a generated password and the TOTP secret
    /// once; two-factor sign-in is mandatory for operators.
    Create {
        #[arg(long)]
        email: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut cfg = Config::load()?;
    kapu::telemetry::init(&cfg.log_format);
    match cli.command {
        Command::Migrate => {
            let db = kapu_core::Db::connect(&cfg.effective_database_url(), 2).await?;
            kapu::migrate::run(&db).await?;
            tracing::info!("migrations applied");
        }
        Command::Backup { out } => {
            let url = cfg.effective_database_url();
            let db = kapu_core::Db::connect(&url, 2).await?;
            let manifest = kapu::backup::backup(&db, &url, &out).await;
            db.close().await;
            let manifest = manifest?;
            let rows: u64 = manifest.tables.values().sum();
            println!(
                "backup written: {} ({} format, schema {}, {} tables, {rows} rows, sha256 {})",
                out.display(),
                manifest.format,
                manifest.schema_version,
                manifest.tables.len(),
                manifest.sha256
            );
            println!("manifest: {}", kapu::backup::manifest_path(&out).display());
            println!(
                "the master key is NOT in the backup: keep it apart (KAPU_MASTER_KEY, or master.key in the data directory)"
            );
        }
        Command::Restore { from, force } => {
            let url = cfg.effective_database_url();
            let manifest = kapu::backup::restore(&url, &from, force).await?;
            let db = kapu_core::Db::connect(&url, 2).await?;
            kapu::migrate::run(&db).await?;
            db.close().await;
            let rows: u64 = manifest.tables.values().sum();
            println!(
                "restored {} (taken {}, schema {}): {rows} rows in {} tables, each as the manifest says",
                from.display(),
                manifest.created_at,
                manifest.schema_version,
                manifest.tables.len()
            );
            println!("start kapu with the master key this backup was taken with; it is not in the backup");
        }
        Command::Check { grace_secs } => {
            let db = kapu_core::Db::connect(&cfg.effective_database_url(), 2).await?;
            let (checked, broken) = kapu_core::store::integrity::check(
                db.reader(),
                chrono::Utc::now(),
                chrono::Duration::seconds(grace_secs),
            )
            .await?;
            db.close().await;
            println!(
                "checked {} keys, {} orders, {} paid payments, {} jobs",
                checked.keys, checked.orders, checked.payments, checked.jobs
            );
            for v in &broken {
                println!("BROKEN {v}");
            }
            if !broken.is_empty() {
                println!("{} broken promise(s)", broken.len());
                std::process::exit(1);
            }
            println!("every promise holds");
        }
        Command::Operator { action: OperatorCommand::Create { email } } => {
            let app = App::build(cfg.clone(), false).await?;
            let op = kapu_platform::ops::login::create_operator_account(&app.db, &app.platform.master, &email).await?;
            println!("operator created: {}", email.trim().to_lowercase());
            println!("password: {}", op.password);
            println!("totp secret (base32): {}", op.totp_secret_base32);
            println!("totp uri: {}", op.otpauth_uri);
            println!(
                "Sign in at /ops/login on the platform host with the password and a code from your authenticator app."
            );
            app.db.close().await;
        }
        Command::Serve { listen, demo, role } => {
            if let Some(addr) = listen {
                cfg.listen = addr;
            }
            if let Some(role) = role.as_deref().and_then(kapu_core::config::Role::from_name) {
                cfg.role = role;
            }
            // Handlers are in place before anyone is told we listen.
            let shutdown = CancellationToken::new();
            watch_signals(shutdown.clone())?;
            // Bound before building: with plain http and no KAPU_PUBLIC_PORT,
            // links carry the port actually bound (`--listen …:0` included).
            let listener =
                tokio::net::TcpListener::bind(cfg.listen).await.with_context(|| format!("binding {}", cfg.listen))?;
            let addr = listener.local_addr()?;
            cfg.listen = addr;
            let app = App::build(cfg.clone(), demo).await?;
            let process = kapu_core::store::sweep_leases::this_process();
            tracing::info!(%addr, role = cfg.role.name(), process, "kapu listening");
            if demo && cfg.role.serves_storefront() {
                tracing::info!("demo shop: {}://demo.{}:{}/", cfg.public_scheme, cfg.shop_domain, addr.port());
            }
            app.serve(listener, shutdown).await?;
            tracing::info!("kapu stopped");
        }
    }
    Ok(())
}

/// Cancels `shutdown` on SIGTERM or SIGINT (Ctrl-C). The handlers are
/// registered before this returns.
fn watch_signals(shutdown: CancellationToken) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::info!("shutting down: finishing in-flight requests and jobs");
            shutdown.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing in-flight requests and jobs");
        shutdown.cancel();
    });
    Ok(())
}
