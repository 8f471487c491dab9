//! `/paved upgrade`: one service, or with `--template` every service made
//! from a template, brought to the template's current version through a pull
//! request from `paved/template` that git merges.

use super::commands::Progress;
use super::{Reconciler, Setup, StepError};
use crate::catalog::CatalogSettings;
use crate::git;
use crate::github::RepoName;
use crate::scaffold::publish::TEMPLATE_BRANCH;
use crate::upgrade::{self as up, UpgradeError};

/// Services upgraded at once by a fleet upgrade.
const FLEET_PARALLEL: usize = 4;
/// Room for a fleet upgrade's lines under GitHub's 65,536-character comment.
const FLEET_ANSWER_BUDGET: usize = 60_000;

/// What one service's upgrade came to: its line for the answer, and
/// whether it asked for a change (a pull request opened or updated) rather
/// than finding the service current.
pub(super) struct Upgraded {
    pub line: String,
    pub changed: bool,
}

/// A fleet upgrade so far: the counts, and the answer's lines while they fit.
struct Tally<'a> {
    template: &'a str,
    total: usize,
    changed: usize,
    current: usize,
    skipped: usize,
    lines: Vec<String>,
    size: usize,
    left_out: usize,
}

impl<'a> Tally<'a> {
    fn new(template: &'a str, total: usize) -> Self {
        Self {
            template,
            total,
            changed: 0,
            current: 0,
            skipped: 0,
            lines: Vec::new(),
            size: 0,
            left_out: 0,
        }
    }

    fn add(&mut self, service: &str, result: Result<Upgraded, StepError>) {
        let line = match result {
            Ok(u) => {
                if u.changed {
                    self.changed += 1;
                } else {
                    self.current += 1;
                }
                format!("- {}", u.line)
            }
            Err(why) => {
                self.skipped += 1;
                format!("- {service}: skipped: {why}")
            }
        };
        if self.size + line.len() < FLEET_ANSWER_BUDGET {
            self.size += line.len() + 1;
            self.lines.push(line);
        } else {
            self.left_out += 1;
        }
    }

    /// What the services done so far came to.
    fn counts(&self) -> String {
        format!(
            "{} pull requests, {} already current, {} skipped",
            self.changed, self.current, self.skipped
        )
    }

    fn progress(&self) -> String {
        let done = self.changed + self.current + self.skipped;
        format!(
            "upgrading the {} services made from {}: {done} done so far ({})",
            self.total,
            self.template,
            self.counts()
        )
    }

    fn answer(self) -> String {
        let mut out = format!(
            "upgrading the {} services made from {}: {}:\n\n{}",
            self.total,
            self.template,
            self.counts(),
            self.lines.join("\n")
        );
        if self.left_out > 0 {
            out.push_str(&format!(
                "\n\n… and {} more, not listed: each service's pull request says what changed.",
                self.left_out
            ));
        }
        out
    }
}

/// What the git side of one upgrade found.
enum Pushed {
    AlreadyOn(String),
    Upgraded {
        template: String,
        from: String,
        to: String,
        changed: Vec<String>,
        conflicts: Vec<String>,
    },
}

/// Upgrades under one `paved.yaml`.
pub(super) struct Upgrades<'a> {
    paved: &'a Reconciler,
    setup: &'a Setup,
    settings: &'a CatalogSettings,
}

use crate::scaffold::foreign::hooks::Hooks;

impl Reconciler {
    pub(super) fn upgrades<'a>(
        &'a self,
        setup: &'a Setup,
        settings: &'a CatalogSettings,
    ) -> Upgrades<'a> {
        Upgrades {
            paved: self,
            setup,
            settings,
        }
    }

    /// With `upgrades: auto` in `paved.yaml`: every service of every template
    /// gets its upgrade pull request (those already current are left alone).
    pub async fn auto_upgrade(&self) -> Result<(), StepError> {
        let setup = self.setup().await?;
        let settings = self.settings(setup.installation).await?;
        if settings.upgrades != crate::catalog::settings::Upgrades::Auto {
            return Ok(());
        }
        let upgrades = self.upgrades(setup, &settings);
        for template in self.deps.templates.names() {
            match upgrades.fleet(template, None).await {
                Ok(summary) => tracing::info!(template, %summary, "automatic upgrade"),
                Err(why) => tracing::warn!(template, %why, "automatic upgrade failed"),
            }
        }
        Ok(())
    }
}

impl Upgrades<'_> {
    /// Upgrades `service`.
    pub(super) async fn service(&self, service: &str) -> Result<Upgraded, StepError> {
        let (setup, settings, deps) = (self.setup, self.settings, &self.paved.deps);
        let gh = &deps.github;
        let inst = setup.installation;
        let name = RepoName {
            owner: settings.organization.clone(),
            name: service.to_owned(),
        };
        let repo = gh
            .get_repo(inst, &name)
            .await?
            .ok_or_else(|| StepError::invalid(format!("{name} does not exist")))?;
        if repo.archived {
            return Err(StepError::invalid(format!("{name} is archived")));
        }
        let token = gh.installation_token(inst).await?;
        let cache = deps
            .work_dir
            .join(super::UPGRADES)
            .join(format!("{}.git", repo.name.file_name()));
        let templates = deps.templates.clone();
        let author = setup.author.clone();
        let trusted = settings.templates.trusted.clone();
        let (scratch, project) = (deps.work_dir.clone(), service.to_owned());
        let (url, branch) = (repo.clone_url.clone(), repo.default_branch.clone());
        let pushed = crate::git::blocking(move || -> Result<Pushed, UpgradeError> {
            let git_repo = git::open_cache(&cache)?;
            // A fleet upgrade fetches many repositories at once: a dropped
            // connection is tried again, not reported as a skipped service.
            let fetch = |branch: &str| {
                git::with_retries(git::TRANSIENT_ATTEMPTS, || {
                    git::fetch(&git_repo, &url, &token, branch)
                })
            };
            let template_head = fetch(TEMPLATE_BRANCH)?.ok_or(UpgradeError::NoAnswers)?;
            let main = fetch(&branch)?.unwrap_or(template_head);
            let answers = up::recorded_answers(&git_repo, template_head)?;
            let template = templates.get(&answers.template).ok_or_else(|| {
                UpgradeError::Render(format!("template {} no longer exists", answers.template))
            })?;
            if up::up_to_date(template, &answers) {
                return Ok(Pushed::AlreadyOn(template.version.clone()));
            }
            let mut hooks = Hooks::refused(&scratch, &project);
            hooks.trusted = trusted.contains(&template.name);
            let files = up::render_with(template, &answers, &hooks)?;
            let message = format!(
                "Upgrade {} {} → {}\n",
                template.name, answers.version, template.version
            );
            let new = up::commit_render(
                &git_repo,
                template,
                template_head,
                &files,
                &author,
                &message,
            )?;
            let changed = up::changed_paths(&git_repo, template_head, new)?;
            let conflicts = up::conflicts(&git_repo, main, new)?;
            let refspec = format!("refs/heads/{TEMPLATE_BRANCH}:refs/heads/{TEMPLATE_BRANCH}");
            git::push(&git_repo, &url, &token, &[refspec])?;
            Ok(Pushed::Upgraded {
                template: template.name.clone(),
                from: answers.version,
                to: template.version.clone(),
                changed,
                conflicts,
            })
        })
        .await??;
        let (template, from, to, changed, conflicts) = match pushed {
            Pushed::AlreadyOn(version) => {
                return Ok(Upgraded {
                    line: format!("{service} is already on {version}"),
                    changed: false,
                });
            }
            Pushed::Upgraded {
                template,
                from,
                to,
                changed,
                conflicts,
            } => (template, from, to, changed, conflicts),
        };
        let conflict_note = if conflicts.is_empty() {
            String::new()
        } else {
            format!(
                ", {} conflict(s): {}",
                conflicts.len(),
                conflicts.join(", ")
            )
        };
        if let Some(url) = gh.open_pull_from(inst, &name, TEMPLATE_BRANCH).await? {
            return Ok(Upgraded {
                line: format!(
                    "{service}: updated the open upgrade pull request {url}{conflict_note}"
                ),
                changed: true,
            });
        }
        let tpl = deps
            .templates
            .get(&template)
            .ok_or_else(|| StepError::Refused("the template vanished".into()))?;
        let body = up::pull_body(tpl, &from, &changed, &conflicts);
        let title = format!("Upgrade {template} {from} → {to}");
        let url = gh
            .create_pull(
                inst,
                &name,
                TEMPLATE_BRANCH,
                &repo.default_branch,
                &title,
                &body,
            )
            .await?;
        Ok(Upgraded {
            line: format!("{service}: {title}: {url}{conflict_note}"),
            changed: true,
        })
    }

    /// Upgrades every service made from `template`: the counts and a line
    /// each, as many as fit. `progress`, when given, shows how far it got
    /// as it goes.
    pub(super) async fn fleet(
        &self,
        template: &str,
        mut progress: Option<&mut Progress<'_>>,
    ) -> Result<String, StepError> {
        let (setup, deps) = (self.setup, &self.paved.deps);
        if deps.templates.get(template).is_none() {
            return Err(StepError::invalid(format!(
                "there is no template {template:?}"
            )));
        }
        let fleet = self.paved.fleet(setup).await?;
        let services = super::fleet::made_from(&fleet, template);
        if services.is_empty() {
            return Ok(format!("no service is made from {template}"));
        }
        let mut tally = Tally::new(template, services.len());
        if let Some(p) = &mut progress {
            p.show(&tally.progress(), true).await;
        }
        for chunk in services.chunks(FLEET_PARALLEL) {
            let runs = chunk.iter().map(|s| self.service(s));
            // A fleet upgrade yields GitHub's limits to work people wait for.
            let results = crate::github::background(futures_util::future::join_all(runs)).await;
            for (service, result) in chunk.iter().zip(results) {
                tally.add(service, result);
            }
            if let Some(p) = &mut progress {
                p.show(&tally.progress(), false).await;
            }
        }
        Ok(tally.answer())
    }
}
