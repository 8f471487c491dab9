//! Requests by pull request: a PR to the catalog that adds or changes
//! `services/<name>.yaml`. While open it is validated (a `paved/validate`
//! check run with line-level annotations, and a preview comment); once
//! merged it is provisioned like an issue request. A PR is never
//! provisioned before it is merged, so a fork can only ask.

use super::policies::Decision;
use super::provision::Request;
use super::state::RequestState;
use super::{Reconciler, Setup, StepError};
use crate::catalog::service_file::{self, service_of_path};
use crate::catalog::{Problem, ValidRequest, validate};
use crate::github::{Annotation, CheckReport, IssueInfo, PullFile};
use crate::status::Status;

pub const CHECK_NAME: &str = "paved/validate";

impl Reconciler {
    pub(super) async fn reconcile_pull(
        &self,
        setup: &Setup,
        issue: IssueInfo,
        attempt: u32,
    ) -> Result<(), StepError> {
        let gh = &self.deps.github;
        let inst = setup.installation;
        let catalog = &self.deps.catalog;
        let pull = gh.get_pull(inst, catalog, issue.number).await?;
        let files = gh.list_pull_files(inst, catalog, issue.number).await?;
        let services: Vec<&PullFile> = files
            .iter()
            .filter(|f| !f.removed && service_of_path(&f.path).is_some())
            .collect();
        if services.is_empty() || !(pull.open || pull.merged) {
            if !pull.open {
                self.not_requests.lock().expect("lock").insert(issue.number);
            }
            return Ok(());
        }
        let settings = self.settings(inst).await?;
        let git_ref = if pull.merged {
            pull.merge_commit_sha
                .clone()
                .unwrap_or(pull.head_sha.clone())
        } else {
            pull.head_sha.clone()
        };
        let mut ctx = self.context(setup, issue).await?;
        let requester = (ctx.issue.author.clone(), ctx.issue.author_member);
        let (outcome, annotations) = match services.as_slice() {
            [one] => {
                let checked = self
                    .read_service(setup, &one.path, &git_ref, &settings, &requester)
                    .await?;
                ctx.warnings = checked.warnings;
                (checked.result, checked.annotations)
            }
            many => {
                let problem = Problem::new(
                    "services",
                    format!(
                        "one service per pull request, please; this one has {}",
                        many.len()
                    ),
                );
                (Err(vec![problem]), vec![])
            }
        };
        if pull.open {
            let report = check_report(&pull.head_sha, &services[0].path, &outcome, annotations);
            gh.report_check(inst, catalog, &report).await?;
        }
        match outcome {
            Err(problems) => ctx.invalid(problems, "unknown").await,
            Ok(valid) if pull.merged => ctx.provision(&valid, &settings, attempt).await,
            Ok(valid) => {
                let preview = ctx.preview(&valid, &settings).await?;
                if RequestState::from_labels(&ctx.issue.labels) == RequestState::Invalid {
                    let labels = RequestState::New.relabel(&ctx.issue.labels);
                    let patch = crate::github::IssuePatch {
                        close: false,
                        labels: Some(labels),
                        body: None,
                    };
                    gh.update_issue(inst, catalog, ctx.issue.number, &patch)
                        .await?;
                }
                ctx.show(&preview).await
            }
        }
    }

    /// The service file at `git_ref`, parsed, validated and put to the
    /// catalog's policies as asked by `requester` (login, shown a member);
    /// problems and policy warnings carry lines.
    async fn read_service(
        &self,
        setup: &Setup,
        path: &str,
        git_ref: &str,
        settings: &crate::catalog::CatalogSettings,
        requester: &(String, bool),
    ) -> Result<Checked, StepError> {
        let bytes = self
            .deps
            .github
            .get_file(setup.installation, &self.deps.catalog, path, git_ref)
            .await?
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let mut result = service_file::parse(path, &text)
            .and_then(|r| validate(&r, &self.deps.templates, settings));
        let mut warnings = Vec::new();
        if let Ok(valid) = &result {
            match self
                .decide_request(setup, settings, valid, &requester.0, requester.1)
                .await?
            {
                Decision::Refused(problems) => result = Err(problems),
                Decision::Allowed(warned) => warnings = warned,
            }
        }
        // Problems of a field sit on its line; the policies' verdicts, which
        // are about the whole service, on the line of its name.
        let line_of = |p: &Problem| {
            p.line
                .or_else(|| {
                    let field = p.field.as_deref().unwrap_or("name");
                    service_file::line_of(&text, field)
                })
                .unwrap_or(1)
        };
        let at = |line: usize, message: String, blocking: bool| Annotation {
            path: path.to_owned(),
            line,
            message,
            blocking,
        };
        let mut annotations: Vec<Annotation> = match &result {
            Ok(_) => vec![],
            Err(problems) => problems
                .iter()
                .map(|p| at(line_of(p), p.to_string(), true))
                .collect(),
        };
        let name_line = service_file::line_of(&text, "name").unwrap_or(1);
        annotations.extend(
            warnings
                .iter()
                .map(|w| at(name_line, format!("warned by {w}"), false)),
        );
        Ok(Checked {
            result,
            annotations,
            warnings,
        })
    }
}

/// A pull request's service file, checked.
struct Checked {
    result: Result<ValidRequest, Vec<Problem>>,
    annotations: Vec<Annotation>,
    /// What the policies warned of.
    warnings: Vec<String>,
}

impl Request<'_> {
    /// What merging will create: the files and the Application.
    async fn preview(
        &self,
        valid: &ValidRequest,
        settings: &crate::catalog::CatalogSettings,
    ) -> Result<Status, StepError> {
        let (template, rendered, _) = self.render(valid, settings).await?;
        let name = &valid.request.name;
        let repo = crate::github::RepoName {
            owner: settings.organization.clone(),
            name: name.clone(),
        };
        let platform = &self.setup.platform;
        let web = platform
            .html_url
            .strip_suffix(&format!("/{}", platform.name))
            .unwrap_or("https://github.com");
        // The repository the merge will create, as the preview shows it.
        let future = crate::github::RepoInfo {
            clone_url: format!("{web}/{repo}.git"),
            name: repo,
            html_url: String::new(),
            description: String::new(),
            archived: false,
            private: true,
            // GitHub's own choice, known once the repository exists.
            default_branch: crate::github::DEFAULT_BRANCH.into(),
        };
        let app = self.app_spec(
            valid,
            settings,
            &future,
            "<commit of the scaffold>",
            &template.version,
        );
        let mut files: Vec<String> = rendered.files.iter().map(|f| f.path.clone()).collect();
        files.push(crate::scaffold::publish::ANSWERS_PATH.to_owned());
        Ok(Status::Preview {
            service: name.clone(),
            repo: future.name.to_string(),
            template: format!("{} {}", template.name, template.version),
            files,
            application: app.to_yaml(),
        })
    }
}

fn check_report(
    head_sha: &str,
    path: &str,
    outcome: &Result<ValidRequest, Vec<Problem>>,
    annotations: Vec<Annotation>,
) -> CheckReport {
    match outcome {
        Ok(valid) => CheckReport {
            name: CHECK_NAME,
            head_sha: head_sha.to_owned(),
            success: true,
            title: format!("{} is valid", valid.request.name),
            summary: format!("`{path}` is a valid service; merging creates it."),
            annotations,
        },
        Err(problems) => CheckReport {
            name: CHECK_NAME,
            head_sha: head_sha.to_owned(),
            success: false,
            title: format!("{} problem(s) in {path}", problems.len()),
            summary: problems.iter().map(|p| format!("- {p}\n")).collect(),
            annotations,
        },
    }
}
