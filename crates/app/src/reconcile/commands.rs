//! Commands from comments: who asked, what they may do, running each
//! command of a comment in order and answering once. What a command does to
//! a service is [`super::day2`]'s.

use std::time::{Duration, Instant};

use super::day2::{Day2, Outcome};
use super::jobs::Ordered;
use super::{Reconciler, Setup};
use crate::catalog::CatalogSettings;
use crate::catalog::form::{self, Form};
use crate::commands::{Command, MAX_PER_COMMENT, Parsed, Role, help_text};
use crate::error::StepError;
use crate::github::RepoName;
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

/// paved's answer to a comment's commands, to post.
#[derive(Debug, Clone)]
pub struct Answer {
    pub repo: RepoName,
    pub number: u64,
    /// The comment whose commands it answers.
    pub comment: u64,
    /// Its commands were picked up first by another delivery, perhaps to a
    /// replica that answers them too: the oldest answer stays.
    pub taken_over: bool,
    /// The comment that showed the commands' progress: the answer replaces it.
    pub progress: Option<u64>,
    pub body: String,
}

/// Commands that have run: their answer, and whether a permitted
/// `/paved retry` asks for the request to run again.
pub struct Ran {
    pub answer: Answer,
    pub retry: bool,
}

/// How long commands picked up before, and not answered yet, are left to
/// whoever took them, and how often paved looks meanwhile.
const TAKEN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
const TAKEN_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Comments whose pick-up a process remembers.
pub(super) const PICKED_KEPT: usize = 1_024;

/// Opens paved's answer to comment `id`: a redelivery of the comment finds it.
fn answer_marker(id: u64) -> String {
    format!("<!-- paved:answer {id} -->")
}

/// Opens the comment that shows the progress of comment `id`'s commands
/// until their answer replaces it: a run again after a crash finds it.
fn progress_marker(id: u64) -> String {
    format!("<!-- paved:progress {id} -->")
}

/// Progress is shown at most this often: a long command edits one comment,
/// not one per step.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// A long command's progress (a fleet upgrade), shown on one comment that
/// the commands' answer then replaces.
pub(super) struct Progress<'a> {
    paved: &'a Reconciler,
    setup: &'a Setup,
    job: &'a CommandJob,
    comment: Option<u64>,
    shown: Option<Instant>,
}

impl Progress<'_> {
    /// Shows `text` now if `now` or nothing was shown for a while. Best
    /// effort: progress that cannot be shown is logged, and the work goes on.
    pub(super) async fn show(&mut self, text: &str, now: bool) {
        if !now && self.shown.is_some_and(|at| at.elapsed() < PROGRESS_EVERY) {
            return;
        }
        self.shown = Some(Instant::now());
        if let Err(e) = self.write(text).await {
            tracing::warn!(comment = self.job.comment, error = %e, "progress could not be shown");
        }
    }

    async fn write(&mut self, text: &str) -> Result<(), StepError> {
        let (gh, inst, job) = (&self.paved.deps.github, self.setup.installation, self.job);
        let marker = progress_marker(job.comment);
        let body = format!("{marker}\n{}\n\n⏳ {text}\n", asked(job));
        if self.comment.is_none() {
            // A run again (a crash, a redelivery) goes on with the comment it left.
            let comments = gh.list_comments(inst, &job.repo, job.number).await?;
            self.comment = comments
                .iter()
                .find(|c| c.author == self.setup.bot && c.body.starts_with(&marker))
                .map(|c| c.id);
        }
        match self.comment {
            Some(id) => gh.update_comment(inst, &job.repo, id, &body).await?,
            None => {
                let made = gh
                    .create_comment(inst, &job.repo, job.number, &body)
                    .await?;
                self.comment = Some(made.id);
            }
        }
        Ok(())
    }
}

/// What the commands of one comment run with.
struct Plan<'a> {
    setup: &'a Setup,
    settings: CatalogSettings,
    service: Option<String>,
    role: Role,
    /// Picked up first by another delivery that may still answer.
    taken_over: bool,
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
            taken_over,
        }) = self.plan_commands(job).await?
        else {
            return Ok(None);
        };
        let in_catalog = job.repo == self.deps.catalog;
        let mut progress = Progress {
            paved: self,
            setup,
            job,
            comment: None,
            shown: None,
        };
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
                        let ran = self.run_one(
                            setup,
                            &settings,
                            &mut progress,
                            role,
                            service.as_deref(),
                            cmd,
                        );
                        let outcome = ran.await;
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
        let answer = Answer {
            taken_over,
            progress: progress.comment,
            ..answer_to(job, &answers.join("\n\n"))
        };
        Ok(Some(Ran { answer, retry }))
    }

    /// Posts paved's answer to commands. Another replica may have answered
    /// the same comment at the same moment: the oldest answer stays, and a
    /// newer one of ours goes. Only answers to commands taken over ask:
    /// whoever picked them up first goes on unless it answers too late.
    pub(super) async fn post_answer(&self, answer: &Answer) -> Result<(), StepError> {
        let setup = self.setup().await?;
        let (gh, inst) = (&self.deps.github, setup.installation);
        // The answer replaces the progress comment; should someone have
        // deleted that, it is posted anew.
        let replaced = match answer.progress {
            Some(id) => match gh
                .update_comment(inst, &answer.repo, id, &answer.body)
                .await
            {
                Ok(()) => Some(id),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let ours = match replaced {
            Some(id) => id,
            None => {
                gh.create_comment(inst, &answer.repo, answer.number, &answer.body)
                    .await?
                    .id
            }
        };
        if !answer.taken_over {
            return Ok(());
        }
        let marker = answer_marker(answer.comment);
        let is_answer = |body: &str| body.starts_with(&marker);
        let older = self.older_twin(setup, &answer.repo, answer.number, ours, is_answer);
        if older.await?.is_some() {
            tracing::info!(comment = answer.comment, "another replica answered first");
            gh.delete_comment(inst, &answer.repo, ours).await?;
        }
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
            // Nobody asked: the next report, or `/paved status`, tells the truth.
            Ordered::Follow { repo, .. } => {
                tracing::warn!(%repo, %error, "CI or a deployment report could not be followed");
                Ok(())
            }
            Ordered::Landed { commit, .. } => {
                tracing::warn!(%commit, %error, "the deployments of a platform commit could not be recorded");
                Ok(())
            }
        };
        if let Err(e) = told {
            tracing::error!(?work, %error, telling = %e, "gave up, and could not say so");
        }
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
        // Scaling asks too: the policies weigh an admin's scale differently.
        let needs_admin = job.commands.iter().any(|p| {
            matches!(p, Parsed::Command(cmd)
                if required_role(cmd, &settings) == Role::Admin || matches!(cmd, Command::Scale { .. }))
        });
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
        // Picked up before: by this process (a retry or a redelivery; an
        // answer is there or not), or by another that may still be at it.
        let mine = self.picked_here(job.comment, picked_up);
        let done = match (picked_up || job.edited, mine) {
            (true, _) => false,
            (false, true) => self.answered(setup, job).await?,
            (false, false) => self.taken(setup, job).await?,
        };
        if done {
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
            taken_over: !mine && !job.edited,
        }))
    }

    /// Whether this process picked up comment `id`'s commands: now (`now`),
    /// or on an earlier try of its own.
    fn picked_here(&self, id: u64, now: bool) -> bool {
        let mut picked = self.picked.lock().expect("lock");
        if now {
            if picked.len() == PICKED_KEPT {
                picked.pop_front();
            }
            picked.push_back(id);
            return true;
        }
        picked.contains(&id)
    }

    /// Whether the commands of `job`'s comment, picked up before (by an
    /// earlier delivery, perhaps to another replica), are answered: at
    /// once, or within [`TAKEN_WAIT`] while whoever took them may still be
    /// running them. No answer by then means the taker is gone: they run
    /// again.
    async fn taken(&self, setup: &Setup, job: &CommandJob) -> Result<bool, StepError> {
        let deadline = tokio::time::Instant::now() + TAKEN_WAIT;
        loop {
            if self.answered(setup, job).await? {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(TAKEN_POLL).await;
        }
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
        progress: &mut Progress<'_>,
        role: Role,
        service: Option<&str>,
        cmd: &Command,
    ) -> Outcome {
        let job = progress.job;
        if matches!(cmd, Command::Help) {
            return Ok(format!("The commands:\n\n{}", help_text()));
        }
        if matches!(cmd, Command::Retry) {
            return self.retry(setup, job).await;
        }
        if let Command::Upgrade { template: Some(t) } = cmd {
            return self
                .upgrades(setup, settings)
                .fleet(t, Some(progress))
                .await;
        }
        let service = service.ok_or_else(|| {
            StepError::invalid("this issue is not a request for a service paved knows")
        })?;
        let day2 = Day2 {
            paved: self,
            setup,
            settings,
            job,
            role,
            service,
        };
        match cmd {
            Command::Status => day2.status().await,
            Command::Promote { env } => day2.promote(env).await,
            Command::Rollback { env, tag } => day2.rollback(env, tag.as_deref()).await,
            Command::Scale { env, replicas } => day2.scale(env, *replicas).await,
            Command::Delete { name } => day2.delete(name).await,
            Command::Add { ask, env } => day2.add(ask, env.as_deref()).await,
            Command::Remove { name, env } => day2.remove(name, env.as_deref()).await,
            Command::Upgrade { template: None } => self
                .upgrades(setup, settings)
                .service(service)
                .await
                .map(|u| u.line),
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
        use super::RequestState::{Deleted, Deploying, Failed, Provisioning, Ready};
        let provisioned = matches!(
            super::RequestState::from_labels(&issue.labels),
            Provisioning | Deploying | Ready | Failed | Deleted
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
}

/// paved's answer to `job`'s comment, opening with its marker so that a
/// redelivery of the comment finds it.
fn answer_to(job: &CommandJob, text: &str) -> Answer {
    Answer {
        repo: job.repo.clone(),
        number: job.number,
        comment: job.comment,
        taken_over: false,
        progress: None,
        body: format!("{}\n{}\n\n{text}\n", answer_marker(job.comment), asked(job)),
    }
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

/// The role a command needs here: changes to environments under review,
/// and deletion, need admin. How far a service may be scaled is the
/// catalog's policies' to say (`catalog/policy/replicas.rego`).
fn required_role(cmd: &Command, settings: &CatalogSettings) -> Role {
    let reviewed = |env: &str| settings.environment(env).is_some_and(|e| e.review);
    match cmd {
        Command::Promote { env } | Command::Rollback { env, .. } | Command::Scale { env, .. }
            if reviewed(env) =>
        {
            Role::Admin
        }
        Command::Add { env, .. } | Command::Remove { env, .. }
            if reviewed(env.as_deref().unwrap_or(&settings.first_environment().name)) =>
        {
            Role::Admin
        }
        Command::Scale { .. } => Role::Write,
        other => other.base_role(),
    }
}
