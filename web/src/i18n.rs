//! The language a page is written in: zh-CN or en. Buyers get theirs from a
//! `kapu_lang` cookie or `Accept-Language`; merchants the same, unless their
//! account stores a choice. Both planes share this one type and the one
//! request-scoped current language (a cell, so the dashboard can switch to
//! the account's choice once it knows who is signed in).

use std::cell::Cell;

use http::HeaderMap;
use http::header::{ACCEPT_LANGUAGE, COOKIE};

/// A language Kapu is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Lang {
    Zh,
    En,
}

tokio::task_local! {
    /// The language of the request being served (set by each plane's request middleware).
    static CURRENT: Cell<Lang>;
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
        CURRENT.try_with(|l| l.get()).unwrap_or(fallback)
    }

    /// The request's language; none outside a request.
    pub fn try_current() -> Option<Lang> {
        CURRENT.try_with(|l| l.get()).ok()
    }

    /// The request's language, Chinese outside a request.
    pub fn current() -> Lang {
        Lang::current_or(Lang::Zh)
    }

    /// Runs `fut` with `self` as the current language.
    pub async fn scope<F: std::future::Future>(self, fut: F) -> F::Output {
        CURRENT.scope(Cell::new(self), fut).await
    }

    /// Changes the current language for the rest of the request (no-op outside one).
    pub fn make_current(self) {
        let _ = CURRENT.try_with(|l| l.set(self));
    }

    /// One side of a text written as Chinese then English (`已保存。Saved.`,
    /// `商品 Products`): the split falls after the last Chinese character or
    /// full-width mark, when English follows it. A text that does not have
    /// that shape is returned whole. Only for texts Kapu writes itself:
    /// merchants' and buyers' own words are never passed through it.
    pub fn pick_bilingual(self, text: &str) -> &str {
        match split_bilingual(text) {
            Some((zh, en)) => self.pick(zh, en),
            None => text,
        }
    }

    /// `zh` or `en`, as templates compare it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// A stored or submitted choice: `zh`, `zh-CN` or `en`; anything else is no choice.
    pub fn parse_choice(s: &str) -> Option<Lang> {
        match s {
            "en" => Some(Lang::En),
            "zh" | "zh-CN" => Some(Lang::Zh),
            _ => None,
        }
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

/// A handler's language: the one the request middleware chose (stored in
/// the request's extensions), else the current one.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Lang>().copied().unwrap_or_else(|| Lang::current_or(Lang::Zh)))
    }
}

fn is_chinese(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303f}' | '\u{3400}'..='\u{9fff}' | '\u{ff00}'..='\u{ffef}')
}

/// Whether a text has Chinese characters in it.
pub fn has_chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{3400}'..='\u{9fff}').contains(&c))
}

/// Both sides of a name Kapu or an operator wrote in both languages
/// (`免费版 Free`); a name in one language is both sides.
pub fn sides(text: &str) -> (&str, &str) {
    split_bilingual(text).unwrap_or((text, text))
}

/// Whether a template renders in English: its `lang` variable (`en…`).
pub fn english_page(lang: Option<&str>) -> bool {
    lang.is_some_and(|l| l.starts_with("en"))
}

/// `(zh, en)` of a text written as Chinese then English, if it is one.
pub fn split_bilingual(text: &str) -> Option<(&str, &str)> {
    let (at, c) = text.char_indices().rfind(|(_, c)| is_chinese(*c))?;
    let cut = at + c.len_utf8();
    let zh = text[..cut].trim();
    let en = text[cut..].trim_start_matches([' ', '·']).trim();
    let starts_english = en.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || "\"“‘(<$¥€£#".contains(c));
    (!zh.is_empty() && starts_english).then_some((zh, en))
}

fn cookie_lang(headers: &HeaderMap) -> Option<Lang> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| Lang::parse_choice(c.trim().strip_prefix("kapu_lang=")?))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

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
    fn splits_texts_written_in_both_languages() {
        assert_eq!(split_bilingual("已保存。Saved."), Some(("已保存。", "Saved.")));
        assert_eq!(split_bilingual("商品 Products"), Some(("商品", "Products")));
        assert_eq!(
            split_bilingual("请 5 秒后再试。Try again in 5 seconds."),
            Some(("请 5 秒后再试。", "Try again in 5 seconds."))
        );
        assert_eq!(
            split_bilingual("第 3 行：“abc” 不是有效的价格 Line 3: “abc” is not a valid price"),
            Some(("第 3 行：“abc” 不是有效的价格", "Line 3: “abc” is not a valid price"))
        );
        assert_eq!(split_bilingual("店铺已关闭 · The shop is closed"), Some(("店铺已关闭", "The shop is closed")));
        assert_eq!(split_bilingual("Steam"), None);
        assert_eq!(split_bilingual("只有中文"), None);
        assert_eq!(Lang::En.pick_bilingual("只有中文"), "只有中文");
        assert_eq!(Lang::En.pick_bilingual("主色 Accent colour"), "Accent colour");
        assert_eq!(Lang::Zh.pick_bilingual("主色 Accent colour"), "主色");
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
