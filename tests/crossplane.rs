//! `deploy/crossplane/`: the resource kinds paved defines and the
//! Compositions shipped for them are valid for Crossplane (strict schemas
//! generated from Crossplane's own CRDs into `tests/crossplane/`), every kind
//! has a cloud and an in-cluster Composition, and every resource file paved
//! writes is valid for its kind's definition, unknown fields refused.

mod common;

use std::path::Path;

use paved_app::platform::resource::{Claim, Deletion, Resource, ResourceType};
use serde_json::Value;

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

fn schema(name: &str) -> Value {
    let path = common::workspace().join(format!("tests/crossplane/{name}.strict.schema.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn assert_valid(schema: &Value, docs: &[Value], what: &str) {
    if let Some(errors) = common::schema_errors(schema, docs) {
        assert!(errors.is_empty(), "{what}: {errors:#?}");
    }
}

#[test]
fn definitions_and_compositions_are_valid_for_crossplane() {
    let root = common::workspace().join("deploy/crossplane");
    let definitions = documents(&root.join("definitions.yaml"));
    assert_eq!(definitions.len(), 3);
    assert_valid(
        &schema("compositeresourcedefinition"),
        &definitions,
        "definitions.yaml",
    );
    let kinds: Vec<&str> = definitions
        .iter()
        .map(|d| d["spec"]["names"]["kind"].as_str().unwrap())
        .collect();
    for t in ResourceType::ALL {
        assert!(kinds.contains(&t.kind()), "{} has no definition", t.kind());
    }
    let composition = schema("composition");
    for pattern in ["aws", "in-cluster"] {
        let mut covered = Vec::new();
        let dir = root.join("compositions").join(pattern);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let docs = documents(&path);
            assert_valid(&composition, &docs, &path.display().to_string());
            for doc in docs {
                let target = &doc["spec"]["compositeTypeRef"];
                assert_eq!(
                    target["apiVersion"],
                    "platform.paved.dev/v1alpha1",
                    "{}",
                    path.display()
                );
                covered.push(target["kind"].as_str().unwrap().to_owned());
            }
        }
        covered.sort();
        let mut expected: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        expected.sort();
        assert_eq!(covered, expected, "{pattern}: one Composition per kind");
    }
    // Each definition's default Composition is one that is shipped.
    let shipped: Vec<String> = ["aws", "in-cluster"]
        .iter()
        .flat_map(|p| std::fs::read_dir(root.join("compositions").join(p)).unwrap())
        .flat_map(|e| documents(&e.unwrap().path()))
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    for d in &definitions {
        let default = d["spec"]["defaultCompositionRef"]["name"].as_str().unwrap();
        assert!(
            shipped.iter().any(|s| s == default),
            "{default} is not shipped"
        );
    }
}

#[test]
fn every_resource_file_paved_writes_is_valid_for_its_definition() {
    let resource = |kind, name: &str, version: Option<&str>, queue: bool| Resource {
        kind,
        name: name.into(),
        size: "medium".into(),
        version: version.map(str::to_owned),
        fifo: queue,
        dlq: queue,
    };
    let files: Vec<String> = [
        resource(ResourceType::Postgres, "orders-db", Some("16"), false),
        resource(ResourceType::Redis, "cache", None, false),
        resource(ResourceType::Queue, "jobs", None, true),
        resource(ResourceType::Queue, "events", None, false),
    ]
    .into_iter()
    .zip([
        Deletion::Orphan,
        Deletion::Delete,
        Deletion::Orphan,
        Deletion::Delete,
    ])
    .map(|(resource, deletion)| {
        Claim {
            service: "orders".into(),
            environment: "dev".into(),
            namespace: "orders-dev".into(),
            resource,
            deletion,
        }
        .to_yaml()
    })
    .collect();
    common::assert_resources_valid(&files);
    // And the strict schema does refuse what a definition does not know.
    let schemas = common::resource_schemas();
    let mut unknown: Value = serde_yaml::from_str(&files[1]).unwrap();
    unknown["spec"]["replicas"] = 3.into();
    if let Some(errors) = common::schema_errors(&schemas["RedisCache"], &[unknown]) {
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("replicas"), "{errors:?}");
    }
}
