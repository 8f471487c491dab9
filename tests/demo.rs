//! `paved demo` as a person runs it: the whole life of a service on one
//! quiet screen, and nothing on stderr when all is well.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_demo_tells_a_services_life_and_warns_of_nothing() {
    let work = common::TempDir::new("demo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_paved"))
        .args(["demo", "--dir"])
        .arg(work.path().join("demo"))
        .env_remove("RUST_LOG")
        .env_remove("PAVED_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("paved demo did not finish within 3 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stderr, "", "a healthy demo logs nothing");
    assert!(!stdout.contains('\x1b'), "colour codes off a terminal");
    let story = [
        "writer opened acme/catalog#1",
        "ready in ",
        "**Ready.** billing-api is deployed to **dev**",
        "apps/billing-api/dev.yaml",
        "writer: /paved promote staging\n  ✅ promote billing-api dev → staging",
        "apps/billing-api/staging.yaml (new) +        count: 2",
        "CI passed, so paved deployed it to dev",
        "writer: /paved rollback dev\n  ✅ roll billing-api in dev back to",
    ];
    let mut at = 0;
    for part in story {
        let found = stdout[at..]
            .find(part)
            .unwrap_or_else(|| panic!("{part:?} missing, or out of order, in:\n{stdout}"));
        at += found + part.len();
    }
}
