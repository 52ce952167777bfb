//! The dashboard's one error type. Every variant renders as a page that
//! says precisely what went wrong, in Chinese and English; internal details
//! are logged, never shown.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kapu_admin_ui::AdminUi;
use minijinja::context;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Not signed in: go to the login page, then come back.
    #[error("login required")]
    LoginRequired { next: String },
    /// No such page, or a shop the account is not a member of (the same answer, on purpose).
    #[error("not found")]
    NotFound,
    /// A member without the role the action needs.
    #[error("owner only")]
    OwnerOnly,
    #[error("email not verified")]
    EmailNotVerified,
    /// The CSRF token or the origin did not match.
    #[error("form refused")]
    FormRefused,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("too many attempts; retry in {0} s")]
    Throttled(u64),
    /// A backing service (the session store) is unreachable.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<kapu_admin_ui::RenderError> for PageError {
    fn from(e: kapu_admin_ui::RenderError) -> Self {
        PageError::Internal(e.to_string())
    }
}

impl From<kapu_core::store::card_keys::KeyReadError> for PageError {
    fn from(e: kapu_core::store::card_keys::KeyReadError) -> Self {
        PageError::Internal(e.to_string())
    }
}

impl PageError {
    fn status(&self) -> StatusCode {
        match self {
            PageError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::OwnerOnly | PageError::EmailNotVerified | PageError::FormRefused => StatusCode::FORBIDDEN,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            PageError::Db(e) if kapu_core::db::is_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Db(_) | PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn text(&self) -> (String, String) {
        let (h, m): (&str, String) = match self {
            PageError::LoginRequired { .. } => ("请先登录 Log in first", String::new()),
            PageError::NotFound => (
                "页面不存在 Page not found",
                "没有这个页面，或者你无权访问这家店铺。There is no such page, or it belongs to a shop you are not a member of.".into(),
            ),
            PageError::OwnerOnly => (
                "仅店主可操作 Owner only",
                "这个操作只有店主可以执行。Only the shop's owner can do this.".into(),
            ),
            PageError::EmailNotVerified => (
                "请先验证邮箱 Verify your email",
                "打开我们发到你邮箱的验证链接后再试。Open the verification link we emailed you, then try again.".into(),
            ),
            PageError::FormRefused => (
                "表单已过期 Form expired",
                "这个表单已失效或来自其他网站。请返回、刷新页面后重试。This form expired or came from another site; go back, reload the page and try again.".into(),
            ),
            PageError::BadRequest(msg) => ("请求无效 Invalid request", msg.clone()),
            PageError::Throttled(secs) => (
                "尝试次数过多 Too many attempts",
                format!("请 {secs} 秒后再试。Try again in {secs} seconds."),
            ),
            PageError::Unavailable(_) => (
                "服务暂时不可用 Temporarily unavailable",
                "登录服务暂时不可用，请稍后重试。Signing in is briefly unavailable; try again shortly.".into(),
            ),
            PageError::Db(e) if kapu_core::db::is_unavailable(e) => (
                "服务暂时不可用 Temporarily unavailable",
                "数据库暂时不可用，请稍后重试。The database is unavailable; try again shortly.".into(),
            ),
            PageError::Db(_) | PageError::Internal(_) => (
                "出错了 Something went wrong",
                "服务器内部错误，我们已记录。请稍后重试。An internal error was logged; please try again.".into(),
            ),
        };
        (h.to_string(), m)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let PageError::LoginRequired { next } = &self {
            let target = if next.is_empty() || next == "/" {
                "/login".to_string()
            } else {
                format!("/login?{}", serde_urlencoded::to_string([("next", next)]).unwrap_or_default())
            };
            return Redirect::to(&target).into_response();
        }
        match &self {
            PageError::Db(e) => tracing::error!(error = %e, "dashboard database error"),
            PageError::Internal(e) => tracing::error!(error = %e, "dashboard internal error"),
            PageError::Unavailable(e) => tracing::warn!(error = %e, "dashboard dependency unavailable"),
            _ => {}
        }
        let status = self.status();
        let (heading, message) = self.text();
        let link = context! { href => "/shops", label => "返回我的店铺 Back to my shops" };
        let html = AdminUi::shared()
            .render("message.html", context! { heading, message, link, title => "Kapu" })
            .unwrap_or_else(|_| "error".into());
        let mut resp = (status, Html(html)).into_response();
        if let PageError::Throttled(secs) = self
            && let Ok(v) = secs.to_string().parse()
        {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}

pub type PageResult<T> = Result<T, PageError>;
