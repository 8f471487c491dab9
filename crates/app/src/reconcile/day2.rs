//! Day 2 on one service: status, promotion, rollback and scaling (deletion
//! is [`super::deletion`]'s). Every change is a commit on the platform
//! repository, or a pull request there for environments under review. Who
//! may ask is decided before, by [`super::commands`].

use super::commands::CommandJob;
use super::{Reconciler, Setup, short};
use crate::catalog::{CatalogSettings, Environment};
use crate::commands::Role;
use crate::error::StepError;
use crate::git::FileChange;
use crate::github::RepoName;
use crate::platform::{AppSpec, WriteMode, history, path};
use crate::scaffold::escape::inert;

/// What a command did, or why it did nothing.
pub(super) type Outcome = Result<String, StepError>;

/// One comment's command about one service, and what it works with.
pub(super) struct Day2<'a> {
    pub(super) paved: &'a Reconciler,
    pub(super) setup: &'a Setup,
    pub(super) settings: &'a CatalogSettings,
    /// The comment that asked, for commit messages and pull requests.
    pub(super) job: &'a CommandJob,
    /// What the commenter may do here: by permission, or an admin team.
    pub(super) role: Role,
    pub(super) service: &'a str,
}

impl Reconciler {
    /// The Application of `service` in `env`, from the platform repository:
    /// `None` when there is none, invalid input when it is not one paved
    /// can work with (people edit that repository too).
    pub(super) async fn application(
        &self,
        setup: &Setup,
        service: &str,
        env: &str,
    ) -> Result<Option<AppSpec>, StepError> {
        let file_path = path(service, env);
        let file = self
            .deps
            .github
            .get_file(
                setup.installation,
                &self.deps.platform,
                &file_path,
                &setup.platform.default_branch,
            )
            .await?;
        let Some(bytes) = file else {
            return Ok(None);
        };
        let app = AppSpec::from_yaml(&String::from_utf8_lossy(&bytes)).map_err(|e| {
            StepError::invalid(format!("{file_path} in the platform repository: {e}"))
        })?;
        if app.service != service || app.environment != env {
            return Err(StepError::invalid(format!(
                "{file_path} in the platform repository is labelled for {} in {}",
                app.service, app.environment
            )));
        }
        Ok(Some(app))
    }
}

impl Day2<'_> {
    /// The service's Application in `env`, if it has one.
    pub(super) async fn application(&self, env: &str) -> Result<Option<AppSpec>, StepError> {
        self.paved.application(self.setup, self.service, env).await
    }

    /// The service's Application in `env`; not having one is the asker's
    /// mistake.
    async fn deployed(&self, env: &str) -> Result<AppSpec, StepError> {
        self.application(env)
            .await?
            .ok_or_else(|| StepError::invalid(format!("{} is not deployed to {env}", self.service)))
    }

    pub(super) async fn status(&self) -> Outcome {
        let table = self
            .paved
            .environments_table(self.setup, self.settings, &self.repo())
            .await?;
        Ok(format!("**{}**\n\n{table}", self.service))
    }

    /// The service's repository.
    pub(super) fn repo(&self) -> RepoName {
        RepoName {
            owner: self.settings.organization.clone(),
            name: self.service.to_owned(),
        }
    }

    /// `env` runs what the environment before it runs.
    pub(super) async fn promote(&self, env: &str) -> Outcome {
        let (index, target) = environment(self.settings, env)?;
        let previous = index
            .checked_sub(1)
            .map(|i| &self.settings.environments[i])
            .ok_or_else(|| {
                StepError::invalid(format!(
                    "{env} is the first environment; nothing comes before it"
                ))
            })?;
        let source = self.deployed(&previous.name).await?;
        let service = self.service;
        let current = self.application(env).await?;
        let app = match current.clone() {
            Some(app) => AppSpec {
                tag: source.tag.clone(),
                ..app
            },
            None => AppSpec {
                environment: target.name.clone(),
                replicas: target.replicas.default,
                cluster: target.cluster.clone(),
                namespace: format!("{service}-{}", target.name),
                ..source.clone()
            },
        };
        // The resources come along: the definitions of the environment
        // before, and the Deployment wired to them.
        let (claims, resources) = self
            .promoted_claims(previous, target, &app.namespace)
            .await?;
        let app = AppSpec {
            wiring: crate::platform::resource::wiring(service, &resources),
            ..app
        };
        let what = format!(
            "promote {service} {} → {env} (`{}`)",
            previous.name, app.tag
        );
        let from = current.as_ref();
        self.change("promote", target, from, &app, claims, &what)
            .await
    }

    /// `env` runs `tag`, or the tag it ran before its current one.
    pub(super) async fn rollback(&self, env: &str, tag: Option<&str>) -> Outcome {
        let (_, target) = environment(self.settings, env)?;
        let current = self.deployed(env).await?;
        let tag = match tag {
            Some(t) => self.deployed_tag(&current, t).await?,
            None => self.previous_tag(&current).await?,
        };
        let service = self.service;
        if tag == current.tag {
            return Ok(format!("{service} in {env} already runs `{}`", short(&tag)));
        }
        let what = format!("roll {service} in {env} back to `{tag}`");
        let to = AppSpec {
            tag,
            ..current.clone()
        };
        self.change("rollback", target, Some(&current), &to, Vec::new(), &what)
            .await
    }

    pub(super) async fn scale(&self, env: &str, replicas: u32) -> Outcome {
        let (_, target) = environment(self.settings, env)?;
        let current = self.deployed(env).await?;
        let what = format!("scale {} in {env} to {replicas}", self.service);
        let to = AppSpec {
            replicas,
            ..current.clone()
        };
        self.change("scale", target, Some(&current), &to, Vec::new(), &what)
            .await
    }

    /// The tags `app`'s file has carried, newest first, from the platform
    /// history.
    pub(super) async fn history_tags(&self, app: &AppSpec) -> Result<Vec<String>, StepError> {
        let mut tags = self.histories(&[app]).await?;
        Ok(tags.pop().unwrap_or_default())
    }

    /// For each of `apps`, the tags its file has carried, newest first, from
    /// one read of the platform history. Versions that do not parse are
    /// skipped: history is input.
    pub(super) async fn histories(&self, apps: &[&AppSpec]) -> Result<Vec<Vec<String>>, StepError> {
        let deps = &self.paved.deps;
        let token = deps
            .github
            .installation_token(self.setup.installation)
            .await?;
        let cache = deps.work_dir.join(super::HISTORY_CACHE);
        let url = self.setup.platform.clone_url.clone();
        let branch = self.setup.platform.default_branch.clone();
        let files: Vec<String> = apps.iter().map(|a| a.path()).collect();
        let versions =
            crate::git::blocking(move || history::versions(&cache, &url, &token, &branch, &files))
                .await??;
        Ok(versions
            .iter()
            .map(|file| {
                file.iter()
                    .filter_map(|v| AppSpec::from_yaml(&String::from_utf8_lossy(v)).ok())
                    .map(|a| a.tag)
                    .collect()
            })
            .collect())
    }

    /// The tag `app` had before its current one.
    async fn previous_tag(&self, app: &AppSpec) -> Result<String, StepError> {
        self.history_tags(app)
            .await?
            .into_iter()
            .find(|t| *t != app.tag)
            .ok_or_else(|| {
                StepError::invalid(format!(
                    "{} has no earlier image tag in the platform history",
                    app.path()
                ))
            })
    }

    /// The full tag a user named for `app`'s environment: one deployed there
    /// before, or the one such tag a short commit SHA starts with, or a full
    /// 40-character commit SHA (CI's tag for a commit never deployed yet).
    async fn deployed_tag(&self, app: &AppSpec, asked: &str) -> Result<String, StepError> {
        let tags = self.history_tags(app).await?;
        if tags.iter().any(|t| t == asked) || is_full_sha(asked) {
            return Ok(asked.to_owned());
        }
        let env = &app.environment;
        if !asked.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StepError::invalid(format!(
                "`{asked}` was never deployed to {env}; name a tag from its history (`/paved status`) or a full commit SHA"
            )));
        }
        // History repeats a tag once it is rolled back to: count each once.
        let starting: std::collections::BTreeSet<&String> = tags
            .iter()
            .filter(|t| {
                t.to_ascii_lowercase()
                    .starts_with(&asked.to_ascii_lowercase())
            })
            .collect();
        let starting: Vec<&String> = starting.into_iter().collect();
        match starting.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(StepError::invalid(format!(
                "no tag deployed to {env} starts with `{asked}`"
            ))),
            many => Err(StepError::invalid(format!(
                "`{asked}` starts {} tags deployed to {env}; give more of it",
                many.len()
            ))),
        }
    }

    /// Writes `app` (which was `from`), once the catalog's policies allow
    /// `command`: a commit on the platform's default branch, or a pull
    /// request when `env` is under review. Their warnings end the answer.
    async fn change(
        &self,
        command: &str,
        env: &Environment,
        from: Option<&AppSpec>,
        app: &AppSpec,
        extra: Vec<FileChange>,
        what: &str,
    ) -> Outcome {
        let warnings = self.judge_change(command, env, from, app).await?;
        let warned: String = warnings
            .iter()
            .map(|w| format!("\n⚠️ policy: {}", inert(w)))
            .collect();
        let branch = format!(
            "paved/{}-{}-{}",
            app.service,
            app.environment,
            short(&app.tag)
        );
        self.write_change(env, app, extra, what, &branch)
            .await
            .map(|answer| answer + &warned)
    }

    /// Writes `app` and `extra` files in one change: a commit on the
    /// platform's default branch, or a pull request from `branch` when `env`
    /// is under review.
    pub(super) async fn write_change(
        &self,
        env: &Environment,
        app: &AppSpec,
        extra: Vec<FileChange>,
        what: &str,
        branch: &str,
    ) -> Outcome {
        let (setup, job) = (self.setup, self.job);
        let mut files = vec![app.file()];
        files.extend(extra);
        let reason = format!(
            "{} (by @{} in {}#{})",
            capitalise(what),
            job.actor,
            job.repo,
            job.number
        );
        if env.review {
            setup
                .writer
                .write_branch(files, branch.to_owned(), reason.clone())
                .await?;
            let body = format!(
                "{reason}.\n\nChanges to {} need review: merging this applies them.",
                env.name
            );
            let deps = &self.paved.deps;
            let url = deps
                .github
                .create_pull(
                    setup.installation,
                    &deps.platform,
                    branch,
                    &setup.platform.default_branch,
                    &capitalise(what),
                    &body,
                )
                .await?;
            return Ok(format!(
                "{what}: {} needs review, so this is a pull request: {url}",
                env.name
            ));
        }
        let written = setup
            .writer
            .write(files, WriteMode::Replace, reason)
            .await?;
        self.paved
            .record_deployment(setup, &self.repo(), app, &written, env.review, false)
            .await?;
        if !written.changed {
            return Ok(format!("{what}: already so, nothing to change"));
        }
        Ok(format!(
            "{what}: committed {}",
            commit_link(setup, &written.commit)
        ))
    }
}

fn environment<'a>(
    settings: &'a CatalogSettings,
    env: &str,
) -> Result<(usize, &'a Environment), StepError> {
    settings
        .environments
        .iter()
        .enumerate()
        .find(|(_, e)| e.name == env)
        .ok_or_else(|| {
            let names: Vec<&str> = settings
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            StepError::invalid(format!(
                "there is no environment {env:?}; there are {}",
                names.join(", ")
            ))
        })
}

pub(super) fn commit_link(setup: &Setup, sha: &str) -> String {
    format!(
        "[`{}`]({}/commit/{sha})",
        short(sha),
        setup.platform.html_url
    )
}

/// A full git commit SHA, as CI tags images.
fn is_full_sha(tag: &str) -> bool {
    tag.len() == 40 && tag.bytes().all(|b| b.is_ascii_hexdigit())
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}
