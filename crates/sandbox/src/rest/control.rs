//! `/_sandbox/...`: what no GitHub endpoint does: inspect the request log and
//! deliveries, redeliver, inject faults, move CI runs on, play Argo CD's
//! notifications, mint manifest codes.
//! Not authenticated, not rate limited, not logged.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{Api, Body, created};
use crate::Shared;
use crate::argocd::Notification;
use crate::ci::{Step, advance_run};
use crate::error::ApiError;
use crate::faults::FaultRule;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/requests", get(requests).delete(clear_requests))
        .route("/deliveries", get(deliveries))
        .route("/deliveries/{id}/redeliver", post(redeliver))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/rate-limit/exhaust", post(exhaust))
        .route("/rate-limit", delete(clear_faults))
        .route("/repos/{owner}/{repo}/workflow-runs", post(workflow_run))
        .route("/app-manifests", post(manifest_code))
        .route("/argocd/notifications", post(argo_cd_notifies))
}

async fn requests(State(shared): Api) -> Response {
    Json(shared.log.snapshot()).into_response()
}

async fn clear_requests(State(shared): Api) -> StatusCode {
    shared.log.clear();
    StatusCode::NO_CONTENT
}

async fn deliveries(State(shared): Api) -> Response {
    let list: Vec<_> = shared
        .hooks
        .list()
        .into_iter()
        .map(|d| {
            let mut entry = serde_json::to_value(&d).unwrap_or_default();
            entry["payload"] = d.payload();
            entry
        })
        .collect();
    Json(list).into_response()
}

async fn redeliver(State(shared): Api, Path(id): Path<u64>) -> Result<Response, ApiError> {
    let new_id = shared.hooks.redeliver(id).ok_or_else(ApiError::not_found)?;
    Ok((StatusCode::ACCEPTED, Json(json!({"id": new_id}))).into_response())
}

async fn list_faults(State(shared): Api) -> Response {
    Json(shared.faults.list()).into_response()
}

async fn add_fault(State(shared): Api, Body(rule): Body<FaultRule>) -> Response {
    shared.faults.add(rule.clone());
    created(serde_json::to_value(rule).unwrap_or_default())
}

/// Clears faults, refills every rate-limit budget and empties the
/// secondary limits' windows.
async fn clear_faults(State(shared): Api) -> StatusCode {
    shared.faults.clear();
    shared.limits.reset();
    shared.secondary.reset();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
pub struct Exhaust {
    #[serde(default = "an_hour")]
    seconds: u64,
}

fn an_hour() -> u64 {
    3600
}

async fn exhaust(State(shared): Api, Body(body): Body<Exhaust>) -> StatusCode {
    shared.limits.exhaust(Duration::from_secs(body.seconds));
    StatusCode::NO_CONTENT
}

/// Moves a run on: `status` `in_progress` starts it; otherwise it
/// completes with `conclusion`.
#[derive(Deserialize)]
pub struct WorkflowRun {
    branch: String,
    #[serde(default = "ci")]
    workflow: String,
    status: Option<String>,
    conclusion: Option<String>,
}

fn ci() -> String {
    "CI".into()
}

async fn workflow_run(
    State(shared): Api,
    Path((owner, repo)): Path<(String, String)>,
    Body(run): Body<WorkflowRun>,
) -> Result<Response, ApiError> {
    let full = format!("{owner}/{repo}");
    let step = match (run.status.as_deref(), run.conclusion.as_deref()) {
        (Some("in_progress"), None) => Step::Start,
        (None | Some("completed"), Some(conclusion)) => Step::Complete(conclusion),
        _ => {
            return Err(ApiError::unprocessable(
                "give status in_progress, or a conclusion to complete the run",
            ));
        }
    };
    let id = advance_run(&shared, &full, &run.branch, &run.workflow, step).await?;
    Ok(created(json!({"id": id})))
}

async fn argo_cd_notifies(
    State(shared): Api,
    Body(notification): Body<Notification>,
) -> Result<Response, ApiError> {
    let id = crate::argocd::notify(&shared, &notification).await?;
    Ok(created(json!({"deployment_id": id})))
}

async fn manifest_code(State(shared): Api) -> Response {
    created(json!({"code": shared.new_manifest_code()}))
}
