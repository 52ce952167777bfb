//! Hosts and paths that clients choose: the Host header's normalization,
//! a merchant's custom domain, and redirect targets after login or a
//! language switch. No panic; a custom domain normalizes to itself; a
//! redirect target is always a same-site path.
#![no_main]

use kapu_core::config::normalize_host;
use kapu_core::redirects::same_site_path;
use kapu_core::store::domains::normalize_hostname;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let host = normalize_host(text);
    assert_eq!(host, host.to_ascii_lowercase());
    if let Some(h) = normalize_hostname(text) {
        assert_eq!(normalize_hostname(&h).as_deref(), Some(h.as_str()), "{text:?}");
        assert!(!h.contains(['/', ':', '@', ' ', '\\']), "{h:?}");
    }
    if let Some(p) = same_site_path(text) {
        assert!(p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\"), "{p:?}");
        assert!(!p.chars().any(|c| c.is_control() || c == '\\'), "{p:?}");
    }
});
