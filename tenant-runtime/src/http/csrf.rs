//! CSRF protection for storefront forms: a state-changing form POST must come
//! from the shop's own origin. Browsers send `Origin` on every POST (and
//! `Sec-Fetch-Site`); a cross-site form gets neither right. Storefront pages
//! carry no session cookie, and the language cookie is `SameSite=Lax`.

use axum::http::HeaderMap;

/// True when the request demonstrably comes from a page of `base_url` (`scheme://host[:port]`).
pub fn same_origin(headers: &HeaderMap, base_url: &str) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = get("origin") {
        return origin.eq_ignore_ascii_case(base_url);
    }
    if let Some(site) = get("sec-fetch-site") {
        return site == "same-origin";
    }
    match get("referer") {
        Some(r) => {
            r.len() > base_url.len()
                && r[..base_url.len()].eq_ignore_ascii_case(base_url)
                && r[base_url.len()..].starts_with('/')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn origins() {
        let base = "http://demo.localhost:8080";
        assert!(same_origin(&h(&[("origin", "http://demo.localhost:8080")]), base));
        assert!(!same_origin(&h(&[("origin", "http://evil.example")]), base));
        assert!(!same_origin(&h(&[("origin", "null")]), base));
        assert!(same_origin(&h(&[("sec-fetch-site", "same-origin")]), base));
        assert!(!same_origin(&h(&[("sec-fetch-site", "cross-site")]), base));
        assert!(same_origin(&h(&[("referer", "http://demo.localhost:8080/products/x")]), base));
        assert!(!same_origin(&h(&[("referer", "http://demo.localhost:8080.evil.example/")]), base));
        assert!(!same_origin(&h(&[]), base));
    }
}
