//! Check runs: only a GitHub App (an installation token) may create them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::Utc;
use serde::Deserialize;

use super::issues::writable;
use super::{Api, Body, created, repo_for};
use crate::Shared;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::{CheckAnnotation, CheckOutput, CheckRun, Permission};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/repos/{owner}/{repo}/check-runs", post(create))
        .route(
            "/repos/{owner}/{repo}/check-runs/{id}",
            get(get_one).patch(update),
        )
}

#[derive(Deserialize, Default)]
pub struct OutputBody {
    title: Option<String>,
    summary: Option<String>,
    text: Option<String>,
    #[serde(default)]
    annotations: Vec<CheckAnnotation>,
}

/// GitHub's limit on a check run's `output.summary` and `output.text`, in characters.
const OUTPUT_TEXT_MAX: usize = 65_535;

/// Fields of both create and update; `name` and `head_sha` are required to create.
#[derive(Deserialize)]
pub struct CheckRunBody {
    name: Option<String>,
    head_sha: Option<String>,
    status: Option<String>,
    conclusion: Option<String>,
    details_url: Option<String>,
    external_id: Option<String>,
    output: Option<OutputBody>,
}

const STATUSES: [&str; 3] = ["queued", "in_progress", "completed"];
const CONCLUSIONS: [&str; 8] = [
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
];

impl CheckRunBody {
    fn validate(&self) -> Result<(), ApiError> {
        if self
            .status
            .as_deref()
            .is_some_and(|s| !STATUSES.contains(&s))
        {
            return Err(ApiError::invalid("CheckRun", "status", "invalid"));
        }
        if self
            .conclusion
            .as_deref()
            .is_some_and(|c| !CONCLUSIONS.contains(&c))
        {
            return Err(ApiError::invalid("CheckRun", "conclusion", "invalid"));
        }
        let levels = ["notice", "warning", "failure"];
        let annotations = self
            .output
            .as_ref()
            .map_or(&[][..], |o| o.annotations.as_slice());
        if annotations.len() > 50
            || annotations
                .iter()
                .any(|a| !levels.contains(&a.annotation_level.as_str()))
        {
            return Err(ApiError::invalid("CheckRun", "annotations", "invalid"));
        }
        if let Some(o) = &self.output {
            for (field, text) in [("summary", &o.summary), ("text", &o.text)] {
                if let Some(text) = text {
                    ApiError::check_length("CheckRun", field, text, OUTPUT_TEXT_MAX)?;
                }
            }
        }
        Ok(())
    }

    fn apply(self, run: &mut CheckRun) {
        if let Some(name) = self.name {
            run.name = name;
        }
        if let Some(status) = self.status {
            run.status = status;
        }
        // A conclusion completes the run, as on GitHub.
        if let Some(conclusion) = self.conclusion {
            run.conclusion = Some(conclusion);
            run.status = "completed".into();
        }
        if run.status == "completed" && run.completed_at.is_none() {
            run.completed_at = Some(Utc::now());
        }
        if self.details_url.is_some() {
            run.details_url = self.details_url;
        }
        if self.external_id.is_some() {
            run.external_id = self.external_id;
        }
        if let Some(output) = self.output {
            // GitHub appends annotations across updates.
            let mut annotations = std::mem::take(&mut run.output.annotations);
            annotations.extend(output.annotations);
            run.output = CheckOutput {
                title: output.title,
                summary: output.summary,
                text: output.text,
                annotations,
            };
        }
    }
}

fn require_installation(caller: &Caller) -> Result<(), ApiError> {
    match caller {
        Caller::Installation(_) => Ok(()),
        _ => Err(ApiError::forbidden(
            "You must authenticate via a GitHub App.",
        )),
    }
}

async fn create(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    Body(body): Body<CheckRunBody>,
) -> Result<Response, ApiError> {
    require_installation(&caller)?;
    body.validate()?;
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Write)?;
    let (Some(run_name), Some(head_sha)) = (body.name.clone(), body.head_sha.clone()) else {
        return Err(ApiError::invalid("CheckRun", "name", "missing_field"));
    };
    let id = world.next_id();
    let mut run = CheckRun {
        id,
        repo: key.clone(),
        name: run_name,
        head_sha,
        status: "queued".into(),
        conclusion: None,
        external_id: None,
        details_url: None,
        started_at: Utc::now(),
        completed_at: None,
        output: CheckOutput::default(),
    };
    body.apply(&mut run);
    world.check_runs.insert(id, run);
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(created(
        shared
            .render(&world)
            .check_run(repo, &world.check_runs[&id]),
    ))
}

async fn get_one(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, u64)>,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let repo = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
    let run = world
        .check_runs
        .get(&id)
        .filter(|r| r.repo == repo.key)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(shared.render(&world).check_run(repo, run)).into_response())
}

async fn update(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, u64)>,
    Body(body): Body<CheckRunBody>,
) -> Result<Response, ApiError> {
    require_installation(&caller)?;
    body.validate()?;
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Write)?;
    let run = world
        .check_runs
        .get_mut(&id)
        .filter(|r| r.repo == key)
        .ok_or_else(ApiError::not_found)?;
    body.apply(run);
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(Json(
        shared
            .render(&world)
            .check_run(repo, &world.check_runs[&id]),
    )
    .into_response())
}
