//! The live card: what runs in each environment of a service, read from
//! GitHub each time (the Application in the platform repository, the CI
//! runs on its image's commit, Argo CD's newest report on its deployment),
//! never from paved's memory. The request's status comment ends in it and
//! `/paved status` answers with it.

use super::{Reconciler, Setup, short};
use crate::catalog::CatalogSettings;
use crate::error::StepError;
use crate::github::{CiRun, CiState, DeploymentReport, RepoName};
use crate::platform::AppSpec;
use crate::scaffold::escape::inert;
use crate::status;

/// What one environment of a service runs, as GitHub says.
pub(super) struct Live<'a> {
    pub environment: &'a str,
    /// `None` when the service is not deployed there.
    pub running: Option<Running>,
}

pub(super) struct Running {
    pub app: AppSpec,
    /// Argo CD's newest report on the image; `None` when no deployment of
    /// it is recorded.
    pub report: Option<DeploymentReport>,
    /// Where CI stands on the image's commit; `None` without runs.
    pub ci: Option<CiRun>,
}

/// What the caller knows of one environment already: the Application it
/// has just written and, when it has just recorded its deployment, what
/// GitHub says of it. Spares reading them back.
pub(super) struct Known {
    pub app: AppSpec,
    pub report: Option<DeploymentReport>,
    /// The service was made by this very run: it has no later environment
    /// yet, so none is read, and its CI is what webhooks told meanwhile.
    pub new_service: bool,
    /// Where CI stands on the Application's image, for a new service.
    pub ci: Option<CiRun>,
}

impl Live<'_> {
    pub fn report(&self) -> Option<&DeploymentReport> {
        self.running.as_ref().and_then(|r| r.report.as_ref())
    }
}

impl Reconciler {
    /// Each environment of the service `repo` (the first first). Unless the
    /// caller knows one already, the service's folder in the platform
    /// repository is listed first and only the Applications in it are
    /// read: a listing and reads of files that did not change are `304`s,
    /// which GitHub does not count, where an environment without an
    /// Application would be a `404` each time. A repository with nothing
    /// there costs one call: most CI events paved hears are of repositories
    /// it does not deploy (yet).
    pub(super) async fn what_runs<'s>(
        &self,
        setup: &Setup,
        settings: &'s CatalogSettings,
        repo: &RepoName,
        known: Option<Known>,
    ) -> Result<Vec<Live<'s>>, StepError> {
        let listed = match known {
            Some(_) => None,
            None => Some(self.deployed_in(setup, &repo.name).await?),
        };
        let mut live = Vec::with_capacity(settings.environments.len());
        for (i, env) in settings.environments.iter().enumerate() {
            let here = known.as_ref().filter(|k| k.app.environment == env.name);
            let new_service = known.as_ref().is_some_and(|k| k.new_service);
            let not_listed = listed.as_ref().is_some_and(|l| !l.contains(&env.name));
            let app = match (here, live.first()) {
                (Some(k), _) => Some(k.app.clone()),
                (None, _) if not_listed || (i > 0 && new_service) => None,
                (None, Some(Live { running: None, .. })) if i > 0 => None,
                _ => self.application(setup, &repo.name, &env.name).await?,
            };
            let running = match app {
                Some(app) => {
                    let report = match here.and_then(|k| k.report.clone()) {
                        Some(report) => Some(report),
                        None => self.report(setup, repo, &app).await?,
                    };
                    let ci = match here {
                        Some(k) if k.new_service => k.ci.clone(),
                        _ => self.ci(setup, repo, &app.tag).await?,
                    };
                    Some(Running { app, report, ci })
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

    /// The environments `service` has an Application in, by the files in
    /// its folder of the platform repository.
    async fn deployed_in(&self, setup: &Setup, service: &str) -> Result<Vec<String>, StepError> {
        let folder = crate::platform::folder(service);
        let files = self
            .deps
            .github
            .list_dir(
                setup.installation,
                &self.deps.platform,
                &folder,
                &setup.platform.default_branch,
            )
            .await?
            .unwrap_or_default();
        Ok(files
            .iter()
            .filter_map(|f| f.strip_suffix(".yaml").map(str::to_owned))
            .collect())
    }

    /// Where CI stands on commit `tag`: a failed run first, then one still
    /// going, else the newest. A tag that is no commit SHA has no runs.
    async fn ci(
        &self,
        setup: &Setup,
        repo: &RepoName,
        tag: &str,
    ) -> Result<Option<CiRun>, StepError> {
        let sha = tag.len() == 40 && tag.bytes().all(|b| b.is_ascii_hexdigit());
        if !sha {
            return Ok(None);
        }
        let runs = self
            .deps
            .github
            .workflow_runs(setup.installation, repo, tag)
            .await?;
        Ok(CiRun::standing(&runs).cloned())
    }

    /// The card of the service `repo`, for `/paved status`.
    pub(super) async fn environments_table(
        &self,
        setup: &Setup,
        settings: &CatalogSettings,
        repo: &RepoName,
    ) -> Result<String, StepError> {
        let live = self.what_runs(setup, settings, repo, None).await?;
        Ok(card(setup, &live))
    }

    /// The live section of request `number`'s status comment shows `card`;
    /// edited only when that changed.
    pub(super) async fn refresh_card(
        &self,
        setup: &Setup,
        number: u64,
        card: &str,
    ) -> Result<(), StepError> {
        let gh = &self.deps.github;
        let (inst, catalog) = (setup.installation, &self.deps.catalog);
        let comments = gh.list_comments(inst, catalog, number).await?;
        let Some(comment) = comments
            .into_iter()
            .filter(|c| c.author == setup.bot && status::is_status(&c.body))
            .min_by_key(|c| c.id)
        else {
            return Ok(());
        };
        let body = status::with_live(&comment.body, card);
        if body != comment.body {
            gh.update_comment(inst, catalog, comment.id, &body).await?;
        }
        Ok(())
    }
}

/// The card of `live`: where the first environment stands and what to do
/// about it, then per environment a link to its Application's history, the
/// image tag, replicas, CI and Argo CD's report.
pub(super) fn card(setup: &Setup, live: &[Live<'_>]) -> String {
    let mut out = live.first().map(headline).unwrap_or_default();
    out.push_str(
        "| environment | image tag | replicas | resources | CI | Argo CD |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    let platform = &setup.platform;
    let (web, branch) = (&platform.html_url, &platform.default_branch);
    for l in live {
        let row = match &l.running {
            Some(r) => format!(
                "| [{}]({web}/commits/{branch}/{}) | `{}` | {} | {} | {} | {} |\n",
                l.environment,
                r.app.path(),
                short(&r.app.tag),
                r.app.replicas,
                resources_cell(&r.app),
                ci_cell(r.ci.as_ref()),
                report_cell(r.report.as_ref())
            ),
            None => format!("| {} | not deployed | | | | |\n", l.environment),
        };
        out.push_str(&row);
    }
    out
}

/// The resources an environment's Deployment is wired to, by name.
fn resources_cell(app: &AppSpec) -> String {
    let names = app
        .wiring
        .as_deref()
        .map(|patch| crate::platform::resource::wired(&app.service, patch))
        .unwrap_or_default();
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line on the first environment: live, or what it waits for, or what
/// went wrong and what to do.
fn headline(first: &Live<'_>) -> String {
    let Some(r) = &first.running else {
        return String::new();
    };
    let (env, tag) = (first.environment, short(&r.app.tag));
    let line = match (&r.report, r.ci.as_ref().map(|c| c.state)) {
        (Some(DeploymentReport::Healthy { url, .. }), _) => match web_url(url) {
            Some(url) => format!("**Live** in {env} at {url}."),
            None => format!("**Live** in {env}."),
        },
        (Some(DeploymentReport::Degraded { .. } | DeploymentReport::SyncFailed { .. }), _) => {
            format!(
                "**Not healthy** in {env}: Argo CD's page says why. Fix the cause in the service repository; the next passing CI run on its default branch deploys the fix."
            )
        }
        (_, Some(CiState::Failed)) => format!(
            "**CI failed** on `{tag}`{}: no image was built, so {env} cannot run it. Fix the build in the service repository and push to its default branch; the next passing run deploys it.",
            r.ci.as_ref().map(run_link).unwrap_or_default()
        ),
        (_, Some(CiState::Queued | CiState::Running)) => format!(
            "**Deploying** to {env}: CI is building `{tag}`; Argo CD syncs it once the image exists."
        ),
        (_, Some(CiState::Passed)) => {
            format!("**Deploying** to {env}: CI passed; waiting for Argo CD to sync `{tag}`.")
        }
        (_, None) => {
            format!(
                "**Deploying** to {env}: waiting for CI to build `{tag}` and Argo CD to sync it."
            )
        }
    };
    format!("{line}\n\n")
}

/// ` ([name](url))` for a run, its name made safe; nothing without a web URL.
fn run_link(run: &CiRun) -> String {
    let plain = !run.name.is_empty()
        && run.name.len() <= 64
        && run
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'));
    let name = if plain { run.name.as_str() } else { "run" };
    web_url(&run.url).map_or_else(String::new, |u| format!(" ([{name}]({u}))"))
}

/// A CI run as one cell of the card.
fn ci_cell(run: Option<&CiRun>) -> String {
    let Some(run) = run else {
        return "no run".into();
    };
    let state = match run.state {
        CiState::Queued => "⏳ queued",
        CiState::Running => "🔄 running",
        CiState::Passed => "✅ passed",
        CiState::Failed => "❌ failed",
    };
    format!("{state}{}", run_link(run))
}

/// A report as one cell of the card. Its text and links come from whoever
/// posted the status, so text is made inert and a link that is not a plain
/// web address is left out.
fn report_cell(report: Option<&DeploymentReport>) -> String {
    let link = |label: &str, url: &str| {
        web_url(url).map_or_else(String::new, |u| format!(" ([{label}]({u}))"))
    };
    match report {
        None => "not recorded".into(),
        Some(DeploymentReport::Waiting) => "⏳ waiting for sync".into(),
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
pub(super) fn web_url(url: &str) -> Option<&str> {
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

    #[test]
    fn ci_cells_link_the_run_under_a_name_that_is_safe() {
        let run = |name: &str, state, url: &str| CiRun {
            name: name.into(),
            state,
            url: url.into(),
        };
        assert_eq!(
            ci_cell(Some(&run(
                "CI",
                CiState::Failed,
                "https://gh.dev/a/b/actions/runs/7"
            ))),
            "❌ failed ([CI](https://gh.dev/a/b/actions/runs/7))"
        );
        assert_eq!(
            ci_cell(Some(&run(
                "[x](javascript:1)",
                CiState::Passed,
                "https://gh.dev/r/1"
            ))),
            "✅ passed ([run](https://gh.dev/r/1))"
        );
        assert_eq!(
            ci_cell(Some(&run("CI", CiState::Running, "javascript:1"))),
            "🔄 running"
        );
        assert_eq!(ci_cell(None), "no run");
    }
}
