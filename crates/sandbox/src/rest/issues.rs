//! Issues (pull requests included, they share the number space) and their labels.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::comments;
use super::{Api, Body, Paging, actor, created, permission_of, query_param, repo_for};
use crate::Shared;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::{Issue, IssueState, Label, Permission, Repo, RepoKey, World};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/repos/{owner}/{repo}/labels",
            get(repo_labels).post(create_label),
        )
        .route("/repos/{owner}/{repo}/issues", get(list).post(create))
        .route(
            "/repos/{owner}/{repo}/issues/{number}",
            get(get_one).patch(update),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels",
            get(list_labels).post(add_labels).put(set_labels),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels/{name}",
            delete(remove_label),
        )
        .merge(comments::routes())
}

/// Fires `issues` (or `pull_request` for a pull request) `action` on issue `number`.
pub(crate) fn issue_event(
    shared: &Shared,
    world: &World,
    key: &RepoKey,
    number: u64,
    action: &str,
    sender: &str,
    mut fields: Vec<(&'static str, Value)>,
) {
    let Some(repo) = world.repo(key) else { return };
    let Some(issue) = repo.issues.get(&number) else {
        return;
    };
    let render = shared.render(world);
    if issue.pull.is_some() {
        fields.push(("number", json!(number)));
        fields.push(("pull_request", render.pull(repo, issue, None)));
        shared.emit(world, "pull_request", Some(action), repo, sender, fields);
    } else {
        fields.push(("issue", render.issue(repo, issue)));
        shared.emit(world, "issues", Some(action), repo, sender, fields);
    }
}

/// The key of a repository `caller` is about to change, needing `need` on it;
/// archived repositories are read-only.
pub(crate) fn writable(
    world: &World,
    caller: &Caller,
    owner: &str,
    name: &str,
    need: Permission,
) -> Result<RepoKey, ApiError> {
    let repo = repo_for(world, caller, owner, name, need)?;
    if repo.archived {
        return Err(ApiError::forbidden(
            "Repository was archived so is read-only.",
        ));
    }
    Ok(repo.key.clone())
}

pub(crate) fn issue_of<'w>(
    world: &'w World,
    key: &RepoKey,
    number: u64,
) -> Result<&'w Issue, ApiError> {
    world
        .repo(key)
        .and_then(|r| r.issues.get(&number))
        .ok_or_else(ApiError::not_found)
}

fn issue_mut<'w>(
    world: &'w mut World,
    key: &RepoKey,
    number: u64,
) -> Result<&'w mut Issue, ApiError> {
    world
        .repo_mut(key)
        .and_then(|r| r.issues.get_mut(&number))
        .ok_or_else(ApiError::not_found)
}

/// A label as callers name it: `"bug"` or `{"name": "bug"}`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum LabelArg {
    Name(String),
    Object { name: String },
}

impl LabelArg {
    fn name(self) -> String {
        match self {
            LabelArg::Name(n) | LabelArg::Object { name: n } => n,
        }
    }
}

/// `{"labels": [...]}` or a bare array, both accepted by GitHub.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum LabelsBody {
    Wrapped { labels: Vec<LabelArg> },
    Bare(Vec<LabelArg>),
}

impl LabelsBody {
    fn names(self) -> Vec<String> {
        let list = match self {
            LabelsBody::Wrapped { labels } | LabelsBody::Bare(labels) => labels,
        };
        list.into_iter().map(LabelArg::name).collect()
    }
}

/// The repository's spelling of each label, creating the missing ones like GitHub does.
fn ensure_labels(world: &mut World, key: &RepoKey, names: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let name = name.trim().to_string();
        if name.is_empty() || out.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            continue;
        }
        let id = world.next_id();
        let Some(repo) = world.repo_mut(key) else {
            break;
        };
        let label = repo.labels.entry(name.to_lowercase()).or_insert(Label {
            id,
            name: name.clone(),
            color: "ededed".into(),
            description: None,
        });
        out.push(label.name.clone());
    }
    out
}

/// Replaces the labels of an issue, firing `labeled`/`unlabeled` for the difference.
fn change_labels(
    shared: &Shared,
    world: &mut World,
    key: &RepoKey,
    number: u64,
    wanted: Vec<String>,
    sender: &str,
) -> Result<(), ApiError> {
    let wanted = ensure_labels(world, key, wanted);
    let issue = issue_mut(world, key, number)?;
    let removed: Vec<String> = issue
        .labels
        .iter()
        .filter(|l| !wanted.iter().any(|w| w.eq_ignore_ascii_case(l)))
        .cloned()
        .collect();
    let added: Vec<String> = wanted
        .iter()
        .filter(|w| !issue.labels.iter().any(|l| l.eq_ignore_ascii_case(w)))
        .cloned()
        .collect();
    if added.is_empty() && removed.is_empty() {
        return Ok(());
    }
    issue.updated_at = Utc::now();
    for (action, names) in [("unlabeled", &removed), ("labeled", &added)] {
        for name in names {
            let issue = issue_mut(world, key, number)?;
            if action == "labeled" {
                issue.labels.push(name.clone());
            } else {
                issue.labels.retain(|l| l != name);
            }
            let label = world
                .repo(key)
                .and_then(|r| {
                    Some(
                        shared
                            .render(world)
                            .label(r, r.labels.get(&name.to_lowercase())?),
                    )
                })
                .unwrap_or(Value::Null);
            issue_event(
                shared,
                world,
                key,
                number,
                action,
                sender,
                vec![("label", label)],
            );
        }
    }
    Ok(())
}

fn labels_json(
    shared: &Shared,
    world: &World,
    key: &RepoKey,
    number: u64,
) -> Result<Value, ApiError> {
    let repo = world.repo(key).ok_or_else(ApiError::not_found)?;
    let issue = issue_of(world, key, number)?;
    let render = shared.render(world);
    Ok(json!(
        issue
            .labels
            .iter()
            .filter_map(|n| repo.labels.get(&n.to_lowercase()))
            .map(|l| render.label(repo, l))
            .collect::<Vec<_>>()
    ))
}

async fn list(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    paging: Paging,
    uri: Uri,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let repo = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
    let state = query_param(&uri, "state").unwrap_or_else(|| "open".into());
    let labels: Vec<String> = query_param(&uri, "labels")
        .map(|l| {
            l.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let creator = query_param(&uri, "creator");
    let ascending = query_param(&uri, "direction").as_deref() == Some("asc");
    let render = shared.render(&world);
    let mut items: Vec<&Issue> = repo
        .issues
        .values()
        .filter(|i| match state.as_str() {
            "all" => true,
            "closed" => i.state == IssueState::Closed,
            _ => i.state == IssueState::Open,
        })
        .filter(|i| {
            labels
                .iter()
                .all(|l| i.labels.iter().any(|have| have.eq_ignore_ascii_case(l)))
        })
        .filter(|i| {
            creator
                .as_ref()
                .is_none_or(|c| i.user.eq_ignore_ascii_case(c))
        })
        .collect();
    if !ascending {
        items.reverse();
    }
    let items = items.into_iter().map(|i| render.issue(repo, i)).collect();
    Ok(paging.respond(&shared.base, items))
}

#[derive(Deserialize)]
pub struct NewIssue {
    title: String,
    body: Option<String>,
    #[serde(default)]
    labels: Vec<LabelArg>,
    #[serde(default)]
    assignees: Vec<String>,
}

async fn create(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    Body(new): Body<NewIssue>,
) -> Result<Response, ApiError> {
    if new.title.trim().is_empty() {
        return Err(ApiError::invalid("Issue", "title", "missing_field"));
    }
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Read)?;
    let login = actor(&world, &caller)?;
    // Labels and assignees from people without triage rights are dropped, as on GitHub.
    let may_triage = world
        .repo(&key)
        .is_some_and(|r| permission_of(&world, &caller, r) >= Permission::Write);
    let number = open_issue(&mut world, &key, new.title, new.body, &login, None);
    issue_event(&shared, &world, &key, number, "opened", &login, vec![]);
    if may_triage {
        let labels = new.labels.into_iter().map(LabelArg::name).collect();
        change_labels(&shared, &mut world, &key, number, labels, &login)?;
        issue_mut(&mut world, &key, number)?.assignees = new.assignees;
    }
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(created(
        shared.render(&world).issue(repo, &repo.issues[&number]),
    ))
}

/// An issue submitted through an issue form on the web: the form's labels
/// are applied whoever the author is (GitHub does so even for people who may
/// not label), and `opened` already carries them.
pub(crate) fn submit_form(
    shared: &Shared,
    key: &RepoKey,
    login: &str,
    title: &str,
    body: &str,
    labels: &[&str],
) -> Result<u64, ApiError> {
    let mut world = shared.world();
    if world.repo(key).is_none() {
        return Err(ApiError::not_found());
    }
    let number = open_issue(
        &mut world,
        key,
        title.to_owned(),
        Some(body.to_owned()),
        login,
        None,
    );
    let names = ensure_labels(
        &mut world,
        key,
        labels.iter().map(|l| (*l).to_owned()).collect(),
    );
    issue_mut(&mut world, key, number)?.labels = names;
    issue_event(shared, &world, key, number, "opened", login, vec![]);
    Ok(number)
}

/// Adds an issue (or, with `pull`, a pull request) and returns its number.
pub(crate) fn open_issue(
    world: &mut World,
    key: &RepoKey,
    title: String,
    body: Option<String>,
    login: &str,
    pull: Option<crate::state::Pull>,
) -> u64 {
    let id = world.next_id();
    let now = Utc::now();
    let repo: &mut Repo = world.repo_mut(key).expect("caller checked the repository");
    let number = repo.next_number();
    repo.issues.insert(
        number,
        Issue {
            id,
            number,
            title,
            body,
            user: login.to_string(),
            state: IssueState::Open,
            state_reason: None,
            labels: Vec::new(),
            assignees: Vec::new(),
            created_at: now,
            updated_at: now,
            closed_at: None,
            pull,
            pinned: false,
        },
    );
    number
}

async fn get_one(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let repo = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
    let issue = repo.issues.get(&number).ok_or_else(ApiError::not_found)?;
    Ok(Json(shared.render(&world).issue(repo, issue)).into_response())
}

/// A change to an issue or pull request; absent fields stay as they are.
#[derive(Deserialize)]
pub struct IssueUpdate {
    title: Option<String>,
    body: Option<String>,
    state: Option<String>,
    state_reason: Option<String>,
    labels: Option<Vec<LabelArg>>,
    assignees: Option<Vec<String>>,
}

async fn update(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
    Body(update): Body<IssueUpdate>,
) -> Result<Response, ApiError> {
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Read)?;
    apply_update(&shared, &mut world, &caller, &key, number, update)?;
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(Json(shared.render(&world).issue(repo, &repo.issues[&number])).into_response())
}

/// Edits an issue or pull request as `caller` and fires `edited`, `closed`,
/// `reopened`, `labeled`, `unlabeled` as they apply. Authors may edit their
/// own; labels and assignees need write access.
pub(crate) fn apply_update(
    shared: &Shared,
    world: &mut World,
    caller: &Caller,
    key: &RepoKey,
    number: u64,
    update: IssueUpdate,
) -> Result<(), ApiError> {
    let login = actor(world, caller)?;
    let is_author = issue_of(world, key, number)?
        .user
        .eq_ignore_ascii_case(&login);
    let may_write = world
        .repo(key)
        .is_some_and(|r| permission_of(world, caller, r) >= Permission::Write);
    if !is_author && !may_write {
        return Err(ApiError::forbidden(
            "Resource not accessible by personal access token",
        ));
    }
    let now = Utc::now();
    let issue = issue_mut(world, key, number)?;
    let mut changes = serde_json::Map::new();
    if let Some(title) = update.title.filter(|t| *t != issue.title) {
        changes.insert("title".into(), json!({"from": issue.title}));
        issue.title = title;
    }
    if let Some(body) = update.body.filter(|b| Some(b) != issue.body.as_ref()) {
        changes.insert("body".into(), json!({"from": issue.body}));
        issue.body = Some(body);
    }
    let new_state = match update.state.as_deref() {
        Some("closed") => Some(IssueState::Closed),
        Some("open") => Some(IssueState::Open),
        Some(_) => return Err(ApiError::invalid("Issue", "state", "invalid")),
        None => None,
    };
    let state_action = match new_state {
        Some(state) if state != issue.state => {
            issue.state = state;
            if state == IssueState::Closed {
                issue.closed_at = Some(now);
                issue.state_reason =
                    Some(update.state_reason.unwrap_or_else(|| "completed".into()));
                Some("closed")
            } else {
                issue.closed_at = None;
                issue.state_reason = Some("reopened".into());
                Some("reopened")
            }
        }
        _ => None,
    };
    if !changes.is_empty() || state_action.is_some() {
        issue.updated_at = now;
    }
    if !changes.is_empty() {
        let fields = vec![("changes", Value::Object(changes))];
        issue_event(shared, world, key, number, "edited", &login, fields);
    }
    if let Some(action) = state_action {
        issue_event(shared, world, key, number, action, &login, vec![]);
    }
    if may_write {
        if let Some(labels) = update.labels {
            let names = labels.into_iter().map(LabelArg::name).collect();
            change_labels(shared, world, key, number, names, &login)?;
        }
        if let Some(assignees) = update.assignees {
            issue_mut(world, key, number)?.assignees = assignees;
        }
    }
    Ok(())
}

async fn list_labels(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let key = repo_for(&world, &caller, &owner, &name, Permission::Read)?
        .key
        .clone();
    Ok(Json(labels_json(&shared, &world, &key, number)?).into_response())
}

async fn add_labels(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
    Body(body): Body<LabelsBody>,
) -> Result<Response, ApiError> {
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Write)?;
    let login = actor(&world, &caller)?;
    let mut wanted = issue_of(&world, &key, number)?.labels.clone();
    wanted.extend(body.names());
    change_labels(&shared, &mut world, &key, number, wanted, &login)?;
    Ok(Json(labels_json(&shared, &world, &key, number)?).into_response())
}

async fn set_labels(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
    Body(body): Body<LabelsBody>,
) -> Result<Response, ApiError> {
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Write)?;
    let login = actor(&world, &caller)?;
    issue_of(&world, &key, number)?;
    change_labels(&shared, &mut world, &key, number, body.names(), &login)?;
    Ok(Json(labels_json(&shared, &world, &key, number)?).into_response())
}

async fn remove_label(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, number, label)): Path<(String, String, u64, String)>,
) -> Result<Response, ApiError> {
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Write)?;
    let login = actor(&world, &caller)?;
    let current = issue_of(&world, &key, number)?.labels.clone();
    if !current.iter().any(|l| l.eq_ignore_ascii_case(&label)) {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "Label does not exist",
        ));
    }
    let wanted = current
        .into_iter()
        .filter(|l| !l.eq_ignore_ascii_case(&label))
        .collect();
    change_labels(&shared, &mut world, &key, number, wanted, &login)?;
    Ok(Json(labels_json(&shared, &world, &key, number)?).into_response())
}

async fn repo_labels(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let repo = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
    let render = shared.render(&world);
    let labels = repo
        .labels
        .values()
        .map(|l| render.label(repo, l))
        .collect();
    Ok(paging.respond(&shared.base, labels))
}

#[derive(Deserialize)]
pub struct NewLabel {
    name: String,
    color: Option<String>,
    description: Option<String>,
}

async fn create_label(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    Body(new): Body<NewLabel>,
) -> Result<Response, ApiError> {
    let color = new.color.unwrap_or_else(|| "ededed".into());
    let color = color.trim_start_matches('#').to_lowercase();
    if color.len() != 6 || !color.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::invalid("Label", "color", "invalid"));
    }
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Write)?;
    let id = world.next_id();
    let repo = world.repo_mut(&key).ok_or_else(ApiError::not_found)?;
    let folded = new.name.to_lowercase();
    if new.name.trim().is_empty() || repo.labels.contains_key(&folded) {
        return Err(ApiError::invalid("Label", "name", "already_exists"));
    }
    repo.labels.insert(
        folded.clone(),
        Label {
            id,
            name: new.name,
            color,
            description: new.description,
        },
    );
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(created(
        shared.render(&world).label(repo, &repo.labels[&folded]),
    ))
}
