//! Issue comments and their reactions.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::issues::{issue_of, writable};
use super::{Api, Body, Paging, actor, created, permission_of, repo_for};
use crate::Shared;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::{Comment, Permission, Reaction, RepoKey, World};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(list).post(create),
        )
        // octocrab edits comments with POST, which GitHub accepts next to PATCH.
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}",
            get(get_one).patch(update).post(update).delete(remove),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}/reactions",
            get(list_reactions).post(react),
        )
}

#[derive(Deserialize)]
pub struct CommentBody {
    body: String,
}

/// Fires `issue_comment` `action` for comment `id`.
fn comment_event(
    shared: &Shared,
    world: &World,
    id: u64,
    action: &str,
    sender: &str,
    mut fields: Vec<(&'static str, serde_json::Value)>,
) {
    let Some(comment) = world.comments.get(&id) else {
        return;
    };
    let Some(repo) = world.repo(&comment.repo) else {
        return;
    };
    let Some(issue) = repo.issues.get(&comment.issue) else {
        return;
    };
    let render = shared.render(world);
    fields.push(("issue", render.issue(repo, issue)));
    fields.push(("comment", render.comment(repo, comment)));
    shared.emit(world, "issue_comment", Some(action), repo, sender, fields);
}

/// Comment `id` of the repository `key`.
fn comment_in<'w>(world: &'w World, key: &RepoKey, id: u64) -> Result<&'w Comment, ApiError> {
    world
        .comments
        .get(&id)
        .filter(|c| &c.repo == key)
        .ok_or_else(ApiError::not_found)
}

async fn list(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let repo = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
    issue_of(&world, &repo.key, number)?;
    let render = shared.render(&world);
    let items = world
        .comments
        .values()
        .filter(|c| c.repo == repo.key && c.issue == number)
        .map(|c| render.comment(repo, c))
        .collect();
    Ok(paging.respond(&shared.base, items))
}

async fn create(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
    Body(new): Body<CommentBody>,
) -> Result<Response, ApiError> {
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Read)?;
    let login = actor(&world, &caller)?;
    issue_of(&world, &key, number)?;
    if new.body.is_empty() {
        return Err(ApiError::invalid("IssueComment", "body", "missing_field"));
    }
    ApiError::check_length("IssueComment", "body", &new.body, COMMENT_MAX)?;
    let id = world.next_id();
    let now = Utc::now();
    world.comments.insert(
        id,
        Comment {
            id,
            repo: key.clone(),
            issue: number,
            user: login.clone(),
            body: new.body,
            created_at: now,
            updated_at: now,
            reactions: Vec::new(),
        },
    );
    if let Some(issue) = world.repo_mut(&key).and_then(|r| r.issues.get_mut(&number)) {
        issue.updated_at = now;
    }
    comment_event(&shared, &world, id, "created", &login, vec![]);
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(created(
        shared.render(&world).comment(repo, &world.comments[&id]),
    ))
}

async fn get_one(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, u64)>,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let repo = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
    let comment = comment_in(&world, &repo.key, id)?;
    Ok(Json(shared.render(&world).comment(repo, comment)).into_response())
}

/// 204; the comment's author or a writer may delete it. Fires `deleted`.
async fn remove(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, u64)>,
) -> Result<Response, ApiError> {
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Read)?;
    let login = actor(&world, &caller)?;
    let author = comment_in(&world, &key, id)?.user.clone();
    let may_write = world
        .repo(&key)
        .is_some_and(|r| permission_of(&world, &caller, r) >= Permission::Write);
    if !author.eq_ignore_ascii_case(&login) && !may_write {
        return Err(ApiError::forbidden(
            "Resource not accessible by personal access token",
        ));
    }
    comment_event(&shared, &world, id, "deleted", &login, vec![]);
    world.comments.remove(&id);
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

async fn update(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, u64)>,
    Body(change): Body<CommentBody>,
) -> Result<Response, ApiError> {
    ApiError::check_length("IssueComment", "body", &change.body, COMMENT_MAX)?;
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Read)?;
    let login = actor(&world, &caller)?;
    let author = comment_in(&world, &key, id)?.user.clone();
    let may_write = world
        .repo(&key)
        .is_some_and(|r| permission_of(&world, &caller, r) >= Permission::Write);
    if !author.eq_ignore_ascii_case(&login) && !may_write {
        return Err(ApiError::forbidden(
            "Resource not accessible by personal access token",
        ));
    }
    let comment = world
        .comments
        .get_mut(&id)
        .ok_or_else(ApiError::not_found)?;
    if comment.body != change.body {
        let previous = std::mem::replace(&mut comment.body, change.body);
        comment.updated_at = Utc::now();
        let changes = json!({"body": {"from": previous}});
        comment_event(
            &shared,
            &world,
            id,
            "edited",
            &login,
            vec![("changes", changes)],
        );
    }
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(Json(shared.render(&world).comment(repo, &world.comments[&id])).into_response())
}

/// GitHub's limit on a comment's body, in characters.
const COMMENT_MAX: usize = 65_536;

const REACTIONS: [&str; 8] = [
    "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
];

#[derive(Deserialize)]
pub struct NewReaction {
    content: String,
}

async fn list_reactions(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, u64)>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let repo = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
    let render = shared.render(&world);
    let items = comment_in(&world, &repo.key, id)?
        .reactions
        .iter()
        .map(|r| render.reaction(r))
        .collect();
    Ok(paging.respond(&shared.base, items))
}

/// 201 for a new reaction, 200 with the existing one when the user already reacted so.
async fn react(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, u64)>,
    Body(new): Body<NewReaction>,
) -> Result<Response, ApiError> {
    if !REACTIONS.contains(&new.content.as_str()) {
        return Err(ApiError::invalid("Reaction", "content", "invalid"));
    }
    let mut world = shared.world();
    let key = writable(&world, &caller, &owner, &name, Permission::Read)?;
    let login = actor(&world, &caller)?;
    comment_in(&world, &key, id)?;
    let reaction_id = world.next_id();
    let comment = world
        .comments
        .get_mut(&id)
        .ok_or_else(ApiError::not_found)?;
    let existing = comment
        .reactions
        .iter()
        .position(|r| r.user == login && r.content == new.content);
    let (status, index) = match existing {
        Some(index) => (StatusCode::OK, index),
        None => {
            comment.reactions.push(Reaction {
                id: reaction_id,
                user: login,
                content: new.content,
                created_at: Utc::now(),
            });
            (StatusCode::CREATED, comment.reactions.len() - 1)
        }
    };
    let reaction = shared
        .render(&world)
        .reaction(&world.comments[&id].reactions[index]);
    Ok((status, Json(reaction)).into_response())
}
