//! The GitHub operations paved performs, typed. Each is one REST call (lists
//! follow `Link` pagination), named by GitHub's operation id so metrics and
//! the sandbox's request log speak the same language.

use super::limits::{
    ANNOTATION_MAX, ANNOTATIONS_PER_REQUEST, BODY_MAX, CHECK_TEXT_MAX, CHECK_TITLE_MAX,
    DEPLOYMENT_DESCRIPTION_MAX, fit,
};
use base64::Engine;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::{Auth, GitHub, GitHubError, RepoName};

/// A repository, as paved needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    pub name: RepoName,
    pub clone_url: String,
    pub html_url: String,
    /// Empty when GitHub has none.
    pub description: String,
    pub archived: bool,
    pub private: bool,
    /// The branch paved reads from, commits to and opens pull requests into.
    pub default_branch: String,
}

#[derive(Deserialize)]
struct RepoWire {
    full_name: RepoName,
    clone_url: String,
    html_url: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    private: bool,
    /// Absent on a repository created empty; GitHub's default then.
    #[serde(default)]
    default_branch: Option<String>,
}

impl From<RepoWire> for RepoInfo {
    fn from(r: RepoWire) -> Self {
        Self {
            name: r.full_name,
            clone_url: r.clone_url,
            html_url: r.html_url,
            description: r.description.unwrap_or_default(),
            archived: r.archived,
            private: r.private,
            default_branch: r
                .default_branch
                .unwrap_or_else(|| super::DEFAULT_BRANCH.into()),
        }
    }
}

/// What someone may do in a repository: GitHub's collaborator permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    None,
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

impl Permission {
    /// GitHub's names of the permissions a collaborator can hold, least first.
    pub const NAMES: [&str; 5] = ["read", "triage", "write", "maintain", "admin"];

    /// GitHub's name of it (`none` for no access).
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Read => "read",
            Self::Triage => "triage",
            Self::Write => "write",
            Self::Maintain => "maintain",
            Self::Admin => "admin",
        }
    }

    /// The permission GitHub calls `name`, if it is one a person can hold.
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "admin" => Self::Admin,
            "maintain" => Self::Maintain,
            "write" => Self::Write,
            "triage" => Self::Triage,
            "read" => Self::Read,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueInfo {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub open: bool,
    pub html_url: String,
    pub author: String,
    /// GitHub says the author belongs to the organisation owning the
    /// repository (`author_association` `OWNER` or `MEMBER`). Not saying so
    /// proves nothing: a private membership can hide.
    pub author_member: bool,
    pub is_pull_request: bool,
    /// How many comments GitHub counts on it; `None` when it did not say.
    pub comments: Option<u64>,
}

/// An issue paved opened.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewIssue {
    pub number: u64,
    pub node_id: String,
}

#[derive(Deserialize)]
struct GraphQlAnswer {
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

#[derive(Deserialize)]
struct GraphQlError {
    message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentInfo {
    pub id: u64,
    pub body: String,
    pub author: String,
    pub html_url: String,
}

/// The App itself: its bot commits and comments as `<slug>[bot]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AppInfo {
    pub id: u64,
    pub slug: String,
}

#[derive(Deserialize)]
struct UserWire {
    login: String,
}

#[derive(Deserialize)]
struct LabelWire {
    name: String,
}

#[derive(Deserialize)]
struct IssueWire {
    number: u64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    labels: Vec<LabelWire>,
    state: String,
    html_url: String,
    user: UserWire,
    #[serde(default)]
    author_association: String,
    #[serde(default)]
    pull_request: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    comments: Option<u64>,
}

impl From<IssueWire> for IssueInfo {
    fn from(i: IssueWire) -> Self {
        Self {
            number: i.number,
            title: i.title,
            body: i.body.unwrap_or_default(),
            labels: i.labels.into_iter().map(|l| l.name).collect(),
            open: i.state == "open",
            html_url: i.html_url,
            author: i.user.login,
            author_member: matches!(i.author_association.as_str(), "OWNER" | "MEMBER"),
            is_pull_request: i.pull_request.is_some(),
            comments: i.comments,
        }
    }
}

#[derive(Deserialize)]
struct CommentWire {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    user: UserWire,
    html_url: String,
}

impl From<CommentWire> for CommentInfo {
    fn from(c: CommentWire) -> Self {
        Self {
            id: c.id,
            body: c.body.unwrap_or_default(),
            author: c.user.login,
            html_url: c.html_url,
        }
    }
}

#[derive(Deserialize)]
struct ContentWire {
    #[serde(default)]
    content: String,
    #[serde(default)]
    encoding: String,
}

/// One entry of a folder's listing.
#[derive(Deserialize)]
struct DirEntryWire {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct InstallationWire {
    id: u64,
}

/// Changes to an issue in one call: GitHub's update takes labels and state
/// together.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IssuePatch {
    pub close: bool,
    /// The whole new set, when it changes.
    pub labels: Option<Vec<String>>,
    /// The new body, when it changes (cut to GitHub's limit).
    pub body: Option<String>,
}

impl IssuePatch {
    /// GitHub's update body: only what changes.
    fn body(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        if self.close {
            body.insert("state".into(), "closed".into());
        }
        if let Some(labels) = &self.labels {
            body.insert("labels".into(), json!(labels));
        }
        if let Some(text) = &self.body {
            body.insert("body".into(), fit(text, BODY_MAX).into());
        }
        body.into()
    }
}

impl GitHub {
    /// A write as the installation, with a JSON body.
    async fn act<B: serde::Serialize + ?Sized>(
        &self,
        operation: &'static str,
        inst: u64,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<super::Response, GitHubError> {
        self.request(
            operation,
            Auth::Installation(inst),
            method,
            path,
            Some(body),
        )
        .await
    }

    pub async fn get_app(&self) -> Result<AppInfo, GitHubError> {
        self.get("apps/get-authenticated", Auth::App, "/app").await
    }

    pub async fn repo_installation(&self, repo: &RepoName) -> Result<u64, GitHubError> {
        let path = format!("/repos/{repo}/installation");
        let i: InstallationWire = self
            .get("apps/get-repo-installation", Auth::App, &path)
            .await?;
        Ok(i.id)
    }

    /// The repository, or `None` when it does not exist.
    pub async fn get_repo(
        &self,
        inst: u64,
        repo: &RepoName,
    ) -> Result<Option<RepoInfo>, GitHubError> {
        match self
            .get::<RepoWire>(
                "repos/get",
                Auth::Installation(inst),
                &format!("/repos/{repo}"),
            )
            .await
        {
            Ok(r) => Ok(Some(r.into())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates `org/name`; GitHub answers 422 when the name is taken.
    pub async fn create_org_repo(
        &self,
        inst: u64,
        org: &str,
        name: &str,
        description: &str,
        private: bool,
    ) -> Result<RepoInfo, GitHubError> {
        const OP: &str = "repos/create-in-org";
        let body = json!({
            "name": name,
            "description": description,
            "private": private,
            "auto_init": false,
            "delete_branch_on_merge": true,
        });
        let path = format!("/orgs/{org}/repos");
        let created: RepoWire = self
            .act(OP, inst, Method::POST, &path, &body)
            .await?
            .json(OP)?;
        Ok(created.into())
    }

    pub async fn archive_repo(&self, inst: u64, repo: &RepoName) -> Result<(), GitHubError> {
        let body = json!({ "archived": true });
        let path = format!("/repos/{repo}");
        self.act("repos/update", inst, Method::PATCH, &path, &body)
            .await?;
        Ok(())
    }

    pub async fn get_issue(
        &self,
        inst: u64,
        repo: &RepoName,
        number: u64,
    ) -> Result<IssueInfo, GitHubError> {
        let path = format!("/repos/{repo}/issues/{number}");
        let wire: IssueWire = self
            .get("issues/get", Auth::Installation(inst), &path)
            .await?;
        Ok(wire.into())
    }

    /// Open issues carrying `label`, every page.
    pub async fn list_open_issues(
        &self,
        inst: u64,
        repo: &RepoName,
        label: &str,
    ) -> Result<Vec<IssueInfo>, GitHubError> {
        self.list_issues(inst, repo, label, "open").await
    }

    /// Issues carrying `label` in `state` (`open`, `closed` or `all`),
    /// every page.
    pub async fn list_issues(
        &self,
        inst: u64,
        repo: &RepoName,
        label: &str,
        state: &str,
    ) -> Result<Vec<IssueInfo>, GitHubError> {
        let path = format!(
            "/repos/{repo}/issues?state={state}&labels={}&per_page=100",
            encode(label)
        );
        let wires: Vec<IssueWire> = self.get_all("issues/list-for-repo", inst, path).await?;
        Ok(wires.into_iter().map(Into::into).collect())
    }

    /// Opens an issue with `labels`; its number and node id (what GraphQL
    /// names it by).
    pub async fn create_issue(
        &self,
        inst: u64,
        repo: &RepoName,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> Result<NewIssue, GitHubError> {
        const OP: &str = "issues/create";
        let path = format!("/repos/{repo}/issues");
        let new = json!({ "title": title, "body": fit(body, BODY_MAX), "labels": labels });
        self.act(OP, inst, Method::POST, &path, &new)
            .await?
            .json(OP)
    }

    /// Pins issue `node_id` to its repository's issue list: GitHub does this
    /// only through GraphQL, which answers a refusal with 200 and `errors`.
    pub async fn pin_issue(&self, inst: u64, node_id: &str) -> Result<(), GitHubError> {
        const OP: &str = "graphql";
        let query = json!({
            "query": "mutation($issueId: ID!) { pinIssue(input: {issueId: $issueId}) { issue { number } } }",
            "variables": { "issueId": node_id },
        });
        let answer: GraphQlAnswer = self
            .act(OP, inst, Method::POST, "/graphql", &query)
            .await?
            .json(OP)?;
        match answer.errors.into_iter().next() {
            None => Ok(()),
            Some(e) => Err(GitHubError::Api {
                operation: OP,
                status: reqwest::StatusCode::UNPROCESSABLE_ENTITY,
                message: e.message,
            }),
        }
    }

    pub async fn list_comments(
        &self,
        inst: u64,
        repo: &RepoName,
        number: u64,
    ) -> Result<Vec<CommentInfo>, GitHubError> {
        let path = format!("/repos/{repo}/issues/{number}/comments?per_page=100");
        let wires: Vec<CommentWire> = self.get_all("issues/list-comments", inst, path).await?;
        Ok(wires.into_iter().map(Into::into).collect())
    }

    pub async fn create_comment(
        &self,
        inst: u64,
        repo: &RepoName,
        number: u64,
        body: &str,
    ) -> Result<CommentInfo, GitHubError> {
        const OP: &str = "issues/create-comment";
        let path = format!("/repos/{repo}/issues/{number}/comments");
        let wire: CommentWire = self
            .request(
                OP,
                Auth::Installation(inst),
                Method::POST,
                &path,
                Some(&json!({ "body": fit(body, BODY_MAX) })),
            )
            .await?
            .json(OP)?;
        Ok(wire.into())
    }

    pub async fn update_comment(
        &self,
        inst: u64,
        repo: &RepoName,
        id: u64,
        body: &str,
    ) -> Result<(), GitHubError> {
        let path = format!("/repos/{repo}/issues/comments/{id}");
        let body = json!({ "body": fit(body, BODY_MAX) });
        self.act("issues/update-comment", inst, Method::PATCH, &path, &body)
            .await?;
        Ok(())
    }

    pub async fn delete_comment(
        &self,
        inst: u64,
        repo: &RepoName,
        id: u64,
    ) -> Result<(), GitHubError> {
        let path = format!("/repos/{repo}/issues/comments/{id}");
        self.request(
            "issues/delete-comment",
            Auth::Installation(inst),
            Method::DELETE,
            &path,
            None::<&()>,
        )
        .await?;
        Ok(())
    }

    pub async fn update_issue(
        &self,
        inst: u64,
        repo: &RepoName,
        number: u64,
        patch: &IssuePatch,
    ) -> Result<IssueInfo, GitHubError> {
        const OP: &str = "issues/update";
        let path = format!("/repos/{repo}/issues/{number}");
        let wire: IssueWire = self
            .act(OP, inst, Method::PATCH, &path, &patch.body())
            .await?
            .json(OP)?;
        Ok(wire.into())
    }

    /// The names of the files (not folders) in folder `path` at `git_ref`,
    /// or `None` when there is no such folder. GitHub lists up to 1,000.
    pub async fn list_dir(
        &self,
        inst: u64,
        repo: &RepoName,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<Vec<String>>, GitHubError> {
        const OP: &str = "repos/get-content";
        let url = format!("/repos/{repo}/contents/{path}?ref={}", encode(git_ref));
        let listed: Vec<DirEntryWire> = match self.get(OP, Auth::Installation(inst), &url).await {
            Ok(entries) => entries,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let files = listed
            .into_iter()
            .filter(|e| e.kind == "file")
            .map(|e| e.name)
            .collect();
        Ok(Some(files))
    }

    /// A file's bytes at `git_ref`, or `None` when there is no such file.
    pub async fn get_file(
        &self,
        inst: u64,
        repo: &RepoName,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<Vec<u8>>, GitHubError> {
        const OP: &str = "repos/get-content";
        let url = format!("/repos/{repo}/contents/{path}?ref={}", encode(git_ref));
        let wire: ContentWire = match self.get(OP, Auth::Installation(inst), &url).await {
            Ok(w) => w,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        if wire.encoding != "base64" {
            return Err(GitHubError::Decode {
                operation: OP,
                detail: format!("encoding {:?}", wire.encoding),
            });
        }
        let compact: String = wire
            .content
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map(Some)
            .map_err(|e| GitHubError::Decode {
                operation: OP,
                detail: e.to_string(),
            })
    }

    /// Every page of a list, following `Link: <...>; rel="next"`.
    async fn get_all<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        inst: u64,
        first: String,
    ) -> Result<Vec<T>, GitHubError> {
        let mut out = Vec::new();
        let mut next = Some(first);
        // GitHub caps pages; a bound keeps a misbehaving server from looping us.
        for _ in 0..1000 {
            let Some(path) = next.take() else { break };
            let response = self
                .request(
                    operation,
                    Auth::Installation(inst),
                    Method::GET,
                    &path,
                    None::<&()>,
                )
                .await?;
            let mut page: Vec<T> = response.json(operation)?;
            out.append(&mut page);
            next = next_link(&response.headers).and_then(|url| self.relative(&url));
        }
        Ok(out)
    }
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(headers: &http::HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// Percent-encodes a query value (labels hold ':').
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A pull request, as paved needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullInfo {
    pub number: u64,
    pub head_sha: String,
    pub merged: bool,
    pub merge_commit_sha: Option<String>,
    pub open: bool,
}

#[derive(Deserialize)]
struct PullHeadWire {
    sha: String,
}

#[derive(Deserialize)]
struct PullWire {
    number: u64,
    state: String,
    head: PullHeadWire,
    #[serde(default)]
    merged: bool,
    #[serde(default)]
    merge_commit_sha: Option<String>,
}

/// A file a pull request touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullFile {
    pub path: String,
    /// The pull request deletes it.
    pub removed: bool,
}

#[derive(Deserialize)]
struct PullFileWire {
    filename: String,
    /// `added`, `modified`, `removed`, `renamed`, ...
    status: String,
}

/// A problem marked on its line of a file, on a check run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub path: String,
    pub line: usize,
    pub message: String,
    /// A failure; else a warning.
    pub blocking: bool,
}

/// A completed check run: its conclusion and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub name: &'static str,
    pub head_sha: String,
    pub success: bool,
    pub title: String,
    pub summary: String,
    pub annotations: Vec<Annotation>,
}

impl GitHub {
    pub async fn get_pull(
        &self,
        inst: u64,
        repo: &RepoName,
        number: u64,
    ) -> Result<PullInfo, GitHubError> {
        let path = format!("/repos/{repo}/pulls/{number}");
        let w: PullWire = self
            .get("pulls/get", Auth::Installation(inst), &path)
            .await?;
        Ok(PullInfo {
            number: w.number,
            head_sha: w.head.sha,
            merged: w.merged,
            merge_commit_sha: w.merge_commit_sha,
            open: w.state == "open",
        })
    }

    /// The most recently updated closed pull requests (one page) that were
    /// merged, with their labels.
    pub async fn recently_merged_pulls(
        &self,
        inst: u64,
        repo: &RepoName,
    ) -> Result<Vec<(u64, Vec<String>)>, GitHubError> {
        #[derive(Deserialize)]
        struct Closed {
            number: u64,
            #[serde(default)]
            merged_at: Option<String>,
            #[serde(default)]
            labels: Vec<LabelWire>,
        }
        const OP: &str = "pulls/list";
        let path =
            format!("/repos/{repo}/pulls?state=closed&sort=updated&direction=desc&per_page=100");
        let page: Vec<Closed> = self
            .request(
                OP,
                Auth::Installation(inst),
                Method::GET,
                &path,
                None::<&()>,
            )
            .await?
            .json(OP)?;
        Ok(page
            .into_iter()
            .filter(|p| p.merged_at.is_some())
            .map(|p| (p.number, p.labels.into_iter().map(|l| l.name).collect()))
            .collect())
    }

    pub async fn list_pull_files(
        &self,
        inst: u64,
        repo: &RepoName,
        number: u64,
    ) -> Result<Vec<PullFile>, GitHubError> {
        let path = format!("/repos/{repo}/pulls/{number}/files?per_page=100");
        let files: Vec<PullFileWire> = self.get_all("pulls/list-files", inst, path).await?;
        Ok(files
            .into_iter()
            .map(|f| PullFile {
                removed: f.status == "removed",
                path: f.filename,
            })
            .collect())
    }

    /// Reports a completed check run on a commit. GitHub takes at most 50
    /// annotations per request; more are summarised.
    pub async fn report_check(
        &self,
        inst: u64,
        repo: &RepoName,
        report: &CheckReport,
    ) -> Result<(), GitHubError> {
        let shown = report.annotations.len().min(ANNOTATIONS_PER_REQUEST);
        let mut summary = report.summary.clone();
        if shown < report.annotations.len() {
            summary.push_str(&format!(
                "\n\nThe first {shown} of {} problems are marked on their lines.",
                report.annotations.len()
            ));
        }
        let annotations: Vec<serde_json::Value> = report.annotations[..shown]
            .iter()
            .map(|a| {
                json!({
                    "path": a.path,
                    "start_line": a.line,
                    "end_line": a.line,
                    "annotation_level": if a.blocking { "failure" } else { "warning" },
                    "message": fit(&a.message, ANNOTATION_MAX),
                })
            })
            .collect();
        let body = json!({
            "name": report.name,
            "head_sha": report.head_sha,
            "status": "completed",
            "conclusion": if report.success { "success" } else { "failure" },
            "output": {
                "title": fit(&report.title, CHECK_TITLE_MAX),
                "summary": fit(&summary, CHECK_TEXT_MAX),
                "annotations": annotations,
            },
        });
        let path = format!("/repos/{repo}/check-runs");
        self.act("checks/create", inst, Method::POST, &path, &body)
            .await?;
        Ok(())
    }
}

impl GitHub {
    /// Reacts to a comment (`eyes` when a command is picked up); whether the
    /// reaction is new.
    pub async fn react(
        &self,
        inst: u64,
        repo: &RepoName,
        comment: u64,
        content: &str,
    ) -> Result<bool, GitHubError> {
        let path = format!("/repos/{repo}/issues/comments/{comment}/reactions");
        let body = json!({ "content": content });
        let answer = self
            .act(
                "reactions/create-for-issue-comment",
                inst,
                Method::POST,
                &path,
                &body,
            )
            .await?;
        // GitHub answers 200 instead of 201 when the reaction was there already.
        Ok(answer.status == StatusCode::CREATED)
    }

    /// What `user` may do in `repo`; `None` for a stranger.
    pub async fn permission(
        &self,
        inst: u64,
        repo: &RepoName,
        user: &str,
    ) -> Result<Permission, GitHubError> {
        #[derive(Deserialize)]
        struct Wire {
            permission: String,
        }
        const OP: &str = "repos/get-collaborator-permission-level";
        let path = format!("/repos/{repo}/collaborators/{}/permission", encode(user));
        match self.get::<Wire>(OP, Auth::Installation(inst), &path).await {
            Ok(w) => Ok(Permission::named(&w.permission).unwrap_or(Permission::None)),
            Err(e) if e.is_not_found() => Ok(Permission::None),
            Err(e) => Err(e),
        }
    }

    /// Whether `user` is an active member of the organisation `org`.
    pub async fn org_member(&self, inst: u64, org: &str, user: &str) -> Result<bool, GitHubError> {
        #[derive(Deserialize)]
        struct Wire {
            state: String,
        }
        const OP: &str = "orgs/get-membership-for-user";
        let path = format!("/orgs/{}/memberships/{}", encode(org), encode(user));
        match self.get::<Wire>(OP, Auth::Installation(inst), &path).await {
            Ok(w) => Ok(w.state == "active"),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether `user` is an active member of the team `org/slug`.
    pub async fn team_member(
        &self,
        inst: u64,
        org: &str,
        slug: &str,
        user: &str,
    ) -> Result<bool, GitHubError> {
        #[derive(Deserialize)]
        struct Wire {
            state: String,
        }
        const OP: &str = "teams/get-membership-for-user-in-org";
        let path = format!(
            "/orgs/{}/teams/{}/memberships/{}",
            encode(org),
            encode(slug),
            encode(user)
        );
        match self.get::<Wire>(OP, Auth::Installation(inst), &path).await {
            Ok(w) => Ok(w.state == "active"),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Opens a pull request from `head` into `base`; its web URL.
    pub async fn create_pull(
        &self,
        inst: u64,
        repo: &RepoName,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<String, GitHubError> {
        #[derive(Deserialize)]
        struct Wire {
            html_url: String,
        }
        const OP: &str = "pulls/create";
        let path = format!("/repos/{repo}/pulls");
        let payload =
            json!({ "title": title, "head": head, "base": base, "body": fit(body, BODY_MAX) });
        let w: Wire = self
            .request(
                OP,
                Auth::Installation(inst),
                Method::POST,
                &path,
                Some(&payload),
            )
            .await?
            .json(OP)?;
        Ok(w.html_url)
    }
}

impl GitHub {
    /// The web URL of the open pull request from `branch` (of the same
    /// repository) into anything, if there is one.
    pub async fn open_pull_from(
        &self,
        inst: u64,
        repo: &RepoName,
        branch: &str,
    ) -> Result<Option<String>, GitHubError> {
        #[derive(Deserialize)]
        struct Wire {
            html_url: String,
        }
        let head = format!("{}:{branch}", repo.owner);
        let path = format!(
            "/repos/{repo}/pulls?state=open&head={}&per_page=1",
            encode(&head)
        );
        let pulls: Vec<Wire> = self
            .get("pulls/list", Auth::Installation(inst), &path)
            .await?;
        Ok(pulls.into_iter().next().map(|p| p.html_url))
    }
}

/// A deployment paved records on a service repository: `sha` runs in
/// `environment` since the platform commit `platform_commit` changed the
/// Application `application`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeployment<'a> {
    pub sha: &'a str,
    pub environment: &'a str,
    pub description: &'a str,
    pub platform_commit: &'a str,
    pub application: &'a str,
    /// End users reach it: an environment under review.
    pub production: bool,
}

/// A deployment as paved reads it back (listed by its image and
/// environment, which it therefore need not repeat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentInfo {
    pub id: u64,
    /// From the payload paved wrote; `None` for deployments made by others.
    pub platform_commit: Option<String>,
}

#[derive(Deserialize)]
struct DeploymentWire {
    id: u64,
    #[serde(default)]
    payload: serde_json::Value,
}

impl From<DeploymentWire> for DeploymentInfo {
    fn from(d: DeploymentWire) -> Self {
        Self {
            id: d.id,
            platform_commit: d.payload["platform_commit"].as_str().map(str::to_owned),
        }
    }
}

/// What the newest status of a deployment says: what Argo CD's
/// notifications reported, or nothing yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentReport {
    /// Queued, pending or in progress: Argo CD has not reported yet.
    Waiting,
    /// Synced and Healthy, answering at `url`.
    Healthy {
        url: String,
        log: String,
    },
    Degraded {
        log: String,
    },
    /// Argo CD could not sync; its message.
    SyncFailed {
        message: String,
        log: String,
    },
    /// A newer deployment of the environment took its place.
    Inactive,
}

#[derive(Deserialize)]
struct DeploymentStatusWire {
    state: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    environment_url: Option<String>,
    #[serde(default)]
    log_url: Option<String>,
}

impl From<DeploymentStatusWire> for DeploymentReport {
    fn from(s: DeploymentStatusWire) -> Self {
        let log = s.log_url.unwrap_or_default();
        match s.state.as_str() {
            "success" => Self::Healthy {
                url: s.environment_url.unwrap_or_default(),
                log,
            },
            "failure" => Self::Degraded { log },
            "error" => Self::SyncFailed {
                message: s.description.unwrap_or_default(),
                log,
            },
            "inactive" => Self::Inactive,
            _ => Self::Waiting,
        }
    }
}

/// Where one CI run on a commit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiState {
    Queued,
    Running,
    Passed,
    /// Failed, cancelled or timed out: no image came of it.
    Failed,
}

/// One GitHub Actions run on a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiRun {
    /// The workflow's name.
    pub name: String,
    pub state: CiState,
    /// Its page on GitHub.
    pub url: String,
}

#[derive(Deserialize)]
struct RunsWire {
    workflow_runs: Vec<RunWire>,
}

#[derive(Deserialize)]
struct RunWire {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    html_url: String,
}

impl CiRun {
    /// A run as GitHub describes it: its workflow's name, `status`,
    /// `conclusion` and page.
    pub fn new(name: String, status: Option<&str>, conclusion: Option<&str>, url: String) -> Self {
        let state = match (status, conclusion) {
            (Some("completed"), Some("success" | "neutral" | "skipped")) => CiState::Passed,
            (Some("completed"), _) => CiState::Failed,
            (Some("in_progress"), _) => CiState::Running,
            _ => CiState::Queued,
        };
        Self { name, state, url }
    }

    /// Where CI stands on a commit with `runs` (newest first): a failed
    /// run first, then one still going, then one queued, else the newest.
    pub fn standing(runs: &[CiRun]) -> Option<&CiRun> {
        let first = |state: CiState| runs.iter().find(|r| r.state == state);
        first(CiState::Failed)
            .or_else(|| first(CiState::Running))
            .or_else(|| first(CiState::Queued))
            .or_else(|| runs.first())
    }
}

impl From<RunWire> for CiRun {
    fn from(r: RunWire) -> Self {
        let name = r.name.unwrap_or_default();
        Self::new(
            name,
            r.status.as_deref(),
            r.conclusion.as_deref(),
            r.html_url,
        )
    }
}

impl GitHub {
    /// The deployments of `sha` to `environment` in `repo`, newest first
    /// (one page: paved looks for its own latest).
    pub async fn list_deployments(
        &self,
        inst: u64,
        repo: &RepoName,
        sha: &str,
        environment: &str,
    ) -> Result<Vec<DeploymentInfo>, GitHubError> {
        let path = format!(
            "/repos/{repo}/deployments?sha={}&environment={}&per_page=100",
            encode(sha),
            encode(environment)
        );
        let found: Vec<DeploymentWire> = self
            .get("repos/list-deployments", Auth::Installation(inst), &path)
            .await?;
        Ok(found.into_iter().map(Into::into).collect())
    }

    /// The GitHub Actions runs on commit `sha` of `repo`, newest first (one
    /// page: the runs of one push).
    pub async fn workflow_runs(
        &self,
        inst: u64,
        repo: &RepoName,
        sha: &str,
    ) -> Result<Vec<CiRun>, GitHubError> {
        let path = format!(
            "/repos/{repo}/actions/runs?head_sha={}&per_page=30",
            encode(sha)
        );
        let found: RunsWire = self
            .get(
                "actions/list-workflow-runs-for-repo",
                Auth::Installation(inst),
                &path,
            )
            .await?;
        Ok(found.workflow_runs.into_iter().map(Into::into).collect())
    }

    /// Records a deployment: no merging of the default branch and no
    /// required checks, since what runs was decided in the platform
    /// repository.
    pub async fn create_deployment(
        &self,
        inst: u64,
        repo: &RepoName,
        new: &NewDeployment<'_>,
    ) -> Result<(), GitHubError> {
        let body = json!({
            "ref": new.sha,
            "environment": new.environment,
            "description": fit(new.description, DEPLOYMENT_DESCRIPTION_MAX),
            "auto_merge": false,
            "required_contexts": [],
            "production_environment": new.production,
            "payload": {
                "platform_commit": new.platform_commit,
                "application": new.application,
            },
        });
        let path = format!("/repos/{repo}/deployments");
        self.act("repos/create-deployment", inst, Method::POST, &path, &body)
            .await?;
        Ok(())
    }

    /// What the newest status of deployment `id` says; `None` before any.
    pub async fn deployment_report(
        &self,
        inst: u64,
        repo: &RepoName,
        id: u64,
    ) -> Result<Option<DeploymentReport>, GitHubError> {
        let path = format!("/repos/{repo}/deployments/{id}/statuses?per_page=1");
        let newest: Vec<DeploymentStatusWire> = self
            .get(
                "repos/list-deployment-statuses",
                Auth::Installation(inst),
                &path,
            )
            .await?;
        Ok(newest.into_iter().next().map(Into::into))
    }
}
