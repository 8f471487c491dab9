//! The fleet as the platform repository says: every Application on its
//! default branch, by service, read from a Git clone of its own. The
//! dashboard lists it; a fleet upgrade finds its services in it. Only
//! what paved committed (or someone reviewed into the platform) counts as
//! a service, and listing thousands costs a fetch, not REST calls.

use std::collections::BTreeMap;

use super::{Reconciler, Setup};
use crate::error::StepError;
use crate::platform::{AppSpec, history, of_path};

/// The platform clone the fleet is read from (its own: reads run beside
/// rollbacks, which read the history clone, and the writer's pushes).
pub(super) const CACHE: &str = "platform-fleet.git";

/// Applications by service.
pub(super) type Fleet = BTreeMap<String, Envs>;

/// One service's Applications, one per environment, in environment order.
/// A list held to its length, not a map: the fleet keeps one for every
/// service (and the dashboard one for every row it shows), and a map's node
/// for a service's one or two environments would take some 4 KB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Envs(Vec<AppSpec>);

impl Envs {
    /// `apps`, in environment order, the first of any environment kept.
    fn new(mut apps: Vec<AppSpec>) -> Self {
        apps.sort_by(|a, b| a.environment.cmp(&b.environment));
        apps.dedup_by(|a, b| a.environment == b.environment);
        apps.shrink_to_fit();
        Self(apps)
    }

    pub(super) fn iter(&self) -> std::slice::Iter<'_, AppSpec> {
        self.0.iter()
    }

    /// Takes out the Application of environment `env`.
    pub(super) fn remove(&mut self, env: &str) -> Option<AppSpec> {
        let at = self.0.iter().position(|a| a.environment == env)?;
        Some(self.0.remove(at))
    }
}

impl Reconciler {
    /// Every Application on the platform's default branch now. A file that
    /// does not parse, or that names another place than its path, is left
    /// out: the platform repository is input.
    pub(super) async fn fleet(&self, setup: &Setup) -> Result<Fleet, StepError> {
        let token = self
            .deps
            .github
            .installation_token(setup.installation)
            .await?;
        let cache = self.deps.work_dir.join(CACHE);
        let url = setup.platform.clone_url.clone();
        let branch = setup.platform.default_branch.clone();
        // One fetch into the clone at a time: a rebuild of the dashboard
        // and a fleet upgrade may want it at once.
        let _clone = self.fleet_clone.lock().await;
        let files =
            crate::git::blocking(move || history::applications(&cache, &url, &token, &branch))
                .await??;
        let mut found: BTreeMap<String, Vec<AppSpec>> = BTreeMap::new();
        for (path, bytes) in files {
            let Some((service, env)) = of_path(&path) else {
                continue;
            };
            let Ok(app) = AppSpec::from_yaml(&String::from_utf8_lossy(&bytes)) else {
                continue;
            };
            if app.service == service && app.environment == env {
                found.entry(service.to_owned()).or_default().push(app);
            }
        }
        Ok(found
            .into_iter()
            .map(|(service, apps)| (service, Envs::new(apps)))
            .collect())
    }
}

/// The services of `fleet` made from `template`, by the template their
/// Applications name (`<template>@<version>`).
pub(super) fn made_from(fleet: &Fleet, template: &str) -> Vec<String> {
    fleet
        .iter()
        .filter(|(_, envs)| {
            envs.iter()
                .any(|app| app.template.split('@').next() == Some(template))
        })
        .map(|(service, _)| service.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(environment: &str, tag: &str) -> AppSpec {
        AppSpec {
            tag: tag.into(),
            ..AppSpec::example("orders", environment)
        }
    }

    #[test]
    fn a_services_applications_are_one_per_environment_in_order() {
        let apps = vec![app("staging", "b"), app("dev", "a"), app("staging", "c")];
        let mut envs = Envs::new(apps);
        let order: Vec<_> = envs.iter().map(|a| (&*a.environment, &*a.tag)).collect();
        assert_eq!(order, [("dev", "a"), ("staging", "b")]);
        assert_eq!(envs.remove("prod"), None);
        assert_eq!(envs.remove("dev"), Some(app("dev", "a")));
        let left: Vec<_> = envs.iter().map(|a| &*a.environment).collect();
        assert_eq!(left, ["staging"]);
    }
}
