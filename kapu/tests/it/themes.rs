//! A merchant restyles the shop from the dashboard: picks the Grid theme,
//! changes its settings, adds custom CSS, and edits a template; the
//! storefront (real HTTP) changes at once. Overrides are checked before
//! saving (error with its line), previewed in a sandboxed page, and fall
//! back to the theme's template when they fail on real data, with the
//! error shown to the merchant.

use crate::support;

use support::TestApp;
use support::merchant::{Browser, merchant_with_shop};

struct Shop {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn storefront(app: &TestApp, slug: &str, path: &str) -> Shop {
    let r = app.client.get(app.shop_url(slug, path)).header("accept-language", "en").send().await.expect("get");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    Shop { status, headers, body: r.text().await.expect("body") }
}

fn link_of(html: &str, prefix: &str) -> String {
    let at = html.find(prefix).unwrap_or_else(|| panic!("{prefix} in {html}"));
    html[at..at + html[at..].find('"').expect("end")].to_string()
}

async fn theme_version(app: &TestApp, tenant: &str) -> Option<i32> {
    kapu_core::store::shop_themes::find_look_for_tenant(app.db.reader(), tenant).await.expect("look").map(|l| l.version)
}

#[tokio::test]
async fn a_merchant_switches_to_grid_and_changes_its_settings_and_css() {
    let app = TestApp::spawn().await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "styled").await;
    let tenant = app.tenant_id("styled").await;
    app.add_product(&tenant, "Steam <50>", 5000, 4).await;

    let home = storefront(&app, "styled", "/").await;
    assert!(home.body.contains("class=\"products\"") && !home.body.contains("class=\"tiles"), "classic first");
    assert!(home.body.contains("In stock: 4"));
    assert!(!home.body.contains("/shop.css"), "no shop stylesheet before any change");

    // The launch checklist: a theme is a step still to take…
    let theme_step = |body: &str| {
        let at = body.find("theme\">Choose a theme").expect("the theme step links to the theme page");
        body[..at].rsplit("<li class=\"").next().map(|c| c.starts_with("done")).expect("step")
    };
    assert!(!theme_step(&b.get("/shops/styled").await.body));
    let page = b.get("/shops/styled/theme").await;
    page.expect(200);
    assert!(page.body.contains("value=\"grid\"") && page.body.contains("/assets/previews/grid."));
    let preview = link_of(&page.body, "/assets/previews/grid.");
    let img = app.client.get(app.platform_url(&preview)).send().await.expect("preview");
    assert_eq!(img.headers()["content-type"], "image/svg+xml");

    b.post("/shops/styled/theme", &[("theme", "grid"), ("custom_css", "")]).await.expect(303);
    assert!(theme_step(&b.get("/shops/styled").await.body), "…ticked once a theme is saved");
    let home = storefront(&app, "styled", "/").await;
    assert!(home.body.contains("class=\"tiles cols-3\"") && home.body.contains("class=\"bar\""), "grid at once");
    assert!(home.body.contains("Steam &lt;50&gt;"), "escaped");
    let css = link_of(&home.body, "/assets/grid.");
    let asset = storefront(&app, "styled", &css).await;
    assert_eq!(asset.status, 200);
    assert!(asset.headers["cache-control"].to_str().expect("cc").contains("immutable"));
    assert!(asset.body.contains(".tiles"));

    // Settings: four per row, square corners, no stock counts, an accent colour; custom CSS.
    let saved = b
        .post(
            "/shops/styled/theme",
            &[
                ("theme", "grid"),
                ("setting.accent", "#112233"),
                ("setting.columns", "4"),
                ("setting.corners", "square"),
                ("custom_css", ".tile .t-name{letter-spacing:.02em}"),
            ],
        )
        .await;
    saved.expect(303);
    let home = storefront(&app, "styled", "/").await;
    assert!(home.body.contains("tiles cols-4") && home.body.contains("corners-square"), "settings applied");
    assert!(!home.body.contains("In stock: 4"), "stock hidden");
    let shop_css = link_of(&home.body, "/shop.css?v=").replace("&amp;", "&");
    let css = storefront(&app, "styled", &shop_css).await;
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert!(css.headers["cache-control"].to_str().expect("cc").contains("immutable"));
    assert!(css.body.contains("--accent:#112233;") && css.body.contains("letter-spacing:.02em"), "{}", css.body);
    // An old version's URL is not cached for long.
    let stale = storefront(&app, "styled", "/shop.css?v=1").await;
    assert_eq!(stale.headers["cache-control"], "no-cache");

    // Bad input: every problem named, nothing saved.
    let before = theme_version(&app, &tenant).await;
    let bad = b
        .post(
            "/shops/styled/theme",
            &[
                ("theme", "grid"),
                ("setting.accent", "red;}body{display:none"),
                ("setting.columns", "9"),
                ("setting.corners", "square"),
                ("custom_css", "@import url(https://evil.example/x.css);"),
            ],
        )
        .await;
    bad.expect(422);
    assert!(
        bad.body.contains("#2563eb") && bad.body.contains("2, 3, 4") && bad.body.contains("@import"),
        "{}",
        bad.body
    );
    b.post("/shops/styled/theme", &[("theme", "neon")]).await.expect(422);
    assert_eq!(theme_version(&app, &tenant).await, before);
    assert!(storefront(&app, "styled", "/").await.body.contains("tiles cols-4"));

    // Back to Classic: its own defaults.
    b.post("/shops/styled/theme", &[("theme", "classic")]).await.expect(303);
    let home = storefront(&app, "styled", "/").await;
    assert!(home.body.contains("class=\"products\"") && home.body.contains("In stock: 4"));

    let audit = app.audit_of(Some(&tenant)).await;
    assert_eq!(audit.iter().filter(|e| e.action == "theme.update").count(), 3);
    // Staff may not restyle the shop.
    support::merchant::verified_merchant(&app, "staff@example.com").await;
    b.post("/shops/styled/team", &[("email", "staff@example.com")]).await.expect(303);
    let mut staff = Browser::new(&app);
    staff.post("/login", &[("email", "staff@example.com"), ("password", "correct horse battery")]).await.expect(303);
    staff.get("/shops/styled/theme").await.expect(403);
    app.stop().await;
}

#[tokio::test]
async fn template_overrides_are_checked_previewed_and_fall_back_when_they_fail() {
    let app = TestApp::spawn().await;
    let mut b = merchant_with_shop(&app, "owner@example.com", "custom").await;
    let tenant = app.tenant_id("custom").await;
    app.add_product(&tenant, "Ordinary card", 1000, 3).await;

    let editor = b.get("/shops/custom/theme/templates/home.html").await;
    editor.expect(200);
    assert!(editor.body.contains("{% extends &quot;base.html&quot; %}"), "the theme's source to start from");
    b.get("/shops/custom/theme/templates/secrets.html").await.expect(404);

    // A syntax error is refused with its line; the shop is untouched.
    let broken = "{% extends \"base.html\" %}\n{% block main %}\n{% if %}\n{% endblock %}";
    let refused = b.post("/shops/custom/theme/templates/home.html", &[("action", "save"), ("source", broken)]).await;
    refused.expect(422);
    assert!(refused.body.contains("line 3"), "{}", refused.body);
    assert_eq!(theme_version(&app, &tenant).await, None);
    // Escapes and runaways are refused before they reach buyers.
    for src in [
        "{% include \"/etc/passwd\" %}",
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    ] {
        b.post("/shops/custom/theme/templates/home.html", &[("action", "save"), ("source", src)]).await.expect(422);
    }
    assert_eq!(theme_version(&app, &tenant).await, None);

    // Preview: the sample shop rendered with the edit, in a sandboxed page.
    let mine = "{% extends \"base.html\" %}{% block main %}<h1 id=\"mine\">{{ shop.name }} · {{ categories|length }}</h1>{% endblock %}";
    let preview = b
        .client
        .post(format!("{}/shops/custom/theme/templates/home.html", b.base))
        .header("origin", &b.base)
        .form(&[("csrf", b.csrf().await.as_str()), ("action", "preview"), ("source", mine)])
        .send()
        .await
        .expect("preview");
    assert_eq!(preview.status().as_u16(), 200);
    let csp = preview.headers()["content-security-policy"].to_str().expect("csp").to_string();
    assert!(csp.starts_with("sandbox") && csp.contains("default-src 'none'"), "{csp}");
    let html = preview.text().await.expect("html");
    assert!(html.contains("<h1 id=\"mine\">Sample &lt;Shop&gt; · 2</h1>"), "{html}");
    assert_eq!(theme_version(&app, &tenant).await, None, "a preview saves nothing");

    // Saved: the storefront uses it, escaped, with the shop's real data.
    app.set_tenant("custom", kapu_core::entities::tenants::Column::Name, "Bob's <Keys>").await;
    b.post("/shops/custom/theme/templates/home.html", &[("action", "save"), ("source", mine)]).await.expect(303);
    let home = storefront(&app, "custom", "/").await;
    assert!(home.body.contains("<h1 id=\"mine\">Bob&#x27;s &lt;Keys&gt; · 1</h1>"), "{}", home.body);
    let list = b.get("/shops/custom/theme").await;
    assert!(
        list.body
            .contains("data-template=\"home.html\"><td><code>home.html</code></td><td><span class=\"status pending\">")
    );

    // An override that passes the sample shop but runs away on real data
    // (a product priced 7.77): buyers get the theme's page, the merchant the error.
    let trap = "{% extends \"base.html\" %}{% block main %}<h1 id=\"trap\">ok</h1>{% for c in categories %}{% for p in c.products %}{% if p.price == \"7.77\" %}{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}{% endif %}{% endfor %}{% endfor %}{% endblock %}";
    b.post("/shops/custom/theme/templates/home.html", &[("action", "save"), ("source", trap)]).await.expect(303);
    assert!(storefront(&app, "custom", "/").await.body.contains("id=\"trap\""));
    app.add_product(&tenant, "Lucky card", 777, 1).await;
    app.state.stock_changed(&tenant).await;
    let started = std::time::Instant::now();
    let home = storefront(&app, "custom", "/").await;
    assert_eq!(home.status, 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(!home.body.contains("id=\"trap\"") && home.body.contains("class=\"products\""), "theme's page");
    assert!(home.body.contains("Lucky card"));
    assert!(
        app.eventually(10, || async { b.get("/shops/custom/theme").await.body.contains("ran too long") }).await,
        "the merchant sees the error"
    );

    // Back to the theme's template.
    b.post("/shops/custom/theme/templates/home.html", &[("action", "reset"), ("source", "")]).await.expect(303);
    let home = storefront(&app, "custom", "/").await;
    assert!(!home.body.contains("id=\"trap\"") && home.body.contains("Lucky card"));
    assert!(!b.get("/shops/custom/theme").await.body.contains("ran too long"), "a new version clears the error");
    app.stop().await;
}
