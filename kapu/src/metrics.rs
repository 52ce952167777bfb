//! The Prometheus side of `kapu_core::metrics`: the recorder this process
//! installs, the HTTP layer that times every request, and the text served
//! on `/internal/metrics` (bearer token) and on `KAPU_METRICS_LISTEN`.
//!
//! Besides what is recorded as it happens, each scrape reads a few gauges
//! from the database with index-backed queries (the job queue, delivery
//! emails waiting) and from this process (connection pool, database watch,
//! Redis, channel breakers).

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use kapu_core::Db;
use kapu_core::entities::jobs;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

/// Histogram buckets (seconds) for every `_seconds` histogram: request
/// latencies from a millisecond, delivery times to two minutes.
const BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// The process's recorder, installed on first use (every app in one process shares it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().set_buckets(BUCKETS).expect("buckets are not empty").build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; Kapu's metrics will be empty");
        }
        kapu_core::metrics::describe();
        handle
    })
}

/// Which plane a request went to, for the `plane` label.
#[derive(Clone)]
pub struct Planes {
    pub platform_host: String,
}

/// Outermost layer (inside the request id): times every request and
/// records it by plane, route
/// template (from `kapu_web::stamp_route`; `unmatched` otherwise), method
/// and status class.
pub async fn track(planes: axum::extract::State<Planes>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = req.uri().path();
    // The process's own endpoints are their own route; every other route
    // template comes from the plane's router.
    let own =
        matches!(path, "/healthz" | "/readyz" | "/internal/metrics" | "/internal/tls/ask").then(|| path.to_string());
    let plane = if own.is_some() {
        "health"
    } else {
        let host = kapu_runtime::http::context::request_host(req.headers(), req.uri())
            .map(|h| kapu_core::config::normalize_host(&h));
        if host.as_deref() == Some(planes.platform_host.as_str()) { "platform" } else { "storefront" }
    };
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m.to_string(),
        _ => "other".to_string(),
    };
    // What this request queues carries its id (`kapu_core::trace`).
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let resp = kapu_core::trace::with_request_id(request_id, next.run(req)).await;
    let route = own
        .or_else(|| resp.extensions().get::<kapu_web::RouteTemplate>().map(|t| t.0.clone()))
        .unwrap_or_else(|| "unmatched".to_string());
    kapu_core::metrics::http_request(plane, route, method, resp.status().as_u16(), started.elapsed());
    resp
}

/// What a scrape reads besides the recorder.
pub struct Scrape<'a> {
    pub db: &'a Db,
    pub channels: &'a kapu_billing::health::ChannelHealth,
    pub fleet: &'a kapu_core::fleet::Fleet,
    pub database_up: bool,
}

/// The whole text of one scrape.
pub async fn render(s: Scrape<'_>) -> String {
    let mut text = handle().render();
    text.push_str(&s.channels.metrics_text());
    gauge(
        &mut text,
        "kapu_database_up",
        "1 while the database answers this process's pings.",
        &[("", f64::from(u8::from(s.database_up)))],
    );
    if s.fleet.is_shared() {
        let degraded = s.fleet.status() == kapu_core::fleet::FleetStatus::Degraded;
        gauge(
            &mut text,
            "kapu_redis_degraded",
            "1 while Redis does not answer and this process runs on its own state.",
            &[("", f64::from(u8::from(degraded)))],
        );
    }
    let (size, idle, max) = s.db.pool_figures();
    gauge(
        &mut text,
        "kapu_db_pool_connections",
        "Database connections of this process by state.",
        &[("state=\"in_use\"", size.saturating_sub(idle) as f64), ("state=\"idle\"", idle as f64)],
    );
    gauge(&mut text, "kapu_db_pool_max_connections", "The pool's limit.", &[("", max as f64)]);
    match queue_figures(s.db).await {
        Ok(q) => text.push_str(&q),
        Err(e) => {
            tracing::debug!(error = %e, "metrics: reading the job queue failed");
            gauge(
                &mut text,
                "kapu_metrics_queue_read_ok",
                "0 when this scrape could not read the job queue.",
                &[("", 0.0)],
            );
        }
    }
    text
}

fn gauge(out: &mut String, name: &str, help: &str, values: &[(&str, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, v) in values {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {v}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
}

/// Job queue gauges: due, running and dead jobs by kind, the age of the
/// oldest due job by kind, and delivery emails waiting over two minutes.
async fn queue_figures(db: &Db) -> Result<String, sea_orm::DbErr> {
    let now = Utc::now();
    let conn = db.reader();
    let mut out = String::new();
    let counts = |status: &'static str| {
        let mut q = jobs::Entity::find()
            .select_only()
            .column(jobs::Column::Kind)
            .column_as(jobs::Column::Id.count(), "n")
            .filter(jobs::Column::Status.eq(status))
            .group_by(jobs::Column::Kind);
        if status == "queued" {
            q = q.filter(jobs::Column::RunAt.lte(now));
        }
        q.into_tuple::<(String, i64)>().all(conn)
    };
    let _ = writeln!(
        out,
        "# HELP kapu_jobs Jobs by kind and state: queued (due now), running, dead.\n# TYPE kapu_jobs gauge"
    );
    for status in ["queued", "running", "dead"] {
        for (kind, n) in counts(status).await? {
            let _ = writeln!(out, "kapu_jobs{{kind=\"{kind}\",state=\"{status}\"}} {n}");
        }
    }
    // The oldest due jobs; the first of each kind is that kind's oldest.
    let due: Vec<(String, chrono::DateTime<Utc>)> = jobs::Entity::find()
        .select_only()
        .column(jobs::Column::Kind)
        .column(jobs::Column::RunAt)
        .filter(jobs::Column::Status.eq("queued"))
        .filter(jobs::Column::RunAt.lte(now))
        .order_by_asc(jobs::Column::RunAt)
        .limit(200)
        .into_tuple()
        .all(conn)
        .await?;
    let _ = writeln!(
        out,
        "# HELP kapu_jobs_oldest_due_seconds How long the oldest due job of each kind has waited.\n\
         # TYPE kapu_jobs_oldest_due_seconds gauge"
    );
    let mut seen = std::collections::BTreeMap::new();
    for (kind, at) in due {
        seen.entry(kind).or_insert(at);
    }
    let oldest = seen.values().min().copied();
    for (kind, at) in &seen {
        let _ = writeln!(out, "kapu_jobs_oldest_due_seconds{{kind=\"{kind}\"}} {}", age(now, *at));
    }
    let _ = writeln!(out, "kapu_jobs_oldest_due_seconds{{kind=\"any\"}} {}", oldest.map_or(0.0, |at| age(now, at)));
    let waiting = jobs::Entity::find()
        .filter(jobs::Column::Status.is_in(["queued", "running"]))
        .filter(jobs::Column::Kind.eq(kapu_core::jobs::kinds::SEND_DELIVERY_EMAIL))
        .filter(jobs::Column::CreatedAt.lt(now - chrono::Duration::minutes(2)))
        .count(conn)
        .await?;
    let _ = writeln!(
        out,
        "# HELP kapu_paid_orders_waiting Paid orders whose delivery email is still unsent two minutes on.\n\
         # TYPE kapu_paid_orders_waiting gauge\nkapu_paid_orders_waiting{{stage=\"email\"}} {waiting}"
    );
    Ok(out)
}

fn age(now: chrono::DateTime<Utc>, at: chrono::DateTime<Utc>) -> f64 {
    (now - at).to_std().unwrap_or(Duration::ZERO).as_secs_f64()
}
