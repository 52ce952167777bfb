//! The buyer's language: zh-CN or en, from a `kapu_lang` cookie or `Accept-Language`.

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT_LANGUAGE, COOKIE};

/// A language buyers can read Kapu in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Lang {
    Zh,
    En,
}

tokio::task_local! {
    /// The language of the request being served (set by the request-context middleware).
    pub static CURRENT: Lang;
}

impl Lang {
    /// BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// Parses a stored tag; anything unknown is Chinese, Kapu's home market.
    pub fn from_tag(tag: &str) -> Lang {
        if tag.to_ascii_lowercase().starts_with("en") { Lang::En } else { Lang::Zh }
    }

    /// The language of the request being served, or `fallback` outside a request.
    pub fn current_or(fallback: Lang) -> Lang {
        CURRENT.try_with(|l| *l).unwrap_or(fallback)
    }

    /// Picks one text.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The language a request asks for: the `kapu_lang` cookie, else the best
    /// of `Accept-Language` we speak, else `default`.
    pub fn negotiate(headers: &HeaderMap, default: Lang) -> Lang {
        if let Some(l) = cookie_lang(headers) {
            return l;
        }
        let Some(accept) = headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()) else {
            return default;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            let lang = if tag.starts_with("zh") {
                Lang::Zh
            } else if tag.starts_with("en") {
                Lang::En
            } else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(default)
    }
}

fn cookie_lang(headers: &HeaderMap) -> Option<Lang> {
    headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        match c.trim().strip_prefix("kapu_lang=")? {
            "en" => Some(Lang::En),
            "zh-CN" | "zh" => Some(Lang::Zh),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn h(accept: &str, cookie: Option<&str>) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(ACCEPT_LANGUAGE, HeaderValue::from_str(accept).expect("header"));
        if let Some(c) = cookie {
            m.insert(COOKIE, HeaderValue::from_str(c).expect("header"));
        }
        m
    }

    #[test]
    fn negotiates() {
        assert_eq!(Lang::negotiate(&h("en-US,en;q=0.9", None), Lang::Zh), Lang::En);
        assert_eq!(Lang::negotiate(&h("zh-CN,zh;q=0.9,en;q=0.8", None), Lang::En), Lang::Zh);
        assert_eq!(Lang::negotiate(&h("fr-FR, en;q=0.5", None), Lang::Zh), Lang::En);
        assert_eq!(Lang::negotiate(&h("fr-FR", None), Lang::Zh), Lang::Zh);
        assert_eq!(Lang::negotiate(&h("en;q=0.2, zh;q=0.8", None), Lang::En), Lang::Zh);
        assert_eq!(Lang::negotiate(&h("zh-CN", Some("a=b; kapu_lang=en")), Lang::Zh), Lang::En);
    }
}
