//! Headless Chromium for browser tests: chromedriver on a free port, a fresh
//! profile, the flags that keep Chromium off the network.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub struct Driver {
    child: Child,
    pub port: u16,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn browser_available() -> bool {
    let found = |bin: &str| {
        Command::new("sh").args(["-c", &format!("command -v {bin}")]).output().is_ok_and(|o| o.status.success())
    };
    let ok = found("chromium") && found("chromedriver");
    if !ok {
        let required = std::env::var("KAPU_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
            || std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!required, "chromium and chromedriver are required here (apt-get install chromium chromium-driver)");
        eprintln!("SKIPPED: browser test needs chromium and chromedriver (apt-get install chromium chromium-driver)");
    }
    ok
}

pub async fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver { child, port, profile: tempfile::tempdir().expect("profile dir") }
}

pub async fn open_browser(driver: &Driver, lang: &str, phone: bool) -> Client {
    kapu::app::install_crypto_provider();
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                format!("--lang={lang}"),
                format!("--user-data-dir={}", driver.profile.path().join(lang).display()),
            ],
            "prefs": { "intl.accept_languages": lang },
        }
    });
    let mut caps = caps.as_object().expect("object").clone();
    if phone {
        caps["goog:chromeOptions"]["mobileEmulation"] =
            json!({ "deviceMetrics": { "width": 360, "height": 800, "pixelRatio": 2.0, "touch": true } });
    }
    ClientBuilder::rustls()
        .expect("tls")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("connect to chromedriver")
}

/// Whether a WebDriver error means the element belonged to a page that a
/// navigation has since replaced (found on the old page, acted on the new).
fn went_stale(e: &fantoccini::error::CmdError) -> bool {
    let text = e.to_string();
    text.contains("stale element") || text.contains("does not belong to the document")
}

/// Runs `act` on the element `css` once it is there; when a navigation
/// replaced the page between finding and acting, finds it again on the new page.
async fn on_element<F, Fut>(c: &Client, css: &str, act: F)
where
    F: Fn(fantoccini::elements::Element) -> Fut,
    Fut: std::future::Future<Output = Result<(), fantoccini::error::CmdError>>,
{
    for _ in 0..50 {
        let el = c.wait().for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        match act(el).await {
            Ok(()) => return,
            Err(e) if went_stale(&e) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("{css}: {e}"),
        }
    }
    panic!("{css}: the page kept being replaced");
}

/// Types `text` into the element `css` (cleared first).
pub async fn fill(c: &Client, css: &str, text: &str) {
    on_element(c, css, |el| async move {
        el.clear().await?;
        el.send_keys(text).await
    })
    .await;
}

/// Clicks the element `css` once it is there.
pub async fn click(c: &Client, css: &str) {
    on_element(c, css, |el| async move { el.click().await.map(|_| ()) }).await;
}

/// The page's text; retried while a navigation or reload replaces the page.
pub async fn body_text(c: &Client) -> String {
    let mut last = None;
    for _ in 0..50 {
        match c.find(Locator::Css("body")).await {
            Ok(body) => match body.text().await {
                Ok(t) => return t,
                Err(e) => last = Some(e),
            },
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("page text: {last:?}");
}
