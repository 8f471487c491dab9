//! Asking the catalog's Rego policies about a request. They are read from
//! the catalog's default branch once and kept until the catalog is pushed
//! to; a set that does not compile is kept as its error, and every request
//! is refused with it until the catalog is fixed: a policy error never
//! allows.

use std::sync::Arc;

use serde_json::{Value, json};

use super::day2::Day2;
use super::{Reconciler, Setup};
use crate::catalog::{CatalogSettings, Environment, Problem, ServiceRequest, ValidRequest};
use crate::commands::Role;
use crate::error::StepError;
use crate::github::Permission;
use crate::kustomize::{self, Overrides};
use crate::platform::{AppSpec, image_of};
use crate::policy::{self, Policies, PolicyError};

/// The catalog's policies, or why they cannot be used.
pub(super) type Compiled = Arc<Result<Policies, PolicyError>>;

/// What the policies decided about a request.
pub(super) enum Decision {
    /// Allowed; the warnings to show.
    Allowed(Vec<String>),
    /// Denied, or the policies could not decide: every reason.
    Refused(Vec<Problem>),
}

impl Reconciler {
    /// The catalog's policies, compiled; read once until the catalog changes.
    pub(super) async fn policies(&self, setup: &Setup) -> Result<Compiled, StepError> {
        let mut cached = self.policies.lock().await;
        if let Some(compiled) = cached.as_ref() {
            return Ok(compiled.clone());
        }
        let gh = &self.deps.github;
        let (inst, catalog) = (setup.installation, &self.deps.catalog);
        let names = gh
            .list_dir(inst, catalog, policy::FOLDER, "HEAD")
            .await?
            .unwrap_or_default();
        let names: Vec<String> = names.into_iter().filter(|n| n.ends_with(".rego")).collect();
        let compiled = if names.len() > policy::MAX_FILES {
            Err(PolicyError::Limit(format!(
                "{} policy files; at most {} are read",
                names.len(),
                policy::MAX_FILES
            )))
        } else {
            let mut files = Vec::with_capacity(names.len());
            for name in names.iter().filter(|n| !policy::is_test(n)) {
                let path = format!("{}/{name}", policy::FOLDER);
                if let Some(bytes) = gh.get_file(inst, catalog, &path, "HEAD").await? {
                    files.push((path, String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
            let settings = self.settings(inst).await?;
            Policies::compile(&files, &settings.policy.packages)
        };
        if let Err(e) = &compiled {
            tracing::warn!(error = %e, "the catalog's policies do not compile: every request is refused until they do");
        }
        let compiled = Arc::new(compiled);
        *cached = Some(compiled.clone());
        Ok(compiled)
    }

    /// What the catalog's policies say of `valid`, asked by `requester`
    /// (whose permission on the catalog they are given, when there are
    /// policies to read it): of the request itself, of each Kubernetes
    /// manifest its scaffold deploys (one evaluation a document, as
    /// conftest does) and of all of them at once (conftest's `--combine`).
    pub(super) async fn decide_request(
        &self,
        setup: &Setup,
        settings: &CatalogSettings,
        valid: &ValidRequest,
        requester: &str,
        member: bool,
    ) -> Result<Decision, StepError> {
        let compiled = self.policies(setup).await?;
        let policies = match compiled.as_ref() {
            Ok(p) if p.is_empty() => return Ok(Decision::Allowed(Vec::new())),
            Ok(p) => p,
            Err(e) => return Ok(Decision::Refused(vec![refusal(e)])),
        };
        let permission = self
            .deps
            .github
            .permission(setup.installation, &self.deps.catalog, requester)
            .await?;
        let request = request_input(
            &valid.request,
            &valid.resources,
            requester,
            member,
            permission,
        );
        let manifests = match self.manifests(settings, valid).await {
            Ok(documents) => documents,
            Err(why) => return Ok(Decision::Refused(vec![Problem::general(why)])),
        };
        Ok(match policies.judge(&request, &manifests) {
            Err(e) => Decision::Refused(vec![refusal(&e)]),
            Ok(judged) if judged.denied.is_empty() => Decision::Allowed(judged.warned),
            Ok(judged) => Decision::Refused(
                judged
                    .denied
                    .into_iter()
                    .map(|d| Problem::general(format!("denied by {d}")))
                    .collect(),
            ),
        })
    }

    /// The Kubernetes manifests `valid`'s scaffold deploys to the first
    /// environment, as Argo CD's kustomize builds them: the image tagged
    /// with the scaffold commit (not made yet, so [`UNMADE_COMMIT`]) and
    /// the environment's replica count.
    async fn manifests(
        &self,
        settings: &CatalogSettings,
        valid: &ValidRequest,
    ) -> Result<Vec<(String, Value)>, String> {
        let name = &valid.request.name;
        let template = self
            .deps
            .templates
            .get(&valid.request.template)
            .ok_or_else(|| format!("template {} is gone", valid.request.template))?;
        let (rendered, _) = self.render_request(settings, valid).await?;
        let files: Vec<(String, Vec<u8>)> = rendered
            .files
            .into_iter()
            .map(|f| (f.path, f.contents))
            .collect();
        let image = image_of(&settings.organization, name);
        let overrides = Overrides {
            image: &image,
            tag: UNMADE_COMMIT,
            workload: name,
            replicas: settings.first_environment().replicas.default,
        };
        kustomize::build(&files, &template.manifests, &overrides)
            .map_err(|e| format!("the policies cannot read the manifests: {e}"))
    }
}

/// The tag the manifests carry while the scaffold commit does not exist.
const UNMADE_COMMIT: &str = "0000000000000000000000000000000000000000";

/// The input the policies read for a request, as
/// `catalog/schema/policy-request.schema.json` documents it.
fn request_input(
    r: &ServiceRequest,
    resources: &[crate::platform::resource::Resource],
    requester: &str,
    member: bool,
    permission: Permission,
) -> Value {
    json!({
        "kind": "request",
        "name": r.name,
        "template": r.template,
        "description": r.description,
        "owner": r.owner,
        "parameters": r.parameters,
        "resources": resources,
        "requester": {
            "login": requester,
            "member": member,
            "permission": permission.name(),
        },
    })
}

/// A policy error, as the requester reads it: nothing was decided, so
/// nothing is made.
fn refusal(e: &PolicyError) -> Problem {
    Problem::general(format!(
        "{e}. Nothing can be decided until the platform team fixes it; edit this request to have it checked again."
    ))
}

impl Day2<'_> {
    /// What the catalog's policies say of changing `env` from `from` to
    /// `to` by `command`: the warnings to show, or every deny as invalid
    /// input (nothing is changed). A policy error never allows.
    pub(super) async fn judge_change(
        &self,
        command: &str,
        env: &Environment,
        from: Option<&AppSpec>,
        to: &AppSpec,
    ) -> Result<Vec<String>, StepError> {
        let compiled = self.paved.policies(self.setup).await?;
        let policies = match compiled.as_ref() {
            Ok(p) if p.is_empty() => return Ok(Vec::new()),
            Ok(p) => p,
            Err(e) => return Err(unchanged(e)),
        };
        let mut now = serde_json::Map::new();
        let mut deployed = Vec::new();
        for e in &self.settings.environments {
            let app = self.application(&e.name).await?;
            now.insert(e.name.clone(), app.as_ref().map_or(Value::Null, running));
            deployed.extend(app);
        }
        let apps: Vec<&AppSpec> = deployed.iter().collect();
        let tags = self.histories(&apps).await?;
        let mut history: serde_json::Map<String, Value> = self
            .settings
            .environments
            .iter()
            .map(|e| (e.name.clone(), json!([])))
            .collect();
        for (app, tags) in deployed.iter().zip(tags) {
            history.insert(app.environment.clone(), json!(tags));
        }
        let names: Vec<&str> = self
            .settings
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        let previous = names
            .iter()
            .position(|n| *n == env.name)
            .and_then(|i| i.checked_sub(1))
            .map(|i| names[i]);
        let change = Change {
            command,
            service: self.service,
            env,
            previous,
            from,
            to,
            actor: &self.job.actor,
            role: self.role,
        };
        let input = change_input(&change, now, history);
        let verdict = policies.evaluate(&input).map_err(|e| unchanged(&e))?;
        if !verdict.denied.is_empty() {
            let denied = verdict
                .denied
                .iter()
                .map(|f| Problem::general(format!("denied by {f}")));
            return Err(StepError::Invalid(denied.collect()));
        }
        Ok(verdict.warned.iter().map(ToString::to_string).collect())
    }
}

/// A day-2 change, as the policies are asked about it.
struct Change<'a> {
    command: &'a str,
    service: &'a str,
    env: &'a Environment,
    previous: Option<&'a str>,
    from: Option<&'a AppSpec>,
    to: &'a AppSpec,
    actor: &'a str,
    role: Role,
}

/// The input the policies read for a change, as
/// `catalog/schema/policy-change.schema.json` documents it; `now` and
/// `history` hold every environment.
fn change_input(
    c: &Change<'_>,
    now: serde_json::Map<String, Value>,
    history: serde_json::Map<String, Value>,
) -> Value {
    let replicas = &c.env.replicas;
    json!({
        "kind": "change",
        "command": c.command,
        "service": c.service,
        "environment": c.env.name,
        "previous": c.previous,
        "review": c.env.review,
        "limits": {"replicas": {"default": replicas.default, "max": replicas.max}},
        "from": c.from.map_or(Value::Null, running),
        "to": running(c.to),
        "actor": {"login": c.actor, "role": c.role.name()},
        "environments": now,
        "history": history,
    })
}

/// A policy error, as the one who asked for a change reads it: nothing was
/// decided, so nothing changed.
fn unchanged(e: &PolicyError) -> StepError {
    StepError::invalid(format!(
        "{e}. Nothing was changed: the platform team must fix it first."
    ))
}

/// What runs in an environment, as the policies read it.
fn running(app: &AppSpec) -> Value {
    json!({"tag": app.tag, "replicas": app.replicas})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The property names of `schema`'s object at `pointer`, sorted.
    fn properties(schema: &Value, pointer: &str) -> Vec<String> {
        let mut names: Vec<String> = schema
            .pointer(pointer)
            .and_then(Value::as_object)
            .expect("an object schema")
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    fn keys(value: &Value) -> Vec<String> {
        let mut names: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        names.sort();
        names
    }

    #[test]
    fn the_request_input_is_what_its_schema_documents() {
        let schema: Value = serde_json::from_str(include_str!(
            "../../../../catalog/schema/policy-request.schema.json"
        ))
        .unwrap();
        let request = ServiceRequest {
            name: "orders".into(),
            template: "node-express".into(),
            description: "Takes orders.".into(),
            owner: "@acme/payments".into(),
            parameters: [("port".to_owned(), "9000".to_owned())].into(),
            resources: Vec::new(),
        };
        let database = crate::platform::resource::Resource {
            kind: crate::platform::resource::ResourceType::Postgres,
            name: "orders-db".into(),
            size: "small".into(),
            version: Some("17".into()),
            fifo: false,
            dlq: false,
        };
        let input = request_input(&request, &[database], "writer", true, Permission::Write);
        assert_eq!(keys(&input), properties(&schema, "/properties"));
        assert_eq!(
            keys(&input["requester"]),
            properties(&schema, "/properties/requester/properties")
        );
        let permissions = schema["properties"]["requester"]["properties"]["permission"]["enum"]
            .as_array()
            .unwrap();
        assert!(permissions.contains(&input["requester"]["permission"]));
        assert_eq!(input["parameters"]["port"], "9000");
    }

    #[test]
    fn the_change_input_is_what_its_schema_documents() {
        let schema: Value = serde_json::from_str(include_str!(
            "../../../../catalog/schema/policy-change.schema.json"
        ))
        .unwrap();
        let settings = CatalogSettings::defaults("acme");
        let env = &settings.environments[1];
        let app = AppSpec {
            replicas: 2,
            url: "https://orders.apps.example.com".into(),
            ..AppSpec::example("orders", &env.name)
        };
        let change = Change {
            command: "promote",
            service: "orders",
            env,
            previous: Some("dev"),
            from: None,
            to: &app,
            actor: "writer",
            role: Role::Write,
        };
        let input = change_input(&change, Default::default(), Default::default());
        assert_eq!(keys(&input), properties(&schema, "/properties"));
        assert_eq!(
            keys(&input["actor"]),
            properties(&schema, "/properties/actor/properties")
        );
        assert_eq!(
            keys(&input["to"]),
            properties(&schema, "/$defs/running/properties")
        );
    }
}
