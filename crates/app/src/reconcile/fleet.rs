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

/// Applications by service, then environment.
pub(super) type Fleet = BTreeMap<String, BTreeMap<String, AppSpec>>;

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
        let mut fleet = Fleet::new();
        for (path, bytes) in files {
            let Some((service, env)) = of_path(&path) else {
                continue;
            };
            let Ok(app) = AppSpec::from_yaml(&String::from_utf8_lossy(&bytes)) else {
                continue;
            };
            if app.service == service && app.environment == env {
                fleet
                    .entry(service.to_owned())
                    .or_default()
                    .insert(env.to_owned(), app);
            }
        }
        Ok(fleet)
    }
}

/// The services of `fleet` made from `template`, by the template their
/// Applications name (`<template>@<version>`).
pub(super) fn made_from(fleet: &Fleet, template: &str) -> Vec<String> {
    fleet
        .iter()
        .filter(|(_, envs)| {
            envs.values()
                .any(|app| app.template.split('@').next() == Some(template))
        })
        .map(|(service, _)| service.clone())
        .collect()
}
