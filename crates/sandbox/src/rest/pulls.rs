//! Pull requests: create, get, list, merge (which moves the base branch for
//! real) and the changed files.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::issues::{IssueUpdate, apply_update, issue_event, issue_of, open_issue, writable};
use super::{Api, Body, Paging, actor, created, query_param, repo_for};
use crate::Shared;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::events::after_push;
use crate::git::{MergeMethod, MergeOutcome};
use crate::render::DiffStats;
use crate::state::{IssueState, Merged, Permission, Pull, RepoKey, World};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/repos/{owner}/{repo}/pulls", get(list).post(create))
        .route(
            "/repos/{owner}/{repo}/pulls/{number}",
            get(get_one).patch(update),
        )
        .route("/repos/{owner}/{repo}/pulls/{number}/files", get(files))
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/merge",
            get(is_merged).put(merge),
        )
}

fn branch_ref(branch: &str) -> String {
    format!("refs/heads/{branch}")
}

/// `owner:branch` or `branch`, as GitHub accepts for `head`.
fn strip_owner(head: &str) -> &str {
    head.split_once(':').map_or(head, |(_, branch)| branch)
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
    let head = query_param(&uri, "head");
    let base = query_param(&uri, "base");
    let render = shared.render(&world);
    let items = repo
        .issues
        .values()
        .rev()
        .filter_map(|i| Some((i, i.pull.as_ref()?)))
        .filter(|(i, _)| match state.as_str() {
            "all" => true,
            "closed" => i.state == IssueState::Closed,
            _ => i.state == IssueState::Open,
        })
        .filter(|(_, p)| {
            head.as_deref()
                .is_none_or(|h| head_matches(&repo.key, p, h))
        })
        .filter(|(_, p)| base.as_deref().is_none_or(|b| b == p.base_ref))
        .map(|(i, _)| render.pull(repo, i, None))
        .collect();
    Ok(paging.respond(&shared.base, items))
}

/// Whether `pull`'s head is `owner:branch` (or `branch` of the base repository).
fn head_matches(base: &RepoKey, pull: &Pull, head: &str) -> bool {
    let owner = head.split_once(':').map_or(base.owner.as_str(), |(o, _)| o);
    owner.eq_ignore_ascii_case(pull.head_owner(base)) && strip_owner(head) == pull.head_ref
}

#[derive(Deserialize)]
pub struct NewPull {
    title: String,
    head: String,
    base: String,
    body: Option<String>,
}

async fn create(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    Body(new): Body<NewPull>,
) -> Result<Response, ApiError> {
    let key = writable(&shared.world(), &caller, &owner, &name, Permission::Read)?;
    let head = strip_owner(&new.head).to_string();
    let invalid = |field| ApiError::invalid("PullRequest", field, "invalid");
    let head_repo = fork_of_head(&shared.world(), &key, &new.head)?;
    let head_sha = match &head_repo {
        None => shared.git.resolve(&key, &branch_ref(&head)).await?,
        Some(fork) => shared.git.fetch_fork_head(fork, &head, &key).await?,
    }
    .ok_or_else(|| invalid("head"))?;
    let base_sha = shared
        .git
        .resolve(&key, &branch_ref(&new.base))
        .await?
        .ok_or_else(|| invalid("base"))?;
    if shared.git.count_commits(&key, &base_sha, &head_sha).await? == 0 {
        let message = format!("No commits between {} and {head}", new.base);
        return Err(ApiError::custom("PullRequest", &message));
    }
    let from_fork = head_repo.is_some();
    let (number, login) = {
        let mut world = shared.world();
        let login = actor(&world, &caller)?;
        let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
        let duplicate = repo.issues.values().any(|i| {
            i.state == IssueState::Open
                && i.pull.as_ref().is_some_and(|p| {
                    p.head_ref == head && p.head_repo == head_repo && p.base_ref == new.base
                })
        });
        if duplicate {
            let head_owner = &head_repo.as_ref().unwrap_or(&key).owner;
            let message = format!("A pull request already exists for {head_owner}:{head}.");
            return Err(ApiError::custom("PullRequest", &message));
        }
        let pull = Pull {
            id: world.next_id(),
            head_repo,
            head_ref: head,
            base_ref: new.base,
            head_sha: head_sha.clone(),
            base_sha,
            merged: None,
        };
        let number = open_issue(&mut world, &key, new.title, new.body, &login, Some(pull));
        (number, login)
    };
    if from_fork {
        // GitHub keeps a fork's head in the base repository as refs/pull/N/head.
        shared.git.set_pull_head(&key, number, &head_sha).await?;
    }
    let world = shared.world();
    issue_event(&shared, &world, &key, number, "opened", &login, vec![]);
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(created(shared.render(&world).pull(
        repo,
        &repo.issues[&number],
        None,
    )))
}

/// The fork holding the head branch when `head` is `owner:branch` with an
/// owner other than the base repository's; `None` for a branch of `base`.
fn fork_of_head(world: &World, base: &RepoKey, head: &str) -> Result<Option<RepoKey>, ApiError> {
    let Some((owner, _)) = head.split_once(':') else {
        return Ok(None);
    };
    if owner.eq_ignore_ascii_case(&base.owner) {
        return Ok(None);
    }
    world
        .repos()
        .find(|r| r.key.owner.eq_ignore_ascii_case(owner) && r.parent.as_ref() == Some(base))
        .map(|r| Some(r.key.clone()))
        .ok_or_else(|| ApiError::invalid("PullRequest", "head", "invalid"))
}

/// The repository key and the pull request's base and head commits.
fn pull_refs(
    shared: &Shared,
    caller: &Caller,
    owner: &str,
    name: &str,
    number: u64,
) -> Result<(RepoKey, Pull), ApiError> {
    let world = shared.world();
    let key = repo_for(&world, caller, owner, name, Permission::Read)?
        .key
        .clone();
    let pull = issue_of(&world, &key, number)?
        .pull
        .clone()
        .ok_or_else(ApiError::not_found)?;
    Ok((key, pull))
}

/// For a merged pull request, its changes are measured against the merge's first parent.
fn diff_base(pull: &Pull) -> String {
    match &pull.merged {
        Some(m) => format!("{}^1", m.sha),
        None => pull.base_sha.clone(),
    }
}

async fn get_one(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
) -> Result<Response, ApiError> {
    let (key, pull) = pull_refs(&shared, &caller, &owner, &name, number)?;
    let base = diff_base(&pull);
    let files = shared.git.diff_files(&key, &base, &pull.head_sha).await?;
    let stats = DiffStats {
        commits: shared
            .git
            .count_commits(&key, &base, &pull.head_sha)
            .await?,
        additions: files.iter().map(|f| f.additions).sum(),
        deletions: files.iter().map(|f| f.deletions).sum(),
        changed_files: files.len() as u64,
    };
    let mergeable = match &pull.merged {
        Some(_) => None,
        None => Some(
            shared
                .git
                .merge_tree(&key, &pull.base_sha, &pull.head_sha)
                .await?
                .is_some(),
        ),
    };
    let world = shared.world();
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    let mut body = shared
        .render(&world)
        .pull(repo, &repo.issues[&number], Some(&stats));
    if let Some(clean) = mergeable.filter(|_| repo.issues[&number].state == IssueState::Open) {
        body["mergeable"] = json!(clean);
        body["mergeable_state"] = json!(if clean { "clean" } else { "dirty" });
    }
    Ok(Json(body).into_response())
}

/// `PATCH /repos/{owner}/{repo}/pulls/{number}`: title, body and state, as on issues.
async fn update(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
    Body(update): Body<IssueUpdate>,
) -> Result<Response, ApiError> {
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Read)?;
    if issue_of(&world, &key, number)?.pull.is_none() {
        return Err(ApiError::not_found());
    }
    apply_update(&shared, &mut world, &caller, &key, number, update)?;
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(Json(
        shared
            .render(&world)
            .pull(repo, &repo.issues[&number], None),
    )
    .into_response())
}

async fn files(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let (key, pull) = pull_refs(&shared, &caller, &owner, &name, number)?;
    let files = shared
        .git
        .diff_files(&key, &diff_base(&pull), &pull.head_sha)
        .await?;
    let api = format!("{}/repos/{}", shared.base, key.full_name());
    let html = format!("{}/{}", shared.base, key.full_name());
    let items = files
        .iter()
        .map(|f| {
            json!({
                "sha": f.sha, "filename": f.filename, "status": f.status,
                "additions": f.additions, "deletions": f.deletions,
                "changes": f.additions + f.deletions,
                "blob_url": format!("{html}/blob/{}/{}", pull.head_sha, f.filename),
                "raw_url": format!("{html}/raw/{}/{}", pull.head_sha, f.filename),
                "contents_url": format!("{api}/contents/{}?ref={}", f.filename, pull.head_sha),
            })
        })
        .collect();
    Ok(paging.respond(&shared.base, items))
}

async fn is_merged(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
) -> Result<Response, ApiError> {
    let (_, pull) = pull_refs(&shared, &caller, &owner, &name, number)?;
    match pull.merged {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(ApiError::not_found()),
    }
}

#[derive(Deserialize)]
pub struct MergeRequest {
    commit_title: Option<String>,
    commit_message: Option<String>,
    sha: Option<String>,
    merge_method: Option<String>,
}

async fn merge(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
    Body(request): Body<MergeRequest>,
) -> Result<Response, ApiError> {
    let not_mergeable = || {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is not mergeable",
        )
    };
    let (key, login, pull, title, delete_head) = {
        let world = shared.world();
        let key = writable(&world, &caller, &owner, &name, Permission::Write)?;
        let issue = issue_of(&world, &key, number)?;
        let pull = issue.pull.clone().ok_or_else(ApiError::not_found)?;
        if issue.state != IssueState::Open || pull.merged.is_some() {
            return Err(not_mergeable());
        }
        // A fork's branch is its owner's to delete.
        let delete_head =
            pull.head_repo.is_none() && world.repo(&key).is_some_and(|r| r.delete_branch_on_merge);
        let login = actor(&world, &caller)?;
        (key, login, pull, issue.title.clone(), delete_head)
    };
    if request
        .sha
        .as_ref()
        .is_some_and(|sha| *sha != pull.head_sha)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Head branch was modified. Review and try the merge again.",
        ));
    }
    // GitHub offers "rebase" too; the sandbox writes a single squashed commit for it.
    let method = match request.merge_method.as_deref() {
        None | Some("merge") => MergeMethod::Merge,
        Some("squash" | "rebase") => MergeMethod::Squash,
        Some(_) => return Err(ApiError::invalid("PullRequest", "merge_method", "invalid")),
    };
    let default_title = match method {
        MergeMethod::Merge => format!(
            "Merge pull request #{number} from {}/{}",
            pull.head_owner(&key),
            pull.head_ref
        ),
        MergeMethod::Squash => format!("{title} (#{number})"),
    };
    let message = match request.commit_message {
        Some(body) => format!(
            "{}\n\n{body}",
            request.commit_title.unwrap_or(default_title)
        ),
        None => request.commit_title.unwrap_or(default_title),
    };
    let before = shared.git.refs(&key).await?;
    let author = shared.signature(&login);
    let sha = match shared
        .git
        .merge(
            &key,
            &pull.base_ref,
            &pull.head_sha,
            &message,
            &author,
            method,
        )
        .await?
    {
        MergeOutcome::Merged(sha) => sha,
        MergeOutcome::Conflict => return Err(not_mergeable()),
    };
    {
        let mut world = shared.world();
        let now = Utc::now();
        if let Some(issue) = world.repo_mut(&key).and_then(|r| r.issues.get_mut(&number)) {
            issue.state = IssueState::Closed;
            issue.closed_at = Some(now);
            issue.updated_at = now;
            if let Some(p) = issue.pull.as_mut() {
                p.merged = Some(Merged {
                    sha: sha.clone(),
                    at: now,
                    by: login.clone(),
                });
            }
        }
        issue_event(&shared, &world, &key, number, "closed", &login, vec![]);
    }
    if delete_head {
        shared.git.delete_branch(&key, &pull.head_ref).await?;
    }
    // Webhooks for the refs this merge moved: the base, and the head if deleted.
    let touched = [branch_ref(&pull.base_ref), branch_ref(&pull.head_ref)];
    let touched = &touched[..if delete_head { 2 } else { 1 }];
    let moved = |refs: &BTreeMap<String, String>| {
        refs.iter()
            .filter(|(r, _)| touched.contains(r))
            .map(|(r, s)| (r.clone(), s.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let after = shared.git.refs(&key).await?;
    after_push(&shared, &key, &moved(&before), &moved(&after), &login).await;
    Ok(
        Json(json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}))
            .into_response(),
    )
}
