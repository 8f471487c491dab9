//! GitHub Deployments: each environment change paved commits (the first
//! environment of a new service, a promotion, a rollback, scaling, a CI
//! deployment) is recorded on the service repository as a deployment of the
//! commit whose image now runs, so its Environments panel shows what runs
//! where, and Argo CD's notifications find the deployment to report on.

use super::{Reconciler, Setup, short};
use crate::error::StepError;
use crate::github::{DeploymentState, NewDeployment, RepoName};
use crate::platform::{AppSpec, Written};

impl Reconciler {
    /// Records that `app` runs in its environment since `written`, once:
    /// a deployment already made for this platform commit (or, when the
    /// write changed nothing, any deployment of the commit there) is left
    /// as it is. The platform commit has landed, so it starts `in_progress`.
    /// GitHub refusing the record (a tag that names no commit of the
    /// repository, say) does not undo the change: it is logged, not raised.
    pub(super) async fn record_deployment(
        &self,
        setup: &Setup,
        repo: &RepoName,
        app: &AppSpec,
        written: &Written,
        production: bool,
    ) -> Result<(), StepError> {
        let recorded: Result<(), StepError> = async {
            let gh = &self.deps.github;
            let inst = setup.installation;
            let (sha, env) = (app.tag.as_str(), app.environment.as_str());
            let known = gh.list_deployments(inst, repo, sha, env).await?;
            let recorded = known.iter().any(|d| {
                !written.changed || d.platform_commit.as_deref() == Some(written.commit.as_str())
            });
            if recorded {
                return Ok(());
            }
            let description = format!("{} {} in {env}", app.service, short(sha));
            let new = NewDeployment {
                sha,
                environment: env,
                description: &description,
                platform_commit: &written.commit,
                application: &app.name(),
                production,
            };
            let id = gh.create_deployment(inst, repo, &new).await?;
            gh.create_deployment_status(inst, repo, id, DeploymentState::InProgress, &description)
                .await?;
            Ok(())
        }
        .await;
        match recorded {
            Err(StepError::Refused(why)) => {
                tracing::warn!(%repo, environment = %app.environment, %why, "GitHub refused to record a deployment");
                Ok(())
            }
            other => other,
        }
    }
}
