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

/// A storefront form that came from the shop's own origin: checking the
/// origin is part of extracting the form, so no handler can forget it.
/// Rejections render as the shop's error page (or JSON on API paths).
pub struct SameOriginForm<T>(pub T);

/// Why a form was refused.
pub struct FormRefused(pub crate::error::StoreError);

impl axum::response::IntoResponse for FormRefused {
    fn into_response(self) -> axum::response::Response {
        crate::http::context::error_response(&self.0)
    }
}

impl<T, S> axum::extract::FromRequest<S> for SameOriginForm<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = FormRefused;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, FormRefused> {
        use crate::error::StoreError;
        let base_url = req.extensions().get::<crate::http::host::TenantCtx>().map(|t| t.base_url.clone());
        match base_url {
            Some(base) if same_origin(req.headers(), &base) => {}
            Some(_) => return Err(FormRefused(StoreError::CrossSiteForm)),
            None => return Err(FormRefused(StoreError::ShopNotFound)),
        }
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| SameOriginForm(v))
            .map_err(|e| FormRefused(StoreError::InvalidForm(e.body_text())))
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
