//! A real Chromium for the end-to-end tests of the pages, driven over the
//! W3C WebDriver protocol (Debian's `chromium` and `chromium-driver`). A
//! small blocking client: the tests wait for conditions as everywhere else.
//!
//! [`Browser::start`] returns `None` when the browser is not installed,
//! unless `BUURT_BROWSER_TESTS=required` (as `.ci/run` sets), when it
//! panics instead: CI always runs the browser tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";
/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One headless Chromium session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

/// Whether the browser tests must run here.
pub fn required() -> bool {
    std::env::var("BUURT_BROWSER_TESTS").is_ok_and(|v| v == "required")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless session (1280 × 1000).
    pub fn start() -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() || !Path::new(DRIVER).exists() {
            assert!(
                !required(),
                "the browser tests are required but {CHROMIUM} or {DRIVER} is missing \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipped: no Chromium here (apt-get install chromium chromium-driver)");
            return None;
        }
        let port = free_port();
        let driver = Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().expect("a profile folder");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1280,1000".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        }}});
        let v: Value = ureq::post(&format!("{base}/session"))
            .send_json(&caps)
            .expect("a browser session")
            .body_mut()
            .read_json()
            .expect("JSON");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        Some(Browser {
            driver,
            base,
            session,
            _profile: profile,
        })
    }

    fn url_of(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.session)
    }

    /// A WebDriver command; `Err` carries WebDriver's error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let url = self.url_of(path);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let resp = match (method, body) {
            ("GET", _) => agent.get(&url).call(),
            ("DELETE", _) => agent.delete(&url).call(),
            (_, Some(b)) => agent.post(&url).send_json(&b),
            (_, None) => agent.post(&url).send_json(json!({})),
        };
        let mut resp = resp.map_err(|e| json!({ "error": e.to_string() }))?;
        let ok = resp.status().is_success();
        let v: Value = resp.body_mut().read_json().unwrap_or(Value::Null);
        if ok {
            Ok(v["value"].clone())
        } else {
            Err(v["value"].clone())
        }
    }

    fn must(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    pub fn goto(&self, url: &str) {
        self.must("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn current_url(&self) -> String {
        self.must("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching `css`, if any.
    pub fn find(&self, css: &str) -> Option<String> {
        self.call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        )
        .ok()
        .and_then(|v| v[ELEMENT].as_str().map(str::to_owned))
    }

    /// Waits up to `secs` for an element matching `css` (a click that
    /// submits a form returns before the next page has loaded).
    pub fn wait_for(&self, css: &str, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if self.find(css).is_some() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn element(&self, css: &str) -> String {
        self.find(css)
            .unwrap_or_else(|| panic!("no element `{css}` on {}", self.current_url()))
    }

    /// The rendered text of the element `css`.
    pub fn text(&self, css: &str) -> String {
        let el = self.element(css);
        self.must("GET", &format!("/element/{el}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Types `text` into the field `css`, as keys.
    pub fn type_into(&self, css: &str, text: &str) {
        let el = self.element(css);
        self.must(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Sets the field `css` to `text` by script: ChromeDriver types only
    /// characters of the Basic Multilingual Plane, so not emoji.
    pub fn set_value(&self, css: &str, text: &str) {
        let script = format!(
            "document.querySelector({}).value = {};",
            serde_json::to_string(css).expect("a string"),
            serde_json::to_string(text).expect("a string")
        );
        self.run(&script);
    }

    pub fn click(&self, css: &str) {
        let el = self.element(css);
        self.must("POST", &format!("/element/{el}/click"), Some(json!({})));
    }

    /// Clicks `css` (a link or a form's button) and waits until the next
    /// page has loaded: the old page is marked first, so that nothing of
    /// it is mistaken for the new one.
    pub fn click_to_next_page(&self, css: &str) {
        self.run("window.__buurtOldPage = true;");
        self.click(css);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let done = self
                .call(
                    "POST",
                    "/execute/sync",
                    Some(json!({ "script": "return window.__buurtOldPage !== true && document.readyState === 'complete';", "args": [] })),
                )
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no next page after clicking `{css}`"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Chooses a file for the file field `css`.
    pub fn attach(&self, css: &str, file: &Path) {
        self.type_into(css, &file.display().to_string());
    }

    pub fn source(&self) -> String {
        self.must("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// True while a JavaScript dialog (an `alert`) is open.
    pub fn alert_open(&self) -> bool {
        self.call("GET", "/alert/text", None).is_ok()
    }

    /// Runs `script` in the page (WebDriver's execution is not subject to
    /// the page's own Content-Security-Policy).
    pub fn run(&self, script: &str) -> Value {
        self.must(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Runs `script`, which calls `arguments[arguments.length - 1]` with
    /// its result.
    pub fn run_async(&self, script: &str) -> Value {
        self.must(
            "POST",
            "/execute/async",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Resizes the window (for a screenshot of a whole page).
    pub fn resize(&self, width: u32, height: u32) {
        self.must(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        let b64 = self.must("GET", "/screenshot", None);
        data_encoding::BASE64
            .decode(b64.as_str().unwrap_or_default().as_bytes())
            .expect("a base64 PNG")
    }

    /// axe-core's serious and critical violations on the current page, as
    /// `rule: what` lines.
    pub fn accessibility_violations(&self, axe: &str) -> Vec<String> {
        self.run(axe);
        let v = self.run_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document).then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, \
             help: v.help, nodes: v.nodes.length})))).catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: 0}]));",
        );
        v.as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|x| matches!(x["impact"].as_str(), Some("serious" | "critical")))
            .map(|x| format!("{}: {} ({} places)", x["id"], x["help"], x["nodes"]))
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call("DELETE", "", None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// axe-core's script, fetched once with npm into `target/axe/` (a test
/// tool, not part of buurt).
pub fn axe_core(target: &Path) -> String {
    let dir = target.join("axe");
    let file: PathBuf = dir.join("package").join("axe.min.js");
    if !file.exists() {
        std::fs::create_dir_all(&dir).expect("target/axe");
        let packed = Command::new("npm")
            .args(["pack", "axe-core@4.14.1", "--silent"])
            .current_dir(&dir)
            .output()
            .expect("npm runs");
        assert!(
            packed.status.success(),
            "npm pack axe-core: {}",
            String::from_utf8_lossy(&packed.stderr)
        );
        let tgz = String::from_utf8_lossy(&packed.stdout).trim().to_owned();
        let untar = Command::new("tar")
            .args(["xzf", &tgz])
            .current_dir(&dir)
            .status()
            .expect("tar runs");
        assert!(untar.success());
    }
    std::fs::read_to_string(&file).expect("axe.min.js")
}
