//! Provisioning one request, step by step: the service repository, the
//! scaffold, the Application in the platform repository, then the status
//! back on the issue. Each step looks before it acts, so running it again
//! (a redelivery, a retry, a resync, a second replica) changes nothing that
//! is already right.

use std::time::Instant;

use tracing::Instrument;

use super::jobs::{Action, decide};
use super::live::{Known, card};
use super::making::Mark;
use super::policies::Decision;
use super::short;
use super::state::{RequestState, with_health};
use super::{Reconciler, Setup, StepError, Trigger};
use crate::catalog::form::{self, Form, REQUEST_LABEL};
use crate::catalog::{CatalogSettings, Problem, ValidRequest, validate};
use crate::github::{CommentInfo, IssueInfo, IssuePatch, RepoInfo, RepoName};
use crate::platform::resource::{self, Claim};
use crate::platform::{AppSpec, WriteMode, Written};
use crate::scaffold::base::Service;
use crate::scaffold::escape::inert;
use crate::scaffold::{Rendered, Template, publish, render_service};
use crate::status::{self, Status, Step, StepState};

const STEP_REPO: &str = "Repository";
const STEP_SCAFFOLD: &str = "Scaffold";
const STEP_DEPLOY: &str = "Deployment";

/// The request (an issue or a pull request) being worked on, what is known
/// of it, and what working on it needs.
pub(super) struct Request<'a> {
    pub(super) paved: &'a Reconciler,
    pub(super) setup: &'a Setup,
    pub(super) catalog: &'a RepoName,
    pub(super) issue: IssueInfo,
    pub(super) status: Option<CommentInfo>,
    /// What the catalog's policies warned of: shown, not blocking.
    pub(super) warnings: Vec<String>,
    /// The status comment was made by this run and is not yet known to be
    /// the only one: another replica may have made one at the same moment.
    unchecked: bool,
}

impl Reconciler {
    /// Renders `valid`'s scaffold as a service's repository gets it, on a
    /// blocking thread: a trusted foreign template's hooks may run a while.
    /// Returns the render and what paved's standard base was made for.
    pub(super) async fn render_request(
        &self,
        settings: &CatalogSettings,
        valid: &ValidRequest,
    ) -> Result<(Rendered, Option<Service>), String> {
        let templates = self.deps.templates.clone();
        let template = valid.request.template.clone();
        let service = valid.request.name.clone();
        let hooks = settings.hooks(&template, &self.deps.work_dir, &service);
        let values = valid.values.clone();
        let settings = settings.clone();
        tokio::task::spawn_blocking(move || {
            let template = templates
                .get(&template)
                .ok_or_else(|| format!("template {template} is gone"))?;
            let service = settings.service(&service, template.port);
            render_service(template, &values, &hooks, &service).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("rendering stopped: {e}"))?
    }

    /// Reconciles catalog request `number`, tried for the `attempt`th time.
    pub async fn reconcile_request(
        &self,
        number: u64,
        trigger: Trigger,
        attempt: u32,
    ) -> Result<(), StepError> {
        let span = tracing::info_span!("request", key = %format!("{}#{number}", self.deps.catalog), ?trigger);
        self.reconcile_issue(number, trigger, attempt)
            .instrument(span)
            .await
    }

    async fn reconcile_issue(
        &self,
        number: u64,
        trigger: Trigger,
        attempt: u32,
    ) -> Result<(), StepError> {
        let setup = self.setup().await?;
        let gh = &self.deps.github;
        let catalog = &self.deps.catalog;
        let issue = gh.get_issue(setup.installation, catalog, number).await?;
        let state = RequestState::from_labels(&issue.labels);
        if state == RequestState::Deleted {
            return self.stay_deleted(setup, issue).await;
        }
        if issue.is_pull_request {
            return self.reconcile_pull(setup, issue, attempt).await;
        }
        if !issue.labels.iter().any(|l| l == REQUEST_LABEL) || !issue.open {
            return Ok(());
        }
        if (state == RequestState::Failed && trigger != Trigger::Retry)
            || (state == RequestState::Invalid && trigger == Trigger::Resync)
        {
            return Ok(());
        }
        let settings = self.settings(setup.installation).await?;
        let editor = self.take_editor(number);
        let mut ctx = self.context(setup, issue).await?;
        let author = ctx.issue.author.clone();
        if !self
            .may_request(setup, &settings, &author, ctx.issue.author_member)
            .await?
        {
            return ctx.refuse_requester(&settings, &author).await;
        }
        // An edit by someone else makes them a requester too.
        if let Some(editor) = editor.filter(|e| !e.eq_ignore_ascii_case(&author))
            && !self.may_request(setup, &settings, &editor, false).await?
        {
            return ctx.refuse_requester(&settings, &editor).await;
        }
        let request = form::request(Form::new_service(), &ctx.issue.body)
            .and_then(|r| validate(&r, &self.deps.templates, &settings));
        let valid = match request {
            Err(problems) => return ctx.invalid(problems, "unknown").await,
            Ok(valid) => valid,
        };
        let member = ctx.issue.author_member;
        match self
            .decide_request(setup, &settings, &valid, &author, member)
            .await?
        {
            Decision::Refused(problems) => ctx.invalid(problems, &valid.request.template).await,
            Decision::Allowed(warnings) => {
                ctx.warnings = warnings;
                ctx.provision(&valid, &settings, attempt).await
            }
        }
    }

    /// The request's context: the issue and its status comment, if any. An
    /// issue GitHub counts no comments on has none to list.
    pub(super) async fn context<'a>(
        &'a self,
        setup: &'a Setup,
        issue: IssueInfo,
    ) -> Result<Request<'a>, StepError> {
        let catalog = &self.deps.catalog;
        let gh = &self.deps.github;
        let comments = match issue.comments {
            Some(0) => Vec::new(),
            _ => {
                gh.list_comments(setup.installation, catalog, issue.number)
                    .await?
            }
        };
        let status = comments
            .into_iter()
            .find(|c| c.author == setup.bot && status::is_status(&c.body));
        Ok(Request {
            paved: self,
            setup,
            catalog,
            issue,
            status,
            warnings: Vec::new(),
            unchecked: false,
        })
    }
}

impl Request<'_> {
    /// Provisions a valid request. A step that fails is shown on the status
    /// comment as the job runner's [`decide`] will treat it: waiting for the
    /// rate limit, trying again, or failed (or invalid) for good; the error
    /// goes back to the runner unless paved has given up.
    pub(super) async fn provision(
        &mut self,
        valid: &ValidRequest,
        settings: &CatalogSettings,
        attempt: u32,
    ) -> Result<(), StepError> {
        let started = Instant::now();
        let template = valid.request.template.as_str();
        let mut steps = vec![
            Step {
                name: STEP_REPO,
                state: StepState::Pending,
            },
            Step {
                name: STEP_SCAFFOLD,
                state: StepState::Pending,
            },
            Step {
                name: STEP_DEPLOY,
                state: StepState::Pending,
            },
        ];
        let service = valid.request.name.clone();
        // No status comment yet: a request done in one go gets one, when
        // it is committed; one that has to wait is shown waiting.
        let (failed, error) = match self.steps(valid, settings, &mut steps).await {
            Ok((summary, repo, known, making)) => {
                let committed = Status::Progress {
                    service,
                    steps,
                    summary: Some(summary),
                };
                self.conclude(&committed, settings, &repo, known, making)
                    .await?;
                let m = self.paved.metrics();
                m.provisioning_requests
                    .with_label_values(&[template, "ready"])
                    .inc();
                m.provisioning_seconds
                    .with_label_values(&[template])
                    .observe(started.elapsed().as_secs_f64());
                tracing::info!(service = %valid.request.name, "ready");
                return Ok(());
            }
            Err(failed) => failed,
        };
        self.step_failed(valid, steps, failed, error, attempt).await
    }

    /// The request is committed: the status comment shows it with what
    /// runs, and the labels follow what runs. `making` hands over what CI
    /// said of a service made by this run.
    async fn conclude(
        &mut self,
        committed: &Status,
        settings: &CatalogSettings,
        repo: &RepoName,
        mut known: Known,
        making: Option<Mark>,
    ) -> Result<(), StepError> {
        let tag = known.app.tag.clone();
        known.ci = making.as_ref().and_then(|m| m.ci(&tag));
        let shown = known.ci.clone();
        // What runs goes on the card in the same edit, and its health into
        // the labels: CI or Argo CD may have reported already (a run again
        // of a live service). Should reading it fail, the next report
        // shows it.
        let read = self
            .paved
            .what_runs(self.setup, settings, repo, Some(known));
        let mut live = read.await.unwrap_or_else(|e| {
            tracing::warn!(%repo, error = %e, "what runs could not be shown yet");
            Vec::new()
        });
        let shown_card = (!live.is_empty()).then(|| card(self.setup, &live));
        self.show_live(committed, shown_card.as_deref()).await?;
        // A merged pull request is closed already; an issue is closed now:
        // paved's part is done, and the labels follow what runs.
        let close = !self.issue.is_pull_request;
        let deploying = RequestState::Deploying.relabel(&self.issue.labels);
        let report = live.first().and_then(|l| l.report());
        let labelled = self.set_labels(with_health(&deploying, report), close);
        let counted = labelled.await?;
        self.only_status(counted).await?;
        // CI may have moved on while the card was being shown.
        let ci = making.and_then(|m| m.end(&tag));
        let first = live.first_mut().and_then(|l| l.running.as_mut());
        if let Some(running) = first.filter(|_| ci != shown) {
            running.ci = ci;
            let moved_on = card(self.setup, &live);
            self.show_live(committed, Some(&moved_on)).await?;
        }
        Ok(())
    }

    /// Step `failed` of `steps` ended in `error`: shown as the job runner
    /// will treat it.
    async fn step_failed(
        &mut self,
        valid: &ValidRequest,
        mut steps: Vec<Step>,
        failed: usize,
        error: StepError,
        attempt: u32,
    ) -> Result<(), StepError> {
        let template = valid.request.template.as_str();
        let service = &valid.request.name;
        let progress = |steps: Vec<Step>| Status::Progress {
            service: service.clone(),
            steps,
            summary: None,
        };
        // A request someone finished or closed meanwhile (another replica's
        // run of it, or a person) is left as they left it: this run's view
        // is stale, and its report would undo theirs.
        if self.moved_on().await {
            tracing::info!(%service, %error, "a step failed, but the request has moved on; leaving it");
            return Ok(());
        }
        match decide(&error, attempt) {
            Action::Park(until) => {
                tracing::info!(service = %valid.request.name, "waiting for GitHub's rate limit to reset");
                steps[failed].state = StepState::Waiting(waiting_text(until));
                // Best effort: with the limit spent, this may not get through either.
                let _ = self.show(&progress(steps)).await;
                self.still_provisioning().await;
                Err(error)
            }
            Action::Backoff(wait) => {
                tracing::info!(service = %valid.request.name, %error, "a step failed; trying again");
                steps[failed].state = StepState::Waiting(format!(
                    "{error}; paved tries again in {} s",
                    wait.as_secs()
                ));
                let _ = self.show(&progress(steps)).await;
                self.still_provisioning().await;
                Err(error)
            }
            Action::GiveUp => match error {
                StepError::Invalid(problems) => self.invalid(problems, template).await,
                error => {
                    tracing::warn!(service = %valid.request.name, %error, "provisioning failed");
                    steps[failed].state = StepState::Failed(error.to_string());
                    self.show_live(&progress(steps), None).await?;
                    let counted = self.labels(RequestState::Failed, false).await?;
                    self.only_status(counted).await?;
                    self.paved
                        .metrics()
                        .provisioning_requests
                        .with_label_values(&[template, "failed"])
                        .inc();
                    Ok(())
                }
            },
        }
    }

    /// Runs the steps in order, marking each done in `steps`; when all are
    /// done, the summary for the status comment, the service repository and
    /// what is known of its first environment; else the step that failed.
    async fn steps(
        &self,
        valid: &ValidRequest,
        settings: &CatalogSettings,
        steps: &mut [Step],
    ) -> Result<(String, RepoName, Known, Option<Mark>), (usize, StepError)> {
        let at = |i: usize| move |e: StepError| (i, e);
        let (repo, new_service) = self.ensure_repo(valid, settings).await.map_err(at(0))?;
        // Its first push sets CI off: what CI says until the card is shown
        // goes to this run.
        let making = new_service.then(|| self.paved.making.begin(&repo.name));
        steps[0].state = StepState::Done(format!("[{}]({})", repo.name, repo.html_url));
        let (commit, version) = self
            .ensure_scaffold(valid, settings, &repo, new_service)
            .await
            .map_err(at(1))?;
        steps[1].state = StepState::Done(format!(
            "{} {version}, commit `{}`",
            valid.request.template,
            short(&commit)
        ));
        let app = self.app_spec(valid, settings, &repo, &commit, &version);
        let claims = self.claims(valid, settings, &app);
        let written = self
            .ensure_application(&app, &claims)
            .await
            .map_err(at(2))?;
        let review = settings.first_environment().review;
        let report = self
            .paved
            .record_deployment(self.setup, &repo.name, &app, &written, review, new_service)
            .await
            .map_err(at(2))?;
        let written = written.commit;
        let platform = &self.setup.platform.html_url;
        steps[2].state = StepState::Done(format!(
            "[{}]({platform}/blob/{written}/{}) in commit [`{}`]({platform}/commit/{written})",
            app.path(),
            app.path(),
            short(&written)
        ));
        let name = &valid.request.name;
        // Committed is not running: CI builds the image, then Argo CD syncs.
        let mut summary = format!(
            "**Committed.** {name} is committed to **{}**: Argo CD deploys it to https://{name}.{} once CI has built its image. What runs, below, follows CI and Argo CD; `/paved status` shows it too.",
            app.environment, settings.domain
        );
        if let Some(url) = &settings.dashboard_url {
            summary.push_str(&format!(
                " · [dashboard]({})",
                url.replace("{service}", name)
            ));
        }
        for warning in &self.warnings {
            summary.push_str(&format!("\n\n⚠️ policy: {}", inert(warning)));
        }
        let known = Known {
            app,
            report,
            new_service,
            ci: None,
        };
        Ok((summary, repo.name, known, making))
    }

    /// Creates `<org>/<name>`, or accepts it when paved made it for this very
    /// request (its description carries the request's marker); with whether
    /// it was made now.
    async fn ensure_repo(
        &self,
        valid: &ValidRequest,
        settings: &CatalogSettings,
    ) -> Result<(RepoInfo, bool), StepError> {
        let gh = &self.paved.deps.github;
        let inst = self.setup.installation;
        let name = &valid.request.name;
        let org = &settings.organization;
        let marker = format!("[paved {}#{}]", self.catalog, self.issue.number);
        let full = RepoName {
            owner: org.clone(),
            name: name.clone(),
        };
        let description = format!("{} {marker}", headline(&valid.request.description));
        let private = settings.policy.private_repositories;
        // A request worked on before (shown waiting) has likely made its
        // repository: looking costs a read, where making it again would
        // spend a content-creating call on GitHub's 422.
        let worked_on = RequestState::from_labels(&self.issue.labels) == RequestState::Provisioning;
        let found = if worked_on {
            gh.get_repo(inst, &full).await?
        } else {
            None
        };
        if let Some(existing) = found {
            return Ok((claimed(existing, &full, &marker)?, false));
        }
        match gh
            .create_org_repo(inst, org, name, &description, private)
            .await
        {
            Ok(repo) => Ok((repo, true)),
            Err(e) if e.status().map(|s| s.as_u16()) == Some(422) => {
                let existing = gh
                    .get_repo(inst, &full)
                    .await?
                    .ok_or_else(|| StepError::from(e))?;
                Ok((claimed(existing, &full, &marker)?, false))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Renders and pushes the scaffold unless the repository already holds
    /// it; one `made_now` by this run holds nothing yet.
    async fn ensure_scaffold(
        &self,
        valid: &ValidRequest,
        settings: &CatalogSettings,
        repo: &RepoInfo,
        made_now: bool,
    ) -> Result<(String, String), StepError> {
        let (template, rendered, base) = self.render(valid, settings).await?;
        let answers =
            publish::answers_file(template, &valid.values, &self.issue.html_url, base.as_ref());
        let files = publish::scaffold_files(&rendered, answers);
        let token = self
            .paved
            .deps
            .github
            .installation_token(self.setup.installation)
            .await?;
        let message = format!(
            "Scaffold {} from {} {}\n\nRequested in {}#{}.\n",
            valid.request.name, template.name, template.version, self.catalog, self.issue.number
        );
        // A scratch repository per request: nothing to reuse for a new
        // repository, and nothing half-written left behind for the next run.
        let scratch = self
            .paved
            .deps
            .work_dir
            .join(super::SCAFFOLDS)
            .join(format!(
                "{}-{}.git",
                repo.name.file_name(),
                self.issue.number
            ));
        let (url, branch) = (repo.clone_url.clone(), repo.default_branch.clone());
        let author = self.setup.author.clone();
        let commit = crate::git::blocking(move || {
            let _ = std::fs::remove_dir_all(&scratch);
            let pushed = crate::git::with_retries(crate::git::TRANSIENT_ATTEMPTS, || {
                let to = publish::Destination {
                    url: &url,
                    token: &token,
                    branch: &branch,
                    made_now,
                };
                publish::push_initial(&scratch, &to, &files, &author, &message)
            });
            let _ = std::fs::remove_dir_all(&scratch);
            pushed
        })
        .await??;
        Ok((commit, template.version.clone()))
    }

    pub(super) fn app_spec(
        &self,
        valid: &ValidRequest,
        settings: &CatalogSettings,
        repo: &RepoInfo,
        commit: &str,
        version: &str,
    ) -> AppSpec {
        let env = settings.first_environment();
        let name = &valid.request.name;
        AppSpec {
            service: name.clone(),
            environment: env.name.clone(),
            template: format!("{}@{version}", valid.request.template),
            repo_url: repo.clone_url.clone(),
            revision: repo.default_branch.clone(),
            image: crate::platform::image_of(&settings.organization, name),
            tag: commit.to_owned(),
            replicas: env.replicas.default,
            project: "default".into(),
            cluster: env.cluster.clone(),
            namespace: format!("{name}-{}", env.name),
            request_url: self.issue.html_url.clone(),
            url: format!("https://{name}.{}", settings.domain),
            path: self
                .paved
                .deps
                .templates
                .get(&valid.request.template)
                .map_or_else(
                    || crate::scaffold::MANIFESTS.to_owned(),
                    |t| t.manifests.clone(),
                ),
            wiring: resource::wiring(name, &valid.resources),
        }
    }

    /// The resources of `valid` in the first environment, as committed
    /// beside its Application.
    fn claims(
        &self,
        valid: &ValidRequest,
        settings: &CatalogSettings,
        app: &AppSpec,
    ) -> Vec<Claim> {
        let env = settings.first_environment();
        valid
            .resources
            .iter()
            .map(|r| Claim {
                service: app.service.clone(),
                environment: app.environment.clone(),
                namespace: app.namespace.clone(),
                resource: r.clone(),
                deletion: env.deletion,
            })
            .collect()
    }

    /// The request's template, and the files it renders for the request's
    /// values. Validation checked both, so a failure now (a template
    /// removed since) is not the requester's mistake.
    pub(super) async fn render(
        &self,
        valid: &ValidRequest,
        settings: &CatalogSettings,
    ) -> Result<(&Template, Rendered, Option<Service>), StepError> {
        let name = &valid.request.template;
        let template = self
            .paved
            .deps
            .templates
            .get(name)
            .ok_or_else(|| StepError::Refused(format!("template {name} is gone")))?;
        let (rendered, base) = self
            .paved
            .render_request(settings, valid)
            .await
            .map_err(StepError::Refused)?;
        Ok((template, rendered, base))
    }

    /// Makes the platform repository hold the Application. An Application
    /// that exists is left as it is: day-2 commands own it from then on.
    async fn ensure_application(
        &self,
        app: &AppSpec,
        claims: &[Claim],
    ) -> Result<Written, StepError> {
        let mut changes = vec![app.file()];
        if !claims.is_empty() {
            changes.push(resource::namespace_file(
                &app.service,
                &app.environment,
                &app.namespace,
            ));
        }
        changes.extend(claims.iter().map(Claim::file));
        let reason = format!(
            "Add {} ({}#{})",
            app.service, self.catalog.name, self.issue.number
        );
        self.setup
            .writer
            .write(changes, WriteMode::CreateOnly, reason)
            .await
    }

    pub(super) async fn invalid(
        &mut self,
        problems: Vec<Problem>,
        template: &str,
    ) -> Result<(), StepError> {
        let status = Status::Invalid { problems };
        self.turn_down(&status, template, "invalid").await
    }

    /// Shows why the request is not taken and labels it `paved:invalid`,
    /// counting it (as `outcome`) once, when it first becomes so.
    pub(super) async fn turn_down(
        &mut self,
        status: &Status,
        template: &str,
        outcome: &str,
    ) -> Result<(), StepError> {
        self.show_live(status, None).await?;
        let mut counted = None;
        if RequestState::from_labels(&self.issue.labels) != RequestState::Invalid {
            counted = self.labels(RequestState::Invalid, false).await?;
            self.paved
                .metrics()
                .provisioning_requests
                .with_label_values(&[template, outcome])
                .inc();
        }
        self.only_status(counted).await
    }

    /// Creates or edits the status comment, only when its text changes.
    /// Progress keeps the comment's live section: redoing a step never
    /// hides what runs.
    pub(super) async fn show(&mut self, status: &Status) -> Result<(), StepError> {
        self.show_live(status, None).await?;
        self.only_status(None).await
    }

    /// [`Request::show`], its live section showing `card` when given; else
    /// a request's progress keeps the live section it had. A comment made
    /// now is left to [`Request::only_status`] to check.
    async fn show_live(&mut self, status: &Status, card: Option<&str>) -> Result<(), StepError> {
        let body = match (status, &self.status, card) {
            (_, _, Some(card)) => status::with_live(&status.render(), card),
            (Status::Progress { .. }, Some(c), None) => status::keep_live(&c.body, status.render()),
            _ => status.render(),
        };
        let gh = &self.paved.deps.github;
        let inst = self.setup.installation;
        match &mut self.status {
            Some(c) if c.body == body => {}
            Some(c) => {
                gh.update_comment(inst, self.catalog, c.id, &body).await?;
                c.body = body;
            }
            None => {
                let ours = gh
                    .create_comment(inst, self.catalog, self.issue.number, &body)
                    .await?;
                self.status = Some(ours);
                self.unchecked = true;
            }
        }
        Ok(())
    }

    /// Another replica may have answered the same request at the same
    /// moment: the oldest status comment wins, and a newer one of ours
    /// goes. `counted`, the comments GitHub counted on the issue after
    /// ours was made (a label edit's answer says), spares listing them
    /// when ours is the only one added since the issue was read.
    async fn only_status(&mut self, counted: Option<u64>) -> Result<(), StepError> {
        let Some(ours) = self.status.as_ref().filter(|_| self.unchecked) else {
            return Ok(());
        };
        let (ours, body) = (ours.id, ours.body.clone());
        self.unchecked = false;
        let alone = matches!((self.issue.comments, counted), (Some(before), Some(after)) if after == before + 1);
        if alone {
            return Ok(());
        }
        let gh = &self.paved.deps.github;
        let inst = self.setup.installation;
        let (repo, number) = (self.catalog, self.issue.number);
        let older = self
            .paved
            .older_twin(self.setup, repo, number, ours, status::is_status);
        if let Some(mut first) = older.await? {
            gh.delete_comment(inst, self.catalog, ours).await?;
            if first.body != body {
                gh.update_comment(inst, self.catalog, first.id, &body)
                    .await?;
                first.body = body;
            }
            self.status = Some(first);
        }
        Ok(())
    }

    /// Sets the state label (keeping the requester's other labels) and,
    /// when `close`, closes the issue, in one call; the comments GitHub
    /// then counts on it, when it says.
    pub(super) async fn labels(
        &mut self,
        state: RequestState,
        close: bool,
    ) -> Result<Option<u64>, StepError> {
        self.set_labels(state.relabel(&self.issue.labels), close)
            .await
    }

    /// A request that does not finish in one go is labelled as still being
    /// worked on; one that does goes straight to its outcome, sparing a
    /// call. Best effort: the status comment says the same.
    async fn still_provisioning(&mut self) {
        if RequestState::from_labels(&self.issue.labels) != RequestState::Provisioning {
            let _ = self.labels(RequestState::Provisioning, false).await;
        }
    }

    /// Whether the request has left the state this run found it in (or
    /// put it in): closed or reopened, or labelled otherwise. Read again
    /// only when a step failed; should even that read fail, the run
    /// reports as it would have.
    async fn moved_on(&self) -> bool {
        let gh = &self.paved.deps.github;
        let now = gh.get_issue(self.setup.installation, self.catalog, self.issue.number);
        match now.await {
            Ok(now) => {
                now.open != self.issue.open
                    || RequestState::from_labels(&now.labels)
                        != RequestState::from_labels(&self.issue.labels)
            }
            Err(_) => false,
        }
    }

    /// Sets the request's labels to `labels`, closing it when `close`; the
    /// comments GitHub then counts on it, when it says.
    async fn set_labels(
        &mut self,
        labels: Vec<String>,
        close: bool,
    ) -> Result<Option<u64>, StepError> {
        let patch = IssuePatch {
            close,
            labels: Some(labels.clone()),
            body: None,
        };
        let updated = self
            .paved
            .deps
            .github
            .update_issue(
                self.setup.installation,
                self.catalog,
                self.issue.number,
                &patch,
            )
            .await?;
        self.issue.labels = labels;
        self.issue.open &= !close;
        Ok(updated.comments)
    }
}

/// `existing`, the repository named `full`, if this request made it (its
/// description carries `marker`) and it is not archived.
fn claimed(existing: RepoInfo, full: &RepoName, marker: &str) -> Result<RepoInfo, StepError> {
    let refused = |why: String| Err(StepError::Invalid(vec![Problem::new("name", why)]));
    if existing.archived {
        return refused(format!(
            "the repository {full} is archived: a deleted service is not made again; choose another name"
        ));
    }
    if !existing.description.contains(marker) {
        return refused(format!(
            "the repository {full} already exists and was not made for this request; choose another name"
        ));
    }
    Ok(existing)
}

fn waiting_text(reset_at: std::time::SystemTime) -> String {
    format!(
        "waiting for GitHub's rate limit to reset at {}; paved carries on by itself",
        crate::error::clock_text(reset_at)
    )
}

/// The description's first line, plain and short enough for GitHub's
/// repository description.
fn headline(description: &str) -> String {
    let line = description
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let clean: String = line.chars().filter(|c| !c.is_control()).take(200).collect();
    clean
}
