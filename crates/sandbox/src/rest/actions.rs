//! GitHub Actions: the workflow runs pushes queued (see `ci`), listed with
//! GitHub's filters.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};

use super::{Api, Paging, query_param, repo_for};
use crate::Shared;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::{Permission, WorkflowRun};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/repos/{owner}/{repo}/actions/runs", get(list_runs))
}

/// `status` filters by status or by conclusion, as GitHub's does.
fn matches(run: &WorkflowRun, uri: &Uri) -> bool {
    let is = |name: &str, value: &str| query_param(uri, name).is_none_or(|v| v == value);
    is("head_sha", &run.head_sha)
        && is("branch", &run.head_branch)
        && is("event", "push")
        && query_param(uri, "status")
            .is_none_or(|v| v == run.status || run.conclusion.as_deref() == Some(v.as_str()))
}

async fn list_runs(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    uri: Uri,
    paging: Paging,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let repo = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
    let render = shared.render(&world);
    // Newest first.
    let runs = world
        .workflow_runs
        .values()
        .rev()
        .filter(|r| r.repo == repo.key && matches(r, &uri))
        .map(|r| render.workflow_run(repo, r))
        .collect();
    Ok(paging.respond_in(&shared.base, "workflow_runs", runs))
}
