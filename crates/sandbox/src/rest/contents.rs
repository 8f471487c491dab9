//! Repository contents: read files and directories from the bare repository,
//! create or update a file as a commit (which fires `push`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::issues::writable;
use super::{Api, Body, actor, query_param, repo_for};
use crate::Shared;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::events::after_push;
use crate::git::Entry;
use crate::state::{Permission, RepoKey};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/repos/{owner}/{repo}/contents", get(get_root))
        .route(
            "/repos/{owner}/{repo}/contents/{*path}",
            get(get_path).put(put_file),
        )
}

/// The metadata GitHub gives every content entry.
fn describe(
    shared: &Shared,
    key: &RepoKey,
    rev: &str,
    path: &str,
    sha: &str,
    kind: &str,
    size: u64,
) -> Value {
    let api = format!("{}/repos/{}", shared.base, key.full_name());
    let html = format!("{}/{}", shared.base, key.full_name());
    let name = path.rsplit('/').next().unwrap_or(path);
    let object = if kind == "dir" { "tree" } else { "blob" };
    let url = format!("{api}/contents/{path}?ref={rev}");
    let git_url = format!("{api}/git/{object}s/{sha}");
    let html_url = format!("{html}/{object}/{rev}/{path}");
    let download_url = match kind {
        "file" => json!(format!("{html}/raw/{rev}/{path}")),
        _ => Value::Null,
    };
    json!({
        "type": kind, "name": name, "path": path, "sha": sha, "size": size,
        "url": url, "git_url": git_url, "html_url": html_url, "download_url": download_url,
        "_links": {"self": url, "git": git_url, "html": html_url},
    })
}

async fn get_root(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    read(&shared, &caller, &owner, &name, "", &uri).await
}

async fn get_path(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, path)): Path<(String, String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    read(&shared, &caller, &owner, &name, &path, &uri).await
}

/// A file (base64, wrapped at 60 characters like GitHub) or a directory listing.
async fn read(
    shared: &Shared,
    caller: &Caller,
    owner: &str,
    name: &str,
    path: &str,
    uri: &Uri,
) -> Result<Response, ApiError> {
    let (key, default_branch) = {
        let world = shared.world();
        let repo = repo_for(&world, caller, owner, name, Permission::Read)?;
        (repo.key.clone(), repo.default_branch.clone())
    };
    let rev = query_param(uri, "ref").unwrap_or(default_branch);
    let path = path.trim_matches('/');
    let entry = shared
        .git
        .read_path(&key, &rev, path)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let body = match entry {
        Entry::File { sha, content } => {
            let mut file = describe(shared, &key, &rev, path, &sha, "file", content.len() as u64);
            let encoded = STANDARD.encode(&content);
            let lines: Vec<&str> = encoded
                .as_bytes()
                .chunks(60)
                .map(|c| std::str::from_utf8(c).unwrap_or_default())
                .collect();
            file["content"] = json!(lines.join("\n") + "\n");
            file["encoding"] = json!("base64");
            file
        }
        Entry::Dir(entries) => json!(
            entries
                .iter()
                .map(|e| {
                    let child = match path {
                        "" => e.name.clone(),
                        dir => format!("{dir}/{}", e.name),
                    };
                    let kind = if e.is_dir { "dir" } else { "file" };
                    describe(shared, &key, &rev, &child, &e.sha, kind, e.size)
                })
                .collect::<Vec<_>>()
        ),
    };
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
pub struct PutFile {
    message: String,
    content: String,
    sha: Option<String>,
    branch: Option<String>,
}

/// `PUT /repos/{owner}/{repo}/contents/{path}`: 201 for a new file, 200 for an
/// update (which must name the current blob `sha`, else 409/422 as on GitHub).
async fn put_file(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, path)): Path<(String, String, String)>,
    Body(put): Body<PutFile>,
) -> Result<Response, ApiError> {
    let (key, branch, login) = {
        let world = shared.world();
        let key = writable(&world, &caller, &owner, &name, Permission::Write)?;
        let branch = match put.branch {
            Some(b) => b,
            None => world
                .repo(&key)
                .map(|r| r.default_branch.clone())
                .unwrap_or_default(),
        };
        (key, branch, actor(&world, &caller)?)
    };
    let path = path.trim_matches('/').to_string();
    let cleaned: String = put.content.split_whitespace().collect();
    let bytes = STANDARD
        .decode(cleaned)
        .map_err(|_| ApiError::invalid("Content", "content", "invalid"))?;
    let existing = shared
        .git
        .read_path(&key, &format!("refs/heads/{branch}"), &path)
        .await?;
    match (&existing, &put.sha) {
        (Some(Entry::Dir(_)), _) => return Err(ApiError::invalid("Content", "path", "invalid")),
        (Some(Entry::File { .. }), None) => {
            return Err(ApiError::unprocessable(
                "Invalid request.\n\n\"sha\" wasn't supplied.",
            ));
        }
        (Some(Entry::File { sha, .. }), Some(given)) if sha != given => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("{path} does not match {given}"),
            ));
        }
        _ => {}
    }
    let before = shared.git.refs(&key).await?;
    let author = shared.signature(&login);
    let files = [(path.clone(), bytes)];
    let commit = shared
        .git
        .write_commit(&key, &branch, &files, &put.message, &author)
        .await?;
    let after = shared.git.refs(&key).await?;
    after_push(&shared, &key, &before, &after, &login).await;
    let tree = shared.git.tree_of(&key, &commit).await?;
    let Some(Entry::File { sha, content }) = shared.git.read_path(&key, &commit, &path).await?
    else {
        return Err(ApiError::internal("the file just written is missing"));
    };
    let api = format!("{}/repos/{}", shared.base, key.full_name());
    let html = format!("{}/{}", shared.base, key.full_name());
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let person = json!({"name": author.name, "email": author.email, "date": now});
    let body = json!({
        "content": describe(&shared, &key, &branch, &path, &sha, "file", content.len() as u64),
        "commit": {
            "sha": commit, "node_id": format!("C_{commit}"),
            "url": format!("{api}/git/commits/{commit}"),
            "html_url": format!("{html}/commit/{commit}"),
            "author": person, "committer": person, "message": put.message,
            "tree": {"sha": tree, "url": format!("{api}/git/trees/{tree}")},
            "parents": before.get(&format!("refs/heads/{branch}")).map(|p| vec![json!({
                "sha": p, "url": format!("{api}/git/commits/{p}"), "html_url": format!("{html}/commit/{p}"),
            })]).unwrap_or_default(),
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null},
        },
    });
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(body)).into_response())
}
