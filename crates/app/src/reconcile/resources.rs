//! Day 2 on a service's resources: `/paved add` and `/paved remove`, the
//! resources a promotion carries, and what `/paved status` lists. Each change
//! is one commit (or pull request, under review) holding the resource files
//! and the Application whose wiring follows them.

use super::day2::{Day2, Outcome};
use crate::catalog::Environment;
use crate::catalog::resources::{Ask, MAX_RESOURCES, check};
use crate::error::StepError;
use crate::git::FileChange;
use crate::platform::AppSpec;
use crate::platform::resource::{self, Claim, Deletion, Resource};

impl Day2<'_> {
    /// The service's resources in `env`, from the platform repository.
    pub(super) async fn claims(&self, env: &str) -> Result<Vec<Claim>, StepError> {
        let (setup, deps) = (self.setup, &self.paved.deps);
        let folder = resource::folder(self.service, env);
        let branch = &setup.platform.default_branch;
        let names = deps
            .github
            .list_dir(
                setup.installation,
                &deps.platform,
                folder.trim_end_matches('/'),
                branch,
            )
            .await?
            .unwrap_or_default();
        let mut claims = Vec::new();
        for name in names.iter().filter(|n| n.ends_with(".yaml")) {
            let path = format!("{folder}{name}");
            let Some(bytes) = deps
                .github
                .get_file(setup.installation, &deps.platform, &path, branch)
                .await?
            else {
                continue;
            };
            let claim = Claim::from_yaml(&String::from_utf8_lossy(&bytes)).map_err(|e| {
                StepError::invalid(format!("{path} in the platform repository: {e}"))
            })?;
            claims.push(claim);
        }
        Ok(claims)
    }

    /// `/paved add`: the resource in `env`, its Secret wired into the
    /// Deployment, in one commit.
    pub(super) async fn add(&self, ask: &Ask, env: Option<&str>) -> Outcome {
        let env = self.resource_environment(env)?;
        let app = self.deployed_in(&env.name).await?;
        let claims = self.claims(&env.name).await?;
        let added = check(std::slice::from_ref(ask), &self.settings.resources)
            .map_err(|problems| {
                let text: Vec<String> = problems.iter().map(|p| p.message.clone()).collect();
                StepError::invalid(text.join("; "))
            })?
            .remove(0);
        if claims.iter().any(|c| c.resource.name == added.name) {
            return Err(StepError::invalid(format!(
                "{} already has a resource {:?} in {}",
                self.service, added.name, env.name
            )));
        }
        if claims.len() >= MAX_RESOURCES {
            return Err(StepError::invalid(format!(
                "{} has {MAX_RESOURCES} resources in {}, the most a service may have",
                self.service, env.name
            )));
        }
        let mut resources: Vec<Resource> = claims.iter().map(|c| c.resource.clone()).collect();
        resources.push(added.clone());
        let claim = Claim {
            service: self.service.to_owned(),
            environment: env.name.clone(),
            namespace: app.namespace.clone(),
            resource: added.clone(),
            deletion: env.deletion,
        };
        let wired = AppSpec {
            wiring: resource::wiring(self.service, &resources),
            ..app
        };
        let what = format!(
            "add {} {} ({}) to {} in {}",
            added.kind.name(),
            added.name,
            added.size,
            self.service,
            env.name
        );
        let branch = format!("paved/{}-{}-add-{}", self.service, env.name, added.name);
        let namespace = resource::namespace_file(self.service, &env.name, &wired.namespace);
        let answer = self
            .write_change(env, &wired, vec![namespace, claim.file()], &what, &branch)
            .await?;
        Ok(format!(
            "{answer}\n\nThe service reads it as `{}` (and `{}` if it is its first {}), from the Secret `{}` the resource makes.",
            resource::own_variable(&added.name),
            added.kind.variable(),
            added.kind.name(),
            resource::secret_name(self.service, &added.name)
        ))
    }

    /// `/paved remove`: the resource's file and its wiring go, in one
    /// commit; what happens to the cloud resource is the environment's
    /// deletion policy, said in the answer.
    pub(super) async fn remove(&self, name: &str, env: Option<&str>) -> Outcome {
        let env = self.resource_environment(env)?;
        let app = self.deployed_in(&env.name).await?;
        let claims = self.claims(&env.name).await?;
        let gone = claims
            .iter()
            .find(|c| c.resource.name == name)
            .ok_or_else(|| {
                StepError::invalid(format!(
                    "{} has no resource {name:?} in {}",
                    self.service, env.name
                ))
            })?;
        let kept: Vec<Resource> = claims
            .iter()
            .filter(|c| c.resource.name != name)
            .map(|c| c.resource.clone())
            .collect();
        let wired = AppSpec {
            wiring: resource::wiring(self.service, &kept),
            ..app
        };
        let removal = FileChange {
            path: gone.path(),
            contents: None,
            executable: false,
        };
        let what = format!(
            "remove {} {name} from {} in {}",
            gone.resource.kind.name(),
            self.service,
            env.name
        );
        let branch = format!("paved/{}-{}-remove-{name}", self.service, env.name);
        let answer = self
            .write_change(env, &wired, vec![removal], &what, &branch)
            .await?;
        Ok(format!(
            "{answer}\n\n{}",
            fate(&gone.resource, gone.deletion)
        ))
    }

    /// The resources of the environment before `target` as `target`'s, and
    /// `target`'s own kept: what a promotion writes beside the Application.
    pub(super) async fn promoted_claims(
        &self,
        previous: &Environment,
        target: &Environment,
        namespace: &str,
    ) -> Result<(Vec<FileChange>, Vec<Resource>), StepError> {
        let carried = self.claims(&previous.name).await?;
        let mut resources: Vec<Resource> = self
            .claims(&target.name)
            .await?
            .into_iter()
            .map(|c| c.resource)
            .filter(|r| !carried.iter().any(|c| c.resource.name == r.name))
            .collect();
        let mut files = Vec::new();
        if !carried.is_empty() {
            files.push(resource::namespace_file(
                self.service,
                &target.name,
                namespace,
            ));
        }
        for claim in carried {
            let copy = Claim {
                environment: target.name.clone(),
                namespace: namespace.to_owned(),
                deletion: target.deletion,
                ..claim
            };
            files.push(copy.file());
            resources.push(copy.resource);
        }
        Ok((files, resources))
    }

    /// The environment a resource command acts on: the named one, or the
    /// first.
    fn resource_environment(&self, env: Option<&str>) -> Result<&Environment, StepError> {
        match env {
            None => Ok(self.settings.first_environment()),
            Some(name) => self
                .settings
                .environment(name)
                .ok_or_else(|| StepError::invalid(format!("there is no environment {name:?}"))),
        }
    }

    async fn deployed_in(&self, env: &str) -> Result<AppSpec, StepError> {
        self.application(env)
            .await?
            .ok_or_else(|| StepError::invalid(format!("{} is not deployed to {env}", self.service)))
    }
}

/// What becomes of a resource whose definition left Git.
pub(super) fn fate(r: &Resource, deletion: Deletion) -> String {
    match deletion {
        Deletion::Orphan => format!(
            "The {} `{}` itself is orphaned, not deleted: it and its data stay in the cloud, no longer managed (paved.yaml's `deletion: delete` for the environment would delete it).",
            r.kind.name(),
            r.name
        ),
        Deletion::Delete => format!(
            "The {} `{}` is deleted with its data, as paved.yaml's `deletion: delete` for the environment says.",
            r.kind.name(),
            r.name
        ),
    }
}
