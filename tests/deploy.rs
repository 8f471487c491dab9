//! The Argo CD Applications shipped in deploy/argocd validate against Argo
//! CD's schema with unknown fields as errors.

mod common;

use std::path::Path;

#[test]
fn shipped_applications_validate_against_argo_cds_schema() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/argocd");
    let mut apps = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let value: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
                if value["kind"] == "Application" {
                    apps.push(value);
                }
            }
        }
    }
    let root = apps
        .iter()
        .find(|a| a["spec"]["source"]["path"] == "apps")
        .expect("the root app-of-apps");
    assert_eq!(root["spec"]["source"]["directory"]["recurse"], true);
    common::assert_argo_valid(&apps);
}

#[test]
fn deployment_artifacts_pass_the_real_validators() {
    let tools = [
        "hadolint",
        "yamllint",
        "kubectl",
        "kubernetes-validate",
        "promtool",
    ];
    let missing: Vec<&str> = tools
        .into_iter()
        .filter(|t| {
            std::process::Command::new(t)
                .arg("--version")
                .output()
                .is_err()
        })
        .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("PAVED_REQUIRE_VALIDATORS").is_none(),
            "validators missing: {missing:?}"
        );
        eprintln!("skipped: {missing:?} not installed");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/validate-deploy.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report.matches("PASS").count(), 8, "{report}");
}
