//! The Argo CD `Application` paved writes for each environment of a service,
//! at `apps/<service>/<env>.yaml` in the platform repository. The image tag
//! and replica count live in `spec.source.kustomize`, so promotion, rollback
//! and scaling are one-line diffs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::git::FileChange;
use crate::yaml;

/// Argo CD deletes what an Application deployed when the Application is
/// deleted only if this finalizer is set.
pub const FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

const API_VERSION: &str = "argoproj.io/v1alpha1";
pub(super) const SERVICE_LABEL: &str = "paved.dev/service";
pub(super) const ENVIRONMENT_LABEL: &str = "paved.dev/environment";
const REQUEST_ANNOTATION: &str = "paved.dev/request";
const TEMPLATE_ANNOTATION: &str = "paved.dev/template";
const URL_ANNOTATION: &str = "paved.dev/url";
/// The Argo CD notification triggers every Application subscribes to, with
/// the GitHub service: they post the deployment statuses paved reads
/// (`deploy/argocd/notifications.yaml` defines them).
pub const NOTIFICATION_TRIGGERS: [&str; 3] =
    ["on-deployed", "on-health-degraded", "on-sync-failed"];

/// The image CI pushes for service `name` of organisation `org`, untagged.
pub fn image_of(org: &str, name: &str) -> String {
    format!("ghcr.io/{}/{name}", org.to_lowercase())
}

/// What paved decides about one environment of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    pub service: String,
    pub environment: String,
    pub template: String,
    /// The service repository's clone URL.
    pub repo_url: String,
    /// Its branch Argo CD deploys the manifests from: the default branch.
    pub revision: String,
    /// The image without a tag, e.g. `ghcr.io/acme/billing-api`.
    pub image: String,
    pub tag: String,
    pub replicas: u32,
    pub project: String,
    pub cluster: String,
    pub namespace: String,
    /// The catalog issue or pull request the service came from.
    pub request_url: String,
    /// Where the service answers once it runs (its Ingress), as Argo CD's
    /// notifications report it.
    pub url: String,
    /// The folder of the repository holding the kustomize base Argo CD
    /// deploys (the template's; `k8s` unless its sidecar names another).
    pub path: String,
    /// The patch giving the Deployment its resources' connection details
    /// ([`super::resource::wiring`]), when the environment has resources.
    pub wiring: Option<String>,
}

impl AppSpec {
    /// The file in the platform repository.
    pub fn path(&self) -> String {
        path(&self.service, &self.environment)
    }

    pub fn name(&self) -> String {
        format!("{}-{}", self.service, self.environment)
    }

    /// The change that makes the platform repository hold this Application.
    pub fn file(&self) -> FileChange {
        FileChange {
            path: self.path(),
            contents: Some(self.to_yaml().into_bytes()),
            executable: false,
        }
    }

    /// The Application manifest, as committed.
    pub fn to_yaml(&self) -> String {
        let app = Application {
            api_version: API_VERSION.into(),
            kind: "Application".into(),
            metadata: Metadata {
                name: self.name(),
                namespace: "argocd".into(),
                labels: BTreeMap::from([
                    ("app.kubernetes.io/managed-by".into(), "paved".into()),
                    (SERVICE_LABEL.into(), self.service.clone()),
                    (ENVIRONMENT_LABEL.into(), self.environment.clone()),
                ]),
                annotations: NOTIFICATION_TRIGGERS
                    .iter()
                    .map(|t| {
                        (
                            format!("notifications.argoproj.io/subscribe.{t}.github"),
                            String::new(),
                        )
                    })
                    .chain([
                        (REQUEST_ANNOTATION.into(), self.request_url.clone()),
                        (TEMPLATE_ANNOTATION.into(), self.template.clone()),
                        (URL_ANNOTATION.into(), self.url.clone()),
                    ])
                    .collect(),
                finalizers: vec![FINALIZER.into()],
            },
            spec: Spec {
                project: self.project.clone(),
                source: Source {
                    repo_url: self.repo_url.clone(),
                    target_revision: self.revision.clone(),
                    path: self.path.clone(),
                    kustomize: Kustomize {
                        images: vec![format!("{}:{}", self.image, self.tag)],
                        replicas: vec![ReplicaOverride {
                            name: self.service.clone(),
                            count: self.replicas,
                        }],
                        patches: self
                            .wiring
                            .iter()
                            .map(|patch| Patch {
                                target: Target {
                                    kind: "Deployment".into(),
                                    name: self.service.clone(),
                                },
                                patch: patch.clone(),
                            })
                            .collect(),
                    },
                },
                destination: Destination {
                    server: self.cluster.clone(),
                    namespace: self.namespace.clone(),
                },
                sync_policy: SyncPolicy {
                    automated: Automated {
                        prune: true,
                        self_heal: true,
                    },
                    sync_options: vec!["CreateNamespace=true".into(), "PruneLast=true".into()],
                    retry: Retry {
                        limit: 5,
                        backoff: Backoff {
                            duration: "10s".into(),
                            factor: 2,
                            max_duration: "3m".into(),
                        },
                    },
                },
            },
        };
        let body = yaml::to_string(&app).expect("an Application always serializes");
        format!("# Managed by paved: change it with /paved commands on the request.\n{body}")
    }

    /// Reads back an Application paved wrote (for day-2 changes and
    /// status). The platform repository is edited by people too, so what
    /// paved relies on is checked, and every problem is named.
    pub fn from_yaml(text: &str) -> Result<Self, AppError> {
        let app: Application = yaml::from_str(text)?;
        let mut problems = Vec::new();
        if app.api_version != API_VERSION || app.kind != "Application" {
            problems.push(format!(
                "it is a {} {}, not an {API_VERSION} Application",
                app.api_version, app.kind
            ));
        }
        let label = |k: &str| app.metadata.labels.get(k).cloned().unwrap_or_default();
        let annotation = |k: &str| app.metadata.annotations.get(k).cloned().unwrap_or_default();
        let (service, environment) = (label(SERVICE_LABEL), label(ENVIRONMENT_LABEL));
        for (key, value) in [(SERVICE_LABEL, &service), (ENVIRONMENT_LABEL, &environment)] {
            if value.is_empty() {
                problems.push(format!("the label {key} is missing"));
            }
        }
        let kustomize = &app.spec.source.kustomize;
        let (image, tag) = match kustomize.images.as_slice() {
            [one] => match one.rsplit_once(':') {
                Some((image, tag)) if !image.is_empty() && is_tag(tag) => (image, tag),
                _ => {
                    problems.push(format!("the image {one:?} has no valid tag"));
                    ("", "")
                }
            },
            images => {
                problems.push(format!(
                    "spec.source.kustomize.images holds {} images, not one",
                    images.len()
                ));
                ("", "")
            }
        };
        let wiring = match kustomize.patches.as_slice() {
            [] => None,
            [one] if one.target.kind == "Deployment" && one.target.name == service => {
                Some(one.patch.clone())
            }
            _ => {
                problems.push(format!(
                    "spec.source.kustomize.patches must hold only paved's patch of the Deployment {service:?}"
                ));
                None
            }
        };
        let path = app.spec.source.path.clone();
        if !crate::scaffold::is_relative_folder(&path) {
            problems.push(format!(
                "spec.source.path {path:?} is not a folder inside the repository"
            ));
        }
        let replicas = match kustomize.replicas.as_slice() {
            [one] if one.name == service => one.count,
            _ => {
                problems.push(format!(
                    "spec.source.kustomize.replicas must set the count of {service:?} alone"
                ));
                0
            }
        };
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        Ok(Self {
            service,
            environment,
            template: annotation(TEMPLATE_ANNOTATION),
            repo_url: app.spec.source.repo_url,
            revision: app.spec.source.target_revision,
            image: image.to_owned(),
            tag: tag.to_owned(),
            replicas,
            project: app.spec.project,
            cluster: app.spec.destination.server,
            namespace: app.spec.destination.namespace,
            request_url: annotation(REQUEST_ANNOTATION),
            url: annotation(URL_ANNOTATION),
            path,
            wiring,
        })
    }
}

#[cfg(test)]
impl AppSpec {
    /// An Application for unit tests: `service` from node-express in
    /// `environment`, one replica, in the cluster paved runs in.
    pub(crate) fn example(service: &str, environment: &str) -> Self {
        Self {
            service: service.into(),
            environment: environment.into(),
            template: "node-express@1.0.0".into(),
            repo_url: format!("https://github.com/acme/{service}.git"),
            revision: "main".into(),
            image: format!("ghcr.io/acme/{service}"),
            tag: "0123abc".into(),
            replicas: 1,
            project: "default".into(),
            cluster: "https://kubernetes.default.svc".into(),
            namespace: format!("{service}-{environment}"),
            request_url: String::new(),
            url: String::new(),
            path: "k8s".into(),
            wiring: None,
        }
    }
}

/// Why an Application file is not one paved can work with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Yaml(#[from] yaml::Error),
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// An OCI image tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn is_tag(s: &str) -> bool {
    let mut bytes = s.bytes();
    (1..=128).contains(&s.len())
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `apps/<service>/<env>.yaml`.
pub fn path(service: &str, environment: &str) -> String {
    format!("{}/{environment}.yaml", folder(service))
}

/// `apps/<service>`: the folder of a service's Applications.
pub fn folder(service: &str) -> String {
    format!("apps/{service}")
}

/// The service and environment of an Application's file, if `path` is one.
pub fn of_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("apps/")?.strip_suffix(".yaml")?;
    let (service, environment) = rest.split_once('/')?;
    let plain = |s: &str| !s.is_empty() && !s.contains('/');
    (plain(service) && plain(environment)).then_some((service, environment))
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Application {
    api_version: String,
    kind: String,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Serialize, Deserialize)]
struct Metadata {
    name: String,
    namespace: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    finalizers: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    project: String,
    source: Source,
    destination: Destination,
    sync_policy: SyncPolicy,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Source {
    #[serde(rename = "repoURL")]
    repo_url: String,
    target_revision: String,
    path: String,
    kustomize: Kustomize,
}

#[derive(Serialize, Deserialize)]
struct Kustomize {
    #[serde(default)]
    images: Vec<String>,
    #[serde(default)]
    replicas: Vec<ReplicaOverride>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    patches: Vec<Patch>,
}

/// A kustomize patch Argo CD applies to the service's manifests.
#[derive(Serialize, Deserialize)]
struct Patch {
    target: Target,
    patch: String,
}

#[derive(Serialize, Deserialize)]
struct Target {
    kind: String,
    name: String,
}

#[derive(Serialize, Deserialize)]
struct ReplicaOverride {
    name: String,
    count: u32,
}

#[derive(Serialize, Deserialize)]
struct Destination {
    server: String,
    namespace: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyncPolicy {
    automated: Automated,
    sync_options: Vec<String>,
    retry: Retry,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Automated {
    prune: bool,
    self_heal: bool,
}

#[derive(Serialize, Deserialize)]
struct Retry {
    limit: u32,
    backoff: Backoff,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Backoff {
    duration: String,
    factor: u32,
    max_duration: String,
}
