//! The dashboard's language: one at a time, never both. A page is written in
//! the merchant's stored choice, else the `kapu_lang` cookie (what a
//! signed-out visitor picked), else the best of `Accept-Language` we speak,
//! else Chinese. `POST /language` switches: it stores the choice on the
//! account when someone is signed in and in the cookie either way.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::{REFERER, SET_COOKIE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::store::accounts::set_language_of_account;
pub use kapu_web::i18n::Lang;

use crate::auth::csrf::VerifiedForm;
use crate::auth::session::CurrentAccount;
use crate::error::{PageError, PageResult};
use crate::state::PlatformState;

/// The text in the request's language.
pub fn tr<'a>(zh: &'a str, en: &'a str) -> &'a str {
    Lang::current().pick(zh, en)
}

/// One side of a text Kapu writes in both languages (`已保存。Saved.`), in
/// the request's language; see `kapu_web::i18n::split_bilingual`.
pub fn bi(text: &str) -> &str {
    Lang::current().pick_bilingual(text)
}

/// The text in the request's language, for texts built with `format!`.
pub fn trs(zh: String, en: String) -> String {
    either_or_both(Some(Lang::current()), zh, en, "")
}

/// The English noun for `n` things: `1 order`, `2 orders`.
pub fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// An email's text for a merchant: in their language when it is known,
/// else both (Chinese first), since a job has no browser to ask.
pub fn for_reader(lang: Option<Lang>, zh: String, en: String) -> String {
    either_or_both(lang, zh, en, "\n\n")
}

/// An email subject for a merchant, as `for_reader` (both joined by ` / `).
pub fn subject_for(lang: Option<Lang>, zh: String, en: String) -> String {
    either_or_both(lang, zh, en, " / ")
}

fn either_or_both(lang: Option<Lang>, zh: String, en: String, joint: &str) -> String {
    match lang {
        Some(Lang::Zh) => zh,
        Some(Lang::En) => en,
        None => format!("{zh}{joint}{en}"),
    }
}

/// Middleware: serves the request in the language the browser asks for; the
/// account extractor switches to the merchant's stored choice once known.
pub async fn request_language(req: Request, next: Next) -> Response {
    let lang = Lang::negotiate(req.headers(), Lang::Zh);
    lang.scope(next.run(req)).await
}

#[derive(serde::Deserialize)]
pub struct LanguageForm {
    lang: String,
}

/// `POST /language`: switch the dashboard's language.
pub async fn switch_language(
    State(state): State<PlatformState>,
    CurrentAccount(account): CurrentAccount,
    headers: HeaderMap,
    VerifiedForm(form): VerifiedForm<LanguageForm>,
) -> PageResult<Response> {
    let lang = Lang::parse_choice(&form.lang)
        .ok_or_else(|| PageError::BadRequest(tr("只能选择中文或 English。", "Choose 中文 or English.").into()))?;
    if let Some(a) = &account {
        set_language_of_account(state.db.writer(), &a.id, Some(lang.code())).await?;
    }
    let secure = if state.secure_cookies() { "; Secure" } else { "" };
    let cookie = format!("kapu_lang={}; Path=/; SameSite=Lax; Max-Age=31536000{secure}", lang.code());
    Ok(([(SET_COOKIE, cookie)], Redirect::to(&return_path(&headers))).into_response())
}

/// Back to the page the switch was pressed on: the path of the `Referer`
/// (sent by browsers to the same origin only, under our referrer policy).
fn return_path(headers: &HeaderMap) -> String {
    let referer = headers.get(REFERER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let path = match referer.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => referer,
    };
    safe_return_path(path)
}

/// Only a path on this host (`/…`, not `//…` nor `/\…`); anything else goes home.
fn safe_return_path(back: &str) -> String {
    let ok =
        back.starts_with('/') && !back.starts_with("//") && !back.starts_with("/\\") && !back.contains(['\r', '\n']);
    if ok { back.to_string() } else { "/".to_string() }
}

#[cfg(test)]
mod tests {
    use kapu_billing::channels::KINDS;
    use kapu_billing::forms::{FieldKind, fields_of, label_of};
    use kapu_web::i18n::split_bilingual;

    use super::*;

    /// A text Kapu writes in both languages splits into a Chinese side and
    /// an English side with no Chinese in it; one with no Chinese at all is
    /// the same in both.
    fn assert_splits(text: &str) {
        let han = kapu_web::i18n::has_chinese;
        if !han(text) {
            return;
        }
        let (zh, en) =
            split_bilingual(text).unwrap_or_else(|| panic!("{text:?} does not split into Chinese and English"));
        assert!(
            han(zh) && !han(en) && en.chars().any(|c| c.is_ascii_alphabetic()),
            "{text:?} splits into {zh:?} / {en:?}"
        );
    }

    #[test]
    fn every_payment_form_text_splits_into_its_two_languages() {
        for kind in KINDS.iter().chain(["sandbox"].iter()) {
            assert_splits(label_of(kind));
            for f in fields_of(kind) {
                assert_splits(f.label);
                assert_splits(f.help);
                if let FieldKind::Select(options) = f.kind {
                    options.iter().for_each(|(_, label)| assert_splits(label));
                }
            }
        }
    }

    #[test]
    fn return_paths_stay_on_this_host() {
        assert_eq!(safe_return_path("/shops/a/orders?status=paid"), "/shops/a/orders?status=paid");
        assert_eq!(safe_return_path("//evil.example/x"), "/");
        assert_eq!(safe_return_path("/\\evil.example"), "/");
        assert_eq!(safe_return_path("https://evil.example/"), "/");
        assert_eq!(safe_return_path(""), "/");
    }
}
