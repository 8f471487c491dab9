//! Continuous deployment: CI passed on a service's default branch, so its
//! first environment runs that commit; a commit paved gives up on gets a
//! failed check run saying why.

use super::{Reconciler, short};
use crate::error::StepError;
use crate::github::{CheckReport, RepoName};
use crate::platform::{AppSpec, WriteMode};

/// The check run on a service commit that says why CI's image was not deployed.
const DEPLOY_CHECK: &str = "paved/deploy";

impl Reconciler {
    /// A failed check run `paved/deploy` on the commit CI built, saying why
    /// its image is not deployed.
    pub(super) async fn report_deploy(
        &self,
        repo: &RepoName,
        sha: &str,
        run: u64,
        error: &StepError,
    ) -> Result<(), StepError> {
        let setup = self.setup().await?;
        let report = CheckReport {
            name: DEPLOY_CHECK,
            head_sha: sha.to_owned(),
            success: false,
            title: "Not deployed".into(),
            summary: format!("CI run {run} passed, but paved did not deploy this commit: {error}"),
            annotations: Vec::new(),
        };
        self.deps
            .github
            .report_check(setup.installation, repo, &report)
            .await?;
        Ok(())
    }
    /// Continuous deployment: CI passed on the default branch of a service
    /// paved made, so its first environment runs that commit. A repository
    /// with no Application is not paved's; one whose Application cannot be
    /// read now is an error for the job runner, never a silent skip.
    pub async fn deploy_commit(
        &self,
        repo: &RepoName,
        sha: &str,
        run: u64,
    ) -> Result<(), StepError> {
        let setup = self.setup().await?;
        let settings = self.settings(setup.installation).await?;
        let env = settings.first_environment();
        let Some(app) = self.application(setup, &repo.name, &env.name).await? else {
            return Ok(());
        };
        if !app.repo_url.ends_with(&format!("/{repo}.git")) || app.tag == sha {
            return Ok(());
        }
        let deployed = AppSpec {
            tag: sha.to_owned(),
            ..app
        };
        let file = deployed.file();
        let reason = format!(
            "Deploy {} {} to {} (CI run {run})",
            deployed.service,
            short(sha),
            env.name
        );
        let written = setup
            .writer
            .write(vec![file], WriteMode::Replace, reason)
            .await?;
        self.record_deployment(setup, repo, &deployed, &written, env.review, false)
            .await?;
        Ok(())
    }
}
