//! The `paved setup` page in a real browser: headless Chromium, driven over
//! WebDriver (ChromeDriver on loopback), presses the button, follows
//! GitHub's (the sandbox's) redirect back, and shows the success screen.
//! Skipped without Debian's chromium and chromium-driver, unless
//! PAVED_REQUIRE_CHROMIUM=1 (CI) makes them required.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TempDir;
use paved_app::setup::{SetupOptions, start};
use paved_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

const DRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Value {
    let mut req = http.request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn the_setup_page_works_in_headless_chromium() {
    if !std::path::Path::new(DRIVER).exists() || !std::path::Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("PAVED_REQUIRE_CHROMIUM").is_none(),
            "chromium and chromium-driver are required"
        );
        eprintln!("skipped: chromium not installed (apt-get install chromium chromium-driver)");
        return;
    }
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = TempDir::new("setup-chromium");
    let env_file = dir.path().join("paved.env");
    let server = start(SetupOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        env_file: env_file.clone(),
        org: None,
        github_url: sb.url(),
        api_url: sb.url(),
        webhook_url: "https://paved.example.com/webhook".into(),
    })
    .await
    .unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _driver = Driver(
        Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/status")).send().await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let profile = dir.path().join("profile");
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        &format!("--user-data-dir={}", profile.display()),
    ];
    let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"binary": CHROMIUM, "args": args}}}});
    let session = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/session"),
        Some(caps),
    )
    .await;
    let id = session["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("{session}"))
        .to_owned();
    let s = format!("{base}/session/{id}");

    call(
        &http,
        reqwest::Method::POST,
        &format!("{s}/url"),
        Some(json!({"url": format!("http://{}/", server.addr)})),
    )
    .await;
    let button = call(
        &http,
        reqwest::Method::POST,
        &format!("{s}/element"),
        Some(json!({"using": "css selector", "value": "#create"})),
    )
    .await;
    let element = button["value"]
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(Value::as_str)
        .expect("the button")
        .to_owned();
    let label = call(
        &http,
        reqwest::Method::GET,
        &format!("{s}/element/{element}/text"),
        None,
    )
    .await;
    assert_eq!(label["value"], "Create the GitHub App");
    call(
        &http,
        reqwest::Method::POST,
        &format!("{s}/element/{element}/click"),
        Some(json!({})),
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = call(
            &http,
            reqwest::Method::POST,
            &format!("{s}/elements"),
            Some(json!({"using": "css selector", "value": "#done"})),
        )
        .await;
        if found["value"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "no success screen");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let source = call(&http, reqwest::Method::GET, &format!("{s}/source"), None).await;
    assert!(
        source["value"]
            .as_str()
            .unwrap()
            .contains("paved is set up")
    );
    let _ = http.delete(&s).send().await;
    let created = server.finished().await.unwrap();
    assert_eq!(created.app_id, sb.app().id);
    assert!(env_file.exists());
}
