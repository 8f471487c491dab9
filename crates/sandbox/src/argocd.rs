//! Argo CD's notifications, played. Argo CD's GitHub notification service
//! authenticates as a GitHub App of its own; here that App is `argo-cd`,
//! installed on the service's owner with Deployments: write. For a
//! deployment notification it makes the REST calls the service makes: it
//! lists the deployments of the revision (`ref`) in the environment,
//! creates one when there is none, and posts a status on the newest. Each
//! call goes over HTTP through the sandbox's own API, so it is
//! authenticated, logged, rate limited and fires webhooks like any other.

use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::Shared;
use super::actor::Actor;
use super::auth;
use super::error::ApiError;
use super::rest::percent_encode;
use super::state::{Grant, Permission, RepoKey};

/// The slug of the App the sandbox's Argo CD acts as.
pub const ARGO_CD_APP: &str = "argo-cd";

/// What Argo CD saw of an Application, as its three triggers name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Health {
    /// `on-deployed`: synced to the revision and Healthy.
    Healthy,
    /// `on-health-degraded`.
    Degraded,
    /// `on-sync-failed`.
    SyncFailed,
}

impl Health {
    /// The deployment state the shipped notification templates post.
    fn state(self) -> &'static str {
        match self {
            Self::Healthy => "success",
            Self::Degraded => "failure",
            Self::SyncFailed => "error",
        }
    }
}

/// One notification, with what the templates compute from the Application:
/// the repository (from `spec.source.repoURL`), the revision (its image
/// tag), its environment label, Ingress URL and Argo CD page.
#[derive(Debug, Clone, Deserialize)]
pub struct Notification {
    /// `owner/name` of the service repository.
    pub repo: String,
    pub revision: String,
    pub environment: String,
    pub health: Health,
    #[serde(default)]
    pub environment_url: String,
    #[serde(default)]
    pub log_url: String,
    /// The message of the template (Argo CD's sync message, for a failed sync).
    #[serde(default)]
    pub message: String,
}

/// Sends `notification` as Argo CD's GitHub service would; the id of the
/// deployment it reported on.
pub(crate) async fn notify(shared: &Arc<Shared>, n: &Notification) -> Result<u64, ApiError> {
    let key = RepoKey::parse(&n.repo).ok_or_else(ApiError::not_found)?;
    let argo = {
        let mut world = shared.world();
        let id = world.peer_installation(ARGO_CD_APP, &key.owner, Permission::Write);
        let lifetime = Some(shared.token_lifetime);
        let (token, _) = auth::issue_token(&mut world, Grant::Installation(id), lifetime);
        let login = world.peers[&id].bot_login();
        Actor::new(shared.clone(), &login, token)
    };
    let repo = key.full_name();
    let listed = argo
        .call(
            Method::GET,
            &format!(
                "/repos/{repo}/deployments?ref={}&environment={}",
                percent_encode(&n.revision),
                percent_encode(&n.environment)
            ),
            None,
        )
        .await?;
    let newest = match listed.as_array().and_then(|l| l.first()) {
        Some(found) => found.clone(),
        None => {
            let new = json!({
                "ref": n.revision, "environment": n.environment,
                "required_contexts": [], "auto_merge": false,
            });
            argo.call(
                Method::POST,
                &format!("/repos/{repo}/deployments"),
                Some(new),
            )
            .await?
        }
    };
    let id = newest["id"]
        .as_u64()
        .ok_or_else(|| ApiError::unprocessable("a deployment without an id"))?;
    let status = json!({
        "state": n.health.state(),
        "description": truncate(&n.message, 140),
        "environment_url": n.environment_url,
        "log_url": n.log_url,
    });
    argo.call(
        Method::POST,
        &format!("/repos/{repo}/deployments/{id}/statuses"),
        Some(status),
    )
    .await?;
    Ok(id)
}

/// Argo CD's service cuts descriptions to GitHub's limit.
fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
