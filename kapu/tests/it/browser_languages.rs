//! Every dashboard page in one language at a time, checked in a real
//! browser (headless Chromium): signed in with a Chinese browser, then with
//! an English one, each page is screenshotted into `target/screenshots/`
//! and fails the run on horizontal overflow, on form controls that overlap,
//! on text in the other language (labels printed twice), and on raw codes
//! (`succeeded`, `needs_attention`…) where words belong. The buyer's pages
//! are checked the same way on a phone and a desktop. Then the language
//! switch: stored on the account, it outranks what the browser asks for.

use crate::support;

use fantoccini::{Client, Locator};
use serde_json::json;
use support::TestApp;
use support::chromium::{browser_available, click, fill, open_browser, start_driver};
use support::merchant::{Browser, create_product, merchant_with_shop};
use support::sandbox_fields;

/// Codes Kapu stores that must never be shown as they are (any
/// `snake_case` code is caught as well).
const RAW_CODES: &[&str] = &[
    "pending",
    "paid",
    "delivered",
    "expired",
    "refunded",
    "succeeded",
    "failed",
    "queued",
    "running",
    "done",
    "dead",
    "available",
    "reserved",
    "sold",
    "owner",
    "staff",
    "active",
    "trialing",
    "rounded",
    "square",
    "test",
    "live",
    "sandbox",
    "alipay",
    "wechat",
    "epay",
    "epusdt",
    "stripe",
];

/// Words of the English dashboard that a Chinese page must not carry.
const ENGLISH_LABELS: &[&str] =
    &["Overview", "Products", "Orders", "Coupons", "Payments", "Settings", "Log out", "My shops", "Save", "Status"];

/// Overflow, overlapping controls and the visible text of the page.
const MEASURE: &str = r#"
const visible = el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && el.type !== 'hidden' && !el.closest('details:not([open]) > :not(summary)'); };
const controls = Array.from(document.querySelectorAll('main input, main select, main textarea, main button')).filter(visible);
const overlaps = [];
for (let i = 0; i < controls.length; i++) for (let j = i + 1; j < controls.length; j++) {
  const a = controls[i].getBoundingClientRect(), b = controls[j].getBoundingClientRect();
  const w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  if (w > 2 && h > 2) overlaps.push((controls[i].name || controls[i].textContent.trim()) + ' × ' + (controls[j].name || controls[j].textContent.trim()));
}
const leaves = Array.from(document.querySelectorAll('main *, header *')).filter(e => e.children.length === 0 && !e.closest('code, pre, textarea, script, style')).map(e => e.textContent.trim()).filter(t => t);
const labels = Array.from(document.querySelectorAll('main label')).filter(visible);
for (const l of labels) for (const c of controls) {
  if (l.contains(c) || (l.htmlFor && l.htmlFor === c.id)) continue;
  const a = l.getBoundingClientRect(), b = c.getBoundingClientRect();
  const w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  if (w > 2 && h > 2 && !c.contains(l)) overlaps.push('label ' + l.textContent.trim().slice(0, 30) + ' × ' + (c.name || c.textContent.trim()));
}
const clone = document.body.cloneNode(true);
clone.querySelectorAll('code, pre, textarea, script, style, [lang], .user-text, option').forEach(e => e.remove());
return { overflow: document.documentElement.scrollWidth - window.innerWidth, overlaps, text: clone.innerText, leaves };
"#;

struct Found {
    overflow: f64,
    overlaps: Vec<String>,
    text: String,
    /// The text of every element without children (a cell, a label, an option).
    leaves: Vec<String>,
}

async fn measure(c: &Client) -> Found {
    let v = c.execute(MEASURE, vec![]).await.expect("measure");
    Found {
        overflow: v["overflow"].as_f64().expect("overflow"),
        overlaps: v["overlaps"]
            .as_array()
            .expect("overlaps")
            .iter()
            .map(|x| x.as_str().unwrap_or("").to_string())
            .collect(),
        text: v["text"].as_str().unwrap_or("").to_string(),
        leaves: v["leaves"].as_array().expect("leaves").iter().map(|x| x.as_str().unwrap_or("").to_string()).collect(),
    }
}

fn has_han(s: &str) -> Option<&str> {
    s.lines().find(|l| l.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))
}

/// A line with four English words in a row (a sentence left untranslated).
fn english_sentence(s: &str) -> Option<&str> {
    s.lines().find(|l| {
        let mut run = 0;
        for w in l.split_whitespace() {
            let word = w.trim_matches(|c: char| ",.;:()?!'\"".contains(c));
            if word.len() > 1 && word.chars().all(|c| c.is_ascii_alphabetic() || c == '\'') {
                run += 1;
                if run >= 4 {
                    return true;
                }
            } else {
                run = 0;
            }
        }
        false
    })
}

fn whole_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let edge = |c: Option<char>| c.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        edge(before) && edge(after)
    })
}

async fn screenshot(c: &Client, name: &str) {
    let dir = format!("{}/../target/screenshots", env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let png = c.screenshot().await.expect("screenshot");
    // The README's pictures of the dashboard, refreshed when asked for.
    let docs = match name {
        "en-home" => Some("dashboard"),
        "zh-home" => Some("dashboard-zh"),
        _ => None,
    };
    if let Some(doc) = docs
        && std::env::var("KAPU_SCREENSHOT").is_ok_and(|v| v == "1")
    {
        std::fs::write(format!("{}/../docs/{doc}.png", env!("CARGO_MANIFEST_DIR")), &png)
            .expect("write docs screenshot");
    }
    std::fs::write(format!("{dir}/{name}.png"), png).expect("write screenshot");
}

/// Checks the page now open; returns the problems found.
async fn check_page(c: &Client, lang: &str, name: &str) -> Vec<String> {
    c.wait().for_element(Locator::Css("body")).await.expect("page");
    screenshot(c, &format!("{lang}-{name}")).await;
    let f = measure(c).await;
    let mut problems = Vec::new();
    if f.overflow > 1.0 {
        problems.push(format!("{name} ({lang}): {} px wider than the window", f.overflow));
    }
    if !f.overlaps.is_empty() {
        problems.push(format!("{name} ({lang}): overlapping controls {:?}", f.overlaps));
    }
    for leaf in &f.leaves {
        // `needs_attention`, or an event-like `apikey.create`.
        let snake = leaf.contains('_') && leaf.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        let dotted = leaf.split('.').count() == 2
            && leaf.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        let file_name = [".pem", ".html", ".csv", ".json"].iter().any(|x| leaf.ends_with(x));
        let snake = (snake || dotted) && !file_name;
        if snake || RAW_CODES.contains(&leaf.as_str()) {
            problems.push(format!("{name} ({lang}): shows the raw code `{leaf}`"));
        }
    }
    if lang == "en" {
        if let Some(line) = has_han(&f.text) {
            problems.push(format!("{name} (en): Chinese on an English page: {line:?}"));
        }
    } else {
        if let Some(line) = english_sentence(&f.text) {
            problems.push(format!("{name} (zh): an English sentence on a Chinese page: {line:?}"));
        }
        for word in ENGLISH_LABELS {
            if whole_word(&f.text, word) {
                problems.push(format!("{name} (zh): the English label {word:?} on a Chinese page"));
            }
        }
    }
    problems
}

/// What the furnished shop's pages are reached by.
struct Furnished {
    product: String,
    order_no: String,
    /// The buyer's page of the paid order (with its token).
    order_page: String,
    /// The payment page of an unpaid order.
    pay_page: String,
    /// The key import's report page.
    import_page: String,
}

/// A shop with something on every page: a product with keys (and its
/// import report), a paid and an unpaid order, a coupon, an API key and an
/// offer for resale.
async fn furnished_shop(app: &TestApp) -> Furnished {
    let mut b: Browser = merchant_with_shop(app, "langs@example.com", "langs").await;
    let product = create_product(&mut b, "langs", "Game card 50", "10.00").await;
    let import = b
        .import_keys(
            &format!("/shops/langs/products/{product}/keys"),
            "KEY-A\nKEY-B\nKEY-C\nKEY-D\nKEY-A",
            None,
            "newline",
        )
        .await;
    let import_page = import.location.clone().expect("import report");
    assert!(app.eventually(30, || async { app.stock("langs", &product).await >= 4 }).await, "keys imported");
    b.post("/shops/langs/coupons", &[("code", "SAVE10"), ("kind", "percent"), ("value", "10")]).await;
    b.post("/shops/langs/api-keys", &[("name", "restock"), ("scope", "read")]).await;
    b.post(
        &format!("/shops/langs/products/{product}/resale"),
        &[("open", "1"), ("wholesale", "8.00"), ("per_order_cap", "5"), ("audience", "any")],
    )
    .await
    .expect(303);
    let (status, order) =
        app.order("langs", json!({"product_id": product, "quantity": 1, "email": "buyer@example.com"})).await;
    assert_eq!(status, 201, "{order}");
    let order_no = order["order_no"].as_str().expect("no").to_string();
    let tenant = app.tenant_id("langs").await;
    let payment = app.payment_of(&tenant, &order_no).await;
    let fields =
        sandbox_fields(&app.keys_of("langs").await, &payment.id, "paid", payment.amount_minor, &payment.currency);
    assert_eq!(app.notify("langs", &payment.id, &fields).await.0, 200);
    let order_page = format!("/orders/{order_no}?token={}", order["token"].as_str().expect("token"));
    // A referral programme with an affiliate, and a referred order with its commission.
    b.post(
        "/shops/langs/affiliates/terms",
        &[
            ("enabled", "1"),
            ("open_signup", "1"),
            ("rate", "10"),
            ("holding_days", "7"),
            ("window_days", "30"),
            ("clicks_per_address", "20"),
            ("min_payout", "1.00"),
        ],
    )
    .await
    .expect(303);
    b.post("/shops/langs/affiliates", &[("email", "partner@example.com")]).await.expect(303);
    let code = kapu_core::store::affiliates::find_affiliate_by_email_for_tenant(
        app.db.reader(),
        &tenant,
        "partner@example.com",
    )
    .await
    .expect("read")
    .expect("affiliate")
    .code;
    let landed = app.client.get(app.shop_url("langs", &format!("/?ref={code}"))).send().await.expect("click");
    let cookie = landed.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let cookie = cookie.split(';').next().unwrap_or_default().to_string();
    let referred: serde_json::Value = app
        .client
        .post(app.shop_url("langs", "/api/v1/orders"))
        .header("cookie", cookie)
        .json(&json!({"product_id": product, "quantity": 1, "email": "friend@example.com"}))
        .send()
        .await
        .expect("order")
        .json()
        .await
        .expect("json");
    let referred_no = referred["order_no"].as_str().expect("no").to_string();
    let payment = app.payment_of(&tenant, &referred_no).await;
    let fields =
        sandbox_fields(&app.keys_of("langs").await, &payment.id, "paid", payment.amount_minor, &payment.currency);
    assert_eq!(app.notify("langs", &payment.id, &fields).await.0, 200);
    kapu_core::store::affiliates::settle_commissions(app.db.writer(), chrono::Utc::now()).await.expect("settle");
    // A second order left unpaid: its payment page.
    let (status, unpaid) =
        app.order("langs", json!({"product_id": product, "quantity": 2, "email": "later@example.com"})).await;
    assert_eq!(status, 201, "{unpaid}");
    let pay = unpaid["pay_url"].as_str().expect("pay url");
    let pay_path = pay.find("/pay").map_or(pay.to_string(), |i| pay[i..].to_string());
    Furnished { product, order_no, order_page, pay_page: pay_path, import_page }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_and_buyer_page_speaks_one_language_and_lines_up() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn().await;
    let Furnished { product, order_no, order_page, pay_page, import_page } = furnished_shop(&app).await;
    let import_page = import_page.trim_start_matches("/shops/langs").split('?').next().unwrap_or_default().to_string();
    let platform = format!("http://localhost:{}", app.addr.port());
    let shop_pages = [
        ("home", String::new()),
        ("products", "/products".into()),
        ("product", format!("/products/{product}")),
        ("new-product", "/products/new".into()),
        ("keys", format!("/products/{product}/keys")),
        ("import", import_page.clone()),
        ("orders", "/orders".into()),
        ("order", format!("/orders/{order_no}")),
        ("coupons", "/coupons".into()),
        ("supply", "/supply".into()),
        ("resellers", "/supply/resellers".into()),
        ("supply-ledger", "/supply/ledger".into()),
        ("external-suppliers", "/supply/external".into()),
        ("affiliates", "/affiliates".into()),
        ("payments", "/channels".into()),
        ("notifications", "/payments/notifications".into()),
        ("theme", "/theme".into()),
        ("theme-template", "/theme/templates/product.html".into()),
        ("domains", "/domains".into()),
        ("webhooks", "/webhooks".into()),
        ("api-keys", "/api-keys".into()),
        ("plan", "/plan".into()),
        ("settings", "/settings".into()),
        ("team", "/team".into()),
        ("risk", "/risk".into()),
        ("audit", "/audit".into()),
    ];
    let driver = start_driver().await;
    let mut problems = Vec::new();
    for (lang, browser_lang) in [("zh", "zh-CN"), ("en", "en-US")] {
        let c = open_browser(&driver, browser_lang, false).await;
        c.set_window_size(1280, 900).await.expect("size");
        for (name, path) in [("landing", "/"), ("login", "/login"), ("signup", "/signup"), ("forgot", "/forgot")] {
            c.goto(&format!("{platform}{path}")).await.expect("page");
            problems.extend(check_page(&c, lang, name).await);
        }
        c.goto(&format!("{platform}/login")).await.expect("login");
        fill(&c, "input[name=email]", "langs@example.com").await;
        fill(&c, "input[name=password]", "correct horse battery").await;
        click(&c, "form button[type=submit]").await;
        c.wait().for_element(Locator::Css("main")).await.expect("signed in");
        for (name, path) in [("shops", "/shops".to_string()), ("two-factor", "/account/2fa".into())] {
            c.goto(&format!("{platform}{path}")).await.expect("page");
            problems.extend(check_page(&c, lang, name).await);
        }
        for (name, path) in &shop_pages {
            c.goto(&format!("{platform}/shops/langs{path}")).await.expect("page");
            problems.extend(check_page(&c, lang, name).await);
        }
        c.close().await.expect("close");

        // The buyer's pages, on a phone and on a desktop.
        for phone in [true, false] {
            let c = open_browser(&driver, browser_lang, phone).await;
            if !phone {
                c.set_window_size(1280, 900).await.expect("size");
            }
            let device = if phone { "phone" } else { "desktop" };
            let buyer_pages = [
                ("shop-home", "/".to_string()),
                ("shop-product", format!("/products/{product}")),
                ("shop-order", order_page.clone()),
                ("shop-pay", pay_page.clone()),
                ("shop-lookup", "/lookup".into()),
                ("shop-affiliate", "/affiliate".into()),
                ("shop-not-found", "/products/no-such-product".into()),
            ];
            for (name, path) in &buyer_pages {
                c.goto(&app.shop_url("langs", path)).await.expect("buyer page");
                problems.extend(check_page(&c, lang, &format!("{device}-{name}")).await);
            }
            c.close().await.expect("close");
        }
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

#[tokio::test]
async fn the_language_switch_is_stored_on_the_account_and_outranks_the_browser() {
    let app = TestApp::spawn().await;
    let mut b = merchant_with_shop(&app, "switch@example.com", "switch").await;
    // No choice yet: the browser's language.
    let en = b
        .client
        .get(app.platform_url("/shops/switch"))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .expect("get");
    let en = en.text().await.expect("html");
    assert!(en.contains(">Overview<") && !en.contains("概览"), "English from Accept-Language: {en}");
    let zh =
        b.client.get(app.platform_url("/shops/switch")).header("accept-language", "zh-CN").send().await.expect("get");
    let zh = zh.text().await.expect("html");
    assert!(zh.contains(">概览<") && !zh.contains("Overview"), "Chinese from Accept-Language");
    let none = Browser::speaking(&app, "fr").get("/login").await;
    assert!(none.body.contains(">登录<"), "Chinese when the browser asks for neither");
    // A bad choice changes nothing.
    b.post("/language", &[("lang", "fr")]).await.expect(400);
    // Choosing English, from a page: back to that page, and English from now on
    // whatever the browser asks, on this device and any other.
    let token = b.csrf().await;
    let p = b
        .client
        .post(app.platform_url("/language"))
        .header("origin", app.platform_url(""))
        .header("referer", app.platform_url("/shops/switch/orders?status=paid"))
        .form(&[("csrf", token.as_str()), ("lang", "en")])
        .send()
        .await
        .expect("switch");
    assert_eq!(p.status().as_u16(), 303);
    assert_eq!(p.headers()["location"], "/shops/switch/orders?status=paid", "back to the page it was pressed on");
    let page =
        b.client.get(app.platform_url("/shops/switch")).header("accept-language", "zh-CN").send().await.expect("get");
    let page = page.text().await.expect("html");
    assert!(page.contains(">Overview<") && !page.contains("概览"), "the stored choice outranks the browser");
    let account = app.account_lang("switch@example.com").await;
    assert_eq!(account.as_deref(), Some("en"));
    // Errors follow the choice too.
    let missing = b.get("/shops/switch/orders/NOPE").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Page not found") && !missing.body.contains("页面不存在"), "{}", missing.body);
    // Emails to the merchant follow the language too: the verification
    // email went out in the language of the sign-up page, a reset asked for
    // after choosing English is English, and one in Chinese is Chinese.
    let han = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    let mails = |to: &str| support::read_outbox(&app.outbox()).into_iter().filter(|m| m.0 == to).collect::<Vec<_>>();
    let verify = mails("switch@example.com");
    assert!(verify.iter().any(|m| m.1 == "Verify your Kapu email" && !han(&m.2)), "{verify:?}");
    let mut chinese = Browser::speaking(&app, "zh-CN");
    chinese.post("/signup", &[("email", "zh@example.com"), ("password", "correct horse battery")]).await.expect(303);
    assert!(app.eventually(10, || async { !mails("zh@example.com").is_empty() }).await, "verification email");
    let zh_mail = &mails("zh@example.com")[0];
    assert!(
        zh_mail.1 == "验证你的 Kapu 邮箱" && zh_mail.2.contains("48 小时") && !zh_mail.2.contains("Open this link"),
        "{zh_mail:?}"
    );
    Browser::speaking(&app, "zh-CN").post("/forgot", &[("email", "switch@example.com")]).await;
    assert!(
        app.eventually(10, || async { mails("switch@example.com").iter().any(|m| m.1 == "Reset your Kapu password") })
            .await,
        "the stored choice (English) outranks the Chinese page the reset was asked from: {:?}",
        mails("switch@example.com")
    );
    assert!(mails("switch@example.com").iter().all(|m| !han(&m.2)), "no Chinese in the English account's emails");

    // A signed-out visitor's switch lives in a cookie.
    let mut visitor = Browser::speaking(&app, "zh-CN");
    visitor.post("/language", &[("lang", "en")]).await.expect(303);
    let login = visitor.get("/login").await;
    assert!(login.body.contains("Log in") && !login.body.contains("登录"), "{}", login.body);
}
