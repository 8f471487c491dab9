//! `paved serve` as a process, the way an operator runs it.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
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

#[tokio::test]
async fn serve_reads_an_env_file_answers_webhooks_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("paved-cli-{}", std::process::id()));
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
             GITHUB_API_URL=http://127.0.0.1:9\n",
            key_path.display()
        ),
    )
    .unwrap();
    let mut child = paved()
        .args(["serve", "--env-file"])
        .arg(&env_file)
        .env("RUST_LOG", "debug")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Starting needs no GitHub (the API URL points nowhere): /healthz answers at once.
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            assert_eq!(r.status(), 200);
            break;
        }
        assert!(Instant::now() < deadline, "paved serve did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ok = deliver(
        &http,
        &format!("{base}/webhook"),
        "issues",
        "cli-1",
        fixture("issues.opened.json"),
        SECRET,
    )
    .await;
    assert_eq!(ok.status(), 202);
    let bad = deliver(
        &http,
        &format!("{base}/webhook"),
        "issues",
        "cli-2",
        fixture("issues.opened.json"),
        "x",
    )
    .await;
    assert_eq!(bad.status(), 401);
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "paved serve ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");

    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
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
    std::fs::remove_dir_all(&dir).ok();
}
