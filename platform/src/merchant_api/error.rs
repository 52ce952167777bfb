//! The merchant API's one error shape, the same as the storefront API's:
//! `{"error":{"code","message","details"?}}` with a stable `code` to branch
//! on and a message in Chinese and English to show people.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// One entry per problem, when a request had several.
    pub details: Vec<String>,
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Vec::new(), retry_after: None }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "缺少或无效的 API 密钥：请在请求头中发送 Authorization: Bearer kapu_sk_…。Missing or invalid API key: send Authorization: Bearer kapu_sk_….",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("没有找到该{what}。No such {what} in this shop."))
    }

    /// Every problem with the request's fields, each named.
    pub fn invalid(details: Vec<String>) -> Self {
        let message = details.first().cloned().unwrap_or_else(|| "请求无效。The request is invalid.".into());
        Self { details, ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message) }
    }

    pub fn bad_json(e: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("请求体不是有效的 JSON。The body is not valid JSON: {e}"),
        )
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "merchant API request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "服务器出错，请稍后重试。Internal error; retry later.")
    }

    /// The body this error is sent with.
    pub fn body(&self) -> serde_json::Value {
        let mut err = json!({ "code": self.code, "message": self.message });
        if !self.details.is_empty() {
            err["details"] = json!(self.details);
        }
        json!({ "error": err })
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        if kapu_core::db::is_unavailable(&e) {
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "数据库暂时不可用，请稍后重试。The database is unavailable; retry shortly.",
            );
        }
        Self::internal(e)
    }
}

impl From<crate::error::PageError> for ApiError {
    fn from(e: crate::error::PageError) -> Self {
        match e {
            crate::error::PageError::Db(e) => e.into(),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"kapu\""));
        }
        resp
    }
}

/// A query string read into `T`, or 422 `invalid_query` in the API's JSON
/// error form (axum's own rejection is a plain-text 400 outside the
/// documented contract).
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query).map(ApiQuery).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_query",
                format!("查询参数无效：{e}。The query string is not valid: {e}."),
            )
        })
    }
}
