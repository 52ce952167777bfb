//! A merchant's custom CSS: no panic, and what passes the filter loads
//! nothing from elsewhere and cannot close the style element.
#![no_main]

use kapu_core::store::shop_themes::check_custom_css;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(css) = check_custom_css(text) {
        let lower = css.to_ascii_lowercase();
        assert!(!lower.contains("</style"), "{css:?}");
        assert!(!lower.contains("@import"), "{css:?}");
        assert!(!lower.contains("expression("), "{css:?}");
    }
});
