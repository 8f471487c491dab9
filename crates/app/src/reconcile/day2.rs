//! Day-2 work from comments: status, promotion, rollback, scaling, deletion,
//! and continuous deployment from CI. Every change is a commit on the
//! platform repository, or a pull request there for environments under
//! review; the permission comes from the commenter's role on the catalog.

use super::jobs::Ordered;
use super::{Reconciler, Setup, short};
use crate::catalog::form::{self, Form};
use crate::catalog::{CatalogSettings, Environment};
use crate::commands::{Command, MAX_PER_COMMENT, Parsed, Role, help_text};
use crate::error::StepError;
use crate::git::FileChange;
use crate::github::{CheckReport, RepoName};
use crate::platform::{AppSpec, WriteMode, history, path};
use crate::scaffold::escape::inert;

/// A comment holding commands, and where it was made.
#[derive(Debug, Clone)]
pub struct CommandJob {
    pub repo: RepoName,
    pub number: u64,
    pub comment: u64,
    /// Who made paved act: the webhook's sender. For an edit, the editor,
    /// whose rights decide, whoever wrote the comment first.
    pub actor: String,
    /// Who wrote the comment.
    pub author: String,
    pub commands: Vec<Parsed>,
    /// Commands past the limit of one comment, not run.
    pub left_out: usize,
    /// From an edit: paved has seen the comment before.
    pub edited: bool,
}

/// What a command did, or why it did nothing.
pub(super) type Outcome = Result<String, StepError>;

/// paved's answer to a comment's commands, to post.
#[derive(Debug, Clone)]
pub struct Answer {
    pub repo: RepoName,
    pub number: u64,
    pub body: String,
}

/// Commands that have run: their answer, and whether a permitted
/// `/paved retry` asks for the request to run again.
pub struct Ran {
    pub answer: Answer,
    pub retry: bool,
}

/// The check run on a service commit that says why CI's image was not deployed.
const DEPLOY_CHECK: &str = "paved/deploy";

/// Opens paved's answer to comment `id`: a redelivery of the comment finds it.
fn answer_marker(id: u64) -> String {
    format!("<!-- paved:answer {id} -->")
}

/// What the commands of one comment run with.
struct Plan<'a> {
    setup: &'a Setup,
    settings: CatalogSettings,
    service: Option<String>,
    role: Role,
}

impl Reconciler {
    /// Runs the commands of one comment in order; their one answer, or
    /// `None` when the comment is not paved's to answer. What the commands
    /// need first is asked before any runs. A rate limit or transient error
    /// before any command changed something comes back whole, for the job
    /// runner to run them all again later; after a change, the answer says
    /// which command did not finish.
    pub async fn run_commands(&self, job: &CommandJob) -> Result<Option<Ran>, StepError> {
        let Some(Plan {
            setup,
            settings,
            service,
            role,
        }) = self.plan_commands(job).await?
        else {
            return Ok(None);
        };
        let in_catalog = job.repo == self.deps.catalog;
        let mut outcomes = Vec::new();
        let mut changed = false;
        let mut retry = false;
        // A mistake gets the help once, however many there are.
        let mut help = false;
        for parsed in &job.commands {
            let (outcome, label) = match parsed {
                Parsed::Invalid(why) => {
                    help = true;
                    (Err(StepError::invalid(inert(why))), ("unknown", "invalid"))
                }
                Parsed::Command(cmd) => {
                    let need = required_role(cmd, &settings);
                    let (outcome, result) = if role < need {
                        let denied = denial(cmd, need, role, &self.deps.catalog);
                        (Err(StepError::invalid(denied)), "denied")
                    } else {
                        let outcome = self
                            .run_one(setup, &settings, job, service.as_deref(), cmd)
                            .await;
                        if let Err(e @ (StepError::RateLimited { .. } | StepError::Transient(_))) =
                            &outcome
                            && !changed
                        {
                            return Err(e.clone());
                        }
                        changed |= outcome.is_ok() && !cmd.reads_only();
                        let result = if outcome.is_ok() { "done" } else { "failed" };
                        (outcome, result)
                    };
                    retry |= matches!(cmd, Command::Retry) && outcome.is_ok() && in_catalog;
                    (outcome, (cmd.kind().name(), result))
                }
            };
            outcomes.push((outcome, label));
        }
        let mut answers = Vec::with_capacity(outcomes.len() + 2);
        for (outcome, label) in outcomes {
            self.metrics()
                .commands
                .with_label_values(&[label.0, label.1])
                .inc();
            answers.push(match outcome {
                Ok(text) => format!("✅ {text}"),
                Err(e @ (StepError::RateLimited { .. } | StepError::Transient(_))) => {
                    format!("❌ {e}: this command did not finish; give it again")
                }
                Err(e) => format!("❌ {e}"),
            });
        }
        if job.left_out > 0 {
            answers.push(format!(
                "❌ {} more not run: at most {MAX_PER_COMMENT} commands in one comment",
                job.left_out
            ));
        }
        if help && !job.commands.contains(&Parsed::Command(Command::Help)) {
            answers.push(format!("The commands:\n\n{}", help_text()));
        }
        let answer = answer_to(job, &answers.join("\n\n"));
        Ok(Some(Ran { answer, retry }))
    }

    /// Posts paved's answer to commands.
    pub(super) async fn post_answer(&self, answer: &Answer) -> Result<(), StepError> {
        let setup = self.setup().await?;
        self.deps
            .github
            .create_comment(
                setup.installation,
                &answer.repo,
                answer.number,
                &answer.body,
            )
            .await?;
        Ok(())
    }

    /// Ordered work the job runner gives up on: whoever asked hears why.
    pub(super) async fn give_up(&self, work: Ordered, error: &StepError) {
        let told = match &work {
            Ordered::Commands(job) => {
                let text = format!("❌ paved could not run these commands: {error}");
                self.post_answer(&answer_to(job, &text)).await
            }
            Ordered::Answer(answer) => {
                tracing::error!(repo = %answer.repo, number = answer.number, %error, "an answer to commands could not be posted");
                Ok(())
            }
            Ordered::Deploy { repo, sha, run } => self.report_deploy(repo, sha, *run, error).await,
        };
        if let Err(e) = told {
            tracing::error!(?work, %error, telling = %e, "gave up, and could not say so");
        }
    }

    /// A failed check run `paved/deploy` on the commit CI built, saying why
    /// its image is not deployed.
    async fn report_deploy(
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

    /// What the commands of `job` need to know before any runs: the
    /// service, `paved.yaml` and the commenter's role. `None` when the
    /// comment is on a repository paved did not make. Reacts 👀.
    async fn plan_commands(&self, job: &CommandJob) -> Result<Option<Plan<'_>>, StepError> {
        let setup = self.setup().await?;
        let gh = &self.deps.github;
        let inst = setup.installation;
        let in_catalog = job.repo == self.deps.catalog;
        let service = if in_catalog {
            self.requested_service(setup, job.number).await?
        } else {
            Some(job.repo.name.clone())
        };
        let settings = self.settings(inst).await?;
        if !in_catalog && !self.is_ours(setup, &settings, &job.repo).await? {
            return Ok(None);
        }
        let mut role = Role::from(gh.permission(inst, &self.deps.catalog, &job.actor).await?);
        let needs_admin = job.commands.iter().any(
            |p| matches!(p, Parsed::Command(cmd) if required_role(cmd, &settings) == Role::Admin),
        );
        if needs_admin
            && role < Role::Admin
            && self
                .in_any_team(setup, &settings.policy.admin_teams, &job.actor)
                .await?
        {
            role = Role::Admin;
        }
        // Last, so that a plan cut short by the rate limit is asked again whole.
        let picked_up = gh.react(inst, &job.repo, job.comment, "eyes").await?;
        if !picked_up && !job.edited && self.answered(setup, job).await? {
            tracing::info!(
                comment = job.comment,
                "commands answered already: a redelivery"
            );
            return Ok(None);
        }
        Ok(Some(Plan {
            setup,
            settings,
            service,
            role,
        }))
    }

    /// Whether paved has answered the commands of `job`'s comment already.
    async fn answered(&self, setup: &Setup, job: &CommandJob) -> Result<bool, StepError> {
        let marker = answer_marker(job.comment);
        let comments = self
            .deps
            .github
            .list_comments(setup.installation, &job.repo, job.number)
            .await?;
        Ok(comments
            .iter()
            .any(|c| c.author == setup.bot && c.body.starts_with(&marker)))
    }

    async fn run_one(
        &self,
        setup: &Setup,
        settings: &CatalogSettings,
        job: &CommandJob,
        service: Option<&str>,
        cmd: &Command,
    ) -> Outcome {
        if matches!(cmd, Command::Help) {
            return Ok(format!("The commands:\n\n{}", help_text()));
        }
        if matches!(cmd, Command::Retry) {
            return self.retry(setup, job).await;
        }
        if let Command::Upgrade { template: Some(t) } = cmd {
            return self.upgrade_fleet(setup, settings, t).await;
        }
        let service = service.ok_or_else(|| {
            StepError::invalid("this issue is not a request for a service paved knows")
        })?;
        match cmd {
            Command::Status => self.status(setup, settings, service).await,
            Command::Promote { env } => self.promote(setup, settings, job, service, env).await,
            Command::Rollback { env, tag } => {
                self.rollback(setup, settings, job, service, env, tag.as_deref())
                    .await
            }
            Command::Scale { env, replicas } => {
                self.scale(setup, settings, job, service, env, *replicas)
                    .await
            }
            Command::Delete { name } => self.delete(setup, settings, job, service, name).await,
            Command::Upgrade { template: None } => {
                self.upgrade_service(setup, settings, service).await
            }
            Command::Upgrade { template: Some(_) } => unreachable!("answered above"),
            Command::Help | Command::Retry => unreachable!("answered above"),
        }
    }

    /// Whether `/paved retry` runs the request again, said as it is: a
    /// deleted service or a closed issue is not retried.
    async fn retry(&self, setup: &Setup, job: &CommandJob) -> Outcome {
        if job.repo != self.deps.catalog {
            return Err(StepError::invalid(
                "`/paved retry` runs a request again: comment it on the request in the catalog",
            ));
        }
        let issue = self
            .deps
            .github
            .get_issue(setup.installation, &self.deps.catalog, job.number)
            .await?;
        match super::RequestState::from_labels(&issue.labels) {
            super::RequestState::Deleted => Err(StepError::invalid(
                "not retried: this service was deleted, and a deleted service stays deleted",
            )),
            _ if !issue.open && !issue.is_pull_request => Err(StepError::invalid(
                "not retried: the request is closed; reopen it to have paved look again",
            )),
            _ => Ok("retrying the request: paved checks every step again".into()),
        }
    }

    /// The service a catalog request names: from its form for an issue,
    /// from its service file for a pull request paved provisioned (an open
    /// or unmerged one names nothing yet).
    async fn requested_service(
        &self,
        setup: &Setup,
        number: u64,
    ) -> Result<Option<String>, StepError> {
        let gh = &self.deps.github;
        let (inst, catalog) = (setup.installation, &self.deps.catalog);
        let issue = gh.get_issue(inst, catalog, number).await?;
        if !issue.is_pull_request {
            return Ok(form::request(Form::new_service(), &issue.body)
                .ok()
                .map(|r| r.name));
        }
        use super::RequestState::{Deleted, Failed, Provisioning, Ready};
        let provisioned = matches!(
            super::RequestState::from_labels(&issue.labels),
            Provisioning | Ready | Failed | Deleted
        );
        if !provisioned {
            return Ok(None);
        }
        let files = gh.list_pull_files(inst, catalog, number).await?;
        Ok(files
            .iter()
            .filter(|f| !f.removed)
            .find_map(|f| crate::catalog::service_file::service_of_path(&f.path))
            .map(str::to_owned))
    }

    /// Whether paved made `repo`: its first environment's Application
    /// points at it. An Application that cannot be read now is an error,
    /// never a "no".
    async fn is_ours(
        &self,
        setup: &Setup,
        settings: &CatalogSettings,
        repo: &RepoName,
    ) -> Result<bool, StepError> {
        let app = self
            .application(setup, &repo.name, &settings.first_environment().name)
            .await?;
        Ok(app.is_some_and(|a| a.repo_url.ends_with(&format!("/{repo}.git"))))
    }

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

    async fn status(&self, setup: &Setup, settings: &CatalogSettings, service: &str) -> Outcome {
        let mut out = format!(
            "**{service}**\n\n| environment | image tag | replicas |\n| --- | --- | --- |\n"
        );
        let web = &setup.platform.html_url;
        for env in &settings.environments {
            let row = match self.application(setup, service, &env.name).await? {
                Some(app) => format!(
                    "| [{}]({web}/commits/main/{}) | `{}` | {} |\n",
                    env.name,
                    app.path(),
                    short(&app.tag),
                    app.replicas
                ),
                None => format!("| {} | not deployed | |\n", env.name),
            };
            out.push_str(&row);
        }
        Ok(out)
    }

    async fn promote(
        &self,
        setup: &Setup,
        settings: &CatalogSettings,
        job: &CommandJob,
        service: &str,
        env: &str,
    ) -> Outcome {
        let (index, target) = environment(settings, env)?;
        let previous = index
            .checked_sub(1)
            .map(|i| &settings.environments[i])
            .ok_or_else(|| {
                StepError::invalid(format!(
                    "{env} is the first environment; nothing comes before it"
                ))
            })?;
        let source = self
            .application(setup, service, &previous.name)
            .await?
            .ok_or_else(|| not_deployed(service, &previous.name))?;
        let app = match self.application(setup, service, env).await? {
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
        let what = format!(
            "promote {service} {} → {env} (`{}`)",
            previous.name, app.tag
        );
        self.change(setup, target, job, &app, &what).await
    }

    async fn rollback(
        &self,
        setup: &Setup,
        settings: &CatalogSettings,
        job: &CommandJob,
        service: &str,
        env: &str,
        tag: Option<&str>,
    ) -> Outcome {
        let (_, target) = environment(settings, env)?;
        let current = self
            .application(setup, service, env)
            .await?
            .ok_or_else(|| not_deployed(service, env))?;
        let tag = match tag {
            Some(t) => self.deployed_tag(setup, &current, t).await?,
            None => self.previous_tag(setup, &current).await?,
        };
        if tag == current.tag {
            return Ok(format!("{service} in {env} already runs `{}`", short(&tag)));
        }
        let what = format!("roll {service} in {env} back to `{tag}`");
        self.change(setup, target, job, &AppSpec { tag, ..current }, &what)
            .await
    }

    /// The tags `app`'s file has carried, newest first, from the platform
    /// history. Versions that do not parse are skipped: history is input.
    async fn history_tags(&self, setup: &Setup, app: &AppSpec) -> Result<Vec<String>, StepError> {
        let token = self
            .deps
            .github
            .installation_token(setup.installation)
            .await?;
        let cache = self.deps.work_dir.join(super::HISTORY_CACHE);
        let url = setup.platform.clone_url.clone();
        let branch = setup.platform.default_branch.clone();
        let file = app.path();
        let versions = tokio::task::spawn_blocking(move || {
            history::versions(&cache, &url, &token, &branch, &file)
        })
        .await??;
        Ok(versions
            .iter()
            .filter_map(|v| AppSpec::from_yaml(&String::from_utf8_lossy(v)).ok())
            .map(|a| a.tag)
            .collect())
    }

    /// The tag `app` had before its current one.
    async fn previous_tag(&self, setup: &Setup, app: &AppSpec) -> Result<String, StepError> {
        self.history_tags(setup, app)
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
    async fn deployed_tag(
        &self,
        setup: &Setup,
        app: &AppSpec,
        asked: &str,
    ) -> Result<String, StepError> {
        let tags = self.history_tags(setup, app).await?;
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

    async fn scale(
        &self,
        setup: &Setup,
        settings: &CatalogSettings,
        job: &CommandJob,
        service: &str,
        env: &str,
        replicas: u32,
    ) -> Outcome {
        let (_, target) = environment(settings, env)?;
        let current = self
            .application(setup, service, env)
            .await?
            .ok_or_else(|| not_deployed(service, env))?;
        let what = format!("scale {service} in {env} to {replicas}");
        self.change(
            setup,
            target,
            job,
            &AppSpec {
                replicas,
                ..current
            },
            &what,
        )
        .await
    }

    /// Writes `app`: a commit on the platform's default branch, or a pull
    /// request when `env` is under review.
    async fn change(
        &self,
        setup: &Setup,
        env: &Environment,
        job: &CommandJob,
        app: &AppSpec,
        what: &str,
    ) -> Outcome {
        let file = FileChange {
            path: app.path(),
            contents: Some(app.to_yaml().into_bytes()),
            executable: false,
        };
        let reason = format!(
            "{} (by @{} in {}#{})",
            capitalise(what),
            job.actor,
            job.repo,
            job.number
        );
        if env.review {
            let branch = format!(
                "paved/{}-{}-{}",
                app.service,
                app.environment,
                short(&app.tag)
            );
            setup
                .writer
                .write_branch(vec![file], branch.clone(), reason.clone())
                .await?;
            let body = format!(
                "{reason}.\n\nChanges to {} need review: merging this applies them.",
                env.name
            );
            let url = self
                .deps
                .github
                .create_pull(
                    setup.installation,
                    &self.deps.platform,
                    &branch,
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
            .write(vec![file], WriteMode::Replace, reason)
            .await?;
        if !written.changed {
            return Ok(format!("{what}: already so, nothing to change"));
        }
        Ok(format!(
            "{what}: committed {}",
            commit_link(setup, &written.commit)
        ))
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
        let file = FileChange {
            path: app.path(),
            contents: Some(
                AppSpec {
                    tag: sha.to_owned(),
                    ..app.clone()
                }
                .to_yaml()
                .into_bytes(),
            ),
            executable: false,
        };
        let reason = format!(
            "Deploy {} {} to {} (CI run {run})",
            app.service,
            short(sha),
            env.name
        );
        setup
            .writer
            .write(vec![file], WriteMode::Replace, reason)
            .await?;
        Ok(())
    }
}

/// paved's answer to `job`'s comment, opening with its marker so that a
/// redelivery of the comment finds it.
fn answer_to(job: &CommandJob, text: &str) -> Answer {
    Answer {
        repo: job.repo.clone(),
        number: job.number,
        body: format!("{}\n{}\n\n{text}\n", answer_marker(job.comment), asked(job)),
    }
}

fn not_deployed(service: &str, env: &str) -> StepError {
    StepError::invalid(format!("{service} is not deployed to {env}"))
}

/// Who asked: the actor, and the comment's author when an edit by someone
/// else added the commands.
fn asked(job: &CommandJob) -> String {
    if job.actor.eq_ignore_ascii_case(&job.author) {
        format!("@{} asked:", job.actor)
    } else {
        format!(
            "@{} asked, by editing a comment of @{}:",
            job.actor, job.author
        )
    }
}

fn denial(cmd: &Command, need: Role, role: Role, catalog: &RepoName) -> String {
    format!(
        "`{}` needs {} permission on {catalog}; you have {}",
        cmd.kind().help().0,
        need.name(),
        role.name()
    )
}

/// The role a command needs here: production (review) changes, deletion and
/// scaling past the policy maximum need admin.
fn required_role(cmd: &Command, settings: &CatalogSettings) -> Role {
    let reviewed = |env: &str| settings.environment(env).is_some_and(|e| e.review);
    match cmd {
        Command::Promote { env } | Command::Rollback { env, .. } if reviewed(env) => Role::Admin,
        Command::Scale { env, replicas } => {
            let above = settings
                .environment(env)
                .is_some_and(|e| *replicas > e.replicas.max);
            if reviewed(env) || above {
                Role::Admin
            } else {
                Role::Write
            }
        }
        other => other.base_role(),
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
