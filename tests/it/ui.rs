//! The web UI in a real browser: headless Chromium, driven through chromedriver (WebDriver),
//! against the real `nerve up`. Each test logs in, works through a page as a user would, waits
//! for what the page shows (never for a fixed time) and ends by checking that the browser's
//! console has no errors. Screenshots of the pages go to `target/ui-screenshots/`.
//!
//! Chromium and chromedriver are Debian's `chromium` and `chromium-driver` (`scripts/setup`
//! installs them); without them these tests fail and say so.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use nerve_test_harness::{NerveServer, fixture, repo_root};
use serde_json::{Value, json};

use crate::api::{Api, binary, wait_until};

/// How long the page may take to show something.
const DEADLINE: Duration = Duration::from_secs(60);

/// Where Debian (and other distributions) put Chromium.
const CHROMIUM: [&str; 3] = [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
];

/// The screenshot directory (`target/ui-screenshots`).
fn screenshot_dir() -> PathBuf {
    repo_root().join("target/ui-screenshots")
}

/// A chromedriver process and a browser session on it; both end when dropped.
struct Browser {
    client: Client,
    driver: Child,
    driver_url: String,
    http: reqwest::Client,
    /// The server's base URL.
    base: String,
    /// Prefix of this test's screenshots.
    test: &'static str,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("no free port on 127.0.0.1")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    ///
    /// # Panics
    /// When Chromium or chromedriver is missing (with what to install) or does not start.
    async fn start(base: &str, test: &'static str) -> Browser {
        let chromium = CHROMIUM
            .iter()
            .find(|path| Path::new(path).is_file())
            .unwrap_or_else(|| {
                panic!(
                    "Chromium is not installed (looked for {CHROMIUM:?}); the web UI tests need it: \
                     run `scripts/setup` or `apt-get install chromium chromium-driver`"
                )
            });
        let port = free_port();
        // The browser driver is test tooling, like the binary under test.
        #[allow(clippy::disallowed_methods)]
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start `chromedriver` ({error}); the web UI tests need it: run \
                     `scripts/setup` or `apt-get install chromium-driver`"
                )
            });
        let driver_url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let ready = http
                .get(format!("{driver_url}/status"))
                .send()
                .await
                .ok()
                .map(|response| response.status().is_success())
                .unwrap_or(false);
            if ready {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not answer on {driver_url} within {DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-first-run", "--disable-dev-shm-usage", "--window-size=1280,900",
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver_url)
            .await
            .unwrap_or_else(|error| panic!("chromedriver could not start Chromium: {error}"));
        Browser {
            client,
            driver,
            driver_url,
            http,
            base: base.trim_end_matches('/').to_owned(),
            test,
        }
    }

    /// Opens an app route (`/actions/core.local`) or, with a leading `?`, the page with a query.
    async fn open(&self, route: &str) {
        let url = if route.starts_with('?') {
            format!("{}/{route}", self.base)
        } else {
            format!("{}/#{route}", self.base)
        };
        self.client.goto(&url).await.unwrap();
    }

    /// Runs JavaScript in the page; returns its value.
    async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("script failed ({error}): {script}"))
    }

    /// The text of the first element matching `css`, if there is one.
    async fn text(&self, css: &str) -> Option<String> {
        let script = format!(
            "const el = document.querySelector({}); return el ? el.innerText : null;",
            json!(css)
        );
        self.js(&script).await.as_str().map(str::to_owned)
    }

    /// Waits until `probe` answers `Some`; on timeout saves a screenshot and fails with the
    /// page's text.
    async fn until<T, F, Fut>(&self, what: &str, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(value) = probe().await {
                return value;
            }
            if tokio::time::Instant::now() > deadline {
                self.screenshot("timeout").await;
                let page = self.text("body").await.unwrap_or_default();
                let url = self.client.current_url().await.map(|u| u.to_string());
                panic!("timed out waiting until {what}; at {url:?} the page shows:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until an element matching `css` exists and its text contains `needle`.
    async fn until_text(&self, css: &str, needle: &str) -> String {
        self.until(&format!("`{css}` shows `{needle}`"), || async {
            self.text(css).await.filter(|text| text.contains(needle))
        })
        .await
    }

    /// Clicks the first element matching `css`.
    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no `{css}` to click: {error}"))
            .click()
            .await
            .unwrap();
    }

    /// Replaces the text of a field by typing, as a user does.
    async fn type_into(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no `{css}` to type into: {error}"));
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Saves a screenshot as `target/ui-screenshots/<test>-<name>.png`.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{}-{name}.png", self.test)), png).unwrap();
    }

    /// Logs in with the one-click URL `nerve up` prints and waits for the dashboard.
    async fn log_in(&self, token: &str) {
        self.open(&format!("?token={token}")).await;
        self.until_text("h1", "Dashboard").await;
    }

    /// The browser console's entries since the last call (chromedriver's log endpoint).
    async fn console(&self) -> Vec<Value> {
        let session = self.client.session_id().await.unwrap().unwrap();
        let response: Value = self
            .http
            .post(format!("{}/session/{session}/se/log", self.driver_url))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        response["value"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("chromedriver's log endpoint answered {response}"))
    }

    /// Fails when the console has errors (anything at level `SEVERE`: exceptions, failed
    /// requests, CSP violations).
    async fn assert_no_console_errors(&self) {
        let errors: Vec<Value> = self
            .console()
            .await
            .into_iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .collect();
        assert!(
            errors.is_empty(),
            "the browser console has errors:\n{}",
            serde_json::to_string_pretty(&errors).unwrap()
        );
    }
}

/// A `nerve up`, an API client and a logged-in browser.
struct Ui {
    browser: Browser,
    api: Api,
    _server: NerveServer,
    _dir: tempfile::TempDir,
}

impl Ui {
    async fn start(test: &'static str) -> Ui {
        let dir = tempfile::tempdir().unwrap();
        let server = NerveServer::start(&binary(), dir.path());
        let api = Api::new(&server);
        let browser = Browser::start(&server.url, test).await;
        browser.log_in(&server.token).await;
        Ui {
            browser,
            api,
            _server: server,
            _dir: dir,
        }
    }

    /// Creates a rule on `core.st2.webhook` with `url: hook` that runs `core.local` with `cmd`.
    async fn webhook_rule(&self, name: &str, hook: &str, cmd: &str) {
        let response = self
            .api
            .post(
                "/rules",
                json!({
                    "name": name, "pack": "default", "enabled": true,
                    "trigger": {"type": "core.st2.webhook", "parameters": {"url": hook}},
                    "action": {"ref": "core.local", "parameters": {"cmd": cmd}},
                }),
            )
            .await;
        assert!(response.status().is_success(), "{}", response.status());
    }
}

#[tokio::test]
async fn login_moves_the_token_out_of_the_address_and_the_session_survives_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), dir.path());
    let browser = Browser::start(&server.url, "login").await;

    // Without a session the page asks for a token.
    browser.open("/").await;
    browser.until_text("form.login", "Token or API key").await;

    // The one-click URL: logged in, and the token is gone from the address bar and history.
    browser.open(&format!("?token={}", server.token)).await;
    browser.until_text("h1", "Dashboard").await;
    let address = browser.client.current_url().await.unwrap().to_string();
    assert!(!address.contains("token"), "{address}");
    assert!(!address.contains(&server.token), "{address}");
    let history_len = browser.js("return history.length;").await;
    assert!(history_len.as_u64().is_some());
    browser.screenshot("dashboard").await;

    // A reload keeps the session.
    browser.client.refresh().await.unwrap();
    browser.until_text("h1", "Dashboard").await;
    browser.until_text(".live-dot", "live").await;

    // Log out: back to the login form, also after a reload.
    browser.click(".top button.link-button").await;
    browser.until_text("form.login", "Logged out").await;
    browser.client.refresh().await.unwrap();
    browser.until_text("form.login", "Token or API key").await;

    // The console check sees errors (one logged on purpose, then read and cleared).
    browser
        .js("console.error('nerve ui test: seen'); return null;")
        .await;
    let seen = browser.console().await;
    assert!(
        seen.iter().any(|entry| entry["level"] == "SEVERE"
            && entry["message"]
                .as_str()
                .unwrap_or("")
                .contains("nerve ui test: seen")),
        "{seen:?}"
    );

    // Logging in with the form works too.
    browser.type_into("#login-token", &server.token).await;
    browser.click("form.login button[type=submit]").await;
    browser.until_text("h1", "Dashboard").await;
    browser.assert_no_console_errors().await;
}

#[tokio::test]
async fn core_local_runs_from_the_generated_form_and_its_output_appears_live() {
    let ui = Ui::start("run").await;
    let b = &ui.browser;
    b.open("/actions/core.local").await;
    b.until_text("h1", "Action core.local").await;
    // The form comes from the parameter schema: `cmd` is required, `timeout` an integer, `sudo`
    // immutable (shown, not editable).
    b.until_text("label[for=run-cmd]", "cmd *").await;
    let kinds = b
        .js("return ['run-cmd', 'run-timeout', 'run-sudo'].map(id => { const el = document.getElementById(id); return el ? [el.tagName, el.type, el.disabled] : null; });")
        .await;
    assert_eq!(kinds[0][0], "TEXTAREA", "{kinds}");
    assert_eq!(kinds[1][1], "number", "{kinds}");
    assert_eq!(kinds[2][2], true, "{kinds}");
    b.screenshot("action").await;

    b.type_into("#run-cmd", "echo first-line; sleep 6; echo second-line")
        .await;
    b.click("#run-action").await;
    b.until_text("h1", "Execution of core.local").await;

    // The first line shows while the action still runs and before the second is printed.
    let seen = b
        .until("the first output line shows", || async {
            let state = b
                .js("const out = document.getElementById('execution-output'); \
                     const status = document.getElementById('execution-status'); \
                     return out && out.innerText.includes('first-line') \
                        ? [out.innerText, status ? status.innerText : ''] : null;")
                .await;
            (!state.is_null()).then_some(state)
        })
        .await;
    assert!(!seen[0].as_str().unwrap().contains("second-line"), "{seen}");
    assert_eq!(
        seen[1], "running",
        "the output streamed while running: {seen}"
    );
    b.screenshot("execution-running").await;

    b.until_text("#execution-status", "succeeded").await;
    b.until_text("#execution-output", "second-line").await;
    b.until_text("#execution-result", "return_code").await;
    b.screenshot("execution").await;
    b.assert_no_console_errors().await;
}

const BROKEN_RULE: &str = "---
name: ui_hook
pack: default
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: ui_hook
critera: {}
action:
  ref: core.local
  parameters:
    cmd: echo webhook-fired
";

#[tokio::test]
async fn a_rule_written_in_the_editor_is_validated_saved_tested_and_its_webhook_runs_live() {
    let ui = Ui::start("rule_editor").await;
    let b = &ui.browser;
    b.open("/rules").await;
    b.until_text("h1", "Rules").await;
    b.click("#new-rule").await;
    b.until_text("h1", "New rule").await;
    b.until("the template validates", || async {
        b.text("#rule-problems")
            .await
            .filter(|t| t.contains("Valid"))
    })
    .await;

    // A typo: the server's diagnostic, with its line and column, and the line marked.
    b.type_into("#rule-yaml", BROKEN_RULE).await;
    let problems = b.until_text("#rule-problems", "critera").await;
    assert!(problems.contains("rule.yaml:9:1"), "{problems}");
    assert!(problems.contains("did you mean `criteria`"), "{problems}");
    let marked = b
        .js("return [...document.querySelectorAll('.gutter .bad')].map(e => e.innerText);")
        .await;
    assert_eq!(marked, json!(["9"]));
    assert_eq!(
        b.js("return document.getElementById('save-rule').disabled;")
            .await,
        true
    );
    b.screenshot("invalid").await;

    // Fixed: valid, saved.
    b.type_into("#rule-yaml", &BROKEN_RULE.replace("critera", "criteria"))
        .await;
    b.until_text("#rule-problems", "Valid rule default.ui_hook")
        .await;
    b.click("#save-rule").await;
    b.until_text("h1", "Rule default.ui_hook").await;
    let stored = ui.api.get("/rules/default.ui_hook").await;
    assert_eq!(stored["enabled"], true, "{stored}");

    // The tester: this event matches and renders the command.
    b.type_into(
        "#test-event",
        r#"{"trigger": "core.st2.webhook", "payload": {"url": "ui_hook", "body": {}}}"#,
    )
    .await;
    b.click("#test-rule").await;
    b.until("the tester says it matched", || async {
        b.text("#test-result .badge")
            .await
            .filter(|t| t == "matched")
    })
    .await;
    b.until_text("#test-result", "echo webhook-fired").await;
    b.screenshot("saved").await;

    // The webhook fires; the execution shows up on the open page without a reload.
    b.js("window.__notReloaded = true; return null;").await;
    let response = ui
        .api
        .post("/webhooks/ui_hook", json!({"from": "the ui test"}))
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    b.until("the rule's execution appears and succeeds", || async {
        b.text("table.executions tbody tr[data-id] .status")
            .await
            .filter(|t| t == "succeeded")
    })
    .await;
    assert_eq!(b.js("return window.__notReloaded === true;").await, true);
    b.assert_no_console_errors().await;
}

#[tokio::test]
async fn a_rule_is_disabled_with_a_reason() {
    let ui = Ui::start("rule_disable").await;
    ui.webhook_rule("ui_off", "ui_off", "echo off").await;
    let b = &ui.browser;
    b.open("/rules").await;
    b.until_text("tr[data-ref='default.ui_off'] .state", "enabled")
        .await;
    b.click("button[aria-label='Disable default.ui_off']").await;
    b.until_text("dialog", "Reason").await;
    b.type_into("#reason-input", "too noisy during the migration")
        .await;
    b.click("#reason-ok").await;
    b.until_text("tr[data-ref='default.ui_off'] .state", "disabled")
        .await;
    b.until_text(
        "tr[data-ref='default.ui_off'] .reason",
        "too noisy during the migration",
    )
    .await;
    let rule = ui.api.get("/rules/default.ui_off").await;
    assert_eq!(rule["enabled"], false, "{rule}");
    assert_eq!(rule["disabled_reason"], "too noisy during the migration");
    b.screenshot("rules").await;

    // And enabled again.
    b.click("button[aria-label='Enable default.ui_off']").await;
    b.until_text("tr[data-ref='default.ui_off'] .state", "enabled")
        .await;
    b.assert_no_console_errors().await;
}

#[tokio::test]
async fn a_crashing_sensors_restart_count_rises_on_the_page() {
    let ui = Ui::start("sensor").await;
    ui.api.install_pack(&fixture("packs/ui")).await;
    let b = &ui.browser;
    b.open("/sensors/ui.Crasher").await;
    b.until_text("h1", "Sensor ui.Crasher").await;
    let restarts = |text: Option<String>| text.and_then(|t| t.trim().parse::<u64>().ok());
    let first = b
        .until("the sensor has restarted", || async {
            restarts(b.text("#sensor-restarts").await).filter(|n| *n >= 1)
        })
        .await;
    // Without a reload, the count goes on rising as the sensor keeps crashing.
    b.until("the restart count rises", || async {
        restarts(b.text("#sensor-restarts").await).filter(|n| *n > first)
    })
    .await;
    b.until_text("#sensor-log", "giving up on purpose").await;
    b.screenshot("sensor").await;
    b.open("/sensors").await;
    b.until_text("tr[data-ref='ui.Crasher']", "ui.Crasher")
        .await;
    b.screenshot("sensors").await;
    // The dashboard lists it among the failing sensors.
    b.open("/").await;
    b.until_text("table[aria-label='Failing sensors']", "ui.Crasher")
        .await;
    b.assert_no_console_errors().await;
}

#[tokio::test]
async fn a_trace_opens_from_an_execution_as_a_tree_with_timings() {
    let ui = Ui::start("trace").await;
    ui.webhook_rule("ui_traced", "ui_traced", "echo traced")
        .await;
    let response = ui.api.post("/webhooks/ui_traced", json!({"n": 1})).await;
    assert!(response.status().is_success(), "{}", response.status());
    let api = &ui.api;
    wait_until("the webhook's execution succeeded", || async {
        let list = api.get("/executions?rule=default.ui_traced").await;
        list[0]["status"] == "succeeded"
    })
    .await;
    let list = api.get("/executions?rule=default.ui_traced").await;
    let execution_id = list[0]["id"].as_str().unwrap().to_owned();
    let b = &ui.browser;
    b.open(&format!("/executions/{execution_id}")).await;
    b.until_text("#execution-status", "succeeded").await;
    b.click("a[href^='#/traces/']").await;
    b.until_text("h1", "Trace").await;
    b.until_text(
        "#trace-tree li[data-kind='trigger_instance']",
        "core.st2.webhook",
    )
    .await;
    b.until_text("#trace-tree li[data-kind='rule']", "default.ui_traced")
        .await;
    let execution = b
        .until_text("#trace-tree li[data-kind='execution']", "core.local")
        .await;
    assert!(execution.contains("succeeded"), "{execution}");
    // The execution hangs under the rule, which hangs under the event.
    let nested = b
        .js("return !!document.querySelector(\"#trace-tree li[data-kind='trigger_instance'] li[data-kind='rule'] li[data-kind='execution']\");")
        .await;
    assert_eq!(nested, true);
    b.screenshot("trace").await;

    // The traces page lists recent traces, newest first; a row opens its trace.
    let response = ui.api.post("/webhooks/ui_traced", json!({"n": 2})).await;
    assert!(response.status().is_success(), "{}", response.status());
    wait_until("the second webhook's execution succeeded", || async {
        let list = api.get("/executions?rule=default.ui_traced").await;
        list.as_array().unwrap().len() == 2 && list[0]["status"] == "succeeded"
    })
    .await;
    let list = api.get("/executions?rule=default.ui_traced").await;
    let trace_of = |n: usize| list[n]["context"]["trace_id"].as_str().unwrap().to_owned();
    let (newer, older) = (trace_of(0), trace_of(1));
    assert_ne!(newer, older);
    b.open("/traces").await;
    b.until_text("h2", "Recent traces").await;
    b.until_text("#trace-list", &older).await;
    let order = b
        .js("return [...document.querySelectorAll('#trace-list tbody tr[data-id]')].map((tr) => tr.dataset.id);")
        .await;
    let order: Vec<&str> = order
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|id| *id == newer || *id == older)
        .collect();
    assert_eq!(order, [newer.as_str(), older.as_str()]);
    let row = b
        .text(&format!("#trace-list tr[data-id='{older}']"))
        .await
        .unwrap();
    assert!(row.contains("trigger_instance-"), "{row}");
    b.screenshot("traces-recent").await;
    // Finding by tag lists the traces with it, linked the same way.
    let tag = format!("trigger_instance-{older}");
    b.type_into("#trace-tag", &tag).await;
    b.click("form[role=search] button[type=submit]").await;
    b.until_text("h2", "Traces tagged").await;
    b.until_text("#trace-list", &older).await;
    assert!(
        b.text(&format!("#trace-list tr[data-id='{newer}']"))
            .await
            .is_none()
    );
    b.click(&format!("#trace-list tr[data-id='{older}'] a"))
        .await;
    b.until("the trace opens", || async {
        let hash = b.js("return window.location.hash;").await;
        (hash.as_str() == Some(format!("#/traces/{older}").as_str())).then_some(())
    })
    .await;
    b.until_text("#trace-tree li[data-kind='execution']", "core.local")
        .await;
    b.assert_no_console_errors().await;
}

#[tokio::test]
async fn pages_render_at_any_width_by_keyboard_with_large_results_cut_and_screenshots_saved() {
    let ui = Ui::start("pages").await;
    ui.api.install_pack(&fixture("packs/ui")).await;
    let b = &ui.browser;

    // 120 executions: the list pages on the server.
    let mut runs = Vec::new();
    for i in 0..120 {
        runs.push(ui.api.post(
            "/executions",
            json!({"action": "ui.kitchen_sink", "parameters": {"message": format!("m{i}")}}),
        ));
    }
    for response in futures_util::future::join_all(runs).await {
        assert!(response.status().is_success(), "{}", response.status());
    }
    b.open("/executions").await;
    b.until_text(".pager-range", "1–100 of 120").await;
    let rows = b
        .js("return document.querySelectorAll('table.executions tbody tr[data-id]').length;")
        .await;
    assert_eq!(rows, 100);
    b.click("button[aria-label='Next page']").await;
    b.until_text(".pager-range", "101–120 of 120").await;
    b.screenshot("executions").await;

    // The generated form: an enum is a select, an integer a number, a secret a password.
    b.open("/actions/ui.kitchen_sink").await;
    b.until_text("label[for=run-message]", "message *").await;
    let kinds = b
        .js("return ['run-mode', 'run-count', 'run-verbose', 'run-api_token', 'run-tags'].map(id => { const el = document.getElementById(id); return el ? el.tagName + ':' + (el.type || '') : null; });")
        .await;
    assert_eq!(
        kinds,
        json!([
            "SELECT:select-one",
            "INPUT:number",
            "SELECT:select-one",
            "INPUT:password",
            "TEXTAREA:textarea"
        ])
    );

    // A 5 MB result: cut to its start, with the whole one a download away.
    let response = ui
        .api
        .post("/executions", json!({"action": "ui.big_result"}))
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    let execution: Value = response.json().await.unwrap();
    let id = execution["id"].as_str().unwrap().to_owned();
    b.open(&format!("/executions/{id}")).await;
    b.until_text("#execution-status", "succeeded").await;
    let notice = b
        .until_text("#execution-result", "Download full result")
        .await;
    assert!(notice.contains("4.8 MB"), "{notice}");
    let shown = b
        .js("return document.getElementById('execution-result').innerText.length;")
        .await;
    assert!(shown.as_u64().unwrap() < 100_000, "{shown}");
    let full = ui
        .api
        .http
        .get(format!("{}/api/v1/executions/{id}/result", ui.api.url))
        .header("X-Auth-Token", &ui.api.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(full.len() > 5_000_000, "{}", full.len());
    b.screenshot("large-result").await;

    // Every main page renders.
    let pages = [
        ("/", "Dashboard", "Failing sensors", "dashboard"),
        ("/packs", "Packs", "ui", "packs"),
        ("/packs/ui", "Pack ui", "Actions (2)", "pack"),
        ("/actions", "Actions", "core.local", "actions"),
        ("/rules", "Rules", "ui.on_never", "rules"),
        ("/sensors", "Sensors", "ui.Crasher", "sensors"),
        ("/triggers", "Trigger types", "core.st2.webhook", "triggers"),
        (
            "/triggers/core.st2.webhook",
            "Trigger type",
            "Payload schema",
            "trigger",
        ),
        ("/events", "Events", "Occurred", "events"),
        ("/traces", "Traces", "Trace tag", "traces"),
        ("/keys", "Key-value", "Set a key", "keys"),
        ("/nodes", "Nodes", "Queues", "nodes"),
    ];
    for (route, title, shows, name) in pages {
        b.open(route).await;
        b.until_text("h1", title).await;
        b.until_text("main", shows).await;
        b.screenshot(name).await;
    }

    // Key-value: a secret is masked.
    let response = ui
        .api
        .put(
            "/keys/ui_secret",
            json!({"value": "hunter2", "secret": true}),
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    b.open("/keys").await;
    b.until_text("table[aria-label=Keys]", "ui_secret").await;
    let keys = b.text("table[aria-label=Keys]").await.unwrap();
    assert!(
        !keys.contains("hunter2") && keys.contains("********"),
        "{keys}"
    );

    // Keyboard: the skip link moves focus to the content, and Tab reaches the navigation.
    b.open("/").await;
    b.until_text("h1", "Dashboard").await;
    b.js("document.querySelector('a.skip').focus(); return null;")
        .await;
    let press = |key: fantoccini::key::Key| async move {
        b.client
            .active_element()
            .await
            .unwrap()
            .send_keys(&char::from(key).to_string())
            .await
            .unwrap();
    };
    press(fantoccini::key::Key::Enter).await;
    assert_eq!(b.js("return document.activeElement.id;").await, "main");
    b.js("document.querySelector('a.skip').focus(); return null;")
        .await;
    let mut reached_nav = false;
    for _ in 0..20 {
        press(fantoccini::key::Key::Tab).await;
        let in_nav = b
            .js("return !!document.activeElement.closest('.nav');")
            .await;
        if in_nav == true {
            reached_nav = true;
            break;
        }
    }
    assert!(reached_nav, "Tab never reached the navigation");

    // Narrow: nothing wider than the screen, and the menu opens from its button.
    b.client.set_window_size(390, 844).await.unwrap();
    for route in ["/", "/executions", "/rules/new", "/sensors"] {
        b.open(route).await;
        b.until("the page renders", || async { b.text("h1").await })
            .await;
        let overflow = b
            .js("return document.documentElement.scrollWidth - window.innerWidth;")
            .await;
        assert!(
            overflow.as_i64().unwrap() <= 1,
            "{route} is wider than a phone: {overflow} px"
        );
    }
    b.click(".nav-toggle").await;
    b.until("the menu opens", || async {
        let shown = b
            .js("return getComputedStyle(document.querySelector('.nav')).display !== 'none';")
            .await;
        (shown == true).then_some(())
    })
    .await;
    b.screenshot("narrow").await;
    b.assert_no_console_errors().await;
}
