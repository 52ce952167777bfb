//! A notice at the top of an HTML page already rendered: the storefront's
//! "ordering paused" and status notices, the dashboard's status banner.

use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::Response;

/// `resp` with a notice at the top of the page (element id `id`, the
/// HTML-escaped `message`, and a link when `link` is given), and its buy
/// buttons disabled when `disable_buying`; only successful HTML pages change.
pub async fn with_notice(resp: Response, id: &str, message: &str, disable_buying: bool) -> Response {
    with_linked_notice(resp, id, message, None, disable_buying).await
}

/// [`with_notice`] with a link (`(href, text)`) after the message.
pub async fn with_linked_notice(
    resp: Response,
    id: &str,
    message: &str,
    link: Option<(&str, &str)>,
    disable_buying: bool,
) -> Response {
    let html =
        resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html"));
    if !html || !resp.status().is_success() {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // Our own rendered page: no size limit to fail on.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let page = String::from_utf8_lossy(&bytes);
    let disable = if disable_buying {
        "<style>form[action$=\"/checkout\"] button{opacity:.45;pointer-events:none}</style>"
    } else {
        ""
    };
    let link = link.map_or(String::new(), |(href, text)| format!(" <a href=\"{}\">{}</a>", escape(href), escape(text)));
    let notice = format!(
        "<div id=\"{}\" role=\"alert\" style=\"padding:.75em 1em;background:#fff4e5;color:#7a4100;\
         border-bottom:1px solid #f0c36d;text-align:center\">{}{link}</div>{disable}",
        escape(id),
        escape(message)
    );
    let page = match page.find("<body").and_then(|at| page[at..].find('>').map(|end| at + end + 1)) {
        Some(after_body) => format!("{}{notice}{}", &page[..after_body], &page[after_body..]),
        None => format!("{notice}{page}"),
    };
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(page))
}

/// Text made safe inside HTML elements and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_is_escaped() {
        assert_eq!(super::escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
