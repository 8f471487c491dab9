//! The end-to-end stories' helpers: the App's test helpers, and waiting on
//! the stage (answers, quiescence, Applications).
#![allow(dead_code)] // each test binary uses a different subset

#[path = "../../crates/app/tests/common/mod.rs"]
mod app;
pub use app::*;
pub mod process;

/// Comments `body` as `actor` on the request and returns paved's answer.
pub async fn ask(
    stage: &paved::demo::Stage,
    actor: &paved_sandbox::Actor,
    number: u64,
    body: &str,
) -> String {
    ask_in(stage, actor, paved::demo::CATALOG, number, body).await
}

/// [`ask`] on `repo#number`, wherever it is.
pub async fn ask_in(
    stage: &paved::demo::Stage,
    actor: &paved_sandbox::Actor,
    repo: &str,
    number: u64,
    body: &str,
) -> String {
    let (answer, reacted) = stage.ask(actor, repo, number, body).await.unwrap();
    assert!(reacted, "paved reacts 👀 to {body:?}");
    answer
}

/// Waits (bounded) until nothing moves: webhooks delivered, paved idle, and
/// the sandbox's request log unchanged across two looks. A negative
/// assertion after it checks a settled world, not a guess at timing.
pub async fn quiescent(stage: &paved::demo::Stage) {
    assert!(
        stage.quiesce().await,
        "paved and the sandbox never went quiet"
    );
    // A normal run keeps to GitHub's secondary limits, which the sandbox
    // enforces.
    assert_eq!(
        stage.sandbox.secondary_limit_answers(),
        0,
        "paved passed a secondary limit"
    );
}

/// Waits (bounded) for a comment by paved on `repo#number` containing
/// `text`; its body.
pub async fn paved_comment(
    stage: &paved::demo::Stage,
    repo: &str,
    number: u64,
    text: &str,
) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(c) = stage
            .sandbox
            .comments(repo, number)
            .into_iter()
            .find(|c| c.user == "paved[bot]" && c.body.contains(text))
        {
            return c.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "paved never commented {text:?} on {repo}#{number}: {:#?}",
            stage.sandbox.comments(repo, number)
        );
        assert!(
            !paved::demo::background_panicked(),
            "a background task panicked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
}

/// A sandbox and paved with the shipped catalog and templates, and `name`
/// requested by the writer from node-express and ready: the work dir (keep
/// it alive), the stage and the request's number.
pub async fn ready_service(tag: &str, name: &str) -> (TempDir, paved::demo::Stage, u64) {
    let work = TempDir::new(tag);
    let options = paved::demo::StageOptions::shipped(work.path().to_owned());
    let stage = paved::demo::Stage::start(options).await.unwrap();
    let n = stage
        .request(&stage.writer, name, "node-express", "Takes orders.")
        .await
        .unwrap();
    let labels = stage
        .settled(n, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    (work, stage, n)
}

/// `service`'s Application in `env`, as the platform repository's main holds it.
pub async fn application(
    stage: &paved::demo::Stage,
    service: &str,
    env: &str,
) -> Option<paved_app::platform::AppSpec> {
    let bytes = stage
        .sandbox
        .file(
            paved::demo::PLATFORM,
            "main",
            &format!("apps/{service}/{env}.yaml"),
        )
        .await?;
    Some(paved_app::platform::AppSpec::from_yaml(&String::from_utf8(bytes).unwrap()).unwrap())
}

/// Waits (bounded) until `service`'s Application in `env` is as `ok` wants.
pub async fn wait_for_application<F: Fn(&Option<paved_app::platform::AppSpec>) -> bool>(
    stage: &paved::demo::Stage,
    service: &str,
    env: &str,
    ok: F,
) -> Option<paved_app::platform::AppSpec> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let a = application(stage, service, env).await;
        if ok(&a) {
            return a;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "apps/{service}/{env}.yaml never became as expected: {a:?}"
        );
        assert!(
            !paved::demo::background_panicked(),
            "a background task panicked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The strict schema of each resource kind paved defines, by kind, from
/// `deploy/crossplane/definitions.yaml`: the definition's own schema, with
/// the object's apiVersion, kind and metadata, refusing unknown fields.
pub fn resource_schemas() -> std::collections::BTreeMap<String, serde_json::Value> {
    let text =
        std::fs::read_to_string(workspace().join("deploy/crossplane/definitions.yaml")).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let xrd: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
        let spec = &xrd["spec"];
        let version = &spec["versions"][0];
        let mut schema = version["schema"]["openAPIV3Schema"].clone();
        let kind = spec["names"]["kind"].as_str().unwrap().to_owned();
        let properties = schema["properties"].as_object_mut().unwrap();
        properties.insert(
            "apiVersion".into(),
            serde_json::json!({"const": format!("{}/{}", spec["group"].as_str().unwrap(), version["name"].as_str().unwrap())}),
        );
        properties.insert("kind".into(), serde_json::json!({"const": kind}));
        properties.insert(
            "metadata".into(),
            serde_json::json!({
                "type": "object",
                "required": ["name", "namespace"],
                "properties": {
                    "name": {"type": "string"},
                    "namespace": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            }),
        );
        schema["required"] = serde_json::json!(["apiVersion", "kind", "metadata", "spec"]);
        strict(&mut schema);
        out.insert(kind, schema);
    }
    out
}

/// Refuses unknown fields wherever an object lists its properties.
fn strict(node: &mut serde_json::Value) {
    match node {
        serde_json::Value::Object(map) => {
            for value in map.values_mut() {
                strict(value);
            }
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), false.into());
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

/// Asserts each resource file (YAML) is valid for its kind's strict schema.
pub fn assert_resources_valid(files: &[String]) {
    let schemas = resource_schemas();
    for text in files {
        let doc: serde_json::Value = serde_yaml::from_str(text).unwrap();
        let kind = doc["kind"].as_str().unwrap_or_default();
        let schema = schemas
            .get(kind)
            .unwrap_or_else(|| panic!("no definition for {kind}"));
        if let Some(errors) = schema_errors(schema, std::slice::from_ref(&doc)) {
            assert!(errors.is_empty(), "{errors:?}\n{text}");
        }
    }
}

/// Runs git in `dir` as a developer would, asserting it succeeded; its output.
pub fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=Dev", "-c", "user.email=dev@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
