//! `paved serve` as a process, the way an operator runs it.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{SECRET, deliver, fixture, key};

fn paved() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paved"));
    for var in [
        "APP_ID",
        "PRIVATE_KEY",
        "PRIVATE_KEY_PATH",
        "WEBHOOK_SECRET",
        "GITHUB_API_URL",
        "PAVED_LISTEN",
    ] {
        c.env_remove(var);
    }
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_bad_setting_stops_startup_with_one_line() {
    let out = paved()
        .arg("serve")
        .env("APP_ID", "not-a-number")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err,
        "paved: APP_ID is invalid: expected the GitHub App's numeric id (got \"not-a-number\")\n"
    );
}

/// `paved serve` running from an env file in its own temp dir.
struct Served {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Served {
    /// Starts paved with `extra` settings (`KEY=value` lines) and waits
    /// until `/healthz` answers.
    async fn start(name: &str, extra: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("paved-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key_path = dir.join("app.pem");
        std::fs::write(&key_path, &key().pem).unwrap();
        let port = free_port();
        let env_file = dir.join("paved.env");
        std::fs::write(
            &env_file,
            format!(
                "APP_ID=77\nPRIVATE_KEY_PATH={}\nWEBHOOK_SECRET={SECRET}\nPAVED_CATALOG_REPO=acme/catalog\n\
                 PAVED_PLATFORM_REPO=acme/platform\nPAVED_LISTEN=127.0.0.1:{port}\n\
                 PAVED_WORK_DIR={}\n{extra}",
                key_path.display(),
                dir.join("work").display()
            ),
        )
        .unwrap();
        let child = paved()
            .args(["serve", "--env-file"])
            .arg(&env_file)
            .env("RUST_LOG", "debug")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let served = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/healthz", served.base)).await {
                assert_eq!(r.status(), 200);
                return served;
            }
            assert!(Instant::now() < deadline, "paved serve did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn deliver(&self, delivery: &str, secret: &str) -> reqwest::StatusCode {
        let http = reqwest::Client::new();
        let url = format!("{}/webhook", self.base);
        let body = fixture("issues.opened.json");
        deliver(&http, &url, "issues", delivery, body, secret)
            .await
            .status()
    }

    async fn ready(&self) -> reqwest::StatusCode {
        reqwest::get(format!("{}/readyz", self.base))
            .await
            .unwrap()
            .status()
    }

    fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.unwrap().success());
    }

    /// Waits (at most `limit`) for paved to exit; returns its status and logs.
    fn exit(mut self, limit: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "paved serve ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut logs = String::new();
        let stderr = self.child.stderr.take().unwrap();
        std::io::BufReader::new(stderr)
            .read_to_string(&mut logs)
            .unwrap();
        std::fs::remove_dir_all(&self.dir).ok();
        (status, logs)
    }
}

#[tokio::test]
async fn serve_reads_an_env_file_answers_webhooks_and_stops_on_sigterm() {
    // Starting needs no GitHub (the API URL points nowhere): /healthz answers at once.
    let paved = Served::start("env", "GITHUB_API_URL=http://127.0.0.1:9\n").await;
    assert_eq!(paved.deliver("cli-1", SECRET).await, 202);
    assert_eq!(paved.deliver("cli-2", "x").await, 401);
    assert_eq!(paved.ready().await, 200);

    paved.sigterm();
    let (status, logs) = paved.exit(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    assert!(logs.contains("paved is serving"), "{logs}");
    assert!(logs.contains("cli-1"), "the delivery id is logged: {logs}");
    assert!(
        !logs.contains(SECRET),
        "the webhook secret leaked into logs"
    );
    assert!(
        !logs.contains(&key().pem[40..100]),
        "the private key leaked into logs"
    );
    // Not a terminal: no colour codes; fields read as values, not Rust.
    assert!(!logs.contains('\x1b'), "ANSI codes in {logs}");
    assert!(
        logs.contains("repo=acme/catalog") && !logs.contains("Some("),
        "{logs}"
    );
}

/// `paved serve` with complete settings and `overrides`, to its end.
fn serve_with(overrides: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = paved()
        .arg("serve")
        .envs(common::settings(overrides))
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn settings_that_cannot_work_stop_startup_naming_what_is_wrong() {
    let (code, err) = serve_with(&[("PAVED_LOG_FORMAT", "xml")]);
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        "paved: PAVED_LOG_FORMAT=\"xml\": expected text or json\n"
    );

    let broken = common::TempDir::new("cli-broken-templates");
    broken.write("api/template.yaml", "name: api\nversion: [\n");
    let dir = broken.path().display().to_string();
    let (code, err) = serve_with(&[("PAVED_TEMPLATES", &dir)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.starts_with("paved: the templates are broken:"), "{err}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, err) = serve_with(&[("PAVED_LISTEN", &addr)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("paved: cannot listen on {addr}: ")),
        "{err}"
    );
}

#[tokio::test]
async fn sigterm_turns_deliveries_away_then_abandons_a_stuck_job_and_exits_0() {
    // A GitHub that accepts connections and never answers: the job for the
    // delivery below hangs on its first call.
    let github = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let settings = format!(
        "GITHUB_API_URL=http://{}\nPAVED_GITHUB_TIMEOUT=5m\nPAVED_SHUTDOWN_GRACE=3s\n",
        github.local_addr().unwrap()
    );
    let paved = Served::start("drain", &settings).await;
    assert_eq!(paved.deliver("stuck-1", SECRET).await, 202);
    let accepted =
        tokio::task::spawn_blocking(move || github.accept().map(|(conn, _)| (conn, github)));
    let hanging = tokio::time::timeout(Duration::from_secs(10), accepted).await;
    let _keep_open = hanging.expect("the job called GitHub").unwrap().unwrap();

    paved.sigterm();
    // While the stuck job has its grace period, deliveries and readiness get 503.
    let deadline = Instant::now() + Duration::from_secs(3);
    while paved.ready().await == 200 {
        assert!(Instant::now() < deadline, "/readyz still 200 after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(paved.ready().await, 503);
    assert_eq!(paved.deliver("late-1", SECRET).await, 503);

    let (status, logs) = paved.exit(Duration::from_secs(15));
    assert!(status.success(), "{status}");
    assert!(
        logs.contains("abandoning what still runs"),
        "the stuck job is abandoned, and said so: {logs}"
    );
    assert!(logs.contains("stopped"), "{logs}");
}
