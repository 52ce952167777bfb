//! A shop's templates: its theme's, with the merchant's overrides on top,
//! in a sandboxed minijinja environment. Overrides only see the data Kapu
//! passes in (there is no loader, no file or network access, no custom
//! functions), HTML autoescaping is on, and each render has a fuel budget
//! (instructions), a recursion limit and an output cap, so a bad template
//! cannot hang or exhaust a worker. An override that does not compile is
//! left out; one that fails while rendering falls back to the theme's own
//! template for that request. Either way the error, with its line, is
//! reported for the merchant.

use std::collections::BTreeMap;
use std::io::Write;

use minijinja::{Environment, Value};

use crate::{RenderError, Theme, html_environment};

/// Instructions one page render may run. A built-in home page with 500
/// products uses about 23,000; spending all of it takes about 17 ms
/// (`bench/template_fuel.sh`), the most a merchant's template can hold a
/// thread for one request.
pub const FUEL: u64 = 400_000;
/// Nested calls, includes and blocks.
pub const RECURSION_LIMIT: usize = 64;
/// Largest page an override may produce.
pub const MAX_OUTPUT_BYTES: usize = 2 * 1024 * 1024;
/// Largest override source.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024;

/// What went wrong in an override, for the merchant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideError {
    pub template: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for OverrideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{} 第 {l} 行 line {l}: {}", self.template, self.message),
            None => write!(f, "{}: {}", self.template, self.message),
        }
    }
}

impl OverrideError {
    fn from_minijinja(fallback_name: &str, e: &minijinja::Error) -> Self {
        let message = match e.kind() {
            minijinja::ErrorKind::OutOfFuel => {
                "模板运行步骤过多（可能是死循环）。The template ran too long (a runaway loop?).".to_string()
            }
            minijinja::ErrorKind::WriteFailure => {
                "模板输出过大（超过 2 MB）。The template produced too much output (over 2 MB).".to_string()
            }
            _ => match e.detail() {
                Some(d) => format!("{}: {d}", e.kind()),
                None => e.kind().to_string(),
            },
        };
        Self { template: e.name().unwrap_or(fallback_name).to_string(), line: e.line(), message }
    }
}

/// An environment for merchant-edited templates.
fn sandbox_environment() -> Environment<'static> {
    let mut env = html_environment(&[]);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    // `debug()` would print the whole context into the page.
    env.remove_global("debug");
    env
}

/// Checks one override on its own: a template the theme has, not too
/// large, and it compiles.
pub fn check_override(theme: &Theme, name: &str, source: &str) -> Result<(), OverrideError> {
    let err = |message: String| OverrideError { template: name.to_string(), line: None, message };
    if !theme.template_names().any(|n| n == name) {
        return Err(err("主题没有这个模板。The theme has no such template.".into()));
    }
    if source.len() > MAX_SOURCE_BYTES {
        return Err(err(format!(
            "模板最大 {} KB。A template may be {} KB at most.",
            MAX_SOURCE_BYTES / 1024,
            MAX_SOURCE_BYTES / 1024
        )));
    }
    let mut env = sandbox_environment();
    env.add_template_owned(name.to_string(), source.to_string()).map_err(|e| OverrideError::from_minijinja(name, &e))
}

/// Writes into memory up to a cap, then refuses.
struct CappedBuffer(Vec<u8>);

impl Write for CappedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_OUTPUT_BYTES {
            return Err(std::io::Error::other("output cap reached"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A shop's compiled templates.
pub struct ShopTemplates {
    theme: &'static Theme,
    /// Present when the shop overrides at least one template.
    env: Option<Environment<'static>>,
    /// Overrides left out because they do not compile.
    pub broken: Vec<OverrideError>,
}

impl ShopTemplates {
    pub fn new(theme: &'static Theme, overrides: &BTreeMap<String, String>) -> Self {
        let mut broken = Vec::new();
        let mut usable = Vec::new();
        for (name, source) in overrides {
            match check_override(theme, name, source) {
                Ok(()) => usable.push((name.clone(), source.clone())),
                Err(e) => broken.push(e),
            }
        }
        if usable.is_empty() {
            return Self { theme, env: None, broken };
        }
        let mut env = sandbox_environment();
        for (name, source) in theme.sources() {
            if !usable.iter().any(|(n, _)| n == name) {
                env.add_template(name, source).expect("built-in templates compile");
            }
        }
        for (name, source) in usable {
            // Checked above; a failure here would leave the theme's template out, so add it back.
            if env.add_template_owned(name.clone(), source).is_err()
                && let Some((n, s)) = theme.sources().find(|(n, _)| *n == name)
            {
                env.add_template(n, s).expect("built-in templates compile");
            }
        }
        Self { theme, env: Some(env), broken }
    }

    pub fn theme(&self) -> &'static Theme {
        self.theme
    }

    /// Whether merchant-written templates render here (not only the theme's).
    pub fn has_overrides(&self) -> bool {
        self.env.is_some()
    }

    /// Renders `name`. With overrides, a failing render falls back to the
    /// theme's own templates and the override's error comes back beside the page.
    pub fn render(&self, name: &str, ctx: Value) -> Result<(String, Option<OverrideError>), RenderError> {
        let Some(env) = &self.env else { return Ok((self.theme.render(name, ctx)?, None)) };
        let attempt = env.get_template(name).and_then(|t| {
            let mut out = CappedBuffer(Vec::new());
            t.render_captured_to(self.theme.with_assets(ctx.clone()), &mut out)?;
            Ok(out.0)
        });
        match attempt {
            Ok(bytes) => Ok((String::from_utf8_lossy(&bytes).into_owned(), None)),
            Err(e) => {
                let err = OverrideError::from_minijinja(name, &e);
                Ok((self.theme.render(name, ctx)?, Some(err)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use minijinja::context;

    use super::*;
    use crate::{sample_context, theme_named};

    fn shop_with(name: &str, source: &str) -> ShopTemplates {
        let theme = theme_named("classic").expect("classic");
        ShopTemplates::new(theme, &BTreeMap::from([(name.to_string(), source.to_string())]))
    }

    fn render(shop: &ShopTemplates) -> (String, Option<OverrideError>) {
        shop.render("home.html", sample_context(shop.theme(), "en")).expect("falls back at worst")
    }

    #[test]
    fn a_working_override_is_used_and_still_escapes() {
        let shop = shop_with(
            "home.html",
            "{% extends \"base.html\" %}{% block main %}<p id=mine>{{ shop.name }}</p>{% endblock %}",
        );
        let (html, err) = render(&shop);
        assert!(err.is_none(), "{err:?}");
        assert!(html.contains("<p id=mine>Sample &lt;Shop&gt;</p>"), "{html}");
        assert!(!html.contains("<Shop>"));
    }

    #[test]
    fn a_syntax_error_is_reported_with_its_line_and_the_theme_page_is_served() {
        let shop = shop_with("home.html", "{% extends \"base.html\" %}\n{% block main %}\n{% if %}\n{% endblock %}");
        assert_eq!(shop.broken.len(), 1);
        assert_eq!(shop.broken[0].line, Some(3), "{}", shop.broken[0]);
        assert!(shop.broken[0].to_string().contains("line 3"));
        let (html, err) = render(&shop);
        assert!(err.is_none());
        assert!(html.contains("class=\"products\""), "theme's own home page");
    }

    #[test]
    fn runaway_loops_run_out_of_fuel_and_fall_back() {
        let shop = shop_with(
            "home.html",
            "{% for i in range(10000) %}{% for j in range(10000) %}{{ i }}{% endfor %}{% endfor %}",
        );
        let started = std::time::Instant::now();
        let (html, err) = render(&shop);
        let err = err.expect("fuel error");
        assert!(err.message.contains("ran too long"), "{err}");
        assert!(html.contains("class=\"products\""));
        // Fuel stops it long before 10^8 iterations.
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn unbounded_recursion_and_self_includes_are_stopped() {
        let shop = shop_with("home.html", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        let (_, err) = render(&shop);
        assert!(err.expect("recursion").message.to_lowercase().contains("recursion"));
        let shop = shop_with("home.html", "{% include \"home.html\" %}");
        let (html, err) = render(&shop);
        assert!(err.is_some());
        assert!(html.contains("class=\"products\""));
    }

    #[test]
    fn huge_output_is_capped() {
        let shop = shop_with("home.html", "{% set s = \"x\" * 1000000 %}{% for i in range(10) %}{{ s }}{% endfor %}");
        let (html, err) = render(&shop);
        assert!(err.expect("cap").message.contains("2 MB"));
        assert!(html.len() < MAX_OUTPUT_BYTES);
    }

    #[test]
    fn overrides_reach_no_files_env_or_debug_dump() {
        for src in [
            "{% include \"/etc/passwd\" %}",
            "{% include \"../../Cargo.toml\" %}",
            "{% import \"/proc/self/environ\" as e %}",
            "{{ debug() }}",
        ] {
            let shop = shop_with("home.html", src);
            let (html, err) = render(&shop);
            assert!(err.is_some(), "{src} must fail");
            assert!(!html.contains("root:") && !html.contains("[workspace]"), "{src}");
        }
        // Only Kapu's data is there: no environment, no config.
        let shop = shop_with("home.html", "[{{ env }}][{{ config }}][{{ self }}][{{ PATH }}]");
        let (html, err) = render(&shop);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(html.trim(), "[][][][]", "{html}");
    }

    #[test]
    fn a_500_product_home_page_uses_under_a_tenth_of_the_fuel() {
        let theme = theme_named("grid").expect("grid");
        let mut env = sandbox_environment();
        for (n, src) in theme.sources() {
            env.add_template(n, src).expect("compiles");
        }
        let products: Vec<Value> = (0..500)
            .map(|i| context! { id => format!("p{i}"), name => format!("Product {i}"), price => "1.00", stock => i })
            .collect();
        let ctx = context! { categories => vec![context! { name => "All", products => products }], ..sample_context(theme, "en") };
        let captured =
            env.get_template("home.html").expect("home").render_captured(theme.with_assets(ctx)).expect("render");
        let (used, left) = captured.state().fuel_levels().expect("fuel on");
        println!("home.html with 500 products: {used} instructions of {FUEL}");
        assert!(used * 10 < FUEL && used + left == FUEL, "{used} {left}");
    }

    #[test]
    fn only_theme_templates_can_be_overridden() {
        let theme = theme_named("grid").expect("grid");
        assert!(check_override(theme, "product.html", "ok").is_ok(), "inherited from classic");
        assert!(check_override(theme, "secrets.html", "x").is_err());
        assert!(check_override(theme, "home.html", &"x".repeat(MAX_SOURCE_BYTES + 1)).is_err());
    }
}
