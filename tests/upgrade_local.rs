//! `paved upgrade --repo DIR`: the upgrade merge on a local checkout.

mod common;

use paved_app::scaffold::foreign::hooks::Hooks;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{TempDir, bump, git, template_copy};
use paved_app::scaffold::publish::{answers_file, scaffold_files};
use paved_app::scaffold::{Templates, render, resolve};

/// A checkout of a service made from node-express 1.0.0, as paved would have made it.
fn checkout(work: &TempDir) -> (std::path::PathBuf, std::path::PathBuf) {
    let templates = work.path().join("templates");
    template_copy(&templates);
    let t = Templates::load(&templates).unwrap();
    let tpl = t.get("node-express").unwrap();
    let given: BTreeMap<String, String> = [
        ("name", "shop"),
        ("description", "Sells."),
        ("owner", "@acme/shop"),
    ]
    .map(|(k, v)| (k.into(), v.into()))
    .into();
    let values = resolve(tpl, &given).unwrap();
    let files = scaffold_files(
        &render(tpl, &values, &Hooks::refused(work.path(), "shop")).unwrap(),
        answers_file(tpl, &values, "https://example/acme/catalog/issues/1", None),
    );
    let repo = work.path().join("shop");
    std::fs::create_dir_all(&repo).unwrap();
    for f in files {
        let p = repo.join(&f.path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, f.contents.unwrap()).unwrap();
    }
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "Scaffold"]);
    git(&repo, &["branch", "paved/template"]);
    (repo, templates)
}

fn paved_upgrade(repo: &Path, templates: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_paved"))
        .args(["upgrade", "--repo"])
        .arg(repo)
        .arg("--templates")
        .arg(templates)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_clean_upgrade_is_merged_and_committed() {
    let work = TempDir::new("local-clean");
    let (repo, templates) = checkout(&work);
    assert_eq!(
        paved_upgrade(&repo, &templates),
        (0, "already on 1.0.0\n".into())
    );
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    std::fs::write(repo.join("README.md"), format!("Ours.\n{readme}")).unwrap();
    git(&repo, &["commit", "-q", "-am", "Our README"]);
    bump(&templates, "1.1.0");
    let (code, text) = paved_upgrade(&repo, &templates);
    assert_eq!(
        (code, text.as_str()),
        (0, "upgraded 1.0.0 → 1.1.0: merged and committed\n")
    );
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    assert!(
        readme.starts_with("Ours.") && readme.contains("## Runbook 1.1.0"),
        "{readme}"
    );
    assert!(repo.join("docs/RUNBOOK.md").is_file());
    assert!(
        git(&repo, &["log", "-1", "--format=%s"])
            .starts_with("Merge paved/template: node-express 1.0.0 → 1.1.0")
    );
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    assert_eq!(
        paved_upgrade(&repo, &templates),
        (0, "already on 1.1.0\n".into())
    );
    service_tests_pass(&repo);
}

/// The merged service's own test suite (`npm ci && npm test`), when Node.js
/// is here; CI requires it (PAVED_REQUIRE_VALIDATORS).
fn service_tests_pass(repo: &Path) {
    if Command::new("npm").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("PAVED_REQUIRE_VALIDATORS").is_none(),
            "npm is required"
        );
        eprintln!("skipped: npm is not installed");
        return;
    }
    for args in [&["ci", "--no-audit", "--no-fund"][..], &["test"][..]] {
        let out = Command::new("npm")
            .args(args)
            .current_dir(repo)
            .output()
            .unwrap();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "npm {args:?}: {log}");
    }
}

#[test]
fn a_conflicting_upgrade_names_the_files_to_resolve() {
    let work = TempDir::new("local-conflict");
    let (repo, templates) = checkout(&work);
    let app = std::fs::read_to_string(repo.join("src/app.js")).unwrap();
    std::fs::write(repo.join("src/app.js"), format!("// ours\n{app}")).unwrap();
    git(&repo, &["commit", "-q", "-am", "Our app"]);
    bump(&templates, "1.1.0");
    let (code, text) = paved_upgrade(&repo, &templates);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("resolve these, then `git commit`:\n  src/app.js"),
        "{text}"
    );
    let app = std::fs::read_to_string(repo.join("src/app.js")).unwrap();
    assert!(
        app.contains("<<<<<<<") && app.contains("// template 1.1.0"),
        "{app}"
    );

    // A dirty tree is refused and left alone.
    let (code, text) = paved_upgrade(&repo, &templates);
    assert_eq!(code, 2);
    assert!(text.contains("uncommitted changes"), "{text}");
}
