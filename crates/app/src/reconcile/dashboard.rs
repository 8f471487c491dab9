//! The fleet dashboard: one issue in the catalog, titled "Services" and
//! pinned, listing every service the platform repository deploys: its
//! owner and template version, and per environment the image tag, what
//! Argo CD last reported and the URL. It is found again by a hidden marker,
//! edited in place and never duplicated. The job runner batches rebuilds:
//! changes that arrive while one runs make one more, not one each.
//!
//! A rebuild costs what changed, not the fleet: the Applications come from
//! a Git clone ([`super::fleet`]), and a row's GitHub reads (how the
//! service was made, Argo CD's reports) are made again only when its
//! Applications changed, a CI or deployment event named it, or it is among
//! the few oldest rows, so a missed event heals in time. Rows past
//! GitHub's limit on an issue's size are not shown, so they are not read
//! either.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::fleet::Envs;
use super::live::web_url;
use super::{Reconciler, Setup, short};
use crate::catalog::CatalogSettings;
use crate::error::StepError;
use crate::github::{DeploymentReport, IssueInfo, IssuePatch, RepoName};
use crate::platform::AppSpec;
use crate::scaffold::escape::inert;
use crate::scaffold::publish::{ANSWERS_PATH, Answers};

/// Opens the dashboard's body; paved finds its issue by it.
pub const MARKER: &str = "<!-- paved:dashboard -->";
/// The dashboard issue's label, so finding it is one listing.
pub const LABEL: &str = "paved:dashboard";
const TITLE: &str = "Services";
/// Room left under GitHub's 65,536-character body for the closing line.
const BODY_BUDGET: usize = 64_000;
/// A row older than this is read again, at most [`AGED_PER_REBUILD`] a
/// rebuild: what a lost event left out shows within the hour.
const ROW_MAX_AGE: Duration = Duration::from_secs(60 * 60);
const AGED_PER_REBUILD: usize = 8;

/// One service as the dashboard shows it.
#[derive(Clone)]
struct Row {
    service: String,
    repo_url: String,
    /// From the service repository's `.paved/answers.yml`: owner, template
    /// and version; `None` when it cannot be read.
    made: Option<Answers>,
    /// Per environment of `paved.yaml`, in order: what runs and the report.
    cells: Vec<Option<(AppSpec, Option<DeploymentReport>)>>,
}

/// Rows built before, by service, with the Applications each was built
/// from, and the services events have named since.
#[derive(Default)]
pub(super) struct Rows {
    inner: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    built: HashMap<String, Built>,
    stale: HashSet<String>,
}

struct Built {
    apps: Envs,
    row: Row,
    at: Instant,
}

impl Rows {
    /// Something about `service` moved (CI, a deployment report): its row
    /// is read again at the next rebuild.
    pub(super) fn stale(&self, service: &str) {
        let mut kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        kept.stale.insert(service.to_owned());
    }

    /// The row kept for `service`, when it was built from `apps`, nothing
    /// named it since and it is young enough (an old one is handed back
    /// while `aged` allows, and `aged` counts it). A mark is taken here, so
    /// one made while the row is read again stays for the next rebuild.
    fn reuse(&self, service: &str, apps: &Envs, aged: &mut usize) -> Option<Row> {
        let mut kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let named = kept.stale.remove(service);
        let built = kept.built.get(service)?;
        if named || built.apps != *apps {
            return None;
        }
        if built.at.elapsed() >= ROW_MAX_AGE && *aged < AGED_PER_REBUILD {
            *aged += 1;
            return None;
        }
        Some(built.row.clone())
    }

    fn keep(&self, service: &str, apps: Envs, row: Row) {
        let mut kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let at = Instant::now();
        kept.built
            .insert(service.to_owned(), Built { apps, row, at });
    }

    /// Forgets the services that are no longer in `services`.
    fn retain(&self, services: &HashSet<&str>) {
        let mut kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        kept.built.retain(|s, _| services.contains(s.as_str()));
        kept.stale.retain(|s| services.contains(s.as_str()));
    }
}

impl Reconciler {
    /// Rebuilds the dashboard and writes it when it changed: creates and
    /// pins it the first time. Rows are read in the order shown, until the
    /// body is full.
    pub async fn refresh_dashboard(&self) -> Result<(), StepError> {
        let setup = self.setup().await?;
        let settings = self.settings(setup.installation).await?;
        let apps = self.fleet(setup).await?;
        let services: HashSet<&str> = apps.keys().map(String::as_str).collect();
        self.dashboard_rows.retain(&services);
        let mut body = Body::new(&settings, apps.len());
        let mut aged = 0;
        for (service, envs) in &apps {
            let row = match self.dashboard_rows.reuse(service, envs, &mut aged) {
                Some(row) => row,
                None => {
                    let row = self.row(setup, &settings, service, envs.clone()).await?;
                    self.dashboard_rows.keep(service, envs.clone(), row.clone());
                    row
                }
            };
            if !body.push(&row) {
                break;
            }
        }
        self.write_dashboard(setup, &body.finish()).await
    }

    /// One service's row: how it was made, and GitHub's newest report on
    /// each environment's image.
    async fn row(
        &self,
        setup: &Setup,
        settings: &CatalogSettings,
        service: &str,
        mut envs: Envs,
    ) -> Result<Row, StepError> {
        let repo = RepoName {
            owner: settings.organization.clone(),
            name: service.to_owned(),
        };
        let first = envs.iter().next();
        let branch = first.map(|a| a.revision.clone()).unwrap_or_default();
        let repo_url = first.map(|a| a.repo_url.clone()).unwrap_or_default();
        let answers = self
            .deps
            .github
            .get_file(setup.installation, &repo, ANSWERS_PATH, &branch)
            .await?;
        let made = answers.and_then(|bytes| Answers::parse(&bytes).ok());
        let mut cells = Vec::with_capacity(settings.environments.len());
        for env in &settings.environments {
            let cell = match envs.remove(&env.name) {
                Some(app) => {
                    let report = self.report(setup, &repo, &app).await?;
                    Some((app, report))
                }
                None => None,
            };
            cells.push(cell);
        }
        Ok(Row {
            service: service.to_owned(),
            repo_url: repo_url.trim_end_matches(".git").to_owned(),
            made,
            cells,
        })
    }

    /// Writes `body` to the dashboard issue: found by label and marker
    /// (the oldest, should two replicas have made one each), else opened
    /// and pinned.
    async fn write_dashboard(&self, setup: &Setup, body: &str) -> Result<(), StepError> {
        let gh = &self.deps.github;
        let (inst, catalog) = (setup.installation, &self.deps.catalog);
        let found = ours(setup, gh.list_issues(inst, catalog, LABEL, "all").await?);
        match found.first() {
            Some(issue) => {
                if issue.body != body {
                    let patch = IssuePatch {
                        body: Some(body.to_owned()),
                        ..IssuePatch::default()
                    };
                    gh.update_issue(inst, catalog, issue.number, &patch).await?;
                }
                // Another replica's twin goes.
                for twin in found.iter().skip(1).filter(|i| i.open) {
                    let close = IssuePatch {
                        close: true,
                        ..IssuePatch::default()
                    };
                    gh.update_issue(inst, catalog, twin.number, &close).await?;
                }
            }
            None => {
                let made = gh
                    .create_issue(inst, catalog, TITLE, body, &[LABEL])
                    .await?;
                tracing::info!(number = made.number, "fleet dashboard opened");
                if let Err(e) = gh.pin_issue(inst, &made.node_id).await {
                    // Pinning is a convenience: GitHub pins at most three.
                    tracing::warn!(error = %e, "the fleet dashboard could not be pinned");
                }
            }
        }
        Ok(())
    }
}

/// paved's dashboard issues among `issues`, oldest first.
fn ours(setup: &Setup, issues: Vec<IssueInfo>) -> Vec<IssueInfo> {
    let mut found: Vec<IssueInfo> = issues
        .into_iter()
        .filter(|i| !i.is_pull_request && i.author == setup.bot && i.body.starts_with(MARKER))
        .collect();
    found.sort_by_key(|i| i.number);
    found
}

/// The dashboard's body: a line on what it is, then one table row per
/// service, cut to GitHub's body limit with a line saying how many are left
/// out.
struct Body {
    text: String,
    shown: usize,
    total: usize,
    full: bool,
}

impl Body {
    fn new(settings: &CatalogSettings, total: usize) -> Self {
        let mut text = format!(
            "{MARKER}\nEvery service the platform repository deploys: {total} in all. paved rebuilds this issue from the platform repository and GitHub's deployments whenever one changes; edits by hand are overwritten.\n\n"
        );
        let envs: Vec<&str> = settings
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        let _ = writeln!(
            text,
            "| service | owner | template | {} |\n|---|---|---|{}",
            envs.join(" | "),
            "---|".repeat(envs.len())
        );
        Self {
            text,
            shown: 0,
            total,
            full: false,
        }
    }

    /// Adds `row` when it fits; whether it did.
    fn push(&mut self, row: &Row) -> bool {
        let line = row_line(row);
        if self.full || self.text.len() + line.len() > BODY_BUDGET {
            self.full = true;
            return false;
        }
        self.text.push_str(&line);
        self.shown += 1;
        true
    }

    fn finish(mut self) -> String {
        if self.shown < self.total {
            let _ = writeln!(
                self.text,
                "\n{} more services are not shown: GitHub's limit on an issue's size.",
                self.total - self.shown
            );
        }
        self.text
    }
}

/// One service's table row. Everything in it was read from Git or GitHub,
/// so text is made inert and only plain web links are kept.
fn row_line(row: &Row) -> String {
    let service = match web_url(&row.repo_url) {
        Some(url) => format!("[{}]({url})", inert(&row.service)),
        None => inert(&row.service),
    };
    let (owner, template) = match &row.made {
        Some(a) => (
            a.answers
                .get("owner")
                .and_then(|o| o.as_str())
                .map_or_else(|| "?".to_owned(), inert),
            format!("{} {}", inert(&a.template), version(&a.version)),
        ),
        None => ("?".to_owned(), "?".to_owned()),
    };
    let cells: Vec<String> = row.cells.iter().map(cell).collect();
    format!(
        "| {service} | {owner} | {template} | {} |\n",
        cells.join(" | ")
    )
}

/// A template version as a code span, when it is one (`1.2.0`, `2.0.0-rc.1`).
fn version(v: &str) -> String {
    let plain = !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
    if plain { format!("`{v}`") } else { "?".into() }
}

/// One environment: the image tag, what Argo CD last said and, once
/// Healthy, the URL.
fn cell(running: &Option<(AppSpec, Option<DeploymentReport>)>) -> String {
    let Some((app, report)) = running else {
        return "—".into();
    };
    let state = match report {
        Some(DeploymentReport::Healthy { url, .. }) => match web_url(url) {
            Some(url) => format!("✅ [live]({url})"),
            None => "✅ Healthy".into(),
        },
        Some(DeploymentReport::Degraded { .. }) => "❌ Degraded".into(),
        Some(DeploymentReport::SyncFailed { .. }) => "❌ sync failed".into(),
        Some(DeploymentReport::Waiting) | None => "⏳ deploying".into(),
        Some(DeploymentReport::Inactive) => "replaced".into(),
    };
    format!("`{}` {state}", short(&app.tag))
}
