//! `paved demo` as a person runs it: the whole life of a service on one
//! quiet screen, and nothing on stderr when all is well.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `paved demo` with `args`; its output, once it ends (at most 3 minutes).
fn demo(args: &mut Command) -> std::process::Output {
    let mut child = args
        .env_remove("RUST_LOG")
        .env_remove("PAVED_LOG_FORMAT")
        .env_remove("PAVED_TEMPLATES")
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
    child.wait_with_output().unwrap()
}

fn paved_demo(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paved"));
    command.args(["demo", "--dir"]).arg(dir);
    command
}

#[test]
fn the_demo_tells_a_services_life_and_warns_of_nothing() {
    let work = common::TempDir::new("demo");
    let out = demo(&mut paved_demo(&work.path().join("demo")));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stderr, "", "a healthy demo logs nothing");
    assert!(!stdout.contains('\x1b'), "colour codes off a terminal");
    let story = [
        "writer opened acme/catalog#1",
        "committed in ",
        "**Committed.** billing-api is committed to **dev**",
        "apps/billing-api/dev.yaml",
        "── from committed to live ──",
        "CI (played by the sandbox) ran on `",
        "**Deploying** to dev: CI passed; waiting for Argo CD to sync",
        "Argo CD (the sandbox's argo-cd App) synced dev and reported it Healthy",
        "**Live** in dev at https://billing-api.apps.example.com.",
        "labels: paved:request, paved:ready",
        "writer: /paved promote staging\n  ✅ promote billing-api dev → staging",
        "apps/billing-api/staging.yaml (new) +        count: 2",
        "CI passed, so paved deployed it to dev",
        "writer: /paved rollback dev\n  ✅ roll billing-api in dev back to",
        "writer: /paved status\n  | [dev](",
        "| ✅ Healthy at https://billing-api.",
        "── deployments of acme/billing-api (its Environments panel) ──",
        "  dev      `",
        "  staging  `",
    ];
    let mut at = 0;
    for part in story {
        let found = stdout[at..]
            .find(part)
            .unwrap_or_else(|| panic!("{part:?} missing, or out of order, in:\n{stdout}"));
        at += found + part.len();
    }
}

#[test]
fn the_demo_runs_the_templates_and_catalog_it_is_given_from_any_folder() {
    let work = common::TempDir::new("demo-flags");
    let catalog = work.path().join("my-catalog");
    common::copy_dir(&common::workspace().join("catalog"), &catalog);
    let settings = std::fs::read_to_string(catalog.join("paved.yaml")).unwrap();
    let ours = settings.replace("domain: apps.example.com", "domain: apps.flags.test");
    assert_ne!(ours, settings);
    std::fs::write(catalog.join("paved.yaml"), ours).unwrap();
    let elsewhere = work.path().join("empty");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = demo(
        paved_demo(&work.path().join("demo"))
            .current_dir(&elsewhere)
            .arg("--templates")
            .arg(common::workspace().join("templates"))
            .arg("--catalog")
            .arg(&catalog),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("https://billing-api.apps.flags.test"),
        "the catalog given was used: {stdout}"
    );
}

#[test]
fn a_copied_binary_runs_the_demo_from_an_empty_folder_with_what_is_built_in() {
    let work = common::TempDir::new("demo-relocated");
    let bin = work.path().join("paved");
    std::fs::copy(env!("CARGO_BIN_EXE_paved"), &bin).unwrap();
    let out = demo(
        Command::new(&bin)
            .current_dir(work.path())
            .args(["demo", "--dir"])
            .arg(work.path().join("demo")),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("**Live** in dev at https://billing-api."),
        "{stdout}"
    );
    let entries: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut entries = entries;
    entries.sort();
    assert_eq!(
        entries,
        ["demo", "paved"],
        "nothing else was needed or written here"
    );
}
