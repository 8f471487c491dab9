//! Resources a service asks for (a Postgres database, a Redis cache, a
//! queue), as Crossplane v2 composite resources of the kinds paved defines
//! (`deploy/crossplane/`), one file each beside the service's Applications:
//! `apps/<service>/<env>/resources/<name>.yaml`, in the environment's
//! namespace. The root app-of-apps applies them a sync wave before the
//! Applications; each composes a Secret `<service>-<name>` holding its `url`,
//! which the service's Application wires into the Deployment as environment
//! variables (a kustomize patch, see [`wiring`]). No credential is ever in
//! Git: the Secret is made in the cluster.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::yaml;

/// The API group and version of paved's resource kinds.
pub const API_VERSION: &str = "platform.paved.dev/v1alpha1";
/// Argo CD applies resources before the workload (wave 0).
const SYNC_WAVE: &str = "-1";
/// The container the wiring adds variables to: the one the built-in
/// templates and paved's standard base name.
pub const CONTAINER: &str = "app";

/// The kinds of resource a service may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceType {
    Postgres,
    Redis,
    Queue,
}

impl ResourceType {
    pub const ALL: [ResourceType; 3] = [Self::Postgres, Self::Redis, Self::Queue];

    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Redis => "redis",
            Self::Queue => "queue",
        }
    }

    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The composite resource kind (`deploy/crossplane/`).
    pub fn kind(self) -> &'static str {
        match self {
            Self::Postgres => "PostgreSQLInstance",
            Self::Redis => "RedisCache",
            Self::Queue => "Queue",
        }
    }

    fn of_kind(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.kind() == kind)
    }

    /// The variable the first resource of this type is read from, as the
    /// built-in templates read it.
    pub fn variable(self) -> &'static str {
        match self {
            Self::Postgres => "DATABASE_URL",
            Self::Redis => "REDIS_URL",
            Self::Queue => "QUEUE_URL",
        }
    }
}

/// One resource as a service asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    #[serde(rename = "type")]
    pub kind: ResourceType,
    pub name: String,
    pub size: String,
    /// Postgres only: the major version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Queues only: first in, first out.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fifo: bool,
    /// Queues only: failed messages go to a dead-letter queue.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dlq: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What happens to the cloud resource when its definition leaves Git.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Deletion {
    /// Kept, no longer managed: data is never lost by a comment.
    #[default]
    #[serde(alias = "orphan")]
    Orphan,
    #[serde(alias = "delete")]
    Delete,
}

/// A resource of one service in one environment: the file paved commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub service: String,
    pub environment: String,
    pub namespace: String,
    pub resource: Resource,
    pub deletion: Deletion,
}

/// `apps/<service>/<env>/resources/`.
pub fn folder(service: &str, environment: &str) -> String {
    format!("apps/{service}/{environment}/resources/")
}

/// The environment's Namespace, for the root app-of-apps to make a wave
/// before the resources in it (the service's Application, which would make
/// it too, syncs after them): `apps/<service>/<env>/namespace.yaml`.
pub fn namespace_file(service: &str, environment: &str, namespace: &str) -> crate::git::FileChange {
    let text = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n  labels:\n    app.kubernetes.io/managed-by: paved\n    {}: {service}\n    {}: {environment}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"-2\"\n",
        super::application::SERVICE_LABEL,
        super::application::ENVIRONMENT_LABEL,
    );
    crate::git::FileChange {
        path: namespace_path(service, environment),
        contents: Some(text.into_bytes()),
        executable: false,
    }
}

pub fn namespace_path(service: &str, environment: &str) -> String {
    format!("apps/{service}/{environment}/namespace.yaml")
}

/// The service, environment and resource name of a resource file.
pub fn of_path(path: &str) -> Option<(&str, &str, &str)> {
    let rest = path.strip_prefix("apps/")?.strip_suffix(".yaml")?;
    let mut parts = rest.split('/');
    let (service, environment, folder, name) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && folder == "resources" && ![service, environment, name].contains(&""))
        .then_some((service, environment, name))
}

/// The Secret a resource's connection details are in.
pub fn secret_name(service: &str, resource: &str) -> String {
    format!("{service}-{resource}")
}

/// A resource's own variable, `<NAME>_URL`.
pub fn own_variable(resource: &str) -> String {
    format!("{}_URL", resource.to_uppercase().replace('-', "_"))
}

impl Claim {
    pub fn path(&self) -> String {
        format!(
            "{}{}.yaml",
            folder(&self.service, &self.environment),
            self.resource.name
        )
    }

    /// The change that makes the platform repository hold this resource.
    pub fn file(&self) -> crate::git::FileChange {
        crate::git::FileChange {
            path: self.path(),
            contents: Some(self.to_yaml().into_bytes()),
            executable: false,
        }
    }

    pub fn to_yaml(&self) -> String {
        let r = &self.resource;
        let file = File {
            api_version: API_VERSION.into(),
            kind: r.kind.kind().into(),
            metadata: Metadata {
                name: r.name.clone(),
                namespace: self.namespace.clone(),
                labels: BTreeMap::from([
                    ("app.kubernetes.io/managed-by".into(), "paved".into()),
                    (
                        super::application::SERVICE_LABEL.into(),
                        self.service.clone(),
                    ),
                    (
                        super::application::ENVIRONMENT_LABEL.into(),
                        self.environment.clone(),
                    ),
                ]),
                annotations: BTreeMap::from([(
                    "argocd.argoproj.io/sync-wave".into(),
                    SYNC_WAVE.into(),
                )]),
            },
            spec: Spec {
                size: r.size.clone(),
                version: r.version.clone(),
                fifo: (r.kind == ResourceType::Queue).then_some(r.fifo),
                dead_letter_queue: (r.kind == ResourceType::Queue).then_some(r.dlq),
                deletion_policy: self.deletion,
                secret_name: secret_name(&self.service, &r.name),
            },
        };
        yaml::to_string(&file).expect("a resource serializes")
    }

    /// Reads back a resource file paved wrote; what paved relies on is
    /// checked, since people edit the platform repository too.
    pub fn from_yaml(text: &str) -> Result<Self, ClaimError> {
        let file: File = yaml::from_str(text)?;
        let kind = ResourceType::of_kind(&file.kind)
            .filter(|_| file.api_version == API_VERSION)
            .ok_or_else(|| {
                ClaimError::Invalid(format!(
                    "{} {} is not a paved resource",
                    file.api_version, file.kind
                ))
            })?;
        let label = |k: &str| file.metadata.labels.get(k).cloned().unwrap_or_default();
        let (service, environment) = (
            label(super::application::SERVICE_LABEL),
            label(super::application::ENVIRONMENT_LABEL),
        );
        if service.is_empty() || environment.is_empty() {
            return Err(ClaimError::Invalid(
                "the service and environment labels are missing".into(),
            ));
        }
        Ok(Self {
            resource: Resource {
                kind,
                name: file.metadata.name,
                size: file.spec.size,
                version: file.spec.version,
                fifo: file.spec.fifo.unwrap_or(false),
                dlq: file.spec.dead_letter_queue.unwrap_or(false),
            },
            service,
            environment,
            namespace: file.metadata.namespace,
            deletion: file.spec.deletion_policy,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(transparent)]
    Yaml(#[from] yaml::Error),
    #[error("{0}")]
    Invalid(String),
}

/// The kustomize patch (strategic merge) an Application carries to give the
/// service's Deployment its resources: each resource's `url` as
/// `<NAME>_URL`, and the first of each type also under the name the
/// templates read (`DATABASE_URL`, `REDIS_URL`, `QUEUE_URL`). `None` for no
/// resources.
pub fn wiring(service: &str, resources: &[Resource]) -> Option<String> {
    if resources.is_empty() {
        return None;
    }
    let mut sorted: Vec<&Resource> = resources.iter().collect();
    sorted.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    let mut env = Vec::new();
    let mut typed = std::collections::BTreeSet::new();
    for r in sorted {
        let secret = secret_name(service, &r.name);
        if typed.insert(r.kind) {
            env.push(variable(r.kind.variable(), &secret));
        }
        env.push(variable(&own_variable(&r.name), &secret));
    }
    let patch = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service},
        "spec": {"template": {"spec": {"containers": [{"name": CONTAINER, "env": env}]}}},
    });
    Some(yaml::to_string(&patch).expect("a patch serializes"))
}

/// The resources a [`wiring`] patch gives the Deployment, by name (the
/// Secrets it reads, less the service's prefix), in the order it reads them.
pub fn wired(service: &str, patch: &str) -> Vec<String> {
    let Ok(value) = serde_yaml::from_str::<serde_json::Value>(patch) else {
        return Vec::new();
    };
    let prefix = format!("{service}-");
    let mut names: Vec<String> = Vec::new();
    let containers = value["spec"]["template"]["spec"]["containers"].as_array();
    for container in containers.into_iter().flatten() {
        for var in container["env"].as_array().into_iter().flatten() {
            let secret = var["valueFrom"]["secretKeyRef"]["name"]
                .as_str()
                .unwrap_or_default();
            // The platform repository is edited by people: only names paved
            // could have written are shown.
            if let Some(name) = secret.strip_prefix(&prefix)
                && crate::scaffold::is_dns_label(name)
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_owned());
            }
        }
    }
    names
}

fn variable(name: &str, secret: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "valueFrom": {"secretKeyRef": {"name": secret, "key": "url"}},
    })
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct File {
    api_version: String,
    kind: String,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    name: String,
    namespace: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Spec {
    size: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fifo: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dead_letter_queue: Option<bool>,
    deletion_policy: Deletion,
    secret_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim() -> Claim {
        Claim {
            service: "orders".into(),
            environment: "dev".into(),
            namespace: "orders-dev".into(),
            resource: Resource {
                kind: ResourceType::Queue,
                name: "jobs".into(),
                size: "small".into(),
                version: None,
                fifo: true,
                dlq: true,
            },
            deletion: Deletion::Orphan,
        }
    }

    #[test]
    fn a_claim_reads_back_as_written() {
        let c = claim();
        assert_eq!(c.path(), "apps/orders/dev/resources/jobs.yaml");
        assert_eq!(of_path(&c.path()), Some(("orders", "dev", "jobs")));
        assert_eq!(of_path("apps/orders/dev.yaml"), None);
        assert_eq!(Claim::from_yaml(&c.to_yaml()).unwrap(), c);
        assert!(
            c.to_yaml().contains("secretName: orders-jobs"),
            "{}",
            c.to_yaml()
        );
    }

    #[test]
    fn wiring_names_each_resource_and_the_first_of_each_type() {
        let db = |name: &str| Resource {
            kind: ResourceType::Postgres,
            name: name.into(),
            size: "small".into(),
            version: Some("16".into()),
            fifo: false,
            dlq: false,
        };
        let patch = wiring("orders", &[db("main-db"), db("audit-db")]).unwrap();
        let value: serde_json::Value = serde_yaml::from_str(&patch).unwrap();
        let env = &value["spec"]["template"]["spec"]["containers"][0]["env"];
        let names: Vec<&str> = env
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["DATABASE_URL", "AUDIT_DB_URL", "MAIN_DB_URL"]);
        assert_eq!(
            env[0]["valueFrom"]["secretKeyRef"]["name"],
            "orders-audit-db"
        );
        assert_eq!(wired("orders", &patch), ["audit-db", "main-db"]);
        assert_eq!(wiring("orders", &[]), None);
    }
}
