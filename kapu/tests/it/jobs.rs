//! The durable job queue: retries with backoff, then a visible dead state.
//! Runs its own worker against a migrated database, with no server.

use crate::support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use kapu_core::entities::jobs;
use kapu_core::jobs::{ClaimedJob, JobHandler, NewJob, Worker, counts, enqueue};
use sea_orm::EntityTrait;
use tokio_util::sync::CancellationToken;

/// `always_fail` always fails; `fail_once` fails on its first run only.
#[derive(Default)]
struct Scripted {
    runs: Mutex<HashMap<i64, u32>>,
}

#[async_trait::async_trait]
impl JobHandler for Scripted {
    async fn run(&self, job: &ClaimedJob) -> anyhow::Result<()> {
        let n = {
            let mut runs = self.runs.lock().expect("lock");
            let n = runs.entry(job.id).or_default();
            *n += 1;
            *n
        };
        match (job.kind.as_str(), n) {
            ("fail_once", 1) | ("always_fail", _) => anyhow::bail!("{} run {n} failed", job.kind),
            _ => Ok(()),
        }
    }
}

#[tokio::test]
async fn failing_jobs_back_off_and_retry_then_go_dead_with_their_error_kept() {
    let (db, _dir, _database) = support::migrated_db().await;
    let job = |kind| NewJob { max_attempts: 2, ..NewJob::now(kind, None, serde_json::json!({})) };
    enqueue(db.writer(), job("always_fail")).await.expect("enqueue");
    enqueue(db.writer(), job("fail_once")).await.expect("enqueue");
    enqueue(db.writer(), job("ok")).await.expect("enqueue");

    let stop = CancellationToken::new();
    let handler = Arc::new(Scripted::default());
    let worker = tokio::spawn(Worker::new(db.clone(), handler.clone(), Duration::from_millis(20)).run(stop.clone()));
    // Until every job has reached its end: done, or dead after its last try.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let c = counts(&db).await.expect("counts");
        if c.queued + c.running == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "jobs still waiting: {c:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    worker.await.expect("worker stops cleanly");

    let all: HashMap<String, jobs::Model> =
        jobs::Entity::find().all(db.reader()).await.expect("jobs").into_iter().map(|j| (j.kind.clone(), j)).collect();
    let ok = &all["ok"];
    assert_eq!((ok.status.as_str(), ok.attempts), ("done", 1));
    let once = &all["fail_once"];
    assert_eq!((once.status.as_str(), once.attempts), ("done", 2));
    assert!(once.last_error.as_deref().is_some_and(|e| e.contains("run 1 failed")));
    assert!(once.updated_at - once.created_at >= chrono::Duration::milliseconds(1900), "retry waited for its backoff");
    let dead = &all["always_fail"];
    assert_eq!((dead.status.as_str(), dead.attempts), ("dead", 2));
    assert!(dead.last_error.as_deref().is_some_and(|e| e.contains("run 2 failed")));
    let c = counts(&db).await.expect("counts");
    assert_eq!((c.done, c.dead, c.queued, c.running), (2, 1, 0, 0));
    db.close().await;
}

#[tokio::test]
async fn a_sale_table_that_grew_is_analyzed_again_and_a_quiet_one_is_left_alone() {
    use kapu_core::store::planner_statistics::analyze_changed_sale_tables;
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let (db, _dir, _database) = support::migrated_db().await;
    if db.engine() != kapu_core::db::Engine::Postgres {
        // SQLite plans every statement anew: nothing to keep current.
        assert!(analyze_changed_sale_tables(db.writer()).await.expect("analyze").is_empty());
        return;
    }
    // Nothing changed yet: nothing analyzed.
    assert!(analyze_changed_sale_tables(db.writer()).await.expect("analyze").is_empty());
    // 1,500 jobs queued a day from now (nobody runs them).
    let txn = db.writer().begin().await.expect("begin");
    for i in 0..1_500 {
        let job = NewJob::now("later", None, serde_json::json!({ "n": i }))
            .at(chrono::Utc::now() + chrono::Duration::days(1));
        enqueue(&txn, job).await.expect("enqueue");
    }
    txn.commit().await.expect("commit");
    // The server's statistics counters arrive within a second or so.
    let mut analyzed = Vec::new();
    for _ in 0..100 {
        analyzed = analyze_changed_sale_tables(db.writer()).await.expect("analyze");
        if !analyzed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(analyzed, vec!["jobs".to_string()]);
    let row = db
        .writer()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'jobs'",
        ))
        .await
        .expect("stats")
        .expect("row");
    assert!(row.try_get_by_index::<bool>(0).expect("bool"), "jobs was analyzed");
    // Analyzed just now: not again until it changes by a tenth more.
    assert!(analyze_changed_sale_tables(db.writer()).await.expect("analyze").is_empty());
}

#[tokio::test]
async fn a_sweep_lease_has_one_holder_at_a_time_and_passes_on_when_it_expires() {
    use kapu_core::store::sweep_leases::take_lease;
    let (db, _dir, _database) = support::migrated_db().await;
    let w = db.writer();
    let minute = Duration::from_secs(60);
    assert!(take_lease(w, "reconcile", "worker-a", minute).await.expect("take"));
    assert!(!take_lease(w, "reconcile", "worker-b", minute).await.expect("take"), "held by a");
    assert!(take_lease(w, "reconcile", "worker-a", minute).await.expect("renew"), "a renews its own");
    assert!(take_lease(w, "billing", "worker-b", minute).await.expect("take"), "another sweep is free");
    // A holder that stops renewing loses the lease once it expires.
    // (Two seconds: a loaded machine must not let it lapse before b asks.)
    assert!(take_lease(w, "housekeeping", "worker-a", Duration::from_secs(2)).await.expect("take"));
    assert!(!take_lease(w, "housekeeping", "worker-b", minute).await.expect("take"));
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    assert!(take_lease(w, "housekeeping", "worker-b", minute).await.expect("take over"), "expired: b takes over");
    assert!(!take_lease(w, "housekeeping", "worker-a", minute).await.expect("take"), "a came back too late");
    // Twenty workers asking at once: one gets it.
    let asks = (0..20).map(|i| {
        let db = db.clone();
        async move { take_lease(db.writer(), "statistics", &format!("worker-{i}"), minute).await.expect("take") }
    });
    let held = futures::future::join_all(asks).await.into_iter().filter(|h| *h).count();
    assert_eq!(held, 1);
}

/// Counts each job's runs; `slow` takes two seconds, `hang` never ends.
#[derive(Default)]
struct Timed {
    finished: Mutex<HashMap<String, u32>>,
}

#[async_trait::async_trait]
impl JobHandler for Timed {
    async fn run(&self, job: &ClaimedJob) -> anyhow::Result<()> {
        match job.kind.as_str() {
            "slow" => tokio::time::sleep(Duration::from_secs(2)).await,
            "hang" => std::future::pending::<()>().await,
            _ => {}
        }
        *self.finished.lock().expect("lock").entry(job.kind.clone()).or_default() += 1;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_keeps_its_lock_and_a_dead_workers_job_runs_again_within_the_lock() {
    let (db, _dir, _database) = support::migrated_db().await;
    let lock = Duration::from_millis(600);
    let worker = |handler: Arc<Timed>| Worker::new(db.clone(), handler, Duration::from_millis(20)).lock(lock);

    // A job three times longer than the lock, with a second worker polling:
    // its worker renews the lock, so it runs once.
    enqueue(db.writer(), NewJob::now("slow", None, serde_json::json!({}))).await.expect("enqueue");
    let (stop, handler) = (CancellationToken::new(), Arc::new(Timed::default()));
    let one = tokio::spawn(worker(handler.clone()).run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let two = tokio::spawn(worker(handler.clone()).run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(2600)).await;
    stop.cancel();
    let _ = (one.await, two.await);
    assert_eq!(
        handler.finished.lock().expect("lock").get("slow"),
        Some(&1),
        "ran once, though it outlived its first lock"
    );

    // A worker that dies holding a job: another runs it once the lock lapses.
    enqueue(db.writer(), NewJob::now("hang", None, serde_json::json!({}))).await.expect("enqueue");
    let (stop, dying) = (CancellationToken::new(), Arc::new(Timed::default()));
    let dead = tokio::spawn(worker(dying).run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let running = jobs::Entity::find().all(db.reader()).await.expect("jobs");
    assert!(running.iter().any(|j| j.kind == "hang" && j.status == "running"), "the first worker holds it");
    dead.abort();
    let _ = dead.await;
    // The same kind finishes at once on a live worker.
    #[derive(Default)]
    struct Quick(Mutex<u32>);
    #[async_trait::async_trait]
    impl JobHandler for Quick {
        async fn run(&self, _: &ClaimedJob) -> anyhow::Result<()> {
            *self.0.lock().expect("lock") += 1;
            Ok(())
        }
    }
    let quick = Arc::new(Quick::default());
    let taken_at = tokio::time::Instant::now();
    let live =
        tokio::spawn(Worker::new(db.clone(), quick.clone(), Duration::from_millis(20)).lock(lock).run(stop.clone()));
    let deadline = taken_at + Duration::from_secs(5);
    while *quick.0.lock().expect("lock") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the dead worker's job never ran again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waited = taken_at.elapsed();
    stop.cancel();
    let _ = live.await;
    assert!(waited < Duration::from_millis(1500), "taken over after {waited:?}, the lock being {lock:?}");
    let c = counts(&db).await.expect("counts");
    assert_eq!((c.done, c.queued, c.running), (2, 0, 0));
    db.close().await;
}
