//! Rendered scaffolds pass the real validators and their own test suites:
//! actionlint, hadolint, yamllint, kustomize + Kubernetes schemas, and
//! pytest / npm test (scripts/validate-scaffold.sh runs them all).
//!
//! The validators come from PyPI (scripts/requirements-validators.txt); CI
//! installs them and sets PAVED_REQUIRE_VALIDATORS=1 so that a missing tool
//! fails instead of skipping.

mod common;

use paved_app::scaffold::foreign::hooks::Hooks;
use std::collections::BTreeMap;

use std::process::Command;

use common::{TempDir, shipped_templates};
use paved_app::scaffold::{render, resolve};

const HOSTILE: &str = "Quotes \" ' and \\ backslashes\nnew line\r\n{{ name }} {% if x %} {# c #} {% raw %}\
 # not a comment: --- ... ${{ github.token }} <script>alert(1)</script> &amp; `code` *em* [l](u) @acme/all \
 \u{2028}\u{2029}\u{85}\u{0}\u{1b}\u{7f}\u{feff} é 🚀 שלום";

fn ten_kilobytes(s: &str) -> String {
    s.repeat(10 * 1024 / s.len())
}

fn validators_present() -> bool {
    let present = [
        "actionlint",
        "hadolint",
        "yamllint",
        "kubectl",
        "kubernetes-validate",
    ]
    .iter()
    .all(|t| Command::new(t).arg("--version").output().is_ok());
    if !present && std::env::var_os("PAVED_REQUIRE_VALIDATORS").is_some() {
        panic!("validators missing: pip install -r scripts/requirements-validators.txt");
    }
    if !present {
        eprintln!(
            "skipped: validators not installed (pip install -r scripts/requirements-validators.txt)"
        );
    }
    present
}

fn validate(template: &str, description: &str) {
    if !validators_present() {
        return;
    }
    let templates = shipped_templates();
    let t = templates.get(template).unwrap();
    let given: BTreeMap<String, String> = [
        ("name", "billing-api"),
        ("description", description),
        ("owner", "@acme/team-a"),
        ("org", "Acme-Corp"),
        ("port", "9000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let rendered = render(
        t,
        &resolve(t, &given).unwrap(),
        &Hooks::refused(&std::env::temp_dir(), "svc"),
    )
    .unwrap();
    let dir = TempDir::new(&format!("validate-{template}"));
    rendered.write_to(dir.path(), false).unwrap();
    let script = common::workspace().join("scripts/validate-scaffold.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(dir.path())
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{template} failed validation:\n{report}"
    );
    eprintln!("{template}:\n{report}");
}

#[test]
fn python_fastapi_with_ordinary_values() {
    validate("python-fastapi", "Bills customers once a month.");
}

#[test]
fn python_fastapi_with_hostile_values() {
    validate("python-fastapi", &ten_kilobytes(HOSTILE));
}

#[test]
fn node_express_with_ordinary_values() {
    validate("node-express", "Bills customers once a month.");
}

#[test]
fn node_express_with_hostile_values() {
    validate("node-express", &ten_kilobytes(HOSTILE));
}
