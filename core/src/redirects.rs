//! Where a "next" or "back" parameter may send a browser: only a path on
//! this site. Browsers repair what they are given before they follow it —
//! they drop tabs and newlines anywhere in a URL, read `\` as `/`, and take
//! `//host` as another site — so anything a browser could turn into another
//! origin is refused rather than cleaned: control characters, spaces,
//! backslashes, non-ASCII, encoded slashes, backslashes or control
//! characters, a second leading slash, and schemes.

/// `candidate` if it is a path on this site, else `None`.
pub fn same_site_path(candidate: &str) -> Option<&str> {
    let visible_ascii = candidate.bytes().all(|b| b.is_ascii_graphic());
    let lower = candidate.to_ascii_lowercase();
    let encoded_trick = ["%2f", "%5c", "%09", "%0a", "%0d", "%00"].iter().any(|e| lower.contains(e));
    let ok = visible_ascii
        && candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.contains('\\')
        && !encoded_trick
        && !candidate.contains("://")
        && candidate.len() <= 2_000;
    ok.then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::same_site_path;

    #[test]
    fn paths_on_this_site_pass() {
        for ok in ["/", "/shops", "/shops/x/orders?q=1&page=2", "/orders/2026?token=abc#keys", "/a-b_c.d~e"] {
            assert_eq!(same_site_path(ok), Some(ok), "{ok}");
        }
    }

    #[test]
    fn the_known_bypasses_are_refused() {
        for bad in [
            "",
            "shops",
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "\t//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/\\/evil.example",
            "/%09/evil.example",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/%0a/evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/x?u=https://evil.example",
            " /evil",
            "/ /evil",
            "/／evil.example",
            "/\u{0}/evil",
        ] {
            assert_eq!(same_site_path(bad), None, "{bad:?}");
        }
        assert_eq!(same_site_path(&format!("/{}", "a".repeat(3_000))), None, "absurdly long");
    }
}
