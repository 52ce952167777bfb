//! Which templates render a shop's pages, and its stylesheet. A shop's
//! compiled templates (its theme with its overrides, in the sandbox) are
//! kept per shop and rebuilt when its look's version changes (a save
//! publishes `ShopChanged`, which reloads the tenant and with it the
//! version). An override that fails while rendering is reported once per
//! version and template into `shop_themes.render_error`, where the
//! merchant's Theme page shows it; buyers get the theme's own page.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use axum::response::{IntoResponse, Response};
use kapu_core::Db;
use kapu_core::tenant::Tenant;
use kapu_themes::{OverrideError, ShopTemplates, default_theme, settings_css, theme_named};
use minijinja::{Value, context};
use tokio::sync::broadcast;

use crate::http::host::TenantCtx;
use crate::state::RuntimeState;

static PLAIN: LazyLock<Arc<ShopTemplates>> =
    LazyLock::new(|| Arc::new(ShopTemplates::new(default_theme(), &BTreeMap::new())));

/// Per shop: the look version its templates were built from, and them.
type Built = HashMap<String, (i32, Arc<ShopTemplates>)>;
static BUILT: LazyLock<Mutex<Built>> = LazyLock::new(Default::default);

/// Override failures already reported: (tenant, version, template).
static REPORTED: LazyLock<Mutex<HashSet<(String, i32, String)>>> = LazyLock::new(Default::default);

/// Override failures on their way to the database. Every runtime in the
/// process listens and updates its own database (a shop another runtime
/// serves matches no row there), so tests with several apps stay apart.
static REPORTS: LazyLock<broadcast::Sender<(String, i32, String)>> = LazyLock::new(|| broadcast::channel(1024).0);

/// The templates a shop's pages render with.
pub fn templates_of(shop: Option<&Tenant>) -> Arc<ShopTemplates> {
    let Some((shop, look)) = shop.and_then(|s| s.look.as_ref().map(|l| (s, l))) else { return PLAIN.clone() };
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((v, t)) = built.get(&shop.id)
        && *v == look.version
    {
        return t.clone();
    }
    let theme = theme_named(&look.theme).unwrap_or_else(default_theme);
    let templates = Arc::new(ShopTemplates::new(theme, &look.overrides));
    for e in &templates.broken {
        report(shop, look.version, e);
    }
    built.insert(shop.id.clone(), (look.version, templates.clone()));
    templates
}

/// What templates see as `theme` (name and settings).
pub fn theme_ctx(shop: &Tenant) -> Value {
    let theme = shop.look.as_ref().and_then(|l| theme_named(&l.theme)).unwrap_or_else(default_theme);
    let empty = BTreeMap::new();
    let stored = shop.look.as_ref().map_or(&empty, |l| &l.settings);
    context! { name => theme.name, settings => theme.settings_value(stored) }
}

/// The URL of the shop's own stylesheet (settings and custom CSS), if it has a look.
pub fn shop_css_path(shop: &Tenant) -> Option<String> {
    shop.look.as_ref().map(|l| format!("/shop.css?v={}", l.version))
}

/// Whether `template` of this shop's current look already failed: it is not
/// tried again until the merchant saves a new version (a runaway override
/// costs its whole fuel budget once, not on every request).
pub fn failed_before(shop: &Tenant, template: &str) -> bool {
    let Some(look) = &shop.look else { return false };
    let key = (shop.id.clone(), look.version, template.to_string());
    REPORTED.lock().unwrap_or_else(|p| p.into_inner()).contains(&key)
}

/// Notes an override failure for the merchant, once per version and template.
pub fn report(shop: &Tenant, version: i32, e: &OverrideError) {
    let key = (shop.id.clone(), version, e.template.clone());
    if !REPORTED.lock().unwrap_or_else(|p| p.into_inner()).insert(key) {
        return;
    }
    tracing::warn!(tenant = %shop.id, error = %e, "template override failed; the theme's template was used");
    let _ = REPORTS.send((shop.id.clone(), version, e.to_string()));
}

/// Starts the task that writes override failures to the database.
pub fn spawn_error_recorder(db: Db) {
    let mut rx = REPORTS.subscribe();
    tokio::spawn(async move {
        loop {
            let (tenant, version, error) = match rx.recv().await {
                Ok(report) => report,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "template override errors were not recorded");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if let Err(e) =
                kapu_core::store::shop_themes::record_render_error_for_tenant(db.writer(), &tenant, version, &error)
                    .await
            {
                tracing::warn!(error = %e, "could not record a template override error");
            }
        }
    });
}

#[derive(serde::Deserialize)]
pub struct CssQuery {
    v: Option<i32>,
}

/// `GET /shop.css?v=N`: the shop's settings as CSS variables, then its
/// custom CSS. Cached for a year when `v` is the current version (a save
/// changes the URL); otherwise revalidated.
pub async fn shop_css(_: State<RuntimeState>, shop: TenantCtx, Query(q): Query<CssQuery>) -> Response {
    let (body, version) = match &shop.tenant.look {
        Some(look) => {
            let theme = theme_named(&look.theme).unwrap_or_else(default_theme);
            let vars = settings_css(&theme.manifest, &theme.manifest.resolve(&look.settings));
            (format!("{vars}{}", look.custom_css), Some(look.version))
        }
        None => (String::new(), None),
    };
    let cache = if q.v.is_some() && q.v == version { "public, max-age=31536000, immutable" } else { "no-cache" };
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body,
    )
        .into_response()
}
