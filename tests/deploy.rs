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
    if let Some(errors) = common::argo_schema_errors(&apps) {
        assert!(errors.is_empty(), "{errors:#?}");
    }
}
