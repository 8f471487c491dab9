//! Requests by pull request: a PR to the catalog that adds or changes
//! `services/<name>.yaml`. While open it is validated (a `paved/validate`
//! check run with line-level annotations, and a preview comment); once
//! merged it is provisioned like an issue request. A PR is never
//! provisioned before it is merged, so a fork can only ask.

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
        let (outcome, annotations) = match services.as_slice() {
            [one] => {
                self.read_service(inst, &one.path, &git_ref, &settings)
                    .await?
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
                let preview = ctx.preview(&valid, &settings)?;
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

    /// The service file at `git_ref`, parsed and validated; problems carry lines.
    async fn read_service(
        &self,
        inst: u64,
        path: &str,
        git_ref: &str,
        settings: &crate::catalog::CatalogSettings,
    ) -> Result<(Result<ValidRequest, Vec<Problem>>, Vec<Annotation>), StepError> {
        let bytes = self
            .deps
            .github
            .get_file(inst, &self.deps.catalog, path, git_ref)
            .await?
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let result = service_file::parse(path, &text)
            .and_then(|r| validate(&r, &self.deps.templates, settings));
        let annotations = match &result {
            Ok(_) => vec![],
            Err(problems) => problems
                .iter()
                .map(|p| {
                    let line = p
                        .line
                        .or_else(|| {
                            p.field
                                .as_deref()
                                .and_then(|f| service_file::line_of(&text, f))
                        })
                        .unwrap_or(1);
                    Annotation {
                        path: path.to_owned(),
                        line,
                        message: p.to_string(),
                    }
                })
                .collect(),
        };
        Ok((result, annotations))
    }
}

impl Request<'_> {
    /// What merging will create: the files and the Application.
    fn preview(
        &self,
        valid: &ValidRequest,
        settings: &crate::catalog::CatalogSettings,
    ) -> Result<Status, StepError> {
        let (template, rendered) = self.render(valid)?;
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
            topics: vec![],
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
