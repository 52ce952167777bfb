//! The shop's look (owner only): `GET/POST /shops/{slug}/theme` picks a
//! built-in theme, sets its settings and custom CSS;
//! `GET/POST /shops/{slug}/theme/templates/{name}` edits one template in
//! the browser (save, preview with sample products, or go back to the
//! theme's). An override is checked before it is saved: it must compile
//! and render the sample shop inside the sandbox's limits, or the merchant
//! sees the error with its line. Every save publishes `ShopChanged`, so the
//! storefront drops the shop's cached pages and templates at once.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::store::shop_themes::{
    ShopLook, check_custom_css, find_look_for_tenant, render_error_for_tenant, save_look_for_tenant,
};
use kapu_themes::{
    OverrideError, SettingKind, ShopTemplates, builtin_themes, check_override, default_theme, sample_context,
    theme_named,
};
use minijinja::context;

use crate::audit::shop_action;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::{OwnerAccess, ShopAccess};
use crate::error::{PageError, PageResult};
use crate::page::{Layout, flash_for, render, ser, with_status};
use crate::state::PlatformState;

async fn current_look(state: &PlatformState, tenant_id: &str) -> PageResult<ShopLook> {
    Ok(find_look_for_tenant(state.db.reader(), tenant_id)
        .await?
        .unwrap_or_else(|| ShopLook { theme: default_theme().name.to_string(), ..ShopLook::default() }))
}

async fn theme_page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    look: &ShopLook,
    errors: &[String],
    flash: Option<crate::page::Flash>,
) -> PageResult<Response> {
    let current = theme_named(&look.theme).unwrap_or_else(default_theme);
    let values = current.manifest.resolve(&look.settings);
    let themes: Vec<_> = builtin_themes()
        .iter()
        .map(|t| {
            context! { name => t.name, title => t.manifest.title.clone(), description => t.manifest.description.clone(),
            preview => minijinja::Value::from_safe_string(t.preview.path.clone()), current => t.name == current.name }
        })
        .collect();
    let settings: Vec<_> = current
        .manifest
        .settings
        .iter()
        .map(|s| {
            context! {
                key => s.key.clone(), label => s.label.clone(), options => s.options.clone(),
                kind => match s.kind { SettingKind::Color => "color", SettingKind::Select => "select", SettingKind::Bool => "bool" },
                value => values.get(&s.key).cloned().unwrap_or_default(),
            }
        })
        .collect();
    let templates: Vec<_> = current
        .template_names()
        .map(|n| context! { name => n, overridden => look.overrides.contains_key(n) })
        .collect();
    let render_error = render_error_for_tenant(state.db.reader(), access.tenant_id()).await?;
    let layout = Layout { account: None, csrf, shop: Some(access), nav: "theme", flash, title: "主题 Theme" };
    render(
        "theme.html",
        layout,
        context! { themes, settings, templates, custom_css => look.custom_css.clone(), errors => ser(errors), render_error, current => current.name },
    )
}

pub async fn show_theme(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    axum::extract::Query(q): axum::extract::Query<crate::shops::list::FlashQuery>,
) -> PageResult<Response> {
    let look = current_look(&state, access.tenant_id()).await?;
    theme_page(&state, &access, &csrf, &look, &[], flash_for(q.m.as_deref())).await
}

async fn save(
    state: &PlatformState,
    access: &ShopAccess,
    ip: RequestIp,
    look: &ShopLook,
    what: &str,
) -> PageResult<()> {
    let version = save_look_for_tenant(state.db.writer(), access.tenant_id(), look).await?;
    state.bus.shop_changed(access.tenant_id());
    shop_action(state, access, ip, "theme.update", &look.theme, &format!("{what} (version {version})")).await
}

pub async fn save_theme(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(form): VerifiedForm<Vec<(String, String)>>,
) -> PageResult<Response> {
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut look = current_look(&state, access.tenant_id()).await?;
    let mut errors = Vec::new();
    let chosen = field("theme").unwrap_or_default();
    let Some(theme) = theme_named(&chosen) else {
        errors.push("请选择一个主题。Choose a theme.".to_string());
        return Ok(with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            theme_page(&state, &access, &csrf, &look, &errors, None).await?,
        ));
    };
    let switching = theme.name != look.theme;
    // Settings belong to the theme on the page; a switch starts from the new theme's defaults.
    let settings = if switching {
        BTreeMap::new()
    } else {
        let input: BTreeMap<String, String> =
            form.iter().filter_map(|(k, v)| k.strip_prefix("setting.").map(|k| (k.to_string(), v.clone()))).collect();
        theme.manifest.validate(&input).unwrap_or_else(|e| {
            errors.extend(e);
            BTreeMap::new()
        })
    };
    let css = check_custom_css(&field("custom_css").unwrap_or_default()).unwrap_or_else(|e| {
        errors.push(e);
        String::new()
    });
    if !errors.is_empty() {
        // Show what was typed with the errors; nothing is saved.
        look.custom_css = field("custom_css").unwrap_or_default();
        return Ok(with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            theme_page(&state, &access, &csrf, &look, &errors, None).await?,
        ));
    }
    look.theme = theme.name.to_string();
    look.settings = settings;
    look.custom_css = css;
    save(&state, &access, ip, &look, if switching { "theme switched" } else { "settings and CSS" }).await?;
    Ok(Redirect::to(&format!("/shops/{}/theme?m=saved", access.shop.slug)).into_response())
}

async fn editor_page(
    access: &ShopAccess,
    csrf: &str,
    look: &ShopLook,
    name: &str,
    source: &str,
    error: Option<&OverrideError>,
) -> PageResult<Response> {
    let layout =
        Layout {
            account: None, csrf, shop: Some(access), nav: "theme", flash: None, title: "编辑模板 Edit template"
        };
    let resp = render(
        "theme_template.html",
        layout,
        context! {
            name, source, overridden => look.overrides.contains_key(name),
            error => error.map(|e| context! { text => e.to_string(), line => e.line }),
        },
    )?;
    Ok(if error.is_some() { with_status(StatusCode::UNPROCESSABLE_ENTITY, resp) } else { resp })
}

pub async fn edit_template(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    Path((_, name)): Path<(String, String)>,
) -> PageResult<Response> {
    let look = current_look(&state, access.tenant_id()).await?;
    let theme = theme_named(&look.theme).unwrap_or_else(default_theme);
    let builtin = theme.source_of(&name).ok_or(PageError::NotFound)?;
    let source = look.overrides.get(&name).map_or(builtin, String::as_str).to_string();
    editor_page(&access, &csrf, &look, &name, &source, None).await
}

/// Renders the sample shop with `name` replaced by `source`, in the sandbox.
fn try_override(look: &ShopLook, name: &str, source: &str, page: &str) -> Result<String, OverrideError> {
    let theme = theme_named(&look.theme).unwrap_or_else(default_theme);
    check_override(theme, name, source)?;
    let mut overrides = look.overrides.clone();
    overrides.insert(name.to_string(), source.to_string());
    let templates = ShopTemplates::new(theme, &overrides);
    if let Some(e) = templates.broken.first() {
        return Err(e.clone());
    }
    let ctx = context! {
        theme => context! { name => theme.name, settings => theme.settings_value(&look.settings) },
        ..sample_context(theme, "zh-CN")
    };
    // Render the page itself, or the home page when a shared template (base.html) was edited.
    let page = if theme.source_of(page).is_some() && !matches!(page, "base.html") { page } else { "home.html" };
    match templates.render(page, ctx) {
        Ok((html, None)) => Ok(html),
        Ok((_, Some(e))) => Err(e),
        Err(e) => Err(OverrideError { template: name.to_string(), line: None, message: e.to_string() }),
    }
}

pub async fn save_template(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    Path((_, name)): Path<(String, String)>,
    VerifiedForm(form): VerifiedForm<Vec<(String, String)>>,
) -> PageResult<Response> {
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let mut look = current_look(&state, access.tenant_id()).await?;
    let theme = theme_named(&look.theme).unwrap_or_else(default_theme);
    if theme.source_of(&name).is_none() {
        return Err(PageError::NotFound);
    }
    let source = field("source").replace("\r\n", "\n");
    match field("action").as_str() {
        "reset" => {
            look.overrides.remove(&name);
            save(&state, &access, ip, &look, &format!("override of {name} removed")).await?;
            Ok(Redirect::to(&format!("/shops/{}/theme?m=saved", access.shop.slug)).into_response())
        }
        "preview" => match try_override(&look, &name, &source, &name) {
            Ok(html) => {
                let mut resp = (StatusCode::OK, axum::response::Html(html)).into_response();
                // The preview runs nothing: no scripts, no forms, no outside requests.
                resp.headers_mut().insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("sandbox; default-src 'none'; style-src 'self'; img-src 'self' data:"),
                );
                Ok(resp)
            }
            Err(e) => editor_page(&access, &csrf, &look, &name, &source, Some(&e)).await,
        },
        _ => match try_override(&look, &name, &source, &name) {
            Ok(_) => {
                look.overrides.insert(name.clone(), source);
                save(&state, &access, ip, &look, &format!("override of {name} saved")).await?;
                Ok(Redirect::to(&format!("/shops/{}/theme?m=saved", access.shop.slug)).into_response())
            }
            Err(e) => editor_page(&access, &csrf, &look, &name, &source, Some(&e)).await,
        },
    }
}
