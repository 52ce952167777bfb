//! The operator console at `/ops` on the platform host: platform overview,
//! shops (search, figures, suspend / resume / change plan / close, each with
//! a reason), plans, the fee ledger with its CSV export, the audit log and
//! dead jobs. Only operators (their own accounts, always with TOTP) get in;
//! anyone else gets 404 on every page but the sign-in.

pub mod audit;
pub mod flags;
pub mod incidents;
pub mod jobs;
pub mod ledger;
pub mod login;
pub mod overview;
pub mod plans;
pub mod session;
pub mod supply;
pub mod tenants;

use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use kapu_admin_ui::AdminUi;
use kapu_web::RouteBook;
use minijinja::{Value, context};

use crate::error::PageResult;
use crate::page::{Flash, ser};
use crate::state::PlatformState;
use session::Operator;

/// Routes under `/ops`.
pub fn ops_routes() -> RouteBook<PlatformState> {
    RouteBook::new()
        .route("/", get(overview::overview))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/tenants", get(tenants::list_tenants))
        .route("/tenants/{id}", get(tenants::tenant_detail))
        .route("/tenants/{id}/status", post(tenants::change_status))
        .route("/tenants/{id}/plan", post(tenants::change_plan))
        .route("/plans", get(plans::list_plans).post(plans::create_plan))
        .route("/plans/{id}", get(plans::edit_plan).post(plans::update_plan))
        .route("/ledger", get(ledger::ledger_page))
        .route("/ledger.csv", get(ledger::ledger_csv))
        .route("/supply-ledger.csv", get(crate::supply::ledger::export_ledger_csv))
        .route("/supply", get(supply::supply_page))
        .route("/supply/settlement", post(supply::set_mode))
        .route("/supply/settle", post(supply::record))
        .route("/audit", get(audit::audit_page))
        .route("/jobs/{id}/retry", post(jobs::retry_job))
        .route("/status", get(incidents::status_console))
        .route("/status/incidents", post(incidents::open))
        .route("/status/incidents/{id}", post(incidents::update))
        .route("/flags", get(flags::flags_page))
        .route("/flags/{name}", post(flags::save_flag))
}

/// What every console page's layout needs.
pub struct OpsPage<'a> {
    pub operator: Option<&'a Operator>,
    pub csrf: &'a str,
    pub nav: &'a str,
    pub flash: Option<Flash>,
    pub title: &'a str,
}

/// Renders a console template inside `ops_base.html`.
pub fn render_ops(template: &str, layout: OpsPage<'_>, page: Value) -> PageResult<Response> {
    let base = context! {
        operator => layout.operator.map(ser),
        csrf => layout.csrf,
        nav => layout.nav,
        flash => layout.flash.map(|f| ser(&f)),
        title => layout.title,
    };
    let html = AdminUi::shared().render(template, context! { ..page, ..base })?;
    Ok(Html(html).into_response())
}

/// Flash messages console redirects may ask for (`?m=…`).
pub fn ops_flash(code: Option<&str>) -> Option<Flash> {
    let (kind, message) = match code? {
        "suspended" => {
            ("ok", "店铺已暂停，店面显示“暂时关闭”。Shop suspended; its storefront shows “temporarily closed”.")
        }
        "active" => ("ok", "店铺已恢复。Shop resumed."),
        "closed" => {
            ("ok", "店铺已关闭，数据将在保留期后清除。Shop closed; its data is purged after the retention period.")
        }
        "plan" => ("ok", "套餐已更改。Plan changed."),
        "saved" => ("ok", "已保存。Saved."),
        "retried" => ("ok", "任务已重新排队。Job queued again."),
        _ => return None,
    };
    Some(Flash { kind, message: message.into() })
}

/// `?m=` of a console redirect.
#[derive(serde::Deserialize, Default)]
pub struct FlashParam {
    #[serde(default)]
    pub m: Option<String>,
}
