//! GitHub Deployments: each environment change paved commits (the first
//! environment of a new service, a promotion, a rollback, scaling, a CI
//! deployment) is recorded on the service repository as a deployment of the
//! commit whose image now runs, so its Environments panel shows what runs
//! where, and Argo CD's notifications find the deployment to report on.

use super::deletion::request_number;
use super::live::{Live, card};
use super::state::{RequestState, with_health};
use super::{Reconciler, Setup, short};
use crate::error::StepError;
use crate::github::{DeploymentReport, IssueInfo, IssuePatch, NewDeployment, RepoName};
use crate::platform::{AppSpec, Written, of_path};

impl Reconciler {
    /// Records that `app` runs in its environment since `written`, once:
    /// a deployment already made for this platform commit (or, when the
    /// write changed nothing, any deployment of the commit there) is left
    /// as it is. It stays pending until Argo CD reports on it: paved posts
    /// no status of its own, since committed is not yet running.
    /// GitHub refusing the record (a tag that names no commit of the
    /// repository, say) does not undo the change: it is logged, not raised.
    /// What GitHub now says of it when this call made it (waiting for Argo
    /// CD), so the caller need not ask again. A repository `new` in this
    /// very run has no deployment to look for.
    pub(super) async fn record_deployment(
        &self,
        setup: &Setup,
        repo: &RepoName,
        app: &AppSpec,
        written: &Written,
        production: bool,
        new: bool,
    ) -> Result<Option<DeploymentReport>, StepError> {
        let recorded: Result<Option<DeploymentReport>, StepError> = async {
            let gh = &self.deps.github;
            let inst = setup.installation;
            let (sha, env) = (app.tag.as_str(), app.environment.as_str());
            if !new {
                let known = gh.list_deployments(inst, repo, sha, env).await?;
                let recorded = known.iter().any(|d| {
                    !written.changed
                        || d.platform_commit.as_deref() == Some(written.commit.as_str())
                });
                if recorded {
                    return Ok(None);
                }
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
            gh.create_deployment(inst, repo, &new).await?;
            Ok(Some(DeploymentReport::Waiting))
        }
        .await;
        match recorded {
            Err(StepError::Refused(why)) => {
                tracing::warn!(%repo, environment = %app.environment, %why, "GitHub refused to record a deployment");
                Ok(None)
            }
            other => other,
        }
    }
}

impl Reconciler {
    /// `commit`, pushed to the platform repository by someone else, wrote
    /// the Application `files`: each that paved manages is recorded as a
    /// deployment of its image, as paved records its own changes. A file
    /// that is gone again, or not paved's, is passed over.
    pub async fn record_landed(&self, commit: &str, files: &[String]) -> Result<(), StepError> {
        let setup = self.setup().await?;
        let settings = self.settings(setup.installation).await?;
        let written = Written {
            commit: commit.to_owned(),
            changed: true,
        };
        for (service, env) in files.iter().filter_map(|f| of_path(f)) {
            let Some(environment) = settings.environment(env) else {
                continue;
            };
            // The file name is anyone's: only a valid repository name goes
            // into a URL.
            let Ok(repo) = format!("{}/{service}", settings.organization).parse::<RepoName>()
            else {
                continue;
            };
            let Some(app) = self.application(setup, service, env).await? else {
                continue;
            };
            if app.repo_url.ends_with(&format!("/{repo}.git")) {
                self.record_deployment(setup, &repo, &app, &written, environment.review, false)
                    .await?;
            }
        }
        Ok(())
    }

    /// What GitHub says of `app` now: the newest status of the newest
    /// deployment of its image to its environment (`Waiting` before any);
    /// `None` when no deployment of it is recorded. Reports on older images
    /// belong to their own deployments, so they never show as current.
    pub(super) async fn report(
        &self,
        setup: &Setup,
        repo: &RepoName,
        app: &AppSpec,
    ) -> Result<Option<DeploymentReport>, StepError> {
        let gh = &self.deps.github;
        let inst = setup.installation;
        let known = gh
            .list_deployments(inst, repo, &app.tag, &app.environment)
            .await?;
        let Some(newest) = known.first() else {
            return Ok(None);
        };
        let report = gh.deployment_report(inst, repo, newest.id).await?;
        Ok(Some(report.unwrap_or(DeploymentReport::Waiting)))
    }
}

impl Reconciler {
    /// Something moved on `sha` of the service `repo`: CI on it, or a report
    /// on it in `environment`. The request's card shows what runs in each
    /// environment now, and its labels follow the first: `paved:ready` once
    /// it is Healthy, `paved:degraded` while it is not. Both are read from
    /// GitHub, not from the event, so a late report on an image that no
    /// longer runs is never shown as current. A repository paved did not
    /// make, or a deleted service, changes nothing.
    pub async fn follow(
        &self,
        repo: &RepoName,
        sha: &str,
        environment: Option<&str>,
    ) -> Result<(), StepError> {
        let setup = self.setup().await?;
        let settings = self.settings(setup.installation).await?;
        self.dashboard_rows.stale(&repo.name);
        let live = self.what_runs(setup, &settings, repo, None).await?;
        let Some(running) = live.iter().find_map(|l| l.running.as_ref()) else {
            return Ok(());
        };
        let (app, catalog) = (&running.app, &self.deps.catalog);
        let number = request_number(&app.request_url, catalog);
        let (true, Some(number)) = (app.repo_url.ends_with(&format!("/{repo}.git")), number) else {
            return Ok(());
        };
        if let Some(env) = environment {
            let runs = live.iter().find(|l| l.environment == env);
            let tag = runs
                .and_then(|l| l.running.as_ref())
                .map(|r| r.app.tag.as_str());
            if tag != Some(sha) {
                tracing::info!(%repo, env, sha, runs = ?tag, "a report on an image that does not run there: stale");
            }
        }
        let gh = &self.deps.github;
        let issue = gh.get_issue(setup.installation, catalog, number).await?;
        let state = RequestState::from_labels(&issue.labels);
        if state == RequestState::Deleted {
            return Ok(());
        }
        if let (true, Some(first)) = (state.committed(), live.first()) {
            self.settle_labels(setup, first, &issue).await?;
        }
        self.refresh_card(setup, number, &card(setup, &live)).await
    }

    /// The request's labels as GitHub's newest report on the first
    /// environment's image says ([`with_health`]); written only when that
    /// changes them.
    async fn settle_labels(
        &self,
        setup: &Setup,
        first: &Live<'_>,
        issue: &IssueInfo,
    ) -> Result<(), StepError> {
        let labels = with_health(&issue.labels, first.report());
        let (mut before, mut after) = (issue.labels.clone(), labels.clone());
        before.sort();
        after.sort();
        if before == after {
            return Ok(());
        }
        tracing::info!(environment = first.environment, ?labels, "health changed");
        let patch = IssuePatch {
            close: false,
            labels: Some(labels),
            body: None,
        };
        self.deps
            .github
            .update_issue(setup.installation, &self.deps.catalog, issue.number, &patch)
            .await?;
        Ok(())
    }
}
