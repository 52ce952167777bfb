//! A merchant's template override, rendered in the sandbox with a shop's
//! data: no panic, no escape from the limits (the fuel budget ends any
//! render quickly), and an override that fails falls back to the theme.
#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use kapu_themes::{ShopTemplates, Theme, check_override, default_theme, sample_context};
use libfuzzer_sys::fuzz_target;

static THEME: LazyLock<&'static Theme> = LazyLock::new(default_theme);

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let theme = *THEME;
    let _ = check_override(theme, "home.html", source);
    let overrides = BTreeMap::from([("home.html".to_string(), source.to_string())]);
    let templates = ShopTemplates::new(theme, &overrides);
    let started = std::time::Instant::now();
    let rendered = templates.render("home.html", sample_context(theme, "en"));
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "a render ran {:?}", started.elapsed());
    let (html, _) = rendered.expect("an override's failure falls back to the theme's page");
    assert!(html.len() <= kapu_themes::MAX_OUTPUT_BYTES + 1024 * 1024);
});
