//! Deleting a service, and keeping it deleted. `/paved delete` removes its
//! Applications, archives its repository and marks its request
//! `paved:deleted`, which is final: a reopen, an edit, a retry, a resync or
//! a restart changes nothing after it.

use super::day2::{Day2, Outcome, commit_link};
use super::state::RequestState;
use super::{Reconciler, Setup, StepError};
use crate::git::FileChange;
use crate::github::{IssueInfo, IssuePatch, RepoName};
use crate::platform::{WriteMode, path};
use crate::status::{self, Status};

impl Day2<'_> {
    /// `/paved delete <name>`, where the name must be the service's own.
    pub(super) async fn delete(&self, name: &str) -> Outcome {
        let (paved, setup, settings, job) = (self.paved, self.setup, self.settings, self.job);
        let service = self.service;
        if name != service {
            return Err(StepError::invalid(format!(
                "this is the request for {service}; to delete it, write `/paved delete {service}`"
            )));
        }
        // The request is named by the Application, wherever the command was given.
        let request = paved
            .application(setup, service, &settings.first_environment().name)
            .await?
            .and_then(|app| request_number(&app.request_url, &paved.deps.catalog))
            .or((job.repo == paved.deps.catalog).then_some(job.number));
        let mut removals: Vec<FileChange> = settings
            .environments
            .iter()
            .map(|e| FileChange {
                path: path(service, &e.name),
                contents: None,
                executable: false,
            })
            .collect();
        // Its resources go with it, each under its environment's policy.
        let mut fates = Vec::new();
        for env in &settings.environments {
            removals.push(FileChange {
                path: crate::platform::resource::namespace_path(service, &env.name),
                contents: None,
                executable: false,
            });
            for claim in self.claims(&env.name).await? {
                removals.push(FileChange {
                    path: claim.path(),
                    contents: None,
                    executable: false,
                });
                fates.push(format!(
                    "- {} in {}: {}",
                    claim.resource.name,
                    env.name,
                    super::resources::fate(&claim.resource, claim.deletion)
                ));
            }
        }
        let reason = format!(
            "Remove {service} (by @{} in {}#{})",
            job.actor, job.repo, job.number
        );
        let written = setup
            .writer
            .write(removals, WriteMode::Replace, reason)
            .await?;
        let repo = self.repo();
        paved
            .deps
            .github
            .archive_repo(setup.installation, &repo)
            .await?;
        if let Some(number) = request {
            paved
                .mark_deleted(setup, number, service, &job.actor)
                .await?;
        }
        let mut answer = format!(
            "deleted {service}: its Applications are removed in {} (Argo CD prunes what they deployed) and {repo} is archived, not deleted",
            commit_link(setup, &written.commit)
        );
        if !fates.is_empty() {
            answer.push_str("\n\nIts resources:\n");
            answer.push_str(&fates.join("\n"));
        }
        Ok(answer)
    }
}

impl Reconciler {
    /// Marks request `number` deleted by `by` today: its status comment says
    /// so, its label is `paved:deleted`, and it is closed.
    async fn mark_deleted(
        &self,
        setup: &Setup,
        number: u64,
        service: &str,
        by: &str,
    ) -> Result<(), StepError> {
        let issue = self
            .deps
            .github
            .get_issue(setup.installation, &self.deps.catalog, number)
            .await?;
        let close = issue.open;
        let mut ctx = self.context(setup, issue).await?;
        let on = chrono::DateTime::<chrono::Utc>::from(self.deps.github.now())
            .format("%Y-%m-%d")
            .to_string();
        let deleted = Status::Deleted {
            service: service.to_owned(),
            by: by.to_owned(),
            on,
        };
        ctx.show(&deleted).await?;
        ctx.labels(RequestState::Deleted, close).await?;
        Ok(())
    }

    /// A deleted request that was reopened: one reply that says so, and
    /// closed again. Nothing else changes.
    pub(super) async fn stay_deleted(
        &self,
        setup: &Setup,
        issue: IssueInfo,
    ) -> Result<(), StepError> {
        if !issue.open {
            return Ok(());
        }
        let gh = &self.deps.github;
        let (inst, catalog) = (setup.installation, &self.deps.catalog);
        let ctx = self.context(setup, issue).await?;
        let when = ctx
            .status
            .as_ref()
            .and_then(|c| status::deleted_by(&c.body))
            .map_or_else(
                || "by an admin".to_owned(),
                |(by, on)| format!("by @{by} on {on}"),
            );
        let reply = format!(
            "This service was deleted {when}, so reopening its request changes nothing: its repository stays archived and it has no Applications. To have a service again, request one under a new name."
        );
        gh.create_comment(inst, catalog, ctx.issue.number, &reply)
            .await?;
        let close = IssuePatch {
            close: true,
            labels: None,
            body: None,
        };
        gh.update_issue(inst, catalog, ctx.issue.number, &close)
            .await?;
        Ok(())
    }
}

/// The number of the catalog request at `url` (`…/<catalog>/issues/N` or
/// `…/<catalog>/pull/N`), if it is one.
pub(super) fn request_number(url: &str, catalog: &RepoName) -> Option<u64> {
    let mut parts = url.rsplit('/');
    let number = parts.next()?.parse().ok()?;
    let kind = parts.next()?;
    let name = parts.next()?;
    let owner = parts.next()?;
    let ours = matches!(kind, "issues" | "pull")
        && name.eq_ignore_ascii_case(&catalog.name)
        && owner.eq_ignore_ascii_case(&catalog.owner);
    ours.then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_found_from_its_url() {
        let catalog: RepoName = "acme/catalog".parse().unwrap();
        let at = |u: &str| request_number(u, &catalog);
        assert_eq!(at("http://gh/acme/catalog/issues/5"), Some(5));
        assert_eq!(at("https://github.com/Acme/Catalog/pull/12"), Some(12));
        assert_eq!(at("https://github.com/acme/other/issues/5"), None);
        assert_eq!(at("https://github.com/acme/catalog/issues/x"), None);
        assert_eq!(at("5"), None);
    }
}
