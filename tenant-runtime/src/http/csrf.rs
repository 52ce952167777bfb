//! CSRF protection for storefront forms: a state-changing form POST must come
//! from the shop's own origin. Browsers send `Origin` on every POST (and
//! `Sec-Fetch-Site`); a cross-site form gets neither right. Storefront pages
//! carry no session cookie, and the language cookie is `SameSite=Lax`.

pub use kapu_web::same_origin;

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
