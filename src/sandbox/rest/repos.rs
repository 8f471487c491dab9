//! Repositories: create, get, update (archive), topics, contents and
//! collaborator permissions.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;

use super::{Api, Body, Paging, actor, created, permission_of, query_param, repo_for};
use crate::sandbox::Shared;
use crate::sandbox::auth::Caller;
use crate::sandbox::error::ApiError;
use crate::sandbox::git::Entry;
use crate::sandbox::render::permission_flags;
use crate::sandbox::state::{AccountKind, Permission, RepoKey};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/orgs/{org}/repos", get(list_for_org).post(create_in_org))
        .route("/user/repos", axum::routing::post(create_for_user))
        .route("/repos/{owner}/{repo}", get(get_repo).patch(update_repo))
        .route(
            "/repos/{owner}/{repo}/topics",
            get(get_topics).put(replace_topics),
        )
        .route("/repos/{owner}/{repo}/contents/{*path}", get(get_content))
        .route(
            "/repos/{owner}/{repo}/collaborators/{username}/permission",
            get(collaborator_permission),
        )
}

pub async fn authenticated_user(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let Caller::User(login) = caller else {
        return Err(match caller {
            Caller::Installation(_) => {
                ApiError::forbidden("Resource not accessible by integration")
            }
            _ => ApiError::requires_authentication(),
        });
    };
    let world = shared.world();
    Ok(Json(shared.render(&world).user(&login)).into_response())
}

#[derive(Deserialize)]
pub struct NewRepo {
    name: String,
    description: Option<String>,
    #[serde(default)]
    private: bool,
    visibility: Option<String>,
    #[serde(default)]
    auto_init: bool,
}

async fn create_in_org(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path(org): Path<String>,
    Body(new): Body<NewRepo>,
) -> Result<Response, ApiError> {
    let (owner, login) = {
        let world = shared.world();
        let account = world
            .account(&org)
            .filter(|a| a.kind == AccountKind::Organization)
            .ok_or_else(ApiError::not_found)?;
        let allowed = match &caller {
            Caller::Installation(id) => world
                .installation_for(&account.login)
                .is_some_and(|i| i.id == *id),
            Caller::User(login) => world.account(login).is_some_and(|u| {
                u.org_roles.get(&account.login.to_ascii_lowercase()) >= Some(&Permission::Write)
            }),
            Caller::App | Caller::Anonymous => false,
        };
        if !allowed {
            return Err(ApiError::forbidden(
                "You need admin access to the organization before adding a repository to it.",
            ));
        }
        (account.login.clone(), actor(&world, &caller)?)
    };
    create(&shared, RepoKey::new(&owner, &new.name), new, &login).await
}

async fn create_for_user(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Body(new): Body<NewRepo>,
) -> Result<Response, ApiError> {
    let Caller::User(login) = &caller else {
        return Err(ApiError::forbidden(
            "Resource not accessible by integration",
        ));
    };
    create(&shared, RepoKey::new(login, &new.name), new, login).await
}

async fn create(
    shared: &Shared,
    key: RepoKey,
    new: NewRepo,
    login: &str,
) -> Result<Response, ApiError> {
    let valid = !new.name.is_empty()
        && new.name.len() <= 100
        && new
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && new.name != "."
        && new.name != "..";
    if !valid {
        return Err(ApiError::invalid("Repository", "name", "invalid"));
    }
    let private = new.private || matches!(new.visibility.as_deref(), Some("private" | "internal"));
    shared
        .create_repo(key.clone(), new.description, private)
        .await?;
    if new.auto_init {
        let readme = format!("# {}\n", key.name);
        let files = [("README.md".to_string(), readme.into_bytes())];
        let author = shared.signature(login);
        shared
            .git
            .write_commit(&key, "main", &files, "Initial commit", &author)
            .await?;
    }
    let world = shared.world();
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(created(shared.render(&world).repo(repo)))
}

async fn list_for_org(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path(org): Path<String>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let world = shared.world();
    world.account(&org).ok_or_else(ApiError::not_found)?;
    let render = shared.render(&world);
    let repos = world
        .repos()
        .filter(|r| r.key.owner.eq_ignore_ascii_case(&org))
        .filter(|r| permission_of(&world, &caller, r) >= Permission::Read)
        .map(|r| render.repo(r))
        .collect();
    Ok(paging.respond(&shared.base, repos))
}

async fn get_repo(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let repo = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
    let mut body = shared.render(&world).repo(repo);
    let has = permission_of(&world, &caller, repo);
    body["permissions"] = permission_flags(has);
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
pub struct RepoUpdate {
    description: Option<String>,
    homepage: Option<String>,
    private: Option<bool>,
    archived: Option<bool>,
    default_branch: Option<String>,
    delete_branch_on_merge: Option<bool>,
}

async fn update_repo(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    Body(update): Body<RepoUpdate>,
) -> Result<Response, ApiError> {
    let mut world = shared.world();
    let key = repo_for(&world, &caller, &owner, &name, Permission::Admin)?
        .key
        .clone();
    let repo = world.repo_mut(&key).ok_or_else(ApiError::not_found)?;
    if let Some(v) = update.description {
        repo.description = Some(v);
    }
    if let Some(v) = update.homepage {
        repo.homepage = Some(v);
    }
    if let Some(v) = update.private {
        repo.private = v;
    }
    if let Some(v) = update.archived {
        repo.archived = v;
    }
    if let Some(v) = update.default_branch {
        repo.default_branch = v;
    }
    if let Some(v) = update.delete_branch_on_merge {
        repo.delete_branch_on_merge = v;
    }
    repo.updated_at = chrono::Utc::now();
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(Json(shared.render(&world).repo(repo)).into_response())
}

async fn get_topics(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let repo = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
    Ok(Json(json!({"names": repo.topics})).into_response())
}

#[derive(Deserialize)]
pub struct Topics {
    names: Vec<String>,
}

async fn replace_topics(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    Body(topics): Body<Topics>,
) -> Result<Response, ApiError> {
    let valid = |t: &String| {
        !t.is_empty()
            && t.len() <= 50
            && !t.starts_with('-')
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if !topics.names.iter().all(valid) {
        return Err(ApiError::invalid("Repository", "topics", "invalid"));
    }
    let mut world = shared.world();
    let key = repo_for(&world, &caller, &owner, &name, Permission::Admin)?
        .key
        .clone();
    let repo = world.repo_mut(&key).ok_or_else(ApiError::not_found)?;
    repo.topics = topics.names;
    repo.topics.dedup();
    Ok(Json(json!({"names": repo.topics})).into_response())
}

async fn get_content(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, path)): Path<(String, String, String)>,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    let (key, default_branch) = {
        let world = shared.world();
        let repo = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
        (repo.key.clone(), repo.default_branch.clone())
    };
    let rev = query_param(&uri, "ref").unwrap_or(default_branch.clone());
    let entry = shared
        .git
        .read_path(&key, &rev, &path)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let api = format!("{}/repos/{}", shared.base, key.full_name());
    let html = format!("{}/{}", shared.base, key.full_name());
    let describe = |path: &str, sha: &str, kind: &str, size: u64| {
        let name = path.rsplit('/').next().unwrap_or(path);
        let url = format!("{api}/contents/{path}?ref={rev}");
        let git_url = format!(
            "{api}/git/{}s/{sha}",
            if kind == "dir" { "tree" } else { "blob" }
        );
        let html_url = format!(
            "{html}/{}/{rev}/{path}",
            if kind == "dir" { "tree" } else { "blob" }
        );
        json!({
            "type": kind, "name": name, "path": path, "sha": sha, "size": size,
            "url": url, "git_url": git_url, "html_url": html_url,
            "download_url": if kind == "file" {
                json!(format!("{html}/raw/{rev}/{path}"))
            } else {
                serde_json::Value::Null
            },
            "_links": {"self": url, "git": git_url, "html": html_url},
        })
    };
    let path = path.trim_matches('/');
    let body = match entry {
        Entry::File { sha, content } => {
            let mut file = describe(path, &sha, "file", content.len() as u64);
            // GitHub wraps base64 content at 60 characters.
            let encoded = STANDARD.encode(&content);
            let wrapped: Vec<&str> = encoded
                .as_bytes()
                .chunks(60)
                .map(|c| std::str::from_utf8(c).unwrap_or_default())
                .collect();
            file["content"] = json!(wrapped.join("\n") + "\n");
            file["encoding"] = json!("base64");
            file
        }
        Entry::Dir(entries) => json!(
            entries
                .iter()
                .map(|e| {
                    let child = if path.is_empty() {
                        e.name.clone()
                    } else {
                        format!("{path}/{}", e.name)
                    };
                    describe(
                        &child,
                        &e.sha,
                        if e.is_dir { "dir" } else { "file" },
                        e.size,
                    )
                })
                .collect::<Vec<_>>()
        ),
    };
    Ok(Json(body).into_response())
}

async fn collaborator_permission(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name, username)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let repo = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
    let user = world
        .account(&username)
        .filter(|a| a.kind != AccountKind::Organization)
        .ok_or_else(ApiError::not_found)?;
    let permission = world.permission(&user.login, repo);
    let mut user_json = shared.render(&world).account(user);
    user_json["permissions"] = permission_flags(permission);
    user_json["role_name"] = json!(permission.as_str());
    Ok(Json(json!({
        "permission": permission.as_str(),
        "role_name": permission.as_str(),
        "user": user_json,
    }))
    .into_response())
}
