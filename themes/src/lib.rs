//! Built-in storefront themes and their renderer.
//!
//! A theme is a folder (`classic/`) with templates, one stylesheet, one
//! script and a manifest. Templates are compiled into the binary, rendered
//! by minijinja with HTML autoescaping on (every template name ends in
//! `.html`). Assets are served under content-hashed names, so they can be
//! cached for a year.

mod texts;

use std::sync::Arc;

use minijinja::{Environment, Value};
use sha2::{Digest, Sha256};

pub use texts::{text, texts};

/// A rendering failure (a bug in a template or its data).
#[derive(Debug, thiserror::Error)]
#[error("template {name}: {source}")]
pub struct RenderError {
    pub name: String,
    #[source]
    pub source: minijinja::Error,
}

/// One static asset of a theme.
#[derive(Debug, Clone)]
pub struct Asset {
    /// Path it is served at, e.g. `/assets/classic.3f2a1b9c.css`.
    pub path: String,
    pub content_type: &'static str,
    pub body: &'static str,
}

/// A built-in theme, ready to render.
#[derive(Clone)]
pub struct Theme {
    pub name: &'static str,
    templates: TemplateSet,
}

impl std::ops::Deref for Theme {
    type Target = TemplateSet;
    fn deref(&self) -> &TemplateSet {
        &self.templates
    }
}

/// Compiled templates with the one stylesheet and one script they link to:
/// a storefront theme, or the merchant dashboard.
#[derive(Clone)]
pub struct TemplateSet {
    env: Arc<Environment<'static>>,
    pub css: Asset,
    pub js: Asset,
}

impl TemplateSet {
    pub fn new(templates: &[(&'static str, &'static str)], css: Asset, js: Asset) -> Self {
        Self { env: Arc::new(html_environment(templates)), css, js }
    }

    /// Renders `name` with `ctx`; the asset URLs are added as `assets`.
    pub fn render(&self, name: &str, ctx: Value) -> Result<String, RenderError> {
        render_with_assets(&self.env, name, ctx, &self.css, &self.js)
    }

    /// The asset served at `path`, if it is one of this set's.
    pub fn asset(&self, path: &str) -> Option<&Asset> {
        [&self.css, &self.js].into_iter().find(|a| a.path == path)
    }
}

impl std::fmt::Debug for Theme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Theme").field("name", &self.name).finish()
    }
}

const CLASSIC_TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../classic/templates/base.html")),
    ("home.html", include_str!("../classic/templates/home.html")),
    ("product.html", include_str!("../classic/templates/product.html")),
    ("order.html", include_str!("../classic/templates/order.html")),
    ("lookup.html", include_str!("../classic/templates/lookup.html")),
    ("sandbox_pay.html", include_str!("../classic/templates/sandbox_pay.html")),
    ("pay_qr.html", include_str!("../classic/templates/pay_qr.html")),
    ("error.html", include_str!("../classic/templates/error.html")),
];

/// An asset served at `{dir}/{name}.{hash}.{ext}`, the hash being the first
/// 10 hex digits of its SHA-256, so it can be cached for a year.
pub fn hashed_asset(dir: &str, name: &str, ext: &str, body: &'static str, content_type: &'static str) -> Asset {
    let digest = Sha256::digest(body.as_bytes());
    let short: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    Asset { path: format!("{dir}/{name}.{short}.{ext}"), content_type, body }
}

fn hashed(name: &str, ext: &str, body: &'static str, content_type: &'static str) -> Asset {
    hashed_asset("/assets", name, ext, body, content_type)
}

/// A template environment for built-in templates: HTML autoescaping for
/// every `.html` name, lenient undefined values, all templates compiled now.
pub fn html_environment(templates: &[(&'static str, &'static str)]) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") { minijinja::AutoEscape::Html } else { minijinja::AutoEscape::None }
    });
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
    for (name, src) in templates {
        env.add_template(name, src).expect("built-in templates compile");
    }
    env
}

/// Renders `name` with `ctx`, adding the stylesheet's and script's URLs as `assets`.
pub fn render_with_assets(
    env: &Environment<'static>,
    name: &str,
    ctx: Value,
    css: &Asset,
    js: &Asset,
) -> Result<String, RenderError> {
    let tmpl = env.get_template(name).map_err(|source| RenderError { name: name.into(), source })?;
    let assets = minijinja::context! {
        css => Value::from_safe_string(css.path.clone()),
        js => Value::from_safe_string(js.path.clone()),
    };
    tmpl.render(minijinja::context! { assets => assets, ..ctx })
        .map_err(|source| RenderError { name: name.into(), source })
}

impl Theme {
    /// The default theme.
    pub fn classic() -> Self {
        Self {
            name: "classic",
            templates: TemplateSet::new(
                CLASSIC_TEMPLATES,
                hashed("classic", "css", include_str!("../classic/style.css"), "text/css; charset=utf-8"),
                hashed("classic", "js", include_str!("../classic/app.js"), "text/javascript; charset=utf-8"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use minijinja::context;

    use super::*;

    #[test]
    fn escapes_hostile_names() {
        let theme = Theme::classic();
        let html = theme
            .render(
                "error.html",
                context! { shop => context!{ name => "<script>alert(1)</script>", test_mode => true },
                heading => "<b>x</b>", message => "m", t => texts("en"), lang => "en" },
            )
            .expect("render");
        assert!(!html.contains("<script>alert(1)</script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
        assert!(html.contains("TEST MODE"));
    }

    #[test]
    fn assets_have_content_hashes() {
        let theme = Theme::classic();
        assert!(theme.css.path.starts_with("/assets/classic.") && theme.css.path.ends_with(".css"));
        assert!(theme.asset(&theme.js.path).is_some());
        assert!(theme.asset("/assets/classic.css").is_none());
    }
}
