//! The GitHub client: App authentication, installation tokens, retries and
//! rate limits, with every call counted. A thin layer over octocrab's HTTP
//! stack and models.

mod api;
mod auth;
mod budget;
mod client;
mod conditional;
mod error;
pub mod limits;
mod pace;
mod retry;

pub use api::{
    Annotation, AppInfo, CheckReport, CiRun, CiState, CommentInfo, DeploymentInfo,
    DeploymentReport, IssueInfo, IssuePatch, NewDeployment, NewIssue, Permission, PullFile,
    PullInfo, RepoInfo,
};
pub use auth::{AppKey, InstallationToken, TokenCache};
pub use budget::RESERVE as RATE_LIMIT_RESERVE;
pub use client::{Auth, GitHub, GitHubOptions, Response};
pub use error::GitHubError;
pub use pace::{PaceLimits, Priority, background};
pub use retry::RetryPolicy;

use std::fmt;
use std::str::FromStr;

/// What GitHub names a new repository's first branch unless its
/// organisation says otherwise; assumed only where GitHub does not say.
pub const DEFAULT_BRANCH: &str = "main";

/// A repository as `owner/name`, checked against GitHub's naming rules so it
/// is always safe to put in a URL path. Read from GitHub's `full_name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoNameError {
    #[error("{0:?} is not of the form owner/name")]
    Shape(String),
    #[error("owner {0:?} must be 1-39 letters, digits or '-', not starting with '-'")]
    Owner(String),
    #[error(
        "repository name {0:?} must be 1-100 letters, digits, '.', '_' or '-', and not '.' or '..'"
    )]
    Name(String),
}

impl FromStr for RepoName {
    type Err = RepoNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (owner, name) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| RepoNameError::Shape(s.into()))?;
        if !is_valid_owner(owner) {
            return Err(RepoNameError::Owner(owner.into()));
        }
        if !valid_repo(name) {
            return Err(RepoNameError::Name(name.into()));
        }
        Ok(Self {
            owner: owner.into(),
            name: name.into(),
        })
    }
}

impl RepoName {
    /// `owner__name`: one path component, for paved's per-repository caches.
    pub fn file_name(&self) -> String {
        format!("{}__{}", self.owner, self.name)
    }
}

impl TryFrom<String> for RepoName {
    type Error = RepoNameError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A GitHub user or organisation name.
pub fn is_valid_owner(s: &str) -> bool {
    (1..=39).contains(&s.len())
        && !s.starts_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn valid_repo(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Every operation the client names in its metrics (GitHub's operation ids
/// where it has one), so each has its series from the start.
pub const OPERATIONS: [&str; 29] = [
    "actions/list-workflow-runs-for-repo",
    "apps/get-authenticated",
    "apps/get-repo-installation",
    "checks/create",
    "create_installation_token",
    "graphql",
    "issues/create",
    "issues/create-comment",
    "issues/delete-comment",
    "issues/get",
    "issues/list-comments",
    "issues/list-for-repo",
    "issues/update",
    "issues/update-comment",
    "orgs/get-membership-for-user",
    "pulls/create",
    "pulls/get",
    "pulls/list",
    "pulls/list-files",
    "reactions/create-for-issue-comment",
    "repos/create-deployment",
    "repos/create-in-org",
    "repos/get",
    "repos/get-collaborator-permission-level",
    "repos/get-content",
    "repos/list-deployment-statuses",
    "repos/list-deployments",
    "repos/update",
    "teams/get-membership-for-user-in-org",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The list holds every operation name the client's source passes.
    #[test]
    fn operations_lists_every_operation_the_client_names() {
        let source = [include_str!("api.rs"), include_str!("client.rs")].concat();
        let named =
            regex::Regex::new(r#""([a-z]+/[a-z-]+|create_installation_token|graphql)""#).unwrap();
        let mut seen: Vec<&str> = named
            .captures_iter(&source)
            .map(|c| c.get(1).unwrap().as_str())
            .filter(|op| !op.starts_with("application/"))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, OPERATIONS);
    }

    #[test]
    fn repo_names() {
        let r: RepoName = "acme/catalog".parse().unwrap();
        assert_eq!((r.owner.as_str(), r.name.as_str()), ("acme", "catalog"));
        assert_eq!(r.to_string(), "acme/catalog");
        for bad in [
            "acme",
            "/x",
            "acme/",
            "acme/..",
            "-a/b",
            "a/b/c",
            "a b/c",
            "acme/x%2f",
        ] {
            assert!(bad.parse::<RepoName>().is_err(), "{bad} accepted");
        }
    }
}
