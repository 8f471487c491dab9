//! The part of kustomize Argo CD applies to a scaffold's manifests, so that
//! policies read what would run: the kustomization's `resources` (files in
//! its folder), its `images` and `replicas`, and on top Argo CD's own
//! overrides from the Application (the image's tag, the Deployment's
//! replica count). A kustomization that asks for more (patches,
//! generators, other bases) is refused by name, never built wrong.

use serde::Deserialize as _;
use serde_json::Value;

/// What the Application overrides, as Argo CD's `spec.source.kustomize`.
#[derive(Debug, Clone, Copy)]
pub struct Overrides<'a> {
    /// The image name whose tag is set, e.g. `ghcr.io/acme/orders`.
    pub image: &'a str,
    pub tag: &'a str,
    /// The workload whose replica count is set, and the count.
    pub workload: &'a str,
    pub replicas: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KustomizeError {
    #[error("{0}: not found")]
    Missing(String),
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: `{key}` is not supported when policies read the manifests")]
    Unsupported { path: String, key: String },
}

/// The keys of a kustomization this build understands.
const SUPPORTED: [&str; 6] = [
    "apiVersion",
    "kind",
    "resources",
    "images",
    "replicas",
    "namespace",
];
/// Workloads whose `spec.replicas` a `replicas` entry sets.
const SCALED: [&str; 3] = ["Deployment", "ReplicaSet", "StatefulSet"];

/// The documents the kustomization in `dir` of `files` builds, each with
/// the file it came from, with `overrides` applied.
pub fn build(
    files: &[(String, Vec<u8>)],
    dir: &str,
    overrides: &Overrides<'_>,
) -> Result<Vec<(String, Value)>, KustomizeError> {
    let read = |name: &str| {
        let path = format!("{dir}/{name}");
        files
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, bytes)| (path.clone(), String::from_utf8_lossy(bytes).into_owned()))
            .ok_or(KustomizeError::Missing(path))
    };
    let (path, text) = read("kustomization.yaml").or_else(|_| read("kustomization.yml"))?;
    let kustomization: Value = serde_yaml::from_str(&text).map_err(|e| invalid(&path, e))?;
    let Some(keys) = kustomization.as_object() else {
        return Err(invalid(&path, "not a mapping"));
    };
    if let Some(key) = keys.keys().find(|k| !SUPPORTED.contains(&k.as_str())) {
        return Err(KustomizeError::Unsupported {
            path,
            key: key.clone(),
        });
    }
    let mut documents = Vec::new();
    for resource in list(&kustomization, "resources") {
        let Some(name) = resource.as_str().filter(|n| !n.contains("..")) else {
            return Err(invalid(&path, "a resource is not a file in its folder"));
        };
        let (file, text) = read(name)?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(document).map_err(|e| invalid(&file, e))?;
            if !value.is_null() {
                documents.push((file.clone(), value));
            }
        }
    }
    let images = images(&kustomization, overrides);
    let mut replicas: Vec<(String, u64)> = list(&kustomization, "replicas")
        .iter()
        .filter_map(|r| Some((r["name"].as_str()?.to_owned(), r["count"].as_u64()?)))
        .collect();
    replicas.push((overrides.workload.to_owned(), u64::from(overrides.replicas)));
    let namespace = kustomization["namespace"].as_str();
    for (_, document) in &mut documents {
        set_images(document, &images);
        set_replicas(document, &replicas);
        if let Some(ns) = namespace {
            document["metadata"]["namespace"] = ns.into();
        }
    }
    Ok(documents)
}

fn invalid(path: &str, message: impl std::fmt::Display) -> KustomizeError {
    KustomizeError::Invalid {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

fn list<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value[key].as_array().map_or(&[], Vec::as_slice)
}

/// One `images` entry: the name it matches and what it sets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Image {
    name: String,
    new_name: Option<String>,
    new_tag: Option<String>,
    digest: Option<String>,
}

/// The kustomization's `images`, with Argo CD's tag for `overrides.image`
/// set on its entry (made when there is none), as `kustomize edit set
/// image` does.
fn images(kustomization: &Value, overrides: &Overrides<'_>) -> Vec<Image> {
    let text = |v: &Value, k: &str| v[k].as_str().map(str::to_owned);
    let mut images: Vec<Image> = list(kustomization, "images")
        .iter()
        .filter_map(|i| {
            Some(Image {
                name: text(i, "name")?,
                new_name: text(i, "newName"),
                new_tag: text(i, "newTag"),
                digest: text(i, "digest"),
            })
        })
        .collect();
    match images.iter_mut().find(|i| i.name == overrides.image) {
        Some(image) => {
            image.new_tag = Some(overrides.tag.to_owned());
            image.digest = None;
        }
        None => images.push(Image {
            name: overrides.image.to_owned(),
            new_name: None,
            new_tag: Some(overrides.tag.to_owned()),
            digest: None,
        }),
    }
    images
}

/// An image reference split into its name and its `:tag` or `@digest`.
fn split_image(image: &str) -> (&str, &str) {
    if let Some(at) = image.find('@') {
        return image.split_at(at);
    }
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(colon) => image.split_at(slash + colon),
        None => (image, ""),
    }
}

/// Sets every container image of `document` that an entry of `images`
/// names, where kustomize's images transformer looks.
fn set_images(document: &mut Value, images: &[Image]) {
    let pods = [
        "/spec",
        "/spec/template/spec",
        "/spec/jobTemplate/spec/template/spec",
    ];
    for pod in pods {
        for list in ["containers", "initContainers"] {
            let Some(containers) = document
                .pointer_mut(&format!("{pod}/{list}"))
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for container in containers {
                let Some(image) = container["image"].as_str() else {
                    continue;
                };
                let (name, rest) = split_image(image);
                let Some(entry) = images.iter().find(|i| i.name == name) else {
                    continue;
                };
                let name = entry.new_name.as_deref().unwrap_or(name);
                let reference = match (&entry.digest, &entry.new_tag) {
                    (Some(digest), _) => format!("{name}@{digest}"),
                    (None, Some(tag)) => format!("{name}:{tag}"),
                    (None, None) => format!("{name}{rest}"),
                };
                container["image"] = reference.into();
            }
        }
    }
}

/// Sets `spec.replicas` of the workloads `replicas` names.
fn set_replicas(document: &mut Value, replicas: &[(String, u64)]) {
    let kind = document["kind"].as_str().unwrap_or_default();
    let name = document["metadata"]["name"].as_str().unwrap_or_default();
    if !SCALED.contains(&kind) {
        return;
    }
    // The last entry for a name wins: Argo CD's comes last.
    if let Some((_, count)) = replicas.iter().rev().find(|(n, _)| n == name) {
        document["spec"]["replicas"] = (*count).into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec()))
            .collect()
    }

    const OVERRIDES: Overrides<'static> = Overrides {
        image: "ghcr.io/acme/orders",
        tag: "abc123",
        workload: "orders",
        replicas: 3,
    };

    #[test]
    fn images_and_replicas_are_set_as_argo_cds_kustomize_sets_them() {
        let built = build(
            &files(&[
                (
                    "k8s/kustomization.yaml",
                    "resources: [app.yaml]\nimages:\n  - name: ghcr.io/acme/orders\n    newTag: latest\n  - name: envoy\n    newName: docker.io/envoyproxy/envoy\n    newTag: v1.30.0\n",
                ),
                (
                    "k8s/app.yaml",
                    "kind: Deployment\nmetadata: {name: orders}\nspec:\n  replicas: 1\n  template:\n    spec:\n      initContainers: [{name: init, image: 'ghcr.io/acme/orders:old'}]\n      containers:\n        - {name: app, image: ghcr.io/acme/orders}\n        - {name: proxy, image: 'envoy:1.2'}\n        - {name: other, image: 'registry:5000/x/y:2'}\n---\nkind: Service\nmetadata: {name: orders}\n",
                ),
            ]),
            "k8s",
            &OVERRIDES,
        )
        .unwrap();
        assert_eq!(built.len(), 2);
        let (file, deployment) = &built[0];
        assert_eq!(file, "k8s/app.yaml");
        let images: Vec<&str> = deployment["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["image"].as_str().unwrap())
            .collect();
        assert_eq!(
            images,
            [
                "ghcr.io/acme/orders:abc123",
                "docker.io/envoyproxy/envoy:v1.30.0",
                "registry:5000/x/y:2"
            ]
        );
        assert_eq!(
            deployment["spec"]["template"]["spec"]["initContainers"][0]["image"],
            "ghcr.io/acme/orders:abc123"
        );
        assert_eq!(deployment["spec"]["replicas"], 3);
        assert!(built[1].1["spec"]["replicas"].is_null());
    }

    #[test]
    fn what_is_not_understood_is_refused_by_name() {
        let patched = files(&[(
            "k8s/kustomization.yaml",
            "resources: [a.yaml]\npatches:\n  - path: p.yaml\n",
        )]);
        assert_eq!(
            build(&patched, "k8s", &OVERRIDES).unwrap_err().to_string(),
            "k8s/kustomization.yaml: `patches` is not supported when policies read the manifests"
        );
        let escaping = files(&[("k8s/kustomization.yaml", "resources: [../secret.yaml]\n")]);
        assert!(build(&escaping, "k8s", &OVERRIDES).is_err());
        let missing = files(&[("k8s/kustomization.yaml", "resources: [gone.yaml]\n")]);
        assert_eq!(
            build(&missing, "k8s", &OVERRIDES).unwrap_err(),
            KustomizeError::Missing("k8s/gone.yaml".into())
        );
    }

    #[test]
    fn image_references_split_at_their_tag_or_digest() {
        assert_eq!(split_image("a/b:1"), ("a/b", ":1"));
        assert_eq!(split_image("host:5000/a"), ("host:5000/a", ""));
        assert_eq!(split_image("a@sha256:00"), ("a", "@sha256:00"));
    }
}
