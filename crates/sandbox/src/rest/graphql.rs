//! `POST /graphql`, for the one thing GitHub does only there that paved
//! needs: `pinIssue`. Any other query is answered as GitHub answers a query
//! it cannot run: 200 with `errors`. A repository pins at most three issues.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::issues::issue_event;
use super::{Api, Body, actor, permission_of};
use crate::Shared;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::render::node_id;
use crate::state::{Permission, RepoKey};

/// GitHub's limit on pinned issues per repository.
const MAX_PINNED: usize = 3;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/graphql", post(query))
}

#[derive(Deserialize)]
pub struct Query {
    query: String,
    #[serde(default)]
    variables: Value,
}

async fn query(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Body(q): Body<Query>,
) -> Result<Response, ApiError> {
    let mutation = q.query.trim_start().starts_with("mutation");
    let answer = match q.variables["issueId"].as_str() {
        Some(id) if mutation && q.query.contains("pinIssue") => pin(&shared, &caller, id)?,
        _ => errors(
            "the sandbox's GraphQL runs only `mutation($issueId: ID!) { pinIssue(input: {issueId: $issueId}) { ... } }`",
        ),
    };
    Ok(Json(answer).into_response())
}

/// A GraphQL answer that carries only errors.
fn errors(message: &str) -> Value {
    json!({"errors": [{"message": message}]})
}

/// Pins the issue whose node id is `id`, firing `issues` `pinned` once.
fn pin(shared: &Shared, caller: &Caller, id: &str) -> Result<Value, ApiError> {
    let mut world = shared.world();
    let found = world.repos().find_map(|r| {
        r.issues
            .values()
            .find(|i| i.pull.is_none() && node_id("I", i.id) == id)
            .map(|i| (r.key.clone(), i.number, i.pinned))
    });
    let unresolved = format!("Could not resolve to a node with the global id of '{id}'");
    let Some((key, number, pinned)) = found else {
        return Ok(errors(&unresolved));
    };
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    if permission_of(&world, caller, repo) < Permission::Write {
        return Ok(errors(&format!(
            "{} does not have the correct permissions to execute `PinIssue`",
            caller.describe()
        )));
    }
    let count = repo.issues.values().filter(|i| i.pinned).count();
    if !pinned && count >= MAX_PINNED {
        return Ok(errors("Repository already has 3 pinned issues"));
    }
    let login = actor(&world, caller)?;
    if !pinned {
        pin_in(&mut world, &key, number);
        issue_event(shared, &world, &key, number, "pinned", &login, vec![]);
    }
    Ok(json!({"data": {"pinIssue": {"issue": {"number": number, "isPinned": true}}}}))
}

fn pin_in(world: &mut crate::state::World, key: &RepoKey, number: u64) {
    if let Some(issue) = world.repo_mut(key).and_then(|r| r.issues.get_mut(&number)) {
        issue.pinned = true;
    }
}
