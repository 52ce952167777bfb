//! A merchant's browser over HTTP: its own cookie jar, the dashboard's CSRF
//! token, and helpers for the dashboard's forms.

use std::sync::Arc;
use std::time::Duration;

use super::{Loopback, TestApp, read_outbox};

pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    csrf: Option<String>,
}

/// Status, `Location` header (if any) and body of a response.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "body: {}", &self.body[..self.body.len().min(3000)]);
        self
    }
}

/// The value of the first `<input name="csrf" value="…">` in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")?;
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self::speaking(app, "en")
    }

    /// A merchant's browser whose `Accept-Language` is `lang`: the dashboard
    /// answers in that language (tests read its English unless they say).
    pub fn speaking(app: &TestApp, lang: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers
            .insert(reqwest::header::ACCEPT_LANGUAGE, reqwest::header::HeaderValue::from_str(lang).expect("language"));
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .cookie_store(true)
            .dns_resolver(Arc::new(Loopback))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        Self { client, base: app.platform_url(""), csrf: None }
    }

    async fn page(resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
        Page { status, location, body: resp.text().await.unwrap_or_default() }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::page(self.client.get(format!("{}{path}", self.base)).send().await.expect("get")).await
    }

    /// The CSRF token of this browser (read once from a page).
    pub async fn csrf(&mut self) -> String {
        if let Some(t) = &self.csrf {
            return t.clone();
        }
        let page = self.get("/login").await;
        let t = csrf_in(&page.body).expect("csrf field on /login");
        self.csrf = Some(t.clone());
        t
    }

    /// Posts a form as the dashboard's own page would (same Origin, CSRF token added).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf().await;
        let mut form: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
        form.extend_from_slice(fields);
        self.post_raw(path, &form, Some(&self.base.clone())).await
    }

    /// Posts exactly these fields with this `Origin` (or none).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)], origin: Option<&str>) -> Page {
        let mut req = self.client.post(format!("{}{path}", self.base)).form(fields);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        Self::page(req.send().await.expect("post")).await
    }

    /// Posts a multipart key import: pasted `text` and/or a file body.
    pub async fn import_keys(
        &mut self,
        path: &str,
        text: &str,
        file: Option<(&str, Vec<u8>)>,
        delimiter: &str,
    ) -> Page {
        let token = self.csrf().await;
        let mut form = reqwest::multipart::Form::new()
            .text("csrf", token)
            .text("text", text.to_string())
            .text("delimiter", delimiter.to_string());
        if let Some((name, bytes)) = file {
            form = form.part("file", reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()));
        }
        let req = self.client.post(format!("{}{path}", self.base)).header("origin", &self.base).multipart(form);
        Self::page(req.send().await.expect("import")).await
    }
}

impl Browser {
    /// Posts a multipart form with one file field.
    pub async fn upload(&mut self, path: &str, field: &str, name: &str, bytes: Vec<u8>) -> Page {
        let token = self.csrf().await;
        let form = reqwest::multipart::Form::new()
            .text("csrf", token)
            .part(field.to_string(), reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()));
        let req = self.client.post(format!("{}{path}", self.base)).header("origin", &self.base).multipart(form);
        Self::page(req.send().await.expect("upload")).await
    }
}

/// A link in the outbox for `to` whose path is `path` (`/verify`, `/reset`).
pub fn link_in_outbox(app: &TestApp, to: &str, path: &str) -> Option<String> {
    let needle = format!("{path}?token=");
    read_outbox(&app.outbox())
        .into_iter()
        .filter(|(addr, _, _)| addr == to)
        .filter_map(|(_, _, body)| {
            let at = body.find(&needle)?;
            let start = body[..at].rfind("http")?;
            let end = body[start..].find(char::is_whitespace).map(|e| start + e).unwrap_or(body.len());
            Some(body[start..end].to_string())
        })
        .next_back()
}

/// Signs up `email`, opens the verification link, and returns the signed-in browser.
pub async fn verified_merchant(app: &TestApp, email: &str) -> Browser {
    let mut b = Browser::new(app);
    let p = b.post("/signup", &[("email", email), ("password", "correct horse battery")]).await;
    assert_eq!(p.status, 303, "signup: {}", p.body);
    let mut link = None;
    assert!(
        app.eventually(10, || {
            let l = link_in_outbox(app, email, "/verify");
            let found = l.is_some();
            link = l;
            async move { found }
        })
        .await,
        "verification email for {email}"
    );
    let link = link.expect("link");
    let r = b.client.get(&link).send().await.expect("verify");
    assert_eq!(r.status().as_u16(), 303, "verify link {link}");
    b
}

/// A verified merchant with a new shop `slug`, opened to everyone while in
/// test mode (as a merchant may choose on the settings page), so tests can
/// buy on it without a preview link.
pub async fn merchant_with_shop(app: &TestApp, email: &str, slug: &str) -> Browser {
    let mut b = verified_merchant(app, email).await;
    b.post("/shops", &[("name", &format!("Shop {slug}")), ("slug", slug)]).await.expect(303);
    app.open_to_everyone(slug).await;
    b
}

/// Makes an API key on the dashboard; returns the secret as the page shows it once.
pub async fn make_api_key(b: &mut Browser, slug: &str, name: &str, scope: &str) -> String {
    let p = b.post(&format!("/shops/{slug}/api-keys"), &[("name", name), ("scope", scope)]).await;
    p.expect(200);
    let at = p.body.find("id=\"api-key-secret\">").expect("key shown") + "id=\"api-key-secret\">".len();
    let secret = p.body[at..at + p.body[at..].find('<').expect("end")].to_string();
    assert!(secret.starts_with("kapu_sk_"), "{secret}");
    secret
}

/// Creates a product through the dashboard; returns its id.
pub async fn create_product(b: &mut Browser, slug: &str, name: &str, price: &str) -> String {
    let p = b
        .post(
            &format!("/shops/{slug}/products/new"),
            &[
                ("name", name),
                ("price", price),
                ("min_qty", "1"),
                ("max_qty", "10"),
                ("sort_order", "0"),
                ("low_stock_threshold", "5"),
                ("visible", "1"),
            ],
        )
        .await;
    p.expect(303);
    let loc = p.location.clone().expect("location");
    // /shops/{slug}/products/{id}/keys?m=product_created
    loc.split('/').nth(4).expect("product id in location").to_string()
}
