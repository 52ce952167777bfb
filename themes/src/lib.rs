//! Built-in storefront themes and their renderer.
//!
//! A theme is a folder (`classic/`, `grid/`) with templates, a stylesheet,
//! a preview image and a manifest (settings schema; `extends` names the
//! theme its missing templates come from). Templates are compiled into the
//! binary, rendered by minijinja with HTML autoescaping on (every template
//! name ends in `.html`). Assets are served under content-hashed names, so
//! they can be cached for a year. A shop's own overrides render in the
//! sandbox of `sandbox.rs`.

mod manifest;
mod sandbox;
mod texts;

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use minijinja::{Environment, Value};
use sha2::{Digest, Sha256};

pub use manifest::{Manifest, SettingKind, SettingSpec, settings_css};
pub use sandbox::{FUEL, MAX_OUTPUT_BYTES, MAX_SOURCE_BYTES, OverrideError, ShopTemplates, check_override};
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
        Self::from_environment(html_environment(templates), css, js)
    }

    /// A set over an environment the caller prepared (extra filters).
    pub fn from_environment(env: Environment<'static>, css: Asset, js: Asset) -> Self {
        Self { env: Arc::new(env), css, js }
    }

    /// Renders `name` with `ctx`; the asset URLs are added as `assets`.
    pub fn render(&self, name: &str, ctx: Value) -> Result<String, RenderError> {
        let tmpl = self.env.get_template(name).map_err(|source| RenderError { name: name.into(), source })?;
        tmpl.render(self.with_assets(ctx)).map_err(|source| RenderError { name: name.into(), source })
    }

    /// `ctx` with `assets.css` and `assets.js` added (and `assets.shop_css`
    /// kept, when the caller passed a shop stylesheet as `shop_css`).
    pub fn with_assets(&self, ctx: Value) -> Value {
        let shop_css = ctx.get_attr("shop_css").ok().filter(|v| !v.is_undefined() && !v.is_none());
        let assets = minijinja::context! {
            css => Value::from_safe_string(self.css.path.clone()),
            js => Value::from_safe_string(self.js.path.clone()),
            shop_css => shop_css,
        };
        minijinja::context! { assets => assets, ..ctx }
    }

    /// The asset served at `path`, if it is one of this set's.
    pub fn asset(&self, path: &str) -> Option<&Asset> {
        [&self.css, &self.js].into_iter().find(|a| a.path == path)
    }
}

const CLASSIC_TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../classic/templates/base.html")),
    ("home.html", include_str!("../classic/templates/home.html")),
    ("product.html", include_str!("../classic/templates/product.html")),
    ("order.html", include_str!("../classic/templates/order.html")),
    ("lookup.html", include_str!("../classic/templates/lookup.html")),
    ("affiliate.html", include_str!("../classic/templates/affiliate.html")),
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
    env.add_function("tr", pick_language);
    env.add_filter("bi", pick_bilingual);
    for (name, src) in templates {
        env.add_template(name, src).expect("built-in templates compile");
    }
    env
}

/// `tr(zh, en)`: the text in the page's language, the `lang` variable
/// (`en…` is English, anything else Chinese). Either text may be a safe
/// string (markup the template wrote); it is returned as it came, so
/// autoescaping still applies to what was not marked safe.
fn pick_language(state: &minijinja::State, zh: Value, en: Value) -> Value {
    if english_page(state) { en } else { zh }
}

/// Whether the page being rendered is English (its `lang` variable).
pub fn english_page(state: &minijinja::State) -> bool {
    kapu_web::i18n::english_page(state.lookup("lang").as_ref().and_then(Value::as_str))
}

/// `text|bi`: one side of a text Kapu wrote in both languages (see
/// `kapu_web::i18n::split_bilingual`), in the page's language.
fn pick_bilingual(state: &minijinja::State, text: Value) -> Value {
    let Some(s) = text.as_str() else { return text };
    let english = english_page(state);
    match kapu_web::i18n::split_bilingual(s) {
        Some((zh, en)) => {
            let side = if english { en } else { zh };
            if text.is_safe() { Value::from_safe_string(side.to_string()) } else { Value::from(side) }
        }
        None => text,
    }
}

const GRID_TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../grid/templates/base.html")),
    ("home.html", include_str!("../grid/templates/home.html")),
];

/// A built-in theme, ready to render.
pub struct Theme {
    pub name: &'static str,
    pub manifest: Manifest,
    templates: TemplateSet,
    /// Every template, the theme's own and those it takes from `extends`.
    sources: Vec<(&'static str, &'static str)>,
    pub preview: Asset,
}

impl std::ops::Deref for Theme {
    type Target = TemplateSet;
    fn deref(&self) -> &TemplateSet {
        &self.templates
    }
}

impl std::fmt::Debug for Theme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Theme").field("name", &self.name).finish()
    }
}

impl Theme {
    fn build(
        manifest: &'static str,
        own: &[(&'static str, &'static str)],
        base: Option<&[(&'static str, &'static str)]>,
        css: &'static str,
        js: &'static str,
        preview: &'static str,
    ) -> Self {
        let manifest = Manifest::parse(manifest).expect("built-in manifests parse");
        let mut sources: Vec<(&'static str, &'static str)> = base.unwrap_or_default().to_vec();
        for (name, src) in own {
            match sources.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = src,
                None => sources.push((name, src)),
            }
        }
        let name: &'static str = Box::leak(manifest.name.clone().into_boxed_str());
        Self {
            name,
            templates: TemplateSet::new(
                &sources,
                hashed(name, "css", css, "text/css; charset=utf-8"),
                hashed("classic", "js", js, "text/javascript; charset=utf-8"),
            ),
            preview: hashed_asset("/assets/previews", name, "svg", preview, "image/svg+xml"),
            manifest,
            sources,
        }
    }

    /// Every template of the theme with its source.
    pub fn sources(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.sources.iter().copied()
    }

    pub fn template_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.sources.iter().map(|(n, _)| *n)
    }

    pub fn source_of(&self, name: &str) -> Option<&'static str> {
        self.sources.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// A shop's settings as templates see them (`theme.settings.*`): stored
    /// values checked against the manifest, bools as booleans.
    pub fn settings_value(&self, stored: &BTreeMap<String, String>) -> Value {
        let resolved = self.manifest.resolve(stored);
        let map: BTreeMap<String, Value> = self
            .manifest
            .settings
            .iter()
            .map(|s| {
                let v = &resolved[&s.key];
                let value = if s.kind == SettingKind::Bool { Value::from(v == "true") } else { Value::from(v.clone()) };
                (s.key.clone(), value)
            })
            .collect();
        Value::from_pairs(map)
    }

    /// Every asset of the theme (stylesheet, script, preview).
    pub fn assets(&self) -> [&Asset; 3] {
        [&self.templates.css, &self.templates.js, &self.preview]
    }
}

static THEMES: LazyLock<Vec<Theme>> = LazyLock::new(|| {
    vec![
        Theme::build(
            include_str!("../classic/manifest.toml"),
            CLASSIC_TEMPLATES,
            None,
            include_str!("../classic/style.css"),
            include_str!("../classic/app.js"),
            include_str!("../classic/preview.svg"),
        ),
        Theme::build(
            include_str!("../grid/manifest.toml"),
            GRID_TEMPLATES,
            Some(CLASSIC_TEMPLATES),
            concat!(include_str!("../classic/style.css"), include_str!("../grid/style.css")),
            include_str!("../classic/app.js"),
            include_str!("../grid/preview.svg"),
        ),
    ]
});

/// The built-in themes, the default first.
pub fn builtin_themes() -> &'static [Theme] {
    &THEMES
}

pub fn theme_named(name: &str) -> Option<&'static Theme> {
    THEMES.iter().find(|t| t.name == name)
}

/// The theme of a shop that chose none.
pub fn default_theme() -> &'static Theme {
    &THEMES[0]
}

/// A theme asset by the path it is served at.
pub fn theme_asset(path: &str) -> Option<&'static Asset> {
    THEMES.iter().flat_map(|t| t.assets()).find(|a| a.path == path)
}

/// Made-up shop data for previews and tests, with hostile text in it to
/// show that everything is escaped.
pub fn sample_context(theme: &Theme, lang: &str) -> Value {
    minijinja::context! {
        shop => minijinja::context! { name => "Sample <Shop>", announcement => "新品上架 <b>New</b> arrivals", test_mode => true, support_contact => "support@example.com", symbol => "¥" },
        lang => lang,
        t => texts(lang),
        back => "/",
        theme => minijinja::context! { name => theme.name, settings => theme.settings_value(&BTreeMap::new()) },
        categories => vec![
            minijinja::context! { name => "游戏点卡 Game cards", products => vec![
                minijinja::context! { id => "p1", name => "Steam ¥50 <script>alert(1)</script>", price => "48.50", stock => 12 },
                minijinja::context! { id => "p2", name => "Xbox Live 3 months", price => "99.00", stock => 0 },
            ] },
            minijinja::context! { name => "软件激活 Licences", products => vec![
                minijinja::context! { id => "p3", name => "Windows 11 Pro", price => "128.00", stock => 3 },
            ] },
        ],
        product => minijinja::context! { id => "p1", name => "Steam ¥50 <script>alert(1)</script>", price => "48.50", stock => 12, description => "Redeem on Steam.\n<i>Global</i> region.", min_qty => 1, max_qty => 5, tiers => vec![minijinja::context! { min_qty => 10, price => "47.00" }] },
        form => minijinja::context! { quantity => 1, email => "", coupon => "" },
        channels => vec![minijinja::context! { kind => "sandbox", label => "Sandbox" }],
        heading => "没有找到 Not found", message => "This page does not exist.",
    }
}

#[cfg(test)]
mod tests {
    use minijinja::context;

    use super::*;

    #[test]
    fn escapes_hostile_names() {
        let theme = default_theme();
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
        let theme = default_theme();
        assert!(theme.css.path.starts_with("/assets/classic.") && theme.css.path.ends_with(".css"));
        assert!(theme.asset(&theme.js.path).is_some());
        assert!(theme.asset("/assets/classic.css").is_none());
    }
    #[test]
    fn both_themes_render_every_page_escaped_snapshots() {
        assert_eq!(builtin_themes().iter().map(|t| t.name).collect::<Vec<_>>(), ["classic", "grid"]);
        for theme in builtin_themes() {
            for page in ["home.html", "product.html"] {
                let html = theme.render(page, sample_context(theme, "en")).expect("render");
                assert!(!html.contains("<script>alert(1)</script>"), "{} {page}", theme.name);
                assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{} {page}", theme.name);
                insta::with_settings!({ filters => vec![(r"\.[0-9a-f]{10}\.", ".HASH.")] }, {
                    insta::assert_snapshot!(format!("{}_{}", theme.name, page.trim_end_matches(".html")), html);
                });
            }
        }
    }

    #[test]
    fn the_two_themes_look_different() {
        let classic = default_theme().render("home.html", sample_context(default_theme(), "zh-CN")).expect("r");
        let grid =
            theme_named("grid").map(|g| g.render("home.html", sample_context(g, "zh-CN"))).expect("grid").expect("r");
        assert!(classic.contains("class=\"products\"") && !classic.contains("class=\"tiles"));
        assert!(grid.contains("class=\"tiles cols-3\"") && grid.contains("class=\"bar\""));
        assert_ne!(theme_named("grid").expect("grid").css.path, default_theme().css.path);
        // Grid takes the pages it has no template for from Classic.
        assert_eq!(theme_named("grid").expect("grid").source_of("order.html"), default_theme().source_of("order.html"));
    }

    #[test]
    fn settings_reach_templates() {
        let grid = theme_named("grid").expect("grid");
        let stored =
            BTreeMap::from([("columns".to_string(), "4".to_string()), ("show_stock".to_string(), "false".to_string())]);
        let ctx = minijinja::context! { theme => minijinja::context! { settings => grid.settings_value(&stored) }, ..sample_context(grid, "en") };
        let html = grid.render("home.html", ctx).expect("render");
        assert!(html.contains("tiles cols-4"));
        assert!(!html.contains("In stock: 12"), "stock hidden");
        assert!(html.contains("Sold out"), "sold out still shown");
    }

    #[test]
    fn a_big_shop_fits_the_sandbox_fuel() {
        let products: Vec<Value> = (0..500)
            .map(|i| minijinja::context! { id => format!("p{i}"), name => format!("Product {i}"), price => "1.00", stock => i })
            .collect();
        let ctx = minijinja::context! { categories => vec![minijinja::context! { name => "All", products => products }], ..sample_context(default_theme(), "en") };
        // An override elsewhere puts the whole shop in the sandbox.
        let shop = ShopTemplates::new(default_theme(), &BTreeMap::from([("lookup.html".to_string(), "x".to_string())]));
        let (html, err) = shop.render("home.html", ctx).expect("render");
        assert!(err.is_none(), "{err:?}");
        assert!(html.contains("Product 499"));
    }

    #[test]
    fn every_asset_is_found_by_its_path() {
        for t in builtin_themes() {
            for a in t.assets() {
                assert_eq!(theme_asset(&a.path).map(|x| x.body), Some(a.body));
            }
        }
        assert!(theme_asset("/assets/previews/grid.svg").is_none());
    }
}
