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
    assert_eq!(report.matches("PASS").count(), 9, "{report}");
}

/// Documented names, per Argo CD's notification docs and the GitHub
/// service of its notifications engine.
const ARGO_TRIGGERS: [&str; 8] = [
    "on-created",
    "on-deleted",
    "on-deployed",
    "on-health-degraded",
    "on-sync-failed",
    "on-sync-running",
    "on-sync-status-unknown",
    "on-sync-succeeded",
];
const GITHUB_SERVICE_SETTINGS: [&str; 4] =
    ["appID", "installationID", "privateKey", "enterpriseBaseURL"];
const GITHUB_TEMPLATE_FIELDS: [&str; 6] = [
    "repoURLPath",
    "revisionPath",
    "status",
    "deployment",
    "pullRequestComment",
    "checkRun",
];
const GITHUB_DEPLOYMENT_FIELDS: [&str; 8] = [
    "state",
    "environment",
    "environmentURL",
    "logURL",
    "requiredContexts",
    "autoMerge",
    "transientEnvironment",
    "reference",
];

fn yaml_docs(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect()
}

/// A ConfigMap value that is itself YAML.
fn nested(value: &serde_json::Value) -> serde_json::Value {
    serde_yaml::from_str(value.as_str().expect("a string value")).unwrap()
}

#[test]
fn argo_cd_notifications_post_the_deployment_statuses_paved_reads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/argocd");
    let [cm] = &yaml_docs(&dir.join("notifications.yaml"))[..] else {
        panic!("one ConfigMap")
    };
    assert_eq!(
        (&cm["kind"], &cm["metadata"]["name"]),
        (&"ConfigMap".into(), &"argocd-notifications-cm".into())
    );
    let data = cm["data"].as_object().unwrap();
    let github = nested(&data["service.github"]);
    for key in github.as_object().unwrap().keys() {
        assert!(
            GITHUB_SERVICE_SETTINGS.contains(&key.as_str()),
            "service.github.{key}"
        );
    }
    // The key comes from the Secret, by the name the example Secret gives it.
    let secret_ref = github["privateKey"].as_str().unwrap();
    let [secret] = &yaml_docs(&dir.join("notifications-secret.example.yaml"))[..] else {
        panic!("one Secret")
    };
    assert_eq!(secret["metadata"]["name"], "argocd-notifications-secret");
    let key = secret_ref
        .strip_prefix('$')
        .expect("a $secret-key reference");
    assert!(
        secret["stringData"].get(key).is_some(),
        "{key} in the Secret"
    );

    // Exactly the triggers paved's Applications subscribe to, each sending
    // templates that exist and only set fields the GitHub service reads.
    let triggers: Vec<&str> = data
        .keys()
        .filter_map(|k| k.strip_prefix("trigger."))
        .collect();
    let mut subscribed = paved_app::platform::NOTIFICATION_TRIGGERS.to_vec();
    subscribed.sort();
    assert_eq!(triggers, subscribed);
    let mut states = Vec::new();
    for trigger in triggers {
        assert!(ARGO_TRIGGERS.contains(&trigger), "{trigger}");
        let conditions = nested(&data[&format!("trigger.{trigger}")]);
        for condition in conditions.as_array().unwrap() {
            assert!(condition["when"].is_string(), "{trigger}: when");
            for template in condition["send"].as_array().unwrap() {
                let name = format!("template.{}", template.as_str().unwrap());
                let template = nested(data.get(&name).unwrap_or_else(|| panic!("{name}")));
                assert!(template["message"].is_string(), "{name}: message");
                let fields = template["github"].as_object().unwrap();
                for field in fields.keys() {
                    assert!(
                        GITHUB_TEMPLATE_FIELDS.contains(&field.as_str()),
                        "{name}: {field}"
                    );
                }
                let deployment = template["github"]["deployment"].as_object().unwrap();
                for field in deployment.keys() {
                    assert!(
                        GITHUB_DEPLOYMENT_FIELDS.contains(&field.as_str()),
                        "{name}: {field}"
                    );
                }
                // It must find the deployment paved made: by the image tag
                // and the environment label, never merging or waiting on checks.
                let revision = template["github"]["revisionPath"].as_str().unwrap();
                assert!(revision.contains("kustomize.images"), "{name}: {revision}");
                assert!(
                    deployment["environment"]
                        .as_str()
                        .unwrap()
                        .contains("paved.dev/environment")
                );
                assert!(
                    deployment["environmentURL"]
                        .as_str()
                        .unwrap()
                        .contains("paved.dev/url")
                );
                assert_eq!(deployment["autoMerge"], false, "{name}");
                assert_eq!(
                    deployment["requiredContexts"],
                    serde_json::json!([]),
                    "{name}"
                );
                states.push((trigger, deployment["state"].as_str().unwrap().to_owned()));
            }
        }
    }
    assert_eq!(
        states,
        [
            ("on-deployed", "success".to_owned()),
            ("on-health-degraded", "failure".to_owned()),
            ("on-sync-failed", "error".to_owned()),
        ]
    );
}
