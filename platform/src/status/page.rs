//! `GET /status`, `GET /status.json` and `GET /status/feed` (Atom).

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use kapu_admin_ui::AdminUi;
use kapu_core::status_board::COMPONENTS;
use minijinja::context;

use crate::error::PageResult;
use crate::page::ser;
use crate::state::PlatformState;

/// Every state and incident state in both languages.
fn labels() -> minijinja::Value {
    minijinja::Value::from(std::collections::BTreeMap::from([
        ("operational", "正常 Operational"),
        ("degraded", "性能下降 Degraded"),
        ("outage", "中断 Outage"),
        ("maintenance", "维护中 Maintenance"),
        ("unknown", "暂无数据 No data"),
        ("investigating", "调查中 Investigating"),
        ("identified", "已定位 Identified"),
        ("monitoring", "观察中 Monitoring"),
        ("resolved", "已解决 Resolved"),
        ("scheduled", "已计划 Scheduled"),
        ("in_progress", "进行中 In progress"),
        ("completed", "已完成 Completed"),
    ]))
}

fn names() -> minijinja::Value {
    let names: std::collections::BTreeMap<&str, String> =
        COMPONENTS.iter().map(|c| (c.id, format!("{} {}", c.name_zh, c.name_en))).collect();
    minijinja::Value::from(names)
}

/// Browsers ask again each time (an operator's update shows at once);
/// the server keeps the computed view for 10 s, so this costs a render.
const CACHE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-cache");

pub async fn status_page(State(state): State<PlatformState>) -> PageResult<Response> {
    let view = state.status.view(&state.db, &state.board).await?;
    let html = AdminUi::shared()
        .render("status.html", context! { view => ser(&*view), labels => labels(), names => names() })?;
    Ok(([CACHE], Html(html)).into_response())
}

pub async fn status_json(State(state): State<PlatformState>) -> PageResult<Response> {
    let view = state.status.view(&state.db, &state.board).await?;
    Ok(([CACHE], axum::Json(&*view)).into_response())
}

/// Incidents and maintenance as an Atom feed, newest first: one entry per
/// incident, its content every update.
pub async fn status_feed(State(state): State<PlatformState>) -> PageResult<Response> {
    use kapu_web::notice::escape;
    let view = state.status.view(&state.db, &state.board).await?;
    let base = format!("{}://{}", state.cfg.public_scheme, state.cfg.platform_host());
    let updated = view.incidents.iter().map(|i| i.updated_at).max().unwrap_or(view.updated_at);
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
         <title>Kapu 系统状态 · Kapu status</title>\n<id>{base}/status</id>\n\
         <link rel=\"alternate\" href=\"{base}/status\"/>\n<link rel=\"self\" href=\"{base}/status/feed\"/>\n\
         <updated>{}</updated>\n<author><name>Kapu</name></author>\n",
        updated.to_rfc3339()
    );
    for i in &view.incidents {
        let mut content = String::new();
        for u in &i.updates {
            content.push_str(&format!(
                "<p><strong>{}</strong> {}<br/>{}<br/>{}</p>",
                escape(&u.state),
                u.at.format("%Y-%m-%d %H:%M UTC"),
                escape(&u.body_zh),
                escape(&u.body_en)
            ));
        }
        xml.push_str(&format!(
            "<entry>\n<id>{base}/status#incident-{id}</id>\n<title>[{kind}] {zh} · {en} ({state})</title>\n\
             <link href=\"{base}/status\"/>\n<updated>{updated}</updated>\n<published>{published}</published>\n\
             <content type=\"html\">{content}</content>\n</entry>\n",
            id = escape(&i.id),
            kind = escape(&i.kind),
            zh = escape(&i.title_zh),
            en = escape(&i.title_en),
            state = escape(&i.state),
            updated = i.updated_at.to_rfc3339(),
            published = i.starts_at.to_rfc3339(),
            content = escape(&content),
        ));
    }
    xml.push_str("</feed>\n");
    Ok(([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8"), CACHE], xml).into_response())
}
