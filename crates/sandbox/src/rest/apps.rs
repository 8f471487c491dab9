//! App endpoints: the App itself, installations, installation tokens and the
//! manifest conversion of the setup flow.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use chrono::Utc;
use serde_json::json;

use super::{Api, Paging, created, form_param, percent_encode};
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::render::app_permissions;
use crate::state::{Grant, Permission, RepoKey};

fn require_app(caller: &Caller) -> Result<(), ApiError> {
    match caller {
        Caller::App => Ok(()),
        _ => Err(ApiError::unauthorized(
            "A JSON web token could not be decoded",
        )),
    }
}

pub async fn get_app(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    require_app(&caller)?;
    let world = shared.world();
    Ok(Json(shared.render(&world).app(&world.app)).into_response())
}

pub async fn list_installations(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    paging: Paging,
) -> Result<Response, ApiError> {
    require_app(&caller)?;
    let world = shared.world();
    let render = shared.render(&world);
    let all = world
        .installations
        .values()
        .map(|i| render.installation(i))
        .collect();
    Ok(paging.respond(&shared.base, all))
}

pub async fn get_installation(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    require_app(&caller)?;
    let world = shared.world();
    let installation = world
        .installations
        .get(&id)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(shared.render(&world).installation(installation)).into_response())
}

pub async fn create_token(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    require_app(&caller)?;
    let mut world = shared.world();
    if !world.installations.contains_key(&id) {
        return Err(ApiError::not_found());
    }
    let (token, expires_at) = auth::issue_token(
        &mut world,
        Grant::Installation(id),
        Some(shared.token_lifetime),
    );
    Ok(created(json!({
        "token": token.expose(),
        "expires_at": expires_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        "permissions": app_permissions(),
        "repository_selection": "all",
    })))
}

/// `GET /installation/repositories`: what an installation token can reach.
pub async fn installation_repos(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let Caller::Installation(id) = caller else {
        return Err(ApiError::forbidden(
            "This endpoint requires an installation access token.",
        ));
    };
    let world = shared.world();
    let account = world
        .installations
        .get(&id)
        .map(|i| i.account.clone())
        .ok_or_else(ApiError::bad_credentials)?;
    let render = shared.render(&world);
    let repos: Vec<_> = world
        .repos()
        .filter(|r| r.key.owner.eq_ignore_ascii_case(&account))
        .map(|r| render.repo(r))
        .collect();
    Ok(Json(json!({
        "total_count": repos.len(),
        "repository_selection": "all",
        "repositories": repos,
    }))
    .into_response())
}

pub async fn org_installation(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path(org): Path<String>,
) -> Result<Response, ApiError> {
    require_app(&caller)?;
    let world = shared.world();
    let installation = world
        .installation_for(&org)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(shared.render(&world).installation(installation)).into_response())
}

pub async fn repo_installation(
    State(shared): Api,
    Extension(caller): Extension<Caller>,
    Path((owner, repo)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    require_app(&caller)?;
    let world = shared.world();
    let repo = world
        .repo(&RepoKey::new(&owner, &repo))
        .ok_or_else(ApiError::not_found)?;
    let installation = world
        .installation_for(&repo.key.owner)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(shared.render(&world).installation(installation)).into_response())
}

/// `POST /settings/apps/new` (or `/organizations/{org}/settings/apps/new`):
/// the browser side of the manifest flow. GitHub shows a confirmation page;
/// the sandbox confirms at once and redirects to the manifest's
/// `redirect_url` with a fresh `code` and the caller's `state`.
pub async fn manifest_form(State(shared): Api, body: Bytes) -> Result<Response, ApiError> {
    let body = String::from_utf8_lossy(&body);
    let manifest = form_param(&body, "manifest")
        .ok_or_else(|| ApiError::invalid("Manifest", "manifest", "missing_field"))?;
    let manifest: serde_json::Value =
        serde_json::from_str(&manifest).map_err(|_| ApiError::bad_json())?;
    let redirect = manifest["redirect_url"]
        .as_str()
        .ok_or_else(|| ApiError::invalid("Manifest", "redirect_url", "missing_field"))?;
    let state = form_param(&body, "state").unwrap_or_default();
    let separator = if redirect.contains('?') { '&' } else { '?' };
    let location = format!(
        "{redirect}{separator}code={}&state={}",
        shared.new_manifest_code(),
        percent_encode(&state)
    );
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

/// `POST /app-manifests/{code}/conversions`: trades a code (see
/// `Sandbox::new_manifest_code`) for the App's credentials, once.
pub async fn convert_manifest(
    State(shared): Api,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let mut world = shared.world();
    let valid = world
        .manifest_codes
        .remove(&code)
        .is_some_and(|expires| expires > Utc::now());
    if !valid {
        return Err(ApiError::not_found());
    }
    let mut app = shared.render(&world).app(&world.app);
    app["pem"] = json!(world.app.private_key_pem.expose());
    app["webhook_secret"] = json!(world.app.webhook_secret.expose());
    app["client_secret"] = json!(crate::ids::random_hex(40));
    Ok(created(app))
}

/// `GET /orgs/{org}/memberships/{username}`: 404 unless `username` belongs
/// to the organisation (has a role in it); owners are `admin`, others `member`.
pub async fn org_membership(
    State(shared): Api,
    Path((org, user)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let role = world
        .account(&user)
        .and_then(|a| a.role_in(&org))
        .ok_or_else(ApiError::not_found)?;
    let render = shared.render(&world);
    let organization = render.organization(&org).ok_or_else(ApiError::not_found)?;
    let org_url = format!("{}/orgs/{org}", shared.base);
    Ok(Json(serde_json::json!({
        "url": format!("{org_url}/memberships/{user}"),
        "state": "active",
        "role": if role == Permission::Admin { "admin" } else { "member" },
        "organization_url": org_url,
        "organization": organization,
        "user": render.user(&user),
    }))
    .into_response())
}

/// `GET /orgs/{org}/teams/{slug}/memberships/{username}`: 404 unless a member.
pub async fn team_membership(
    State(shared): Api,
    Path((org, slug, user)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let world = shared.world();
    let key = format!("{org}/{slug}").to_lowercase();
    let member = world
        .teams
        .get(&key)
        .is_some_and(|m| m.contains(&user.to_lowercase()));
    if !member {
        return Err(ApiError::not_found());
    }
    let url = format!("{}/orgs/{org}/teams/{slug}/memberships/{user}", shared.base);
    Ok(
        Json(serde_json::json!({ "url": url, "role": "member", "state": "active" }))
            .into_response(),
    )
}
