//! GitHub Deployments: each environment change paved commits (the first
//! environment of a new service, a promotion, a rollback, scaling, a CI
//! deployment) is recorded on the service repository as a deployment of the
//! commit whose image now runs, so its Environments panel shows what runs
//! where, and Argo CD's notifications find the deployment to report on.

use super::deletion::request_number;
use super::state::{DEGRADED_LABEL, RequestState};
use super::{Reconciler, Setup, short};
use crate::catalog::CatalogSettings;
use crate::error::StepError;
use crate::github::{
    DeploymentReport, DeploymentState, IssueInfo, IssuePatch, NewDeployment, RepoName,
};
use crate::platform::{AppSpec, Written, of_path};
use crate::scaffold::escape::inert;
use crate::status;

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
                self.record_deployment(setup, &repo, &app, &written, environment.review)
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

/// What one environment of a service runs: its Application and GitHub's
/// newest report on that image; `None` when it is not deployed there.
struct Live<'a> {
    environment: &'a str,
    running: Option<(AppSpec, Option<DeploymentReport>)>,
}

impl Reconciler {
    /// Someone reported on `sha` in `environment` of `repo`: the request's
    /// status comment shows what runs in each environment now, and its
    /// `paved:degraded` label follows the first environment. Both are read
    /// from GitHub, not from the report, so a late report on an image that
    /// no longer runs is never shown as current. A repository paved did not
    /// make, or a deleted service, changes nothing.
    pub async fn follow_health(
        &self,
        repo: &RepoName,
        sha: &str,
        environment: &str,
    ) -> Result<(), StepError> {
        let setup = self.setup().await?;
        let settings = self.settings(setup.installation).await?;
        let live = self.what_runs(setup, &settings, repo).await?;
        let Some((app, _)) = live
            .iter()
            .find(|l| l.environment == environment)
            .and_then(|l| l.running.as_ref())
        else {
            return Ok(());
        };
        let catalog = &self.deps.catalog;
        let number = request_number(&app.request_url, catalog);
        let (true, Some(number)) = (app.repo_url.ends_with(&format!("/{repo}.git")), number) else {
            return Ok(());
        };
        let gh = &self.deps.github;
        let issue = gh.get_issue(setup.installation, catalog, number).await?;
        if RequestState::from_labels(&issue.labels) == RequestState::Deleted {
            return Ok(());
        }
        if app.tag != sha {
            tracing::info!(%repo, environment, sha, runs = %app.tag, "a report on an image that no longer runs: stale");
        } else if let Some(first) = live.first().filter(|l| l.environment == environment) {
            self.follow_label(setup, repo, first, &issue).await?;
        }
        let table = table(setup, &live);
        self.refresh_card(setup, number, &table).await
    }

    /// `paved:degraded` on the request while GitHub's newest report on the
    /// first environment's image says Degraded or sync failed; cleared when
    /// it says Healthy.
    async fn follow_label(
        &self,
        setup: &Setup,
        repo: &RepoName,
        first: &Live<'_>,
        issue: &IssueInfo,
    ) -> Result<(), StepError> {
        let degraded = match first.running.as_ref().and_then(|(_, r)| r.as_ref()) {
            Some(DeploymentReport::Degraded { .. } | DeploymentReport::SyncFailed { .. }) => true,
            Some(DeploymentReport::Healthy { .. }) => false,
            _ => return Ok(()),
        };
        let marked = issue.labels.iter().any(|l| l == DEGRADED_LABEL);
        if marked == degraded {
            return Ok(());
        }
        let mut labels: Vec<String> = issue
            .labels
            .iter()
            .filter(|l| *l != DEGRADED_LABEL)
            .cloned()
            .collect();
        if degraded {
            labels.push(DEGRADED_LABEL.into());
        }
        tracing::info!(%repo, environment = first.environment, degraded, "health changed");
        let patch = IssuePatch {
            close: false,
            labels: Some(labels),
        };
        self.deps
            .github
            .update_issue(setup.installation, &self.deps.catalog, issue.number, &patch)
            .await?;
        Ok(())
    }
}

impl Reconciler {
    /// Each environment of the service `repo` (the first first): its
    /// Application and GitHub's newest report on its image, each read once.
    async fn what_runs<'s>(
        &self,
        setup: &Setup,
        settings: &'s CatalogSettings,
        repo: &RepoName,
    ) -> Result<Vec<Live<'s>>, StepError> {
        let mut live = Vec::with_capacity(settings.environments.len());
        for env in &settings.environments {
            let running = match self.application(setup, &repo.name, &env.name).await? {
                Some(app) => {
                    let report = self.report(setup, repo, &app).await?;
                    Some((app, report))
                }
                None => None,
            };
            live.push(Live {
                environment: &env.name,
                running,
            });
        }
        Ok(live)
    }

    /// Each environment of the service `repo`: its image, replicas and what
    /// runs there, as GitHub's deployments and Argo CD's reports say.
    pub(super) async fn environments_table(
        &self,
        setup: &Setup,
        settings: &CatalogSettings,
        repo: &RepoName,
    ) -> Result<String, StepError> {
        let live = self.what_runs(setup, settings, repo).await?;
        Ok(table(setup, &live))
    }

    /// The live section of request `number`'s status comment shows `table`;
    /// edited only when that changed.
    async fn refresh_card(&self, setup: &Setup, number: u64, table: &str) -> Result<(), StepError> {
        let gh = &self.deps.github;
        let (inst, catalog) = (setup.installation, &self.deps.catalog);
        let comments = gh.list_comments(inst, catalog, number).await?;
        let Some(card) = comments
            .into_iter()
            .filter(|c| c.author == setup.bot && status::is_status(&c.body))
            .min_by_key(|c| c.id)
        else {
            return Ok(());
        };
        let body = status::with_live(&card.body, table);
        if body != card.body {
            gh.update_comment(inst, catalog, card.id, &body).await?;
        }
        Ok(())
    }
}

/// The status table of `live`: per environment, a link to its Application's
/// history, the image tag, replicas and what runs.
fn table(setup: &Setup, live: &[Live<'_>]) -> String {
    let mut out =
        String::from("| environment | image tag | replicas | live |\n| --- | --- | --- | --- |\n");
    let platform = &setup.platform;
    let (web, branch) = (&platform.html_url, &platform.default_branch);
    for l in live {
        let row = match &l.running {
            Some((app, report)) => format!(
                "| [{}]({web}/commits/{branch}/{}) | `{}` | {} | {} |\n",
                l.environment,
                app.path(),
                short(&app.tag),
                app.replicas,
                report_cell(report.as_ref())
            ),
            None => format!("| {} | not deployed | | |\n", l.environment),
        };
        out.push_str(&row);
    }
    out
}

/// A report as one cell of the status table. Its text and links come from
/// whoever posted the status, so text is made inert and a link that is not
/// a plain web address is left out.
pub(super) fn report_cell(report: Option<&DeploymentReport>) -> String {
    let link = |label: &str, url: &str| {
        web_url(url).map_or_else(String::new, |u| format!(" ([{label}]({u}))"))
    };
    match report {
        None => "not recorded".into(),
        Some(DeploymentReport::Waiting) => "⏳ waiting for Argo CD".into(),
        Some(DeploymentReport::Healthy { url, log }) => {
            let at = web_url(url).map_or_else(String::new, |u| format!(" at {u}"));
            format!("✅ Healthy{at}{}", link("Argo CD", log))
        }
        Some(DeploymentReport::Degraded { log }) => {
            format!("❌ Degraded{}", link("Argo CD", log))
        }
        Some(DeploymentReport::SyncFailed { message, log }) => {
            format!("❌ sync failed: {}{}", inert(message), link("Argo CD", log))
        }
        Some(DeploymentReport::Inactive) => "replaced by a newer deployment".into(),
    }
}

/// `url` when it is an http(s) address with nothing Markdown would read.
fn web_url(url: &str) -> Option<&str> {
    let plain = url.starts_with("https://") || url.starts_with("http://");
    let safe = url.chars().all(|c| {
        c.is_ascii_graphic() && !matches!(c, '(' | ')' | '[' | ']' | '<' | '>' | '|' | '`')
    });
    (plain && safe && url.len() <= 2048).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_show_what_argo_cd_said_and_nothing_it_could_smuggle() {
        let healthy = DeploymentReport::Healthy {
            url: "https://orders.apps.acme.dev".into(),
            log: "https://argocd.acme.dev/applications/orders-dev".into(),
        };
        assert_eq!(
            report_cell(Some(&healthy)),
            "✅ Healthy at https://orders.apps.acme.dev ([Argo CD](https://argocd.acme.dev/applications/orders-dev))"
        );
        let hostile = DeploymentReport::SyncFailed {
            message: "boom | @alice #12\nsee".into(),
            log: "javascript:alert(1)".into(),
        };
        let cell = report_cell(Some(&hostile));
        assert!(!cell.contains("javascript"), "{cell}");
        assert!(!cell.contains(" | "), "{cell}");
        assert!(
            cell.contains("`@alice`") && cell.contains("`#12`"),
            "{cell}"
        );
        let sneaky = DeploymentReport::Healthy {
            url: "https://x.dev/a)(b".into(),
            log: String::new(),
        };
        assert_eq!(report_cell(Some(&sneaky)), "✅ Healthy");
        assert_eq!(report_cell(None), "not recorded");
    }
}
