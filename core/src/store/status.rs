//! The public status page's data: checks of each component (the canary
//! purchase's steps, the payment channel families' minute figures), 90 days
//! of history, and the incidents and maintenance operators write.
//!
//! A component's state comes from its checks and open incidents, never
//! typed by hand: `outage` when its last three checks failed, `degraded`
//! when one of the last five minutes' did, `operational` otherwise, and
//! `unknown` with no check for ten minutes; an open incident or
//! maintenance in progress raises it to its impact.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::entities::{status_checks, status_incident_updates, status_incidents};
use crate::ids::new_id;

/// Days of history kept and shown.
pub const HISTORY_DAYS: i64 = 90;

/// A component's state, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentState {
    Operational,
    Unknown,
    Maintenance,
    Degraded,
    Outage,
}

impl ComponentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operational => "operational",
            Self::Unknown => "unknown",
            Self::Maintenance => "maintenance",
            Self::Degraded => "degraded",
            Self::Outage => "outage",
        }
    }

    /// Whether buyers should be told (a notice on storefronts).
    pub fn is_trouble(self) -> bool {
        matches!(self, Self::Degraded | Self::Outage | Self::Maintenance)
    }
}

pub async fn record_check<C: ConnectionTrait>(
    conn: &C,
    component: &str,
    ok: bool,
    took_ms: i32,
    detail: &str,
) -> Result<(), DbErr> {
    status_checks::Entity::insert(status_checks::ActiveModel {
        component: Set(component.into()),
        ok: Set(ok),
        took_ms: Set(took_ms),
        detail: Set(detail.chars().take(500).collect()),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// What the checks say of each component as of `now` (incidents aside),
/// with its latest check: one query over the last ten minutes' checks.
pub async fn checked_states<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> Result<std::collections::HashMap<String, (ComponentState, status_checks::Model)>, DbErr> {
    let recent = status_checks::Entity::find()
        .filter(status_checks::Column::CreatedAt.gt(now - Duration::minutes(10)))
        .order_by_desc(status_checks::Column::CreatedAt)
        .all(conn)
        .await?;
    let mut by_component: std::collections::HashMap<String, Vec<status_checks::Model>> = Default::default();
    for c in recent {
        let checks = by_component.entry(c.component.clone()).or_default();
        if checks.len() < 5 {
            checks.push(c);
        }
    }
    Ok(by_component
        .into_iter()
        .filter_map(|(component, checks)| {
            let state = state_of(&checks, now);
            checks.into_iter().next().map(|last| (component, (state, last)))
        })
        .collect())
}

/// The state a component's latest checks (newest first, up to five, all
/// from the last ten minutes) say: no check is unknown.
fn state_of(recent: &[status_checks::Model], now: DateTime<Utc>) -> ComponentState {
    if recent.is_empty() {
        ComponentState::Unknown
    } else if recent.len() >= 3 && recent.iter().take(3).all(|c| !c.ok) {
        ComponentState::Outage
    } else if recent.iter().any(|c| !c.ok && c.created_at > now - Duration::minutes(5)) {
        ComponentState::Degraded
    } else {
        ComponentState::Operational
    }
}

/// One day's bar: checks made and checks that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DayBar {
    pub day: NaiveDate,
    pub checks: u64,
    pub ok: u64,
}

impl DayBar {
    /// Uptime of the day in percent, if anything was checked.
    pub fn uptime(&self) -> Option<f64> {
        (self.checks > 0).then(|| 100.0 * self.ok as f64 / self.checks as f64)
    }
}

/// Checks and passed checks per (component, day) since the start of the
/// day [`HISTORY_DAYS`] - 1 days before `now`: one grouped query.
pub async fn daily_counts<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> Result<std::collections::HashMap<(String, NaiveDate), (u64, u64)>, DbErr> {
    use sea_orm::{DbBackend, FromQueryResult, Statement};
    #[derive(FromQueryResult)]
    struct Row {
        component: String,
        day: String,
        checks: i64,
        ok: i64,
    }
    let since = history_start(now);
    let backend = conn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT component, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, COUNT(*) AS checks, \
             SUM(CASE WHEN ok THEN 1 ELSE 0 END) AS ok FROM status_checks WHERE created_at >= $1 GROUP BY 1, 2"
        }
        _ => {
            "SELECT component, substr(created_at, 1, 10) AS day, COUNT(*) AS checks, \
             SUM(CASE WHEN ok THEN 1 ELSE 0 END) AS ok FROM status_checks WHERE created_at >= ? GROUP BY 1, 2"
        }
    };
    let rows = Row::find_by_statement(Statement::from_sql_and_values(backend, sql, [since.into()])).all(conn).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let day = NaiveDate::parse_from_str(&r.day, "%Y-%m-%d").ok()?;
            Some(((r.component, day), (r.checks.max(0) as u64, r.ok.max(0) as u64)))
        })
        .collect())
}

fn history_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let since = (now - Duration::days(HISTORY_DAYS - 1)).date_naive();
    since.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now)
}

/// The last [`HISTORY_DAYS`] days of `component` from [`daily_counts`],
/// oldest first (days with no check included, with zero checks).
pub fn daily_bars(
    counts: &std::collections::HashMap<(String, NaiveDate), (u64, u64)>,
    component: &str,
    now: DateTime<Utc>,
) -> Vec<DayBar> {
    let since = history_start(now).date_naive();
    (0..HISTORY_DAYS)
        .filter_map(|i| since.checked_add_signed(Duration::days(i)))
        .map(|day| {
            let (checks, ok) = counts.get(&(component.to_string(), day)).copied().unwrap_or((0, 0));
            DayBar { day, checks, ok }
        })
        .collect()
}

/// Uptime over the bars, in percent (`None` without any check).
pub fn uptime(bars: &[DayBar]) -> Option<f64> {
    let (checks, ok) = bars.iter().fold((0, 0), |(c, o), b| (c + b.checks, o + b.ok));
    (checks > 0).then(|| 100.0 * ok as f64 / checks as f64)
}

/// What an operator writes to open an incident or schedule maintenance.
pub struct NewIncident<'a> {
    /// `incident` or `maintenance`.
    pub kind: &'a str,
    pub title_zh: &'a str,
    pub title_en: &'a str,
    pub components: &'a [String],
    /// `degraded` or `outage` (incidents); maintenance is `maintenance`.
    pub impact: &'a str,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub body_zh: &'a str,
    pub body_en: &'a str,
}

pub const INCIDENT_STATES: [&str; 4] = ["investigating", "identified", "monitoring", "resolved"];
pub const MAINTENANCE_STATES: [&str; 3] = ["scheduled", "in_progress", "completed"];

/// Whether an incident (or maintenance) in this state is over.
pub fn is_closed_state(state: &str) -> bool {
    matches!(state, "resolved" | "completed")
}

pub async fn open_incident<C: ConnectionTrait>(conn: &C, n: NewIncident<'_>) -> Result<String, DbErr> {
    let now = Utc::now();
    let id = new_id();
    let state = if n.kind == "maintenance" { "scheduled" } else { "investigating" };
    status_incidents::Entity::insert(status_incidents::ActiveModel {
        id: Set(id.clone()),
        kind: Set(n.kind.into()),
        title_zh: Set(n.title_zh.into()),
        title_en: Set(n.title_en.into()),
        components: Set(serde_json::to_string(n.components).unwrap_or_else(|_| "[]".into())),
        impact: Set(n.impact.into()),
        state: Set(state.into()),
        starts_at: Set(n.starts_at),
        ends_at: Set(n.ends_at),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    add_update(conn, &id, state, n.body_zh, n.body_en, now).await?;
    Ok(id)
}

async fn add_update<C: ConnectionTrait>(
    conn: &C,
    incident_id: &str,
    state: &str,
    body_zh: &str,
    body_en: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    status_incident_updates::Entity::insert(status_incident_updates::ActiveModel {
        id: Set(new_id()),
        incident_id: Set(incident_id.into()),
        state: Set(state.into()),
        body_zh: Set(body_zh.into()),
        body_en: Set(body_en.into()),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await
    .map(|_| ())
}

/// Adds an update and moves the incident to `state`; `None` when there is no such incident.
pub async fn update_incident<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    state: &str,
    body_zh: &str,
    body_en: &str,
) -> Result<Option<status_incidents::Model>, DbErr> {
    let Some(incident) = status_incidents::Entity::find_by_id(id.to_string()).one(conn).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    add_update(conn, id, state, body_zh, body_en, now).await?;
    let mut m = incident.into_active_model();
    m.state = Set(state.into());
    m.updated_at = Set(now);
    if is_closed_state(state) {
        m.ends_at = Set(Some(now));
    }
    Ok(Some(m.update(conn).await?))
}

/// An incident with its updates, newest update first.
#[derive(Debug, Clone)]
pub struct Incident {
    pub incident: status_incidents::Model,
    pub components: Vec<String>,
    pub updates: Vec<status_incident_updates::Model>,
}

impl Incident {
    /// Open (an incident not resolved; maintenance in progress, or
    /// scheduled and due) as of `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        let i = &self.incident;
        !is_closed_state(&i.state) && (i.kind != "maintenance" || i.state == "in_progress" || i.starts_at <= now)
    }
}

/// Incidents and maintenance updated in the last `days` days, newest first.
pub async fn recent_incidents<C: ConnectionTrait>(conn: &C, days: i64, limit: u64) -> Result<Vec<Incident>, DbErr> {
    let since = Utc::now() - Duration::days(days);
    let rows = status_incidents::Entity::find()
        .filter(status_incidents::Column::UpdatedAt.gt(since))
        .order_by_desc(status_incidents::Column::StartsAt)
        .limit(limit)
        .all(conn)
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let updates = status_incident_updates::Entity::find()
        .filter(status_incident_updates::Column::IncidentId.is_in(ids))
        .order_by_desc(status_incident_updates::Column::CreatedAt)
        .order_by_desc(status_incident_updates::Column::Id)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|incident| Incident {
            components: serde_json::from_str(&incident.components).unwrap_or_default(),
            updates: updates.iter().filter(|u| u.incident_id == incident.id).cloned().collect(),
            incident,
        })
        .collect())
}

/// The state an active incident gives its components.
pub fn impact_state(impact: &str) -> ComponentState {
    match impact {
        "outage" => ComponentState::Outage,
        "maintenance" => ComponentState::Maintenance,
        _ => ComponentState::Degraded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_counts_checks_not_days() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).expect("day");
        let bars =
            [DayBar { day, checks: 0, ok: 0 }, DayBar { day, checks: 3, ok: 2 }, DayBar { day, checks: 1, ok: 1 }];
        assert_eq!(uptime(&bars), Some(75.0));
        assert_eq!(uptime(&bars[..1]), None);
        assert_eq!(bars[1].uptime().map(|u| u.round()), Some(67.0));
        assert!(ComponentState::Outage > ComponentState::Degraded);
        assert!(!ComponentState::Unknown.is_trouble());
    }
}
