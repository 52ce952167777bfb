//! Headless Chromium for browser tests: chromedriver on a free port, a fresh
//! profile, the flags that keep Chromium off the network.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
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
