//! Deployments, their statuses and the environments they make, with
//! GitHub's rules: a ref is a branch, tag or SHA; `auto_merge` merges the
//! default branch into a branch that is behind; `required_contexts` must
//! have passed on the commit; a `success` status marks older deployments of
//! the environment `inactive` unless told not to.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::issues::writable;
use super::{Api, Body, Paging, actor, created, query_param, repo_for};
use crate::Shared;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::git::MergeMethod;
use crate::state::{Deployment, DeploymentStatus, Environment, Permission, Repo, RepoKey, World};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/repos/{owner}/{repo}/deployments", get(list).post(create))
        .route("/repos/{owner}/{repo}/deployments/{id}", get(get_one))
        .route(
            "/repos/{owner}/{repo}/deployments/{id}/statuses",
            get(list_statuses).post(create_status),
        )
        .route("/repos/{owner}/{repo}/environments", get(environments))
}

/// GitHub's limits: an environment name, a status description.
const ENVIRONMENT_MAX: usize = 255;
const STATUS_DESCRIPTION_MAX: usize = 140;
const STATES: [&str; 7] = [
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

#[derive(Deserialize)]
pub struct NewDeployment {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    #[serde(default = "deploy")]
    task: String,
    #[serde(default = "yes")]
    auto_merge: bool,
    /// Absent: every context on the commit must have passed.
    required_contexts: Option<Vec<String>>,
    #[serde(default)]
    payload: Value,
    #[serde(default = "production")]
    environment: String,
    description: Option<String>,
    #[serde(default)]
    transient_environment: bool,
    production_environment: Option<bool>,
}

fn deploy() -> String {
    "deploy".into()
}

fn production() -> String {
    "production".into()
}

fn yes() -> bool {
    true
}

/// The commit `git_ref` names in `key`: a branch, a tag or a SHA, and
/// whether it is a branch.
async fn resolve_ref(
    shared: &Shared,
    key: &RepoKey,
    git_ref: &str,
) -> Result<Option<(String, bool)>, ApiError> {
    if git_ref.is_empty() || git_ref.starts_with('-') {
        return Ok(None);
    }
    let git = &shared.git;
    if let Some(sha) = git.resolve(key, &format!("refs/heads/{git_ref}")).await? {
        return Ok(Some((sha, true)));
    }
    if let Some(sha) = git.resolve(key, &format!("refs/tags/{git_ref}")).await? {
        return Ok(Some((sha, false)));
    }
    let hex = (4..=40).contains(&git_ref.len()) && git_ref.bytes().all(|b| b.is_ascii_hexdigit());
    Ok(if hex {
        git.resolve(key, git_ref).await?.map(|sha| (sha, false))
    } else {
        None
    })
}

fn conflict(message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, message)
}

/// The check runs on `sha` whose conclusion is not `success`, of those
/// `required` names (all of them when `None`).
fn failing_contexts(
    world: &World,
    key: &RepoKey,
    sha: &str,
    required: Option<&[String]>,
) -> Vec<String> {
    let runs: Vec<_> = world
        .check_runs
        .values()
        .filter(|r| &r.repo == key && r.head_sha == sha)
        .collect();
    let passed = |name: &str| {
        runs.iter()
            .filter(|r| r.name == name)
            .any(|r| r.conclusion.as_deref() == Some("success"))
    };
    match required {
        Some(names) => names.iter().filter(|n| !passed(n)).cloned().collect(),
        None => {
            let mut names: Vec<String> = runs.iter().map(|r| r.name.clone()).collect();
            names.sort();
            names.dedup();
            names.retain(|n| !passed(n));
            names
        }
    }
}

async fn create(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    Body(new): Body<NewDeployment>,
) -> Result<Response, ApiError> {
    let (key, default_branch, login) = {
        let world = shared.world();
        let key = writable(&world, &caller, &owner, &name, Permission::Write)?;
        let default_branch = world.repo(&key).map(|r| r.default_branch.clone());
        (
            key,
            default_branch.unwrap_or_default(),
            actor(&world, &caller)?,
        )
    };
    let Some(git_ref) = new.git_ref.clone() else {
        return Err(ApiError::invalid("Deployment", "ref", "missing_field"));
    };
    if new.environment.is_empty() || new.environment.chars().count() > ENVIRONMENT_MAX {
        return Err(ApiError::invalid("Deployment", "environment", "invalid"));
    }
    let Some((mut sha, is_branch)) = resolve_ref(&shared, &key, &git_ref).await? else {
        return Err(ApiError::unprocessable(format!(
            "No ref found for: {git_ref}"
        )));
    };
    if new.auto_merge && is_branch && git_ref != default_branch {
        sha = auto_merge(&shared, &key, &git_ref, &default_branch, &sha, &login).await?;
    }
    let failing = failing_contexts(
        &shared.world(),
        &key,
        &sha,
        new.required_contexts.as_deref(),
    );
    if !failing.is_empty() {
        return Err(conflict(format!(
            "Conflict: Commit status checks failed for {git_ref}."
        )));
    }
    let mut world = shared.world();
    let now = Utc::now();
    let id = world.next_id();
    let environment_id = world.next_id();
    let production = new
        .production_environment
        .unwrap_or(new.environment == "production");
    let payload = match new.payload {
        // A string payload is JSON text, as GitHub reads it.
        Value::String(text) if text.is_empty() => json!({}),
        Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        Value::Null => json!({}),
        other => other,
    };
    let deployment = Deployment {
        id,
        repo: key.clone(),
        sha,
        git_ref,
        task: new.task,
        payload,
        environment: new.environment.clone(),
        original_environment: new.environment.clone(),
        description: new.description,
        creator: login.clone(),
        created_at: now,
        updated_at: now,
        transient_environment: new.transient_environment,
        production_environment: production,
        statuses: Vec::new(),
    };
    let repo = world.repo_mut(&key).ok_or_else(ApiError::not_found)?;
    repo.environments
        .entry(new.environment.clone())
        .or_insert_with(|| Environment {
            id: environment_id,
            name: new.environment,
            created_at: now,
            updated_at: now,
        });
    world.deployments.insert(id, deployment);
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    let rendered = shared
        .render(&world)
        .deployment(repo, &world.deployments[&id]);
    let fields = vec![
        ("deployment", rendered.clone()),
        ("workflow", Value::Null),
        ("workflow_run", Value::Null),
    ];
    shared.emit(&world, "deployment", Some("created"), repo, &login, fields);
    Ok(created(rendered))
}

/// Merges the default branch into `branch` when it is behind, as GitHub's
/// `auto_merge` does; the commit to deploy. A merge that conflicts is a 409.
async fn auto_merge(
    shared: &Shared,
    key: &RepoKey,
    branch: &str,
    default_branch: &str,
    head: &str,
    login: &str,
) -> Result<String, ApiError> {
    let Some(base) = shared
        .git
        .resolve(key, &format!("refs/heads/{default_branch}"))
        .await?
    else {
        return Ok(head.to_owned());
    };
    if shared.git.count_commits(key, head, &base).await? == 0 {
        return Ok(head.to_owned());
    }
    let before = shared.git.refs(key).await?;
    let message = format!("Auto-merged {default_branch} into {branch} on deployment.");
    let author = shared.signature(login);
    match shared
        .git
        .merge(key, branch, &base, &message, &author, MergeMethod::Merge)
        .await?
    {
        crate::git::MergeOutcome::Merged(sha) => {
            let after = shared.git.refs(key).await?;
            crate::events::after_push(shared, key, &before, &after, login).await;
            Ok(sha)
        }
        crate::git::MergeOutcome::Conflict => Err(conflict(format!(
            "Conflict merging {default_branch} into {branch}."
        ))),
    }
}

/// A deployment's filters, as GitHub's list takes them.
fn matches(d: &Deployment, uri: &Uri) -> bool {
    let wants = |name: &str, value: &str| query_param(uri, name).is_none_or(|v| v == value);
    wants("sha", &d.sha)
        && wants("ref", &d.git_ref)
        && wants("task", &d.task)
        && wants("environment", &d.environment)
}

async fn list(
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
    let items = world
        .deployments
        .values()
        .rev()
        .filter(|d| d.repo == repo.key && matches(d, &uri))
        .map(|d| render.deployment(repo, d))
        .collect();
    Ok(paging.respond(&shared.base, items))
}

/// Deployment `id` of `key`.
fn deployment_in<'w>(world: &'w World, key: &RepoKey, id: u64) -> Result<&'w Deployment, ApiError> {
    world
        .deployments
        .get(&id)
        .filter(|d| &d.repo == key)
        .ok_or_else(ApiError::not_found)
}

/// Answers with what `answer` makes of deployment `id` of `owner/name`,
/// which the caller must be able to read.
fn read_deployment(
    shared: &Shared,
    caller: &Caller,
    (owner, name, id): (String, String, u64),
    answer: impl FnOnce(&crate::render::Render, &Repo, &Deployment) -> Response,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let repo = repo_for(&world, caller, &owner, &name, Permission::Read)?;
    let d = deployment_in(&world, &repo.key, id)?;
    Ok(answer(&shared.render(&world), repo, d))
}

async fn get_one(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path(at): Path<(String, String, u64)>,
) -> Result<Response, ApiError> {
    read_deployment(&shared, &caller, at, |render, repo, d| {
        Json(render.deployment(repo, d)).into_response()
    })
}

async fn list_statuses(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path(at): Path<(String, String, u64)>,
    paging: Paging,
) -> Result<Response, ApiError> {
    read_deployment(&shared, &caller, at, |render, repo, d| {
        let items = d
            .statuses
            .iter()
            .rev()
            .map(|s| render.deployment_status(repo, d, s))
            .collect();
        paging.respond(&shared.base, items)
    })
}

#[derive(Deserialize)]
pub struct NewStatus {
    state: Option<String>,
    target_url: Option<String>,
    log_url: Option<String>,
    #[serde(default)]
    description: String,
    environment: Option<String>,
    #[serde(default)]
    environment_url: String,
    #[serde(default = "yes")]
    auto_inactive: bool,
}

async fn create_status(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, u64)>,
    Body(new): Body<NewStatus>,
) -> Result<Response, ApiError> {
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Write)?;
    let login = actor(&world, &caller)?;
    let state = match new.state {
        Some(s) if STATES.contains(&s.as_str()) => s,
        Some(_) => return Err(ApiError::invalid("DeploymentStatus", "state", "invalid")),
        None => {
            return Err(ApiError::invalid(
                "DeploymentStatus",
                "state",
                "missing_field",
            ));
        }
    };
    ApiError::check_length(
        "DeploymentStatus",
        "description",
        &new.description,
        STATUS_DESCRIPTION_MAX,
    )?;
    let d = deployment_in(&world, &key, id)?;
    // The environment of the status before, else the deployment's.
    let environment = new
        .environment
        .or_else(|| d.statuses.last().map(|s| s.environment.clone()))
        .unwrap_or_else(|| d.environment.clone());
    let now = Utc::now();
    let status_id = world.next_id();
    let status = DeploymentStatus {
        id: status_id,
        state: state.clone(),
        description: new.description,
        environment: environment.clone(),
        environment_url: new.environment_url,
        // `log_url` replaces `target_url`; either sets both.
        log_url: new.log_url.or(new.target_url).unwrap_or_default(),
        creator: login.clone(),
        created_at: now,
    };
    if state == "success" && new.auto_inactive {
        mark_inactive(&mut world, &key, id, &environment, &login);
    }
    let d = world
        .deployments
        .get_mut(&id)
        .ok_or_else(ApiError::not_found)?;
    d.environment = environment;
    d.updated_at = now;
    d.statuses.push(status);
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    let d = &world.deployments[&id];
    let render = shared.render(&world);
    let rendered = render.deployment_status(repo, d, d.statuses.last().expect("just pushed"));
    let fields = vec![
        ("deployment_status", rendered.clone()),
        ("deployment", render.deployment(repo, d)),
    ];
    shared.emit(
        &world,
        "deployment_status",
        Some("created"),
        repo,
        &login,
        fields,
    );
    Ok(created(rendered))
}

/// GitHub's `auto_inactive`: earlier non-transient, non-production
/// deployments of `environment` whose newest status is `success` get an
/// `inactive` status.
fn mark_inactive(world: &mut World, key: &RepoKey, newer: u64, environment: &str, login: &str) {
    let older: Vec<u64> = world
        .deployments
        .values()
        .filter(|d| {
            &d.repo == key
                && d.id < newer
                && d.environment == environment
                && !d.transient_environment
                && !d.production_environment
                && d.state() == Some("success")
        })
        .map(|d| d.id)
        .collect();
    let now = Utc::now();
    for id in older {
        let status_id = world.next_id();
        if let Some(d) = world.deployments.get_mut(&id) {
            let last = d.statuses.last().cloned();
            d.statuses.push(DeploymentStatus {
                id: status_id,
                state: "inactive".into(),
                description: String::new(),
                environment: environment.to_owned(),
                environment_url: last.map(|s| s.environment_url).unwrap_or_default(),
                log_url: String::new(),
                creator: login.to_owned(),
                created_at: now,
            });
            d.updated_at = now;
        }
    }
}

async fn environments(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let repo = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
    let render = shared.render(&world);
    let list: Vec<Value> = repo
        .environments
        .values()
        .map(|e| render.environment(repo, e))
        .collect();
    Ok(Json(json!({"total_count": list.len(), "environments": list})).into_response())
}
