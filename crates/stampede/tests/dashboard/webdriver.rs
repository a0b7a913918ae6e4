//! Just enough of the W3C WebDriver protocol to drive headless Chromium through Debian's
//! `chromedriver`: open a page, type into a field, click, run a script, take a screenshot.
//! Seven commands over HTTP with the reqwest client the tests already use, rather than a
//! WebDriver crate (fantoccini, thirtyfour) and its dependency tree.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

/// How long chromedriver may take to answer `/status` (it starts in well under a second).
const DRIVER_START_LIMIT: Duration = Duration::from_secs(20);
/// Longest any one WebDriver command may take (a new session starts Chromium: seconds on a
/// loaded 2-core machine).
const COMMAND_LIMIT: Duration = Duration::from_secs(30);
/// The key under which WebDriver names an element (W3C WebDriver, "web element identifier").
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// The browser window: wide enough for the dashboard's two columns.
const WINDOW_SIZE: &str = "--window-size=1360,960";

/// A running `chromedriver`, in its own process group: dropping it kills that group, so
/// Chromium goes with it even when a test fails before closing its session.
pub(crate) struct ChromeDriver {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl ChromeDriver {
    /// Starts `chromedriver` on a free loopback port and waits until it is ready.
    pub(crate) async fn start(chromedriver: &Path) -> ChromeDriver {
        use std::os::unix::process::CommandExt as _;
        let port = crate::support::free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn chromedriver");
        let driver = ChromeDriver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .timeout(COMMAND_LIMIT)
                .build()
                .expect("an HTTP client"),
        };
        let deadline = tokio::time::Instant::now() + DRIVER_START_LIMIT;
        loop {
            let status = driver.client.get(format!("{}/status", driver.base)).send();
            if let Ok(response) = status.await
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == true
            {
                return driver;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver was not ready within {DRIVER_START_LIMIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new headless Chromium session (`chromium` binary, profile kept in `profile`).
    pub(crate) async fn session(&self, chromium: &Path, profile: &Path) -> Session<'_> {
        let args = [
            "--headless=new".to_owned(),
            // Tests may run as root (CI containers), where Chromium's sandbox cannot start.
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            WINDOW_SIZE.to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        }}});
        let created = self.call("POST", "/session", Some(capabilities)).await;
        let id = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}"))
            .to_owned();
        Session { driver: self, id }
    }

    /// One command; its `value`, or a panic naming the WebDriver error.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.client.get(url),
            "DELETE" => self.client.delete(url),
            _ => self
                .client
                .post(url)
                .json(&body.unwrap_or_else(|| json!({}))),
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {status}, not JSON: {e}"));
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: {status} {body}"
        );
        body["value"].clone()
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The group this driver leads (started as its own group's leader): Chromium too.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// A browser session.
pub(crate) struct Session<'a> {
    driver: &'a ChromeDriver,
    id: String,
}

impl Session<'_> {
    /// Opens `url` (returns once the page has loaded).
    pub(crate) async fn open(&self, url: &str) {
        self.command("POST", "url", Some(json!({ "url": url })))
            .await;
    }

    /// Types `text` into the element `css` selects.
    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command(
            "POST",
            &format!("element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Clicks the element `css` selects.
    pub(crate) async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command("POST", &format!("element/{element}/click"), None)
            .await;
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and returns its result.
    pub(crate) async fn script(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// A PNG of the window.
    pub(crate) async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.command("GET", "screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("a base64 string"))
            .expect("valid base64")
    }

    /// Closes the browser.
    pub(crate) async fn quit(self) {
        self.driver
            .call("DELETE", &format!("/session/{}", self.id), None)
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .command(
                "POST",
                "element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}/{path}", self.id);
        self.driver.call(method, &path, body).await
    }
}
