//! Users acting through the REST API with their personal token, so that
//! tests read like stories and every action fires the webhooks GitHub would.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};

use super::Shared;
use super::error::{ApiError, SandboxError};
use super::events::after_push;
use super::state::RepoKey;
use crate::secret::Secret;

/// A sandbox user with a personal token.
#[derive(Clone)]
pub struct Actor {
    shared: Arc<Shared>,
    login: String,
    token: Secret,
    http: reqwest::Client,
}

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor")
            .field("login", &self.login)
            .field("token", &self.token)
            .finish()
    }
}

impl Actor {
    pub(crate) fn new(shared: Arc<Shared>, login: &str, token: Secret) -> Self {
        Self {
            shared,
            login: login.to_string(),
            token,
            http: reqwest::Client::new(),
        }
    }

    pub fn login(&self) -> &str {
        &self.login
    }

    /// The personal token (`ghp_...`), for git or any other client.
    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// Calls the sandbox's REST API as this user; GitHub's error body becomes an `ApiError`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.shared.base))
            .bearer_auth(self.token.expose())
            .header("accept", "application/vnd.github+json")
            .header("user-agent", "paved-sandbox-actor");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::internal(format!("sandbox unreachable: {e}")))?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let message = value["message"].as_str().unwrap_or_default().to_string();
        Err(ApiError {
            status,
            message,
            errors: value["errors"].as_array().cloned().unwrap_or_default(),
        })
    }

    /// Opens an issue and returns its number.
    pub async fn open_issue(
        &self,
        repo: &str,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> Result<u64, ApiError> {
        let path = format!("/repos/{repo}/issues");
        let issue = json!({"title": title, "body": body, "labels": labels});
        number(self.call(Method::POST, &path, Some(issue)).await?, "number")
    }

    /// Changes an issue or pull request (`title`, `body`, `state`, `labels`, ...).
    pub async fn update_issue(
        &self,
        repo: &str,
        number: u64,
        change: Value,
    ) -> Result<Value, ApiError> {
        let path = format!("/repos/{repo}/issues/{number}");
        self.call(Method::PATCH, &path, Some(change)).await
    }

    pub async fn close_issue(&self, repo: &str, number: u64) -> Result<Value, ApiError> {
        self.update_issue(repo, number, json!({"state": "closed"}))
            .await
    }

    /// Comments on an issue or pull request and returns the comment's id.
    pub async fn comment(&self, repo: &str, number: u64, body: &str) -> Result<u64, ApiError> {
        let path = format!("/repos/{repo}/issues/{number}/comments");
        self::number(
            self.call(Method::POST, &path, Some(json!({"body": body})))
                .await?,
            "id",
        )
    }

    pub async fn edit_comment(&self, repo: &str, id: u64, body: &str) -> Result<Value, ApiError> {
        let path = format!("/repos/{repo}/issues/comments/{id}");
        self.call(Method::PATCH, &path, Some(json!({"body": body})))
            .await
    }

    /// Opens a pull request from `head` into `base` and returns its number.
    pub async fn open_pull(
        &self,
        repo: &str,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<u64, ApiError> {
        let path = format!("/repos/{repo}/pulls");
        let pull = json!({"title": title, "head": head, "base": base, "body": body});
        number(self.call(Method::POST, &path, Some(pull)).await?, "number")
    }

    /// Forks `repo` to this user's account and returns the fork's full name.
    pub async fn fork(&self, repo: &str) -> Result<String, ApiError> {
        let path = format!("/repos/{repo}/forks");
        let fork = self.call(Method::POST, &path, Some(json!({}))).await?;
        fork["full_name"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ApiError::internal("answer without full_name"))
    }

    /// Merges a pull request and returns the merge commit's sha.
    pub async fn merge_pull(&self, repo: &str, number: u64) -> Result<String, ApiError> {
        let path = format!("/repos/{repo}/pulls/{number}/merge");
        let merged = self.call(Method::PUT, &path, Some(json!({}))).await?;
        Ok(merged["sha"].as_str().unwrap_or_default().to_string())
    }

    /// Commits `files` onto `branch` as this user and fires `push`, like a `git push`.
    pub async fn push_files(
        &self,
        repo: &str,
        branch: &str,
        files: &[(&str, &[u8])],
        message: &str,
    ) -> Result<String, SandboxError> {
        push_files(&self.shared, repo, branch, files, message, &self.login).await
    }
}

fn number(value: Value, field: &str) -> Result<u64, ApiError> {
    value[field]
        .as_u64()
        .ok_or_else(|| ApiError::internal(format!("answer without {field}")))
}

/// Commits `files` onto `branch` as `author` and fires the push webhooks.
pub(crate) async fn push_files(
    shared: &Shared,
    repo: &str,
    branch: &str,
    files: &[(&str, &[u8])],
    message: &str,
    author: &str,
) -> Result<String, SandboxError> {
    let key = RepoKey::parse(repo)
        .and_then(|k| shared.world().repo(&k).map(|r| r.key.clone()))
        .ok_or_else(|| SandboxError::Invalid(format!("no repository {repo}")))?;
    let files: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(path, content)| (path.to_string(), content.to_vec()))
        .collect();
    let before = shared.git.refs(&key).await?;
    let signature = shared.signature(author);
    let sha = shared
        .git
        .write_commit(&key, branch, &files, message, &signature)
        .await?;
    let after = shared.git.refs(&key).await?;
    after_push(shared, &key, &before, &after, author).await;
    Ok(sha)
}
