//! Repositories: create, get, update (archive), topics, contents and
//! collaborator permissions.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{Api, Body, Paging, actor, created, permission_of, repo_for};
use crate::Shared;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::render::permission_flags;
use crate::state::{AccountKind, Permission, RepoKey, World};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/orgs/{org}/repos", get(list_for_org).post(create_in_org))
        .route("/user/repos", axum::routing::post(create_for_user))
        .route("/repos/{owner}/{repo}", get(get_repo).patch(update_repo))
        .route(
            "/repos/{owner}/{repo}/generate",
            axum::routing::post(generate),
        )
        .route("/repos/{owner}/{repo}/forks", axum::routing::post(fork))
        .route(
            "/repos/{owner}/{repo}/topics",
            get(get_topics).put(replace_topics),
        )
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

/// The canonical owner login and the acting login, if `caller` may create
/// repositories for `owner`: an organisation where the App is installed or
/// the user has at least write, or the calling user themselves.
fn creator_for(world: &World, caller: &Caller, owner: &str) -> Result<(String, String), ApiError> {
    let account = world.account(owner).ok_or_else(ApiError::not_found)?;
    let allowed = match (caller, account.kind) {
        (Caller::Installation(id), AccountKind::Organization) => world
            .installation_for(&account.login)
            .is_some_and(|i| i.id == *id),
        (Caller::User(login), AccountKind::Organization) => world
            .account(login)
            .is_some_and(|u| u.role_in(&account.login) >= Some(Permission::Write)),
        (Caller::User(login), _) => login.eq_ignore_ascii_case(&account.login),
        _ => false,
    };
    if !allowed {
        return Err(ApiError::forbidden(
            "You need admin access to the organization before adding a repository to it.",
        ));
    }
    Ok((account.login.clone(), actor(world, caller)?))
}

fn valid_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name != "."
        && name != "..";
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid("Repository", "name", "invalid"))
    }
}

async fn create_in_org(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path(org): Path<String>,
    Body(new): Body<NewRepo>,
) -> Result<Response, ApiError> {
    let (owner, login) = {
        let world = shared.world();
        let is_org = world
            .account(&org)
            .is_some_and(|a| a.kind == AccountKind::Organization);
        if !is_org {
            return Err(ApiError::not_found());
        }
        creator_for(&world, &caller, &org)?
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
    valid_name(&new.name)?;
    let private = new.private || matches!(new.visibility.as_deref(), Some("private" | "internal"));
    let repo = shared
        .create_repo(key.clone(), new.description, private)
        .await?;
    if new.auto_init {
        let readme = format!("# {}\n", key.name);
        let files = [("README.md".to_string(), readme.into_bytes())];
        let author = shared.signature(login);
        shared
            .git
            .write_commit(
                &key,
                &repo.default_branch,
                &files,
                "Initial commit",
                &author,
            )
            .await?;
    }
    let world = shared.world();
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(created(shared.render(&world).repo(repo)))
}

#[derive(Deserialize)]
pub struct FromTemplate {
    owner: Option<String>,
    name: String,
    description: Option<String>,
    #[serde(default)]
    private: bool,
}

/// `POST /repos/{template_owner}/{template_repo}/generate`: a new repository
/// whose first commit holds the template's default branch.
async fn generate(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((template_owner, template_name)): Path<(String, String)>,
    Body(new): Body<FromTemplate>,
) -> Result<Response, ApiError> {
    valid_name(&new.name)?;
    let (template, branch, owner, login) = {
        let world = shared.world();
        let template = repo_for(
            &world,
            &caller,
            &template_owner,
            &template_name,
            Permission::Read,
        )?;
        if !template.is_template {
            return Err(ApiError::custom(
                "Repository",
                &format!("{} is not a template repository", template.key.full_name()),
            ));
        }
        let owner = match (&new.owner, &caller) {
            (Some(owner), _) => owner.clone(),
            (None, Caller::User(login)) => login.clone(),
            (None, _) => return Err(ApiError::invalid("Repository", "owner", "missing_field")),
        };
        let (owner, login) = creator_for(&world, &caller, &owner)?;
        (
            template.key.clone(),
            template.default_branch.clone(),
            owner,
            login,
        )
    };
    let key = RepoKey::new(&owner, &new.name);
    shared
        .create_repo(key.clone(), new.description, new.private)
        .await?;
    // The new repository starts on the template's default branch.
    if let Some(repo) = shared.world().repo_mut(&key) {
        repo.default_branch = branch.clone();
    }
    let author = shared.signature(&login);
    shared
        .git
        .copy_tree(&template, &key, &branch, "Initial commit", &author)
        .await?;
    let world = shared.world();
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(created(shared.render(&world).repo(repo)))
}

#[derive(Deserialize)]
pub struct NewFork {
    organization: Option<String>,
    name: Option<String>,
}

/// `POST /repos/{owner}/{repo}/forks`: a copy of every branch under the
/// caller (or `organization`), answered 202 as GitHub does; asking again
/// gives the fork that exists.
async fn fork(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    Body(new): Body<NewFork>,
) -> Result<Response, ApiError> {
    let (source, key, private, description) = {
        let world = shared.world();
        let source = repo_for(&world, &caller, &owner, &name, Permission::Read)?;
        let account = match (&new.organization, &caller) {
            (Some(org), _) => org.clone(),
            (None, Caller::User(login)) => login.clone(),
            (None, _) => {
                return Err(ApiError::invalid(
                    "Repository",
                    "organization",
                    "missing_field",
                ));
            }
        };
        let (account, _) = creator_for(&world, &caller, &account)?;
        let key = RepoKey::new(&account, new.name.as_deref().unwrap_or(&source.key.name));
        if let Some(existing) = world.repo(&key) {
            if existing.parent.as_ref() == Some(&source.key) {
                return Ok(accepted(shared.render(&world).repo(existing)));
            }
            return Err(ApiError::repository_name_taken());
        }
        let (private, description) = (source.private, source.description.clone());
        (source.key.clone(), key, private, description)
    };
    valid_name(&key.name)?;
    shared
        .create_repo(key.clone(), description, private)
        .await?;
    let source_branch = shared
        .world()
        .repo(&source)
        .map(|r| r.default_branch.clone());
    if let Some(repo) = shared.world().repo_mut(&key) {
        repo.parent = Some(source.clone());
        if let Some(branch) = source_branch {
            repo.default_branch = branch;
        }
    }
    shared.git.fork(&source, &key).await?;
    let world = shared.world();
    let repo = world.repo(&key).ok_or_else(ApiError::not_found)?;
    Ok(accepted(shared.render(&world).repo(repo)))
}

fn accepted(value: serde_json::Value) -> Response {
    (axum::http::StatusCode::ACCEPTED, Json(value)).into_response()
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
    is_template: Option<bool>,
    default_branch: Option<String>,
    delete_branch_on_merge: Option<bool>,
}

async fn update_repo(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    Body(update): Body<RepoUpdate>,
) -> Result<Response, ApiError> {
    let key = repo_for(&shared.world(), &caller, &owner, &name, Permission::Admin)?
        .key
        .clone();
    // GitHub only makes a branch that exists the default.
    if let Some(branch) = &update.default_branch {
        let rev = format!("refs/heads/{branch}");
        if shared.git.resolve(&key, &rev).await?.is_none() {
            return Err(ApiError::invalid("Repository", "default_branch", "invalid"));
        }
    }
    let mut world = shared.world();
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
    if let Some(v) = update.is_template {
        repo.is_template = v;
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
