//! The public status page on the platform host: `/status` (HTML),
//! `/status.json` and the Atom feed `/status/feed`. Every state comes from
//! checks (`kapu_core::store::status`: the canary purchase, channel
//! families' figures) and operators' incidents, never typed by hand. No
//! shop and no secret appears here: components are fleet-wide.
//!
//! The view is computed at most every 10 s per process from the status
//! board's states (`kapu_core::status_board`) and the 90-day history (one
//! grouped query); opening or updating an incident in `/ops` refreshes the
//! board and drops this process's copy at once.

pub mod banner;
pub mod page;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kapu_core::Db;
use kapu_core::status_board::{COMPONENTS, StatusBoard};
use kapu_core::store::status::{ComponentState, DayBar, Incident, daily_bars, daily_counts, recent_incidents, uptime};

/// One component as the page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ComponentView {
    pub id: &'static str,
    pub name: &'static str,
    pub name_zh: &'static str,
    pub status: &'static str,
    /// Percent of passed checks over 90 days (`None`: never checked).
    pub uptime_90d: Option<f64>,
    #[serde(skip)]
    pub bars: Vec<BarView>,
}

/// One day's bar.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BarView {
    pub day: String,
    pub checks: u64,
    pub uptime: Option<String>,
    /// `good`, `fair` (under 99.5 %), `bad` (under 95 %) or `none`.
    pub class: &'static str,
}

impl BarView {
    fn of(b: &DayBar) -> Self {
        let class = match b.uptime() {
            None => "none",
            Some(u) if u >= 99.5 => "good",
            Some(u) if u >= 95.0 => "fair",
            Some(_) => "bad",
        };
        Self {
            day: b.day.format("%Y-%m-%d").to_string(),
            checks: b.checks,
            uptime: b.uptime().map(|u| format!("{u:.2}")),
            class,
        }
    }
}

/// An incident or maintenance as the page, the JSON and the feed show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IncidentView {
    pub id: String,
    pub kind: String,
    pub title_zh: String,
    pub title_en: String,
    pub impact: String,
    pub state: String,
    pub components: Vec<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub active: bool,
    pub updates: Vec<UpdateView>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct UpdateView {
    pub state: String,
    pub body_zh: String,
    pub body_en: String,
    pub at: DateTime<Utc>,
}

impl IncidentView {
    fn of(i: &Incident, now: DateTime<Utc>) -> Self {
        let m = &i.incident;
        Self {
            id: m.id.clone(),
            kind: m.kind.clone(),
            title_zh: m.title_zh.clone(),
            title_en: m.title_en.clone(),
            impact: m.impact.clone(),
            state: m.state.clone(),
            components: i.components.clone(),
            starts_at: m.starts_at,
            ends_at: m.ends_at,
            updated_at: m.updated_at,
            active: i.is_active(now),
            updates: i
                .updates
                .iter()
                .map(|u| UpdateView {
                    state: u.state.clone(),
                    body_zh: u.body_zh.clone(),
                    body_en: u.body_en.clone(),
                    at: u.created_at,
                })
                .collect(),
        }
    }
}

/// Everything the page shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusView {
    /// The worst state of any component (unknown ones aside).
    pub status: &'static str,
    pub components: Vec<ComponentView>,
    pub incidents: Vec<IncidentView>,
    pub updated_at: DateTime<Utc>,
}

/// A view and when it was computed.
type Computed = (Instant, Arc<StatusView>);

/// This process's copy of the view.
#[derive(Clone, Default)]
pub struct StatusCache(Arc<Mutex<Option<Computed>>>);

impl StatusCache {
    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The view, computed again when older than 10 s, with the states of
    /// `board` (this process's copy, refreshed every 10 s and on any change).
    pub async fn view(&self, db: &Db, board: &StatusBoard) -> Result<Arc<StatusView>, sea_orm::DbErr> {
        if let Some((at, v)) = self.0.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && at.elapsed() < Duration::from_secs(10)
        {
            return Ok(v.clone());
        }
        let v = Arc::new(compute(db, board.states()).await?);
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), v.clone()));
        Ok(v)
    }
}

async fn compute(db: &Db, states: HashMap<&'static str, ComponentState>) -> Result<StatusView, sea_orm::DbErr> {
    let now = Utc::now();
    let counts = daily_counts(db.reader(), now).await?;
    let components: Vec<ComponentView> = COMPONENTS
        .iter()
        .map(|c| {
            let bars = daily_bars(&counts, c.id, now);
            ComponentView {
                id: c.id,
                name: c.name_en,
                name_zh: c.name_zh,
                status: states.get(c.id).copied().unwrap_or(ComponentState::Unknown).as_str(),
                uptime_90d: uptime(&bars).map(|u| (u * 100.0).round() / 100.0),
                bars: bars.iter().map(BarView::of).collect(),
            }
        })
        .collect();
    let worst = states.values().copied().filter(|s| *s != ComponentState::Unknown).max();
    let incidents = recent_incidents(db.reader(), 90, 50).await?.iter().map(|i| IncidentView::of(i, now)).collect();
    Ok(StatusView { status: worst.unwrap_or(ComponentState::Unknown).as_str(), components, incidents, updated_at: now })
}
