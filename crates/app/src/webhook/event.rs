//! Our own event types. GitHub's JSON is read here, into the few fields paved
//! uses, and nothing past `webhook/` sees it. Unknown fields are skipped, so
//! GitHub adding fields never breaks intake; unknown actions are "not handled".

use serde::Deserialize;
use serde::de::IgnoredAny;

/// Who did something. Bots (paved included) never trigger commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub login: String,
    pub id: u64,
    pub is_bot: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub private: bool,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub open: bool,
    pub author: Actor,
    /// Comments on pull requests arrive as issue comments.
    pub is_pull_request: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub body: String,
    pub author: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub open: bool,
    pub merged: bool,
    pub merge_commit_sha: Option<String>,
    pub head_sha: String,
    pub head_ref: String,
    /// `owner/name` of the head repository; differs from the base for forks,
    /// and is `None` when the fork was deleted.
    pub head_repo: Option<String>,
    pub base_ref: String,
    pub author: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub git_ref: String,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRun {
    pub id: u64,
    pub name: String,
    pub head_branch: Option<String>,
    pub head_sha: String,
    /// `success`, `failure`, `cancelled`, ...
    pub conclusion: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueAction {
    Opened,
    Edited,
    Reopened,
    Labeled,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentAction {
    Created,
    Edited,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullRequestAction {
    Opened,
    Reopened,
    Synchronize,
    Edited,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallationAction {
    Created,
    Deleted,
    Suspend,
    Unsuspend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepositoriesAction {
    Added,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Issue {
        action: IssueAction,
        issue: Issue,
    },
    IssueComment {
        action: CommentAction,
        issue: Issue,
        comment: Comment,
        previous_body: Option<String>,
    },
    PullRequest {
        action: PullRequestAction,
        pull_request: PullRequest,
    },
    Push(Push),
    /// Only completed runs are handled.
    WorkflowRun(WorkflowRun),
    Installation {
        action: InstallationAction,
        account: String,
    },
    InstallationRepositories {
        action: RepositoriesAction,
        added: Vec<String>,
        removed: Vec<String>,
    },
}

impl IssueAction {
    fn from_name(action: &str) -> Option<Self> {
        Some(match action {
            "opened" => Self::Opened,
            "edited" => Self::Edited,
            "reopened" => Self::Reopened,
            "labeled" => Self::Labeled,
            "closed" => Self::Closed,
            _ => return None,
        })
    }
}

impl CommentAction {
    fn from_name(action: &str) -> Option<Self> {
        Some(match action {
            "created" => Self::Created,
            "edited" => Self::Edited,
            _ => return None,
        })
    }
}

impl PullRequestAction {
    fn from_name(action: &str) -> Option<Self> {
        Some(match action {
            "opened" => Self::Opened,
            "reopened" => Self::Reopened,
            "synchronize" => Self::Synchronize,
            "edited" => Self::Edited,
            "closed" => Self::Closed,
            _ => return None,
        })
    }
}

impl InstallationAction {
    fn from_name(action: &str) -> Option<Self> {
        Some(match action {
            "created" => Self::Created,
            "deleted" => Self::Deleted,
            "suspend" => Self::Suspend,
            "unsuspend" => Self::Unsuspend,
            _ => return None,
        })
    }
}

impl RepositoriesAction {
    fn from_name(action: &str) -> Option<Self> {
        Some(match action {
            "added" => Self::Added,
            "removed" => Self::Removed,
            _ => return None,
        })
    }
}

impl EventKind {
    /// GitHub's name for the event.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Issue { .. } => "issues",
            Self::IssueComment { .. } => "issue_comment",
            Self::PullRequest { .. } => "pull_request",
            Self::Push(_) => "push",
            Self::WorkflowRun(_) => "workflow_run",
            Self::Installation { .. } => "installation",
            Self::InstallationRepositories { .. } => "installation_repositories",
        }
    }
}

/// A handled delivery, in our terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// Absent for installation events.
    pub repo: Option<Repo>,
    pub sender: Actor,
    pub installation: Option<u64>,
}

/// What a verified delivery turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Ping,
    Event(Box<Event>),
    /// Well-formed, but nothing paved acts on.
    Ignored(&'static str),
}

#[derive(Debug, thiserror::Error)]
#[error("malformed {event} payload: {source}")]
pub struct ParseError {
    pub event: &'static str,
    #[source]
    pub source: serde_json::Error,
}

/// The events paved subscribes to, as metric-safe static names. Anything else
/// is reported as `other` so strangers cannot grow the label set.
pub fn event_label(name: &str) -> &'static str {
    EVENTS
        .iter()
        .find(|e| **e == name)
        .copied()
        .unwrap_or("other")
}

/// The events paved reads (`ping` included); others are ignored.
pub const EVENTS: [&str; 8] = [
    "ping",
    "issues",
    "issue_comment",
    "pull_request",
    "push",
    "workflow_run",
    "installation",
    "installation_repositories",
];

/// Parses a verified body for the event named by `X-GitHub-Event`. The
/// action is read first, so deliveries paved does not act on are only
/// checked for JSON syntax, never decoded.
pub fn parse(event: &str, body: &[u8]) -> Result<Parsed, ParseError> {
    let label = event_label(event);
    let err = |source| ParseError {
        event: label,
        source,
    };
    let envelope: wire::Envelope = serde_json::from_slice(body).map_err(err)?;
    let action = envelope.action.as_deref().unwrap_or("");
    let result = match label {
        "ping" => return Ok(Parsed::Ping),
        "issues" => when(IssueAction::from_name(action), |a| issues(a, body)),
        "issue_comment" => when(CommentAction::from_name(action), |a| comment(a, body)),
        "pull_request" => when(PullRequestAction::from_name(action), |a| pull(a, body)),
        "push" => push(body),
        "workflow_run" => when((action == "completed").then_some(()), |()| run(body)),
        "installation" => when(InstallationAction::from_name(action), |a| {
            installation(a, body)
        }),
        "installation_repositories" => when(RepositoriesAction::from_name(action), |a| {
            repositories(a, body)
        }),
        _ => return Ok(Parsed::Ignored("event not handled")),
    };
    result.map_err(err)
}

/// Decodes with `decode` when the action is one paved handles.
fn when<A>(
    action: Option<A>,
    decode: impl FnOnce(A) -> serde_json::Result<Parsed>,
) -> serde_json::Result<Parsed> {
    action.map_or(Ok(Parsed::Ignored("action not handled")), decode)
}

fn event(
    kind: EventKind,
    repository: Option<wire::Repository>,
    sender: Option<wire::User>,
    installation: Option<u64>,
) -> Parsed {
    Parsed::Event(Box::new(Event {
        kind,
        repo: repository.map(Into::into),
        sender: sender.map_or_else(unknown_actor, Into::into),
        installation,
    }))
}

fn issues(action: IssueAction, body: &[u8]) -> serde_json::Result<Parsed> {
    let w: wire::IssuesPayload = serde_json::from_slice(body)?;
    let kind = EventKind::Issue {
        action,
        issue: w.issue.into(),
    };
    Ok(event(
        kind,
        w.repository,
        w.sender,
        w.installation.map(|i| i.id),
    ))
}

fn comment(action: CommentAction, body: &[u8]) -> serde_json::Result<Parsed> {
    let w: wire::CommentPayload = serde_json::from_slice(body)?;
    let comment: Comment = w.comment.into();
    if comment.author.is_bot || w.sender.as_ref().is_some_and(wire::User::is_bot) {
        return Ok(Parsed::Ignored("comment by a bot"));
    }
    let previous_body = w.changes.and_then(|c| c.body).map(|b| b.from);
    let kind = EventKind::IssueComment {
        action,
        issue: w.issue.into(),
        comment,
        previous_body,
    };
    Ok(event(
        kind,
        w.repository,
        w.sender,
        w.installation.map(|i| i.id),
    ))
}

fn pull(action: PullRequestAction, body: &[u8]) -> serde_json::Result<Parsed> {
    let w: wire::PullPayload = serde_json::from_slice(body)?;
    let kind = EventKind::PullRequest {
        action,
        pull_request: w.pull_request.into(),
    };
    Ok(event(
        kind,
        w.repository,
        w.sender,
        w.installation.map(|i| i.id),
    ))
}

fn push(body: &[u8]) -> serde_json::Result<Parsed> {
    let w: wire::PushPayload = serde_json::from_slice(body)?;
    let kind = EventKind::Push(Push {
        git_ref: w.git_ref,
        before: w.before,
        after: w.after,
    });
    Ok(event(
        kind,
        w.repository,
        w.sender,
        w.installation.map(|i| i.id),
    ))
}

fn run(body: &[u8]) -> serde_json::Result<Parsed> {
    let w: wire::RunPayload = serde_json::from_slice(body)?;
    let r = w.workflow_run;
    let kind = EventKind::WorkflowRun(WorkflowRun {
        id: r.id,
        name: r.name.unwrap_or_default(),
        head_branch: r.head_branch,
        head_sha: r.head_sha,
        conclusion: r.conclusion,
    });
    Ok(event(
        kind,
        w.repository,
        w.sender,
        w.installation.map(|i| i.id),
    ))
}

fn installation(action: InstallationAction, body: &[u8]) -> serde_json::Result<Parsed> {
    let w: wire::InstallationPayload = serde_json::from_slice(body)?;
    let account = w.installation.account.map(|a| a.login).unwrap_or_default();
    let kind = EventKind::Installation { action, account };
    Ok(event(kind, w.repository, w.sender, Some(w.installation.id)))
}

fn repositories(action: RepositoriesAction, body: &[u8]) -> serde_json::Result<Parsed> {
    let w: wire::RepositoriesPayload = serde_json::from_slice(body)?;
    let names = |v: Vec<wire::RepoName>| v.into_iter().map(|r| r.full_name).collect();
    let kind = EventKind::InstallationRepositories {
        action,
        added: names(w.repositories_added),
        removed: names(w.repositories_removed),
    };
    Ok(event(kind, w.repository, w.sender, Some(w.installation.id)))
}

fn unknown_actor() -> Actor {
    Actor {
        login: String::new(),
        id: 0,
        is_bot: false,
    }
}

/// GitHub's JSON, only the fields we read. Lenient by design: real
/// deliveries do not always match the published schemas.
mod wire {
    use super::*;

    /// Only the action; everything else is skipped without allocating.
    #[derive(Deserialize)]
    pub struct Envelope<'a> {
        #[serde(default, borrow)]
        pub action: Option<std::borrow::Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    pub struct User {
        pub login: String,
        #[serde(default)]
        pub id: u64,
        #[serde(default, rename = "type")]
        pub kind: Option<String>,
    }

    impl User {
        pub fn is_bot(&self) -> bool {
            self.kind.as_deref() == Some("Bot") || self.login.ends_with("[bot]")
        }
    }

    impl From<User> for Actor {
        fn from(u: User) -> Self {
            let is_bot = u.is_bot();
            Actor {
                login: u.login,
                id: u.id,
                is_bot,
            }
        }
    }

    #[derive(Deserialize)]
    pub struct Repository {
        pub name: String,
        pub owner: User,
        #[serde(default)]
        pub default_branch: Option<String>,
        #[serde(default)]
        pub private: bool,
    }

    impl From<Repository> for Repo {
        fn from(r: Repository) -> Self {
            Repo {
                owner: r.owner.login,
                name: r.name,
                default_branch: r.default_branch.unwrap_or_else(|| "main".into()),
                private: r.private,
            }
        }
    }

    #[derive(Deserialize)]
    pub struct InstallationRef {
        pub id: u64,
    }

    #[derive(Deserialize)]
    pub struct Label {
        pub name: String,
    }

    #[derive(Deserialize)]
    pub struct IssueBody {
        pub number: u64,
        #[serde(default)]
        pub title: String,
        #[serde(default)]
        pub body: Option<String>,
        #[serde(default)]
        pub labels: Vec<Label>,
        #[serde(default)]
        pub state: Option<String>,
        pub user: User,
        #[serde(default)]
        pub pull_request: Option<IgnoredAny>,
    }

    impl From<IssueBody> for Issue {
        fn from(i: IssueBody) -> Self {
            Issue {
                number: i.number,
                title: i.title,
                body: i.body.unwrap_or_default(),
                labels: i.labels.into_iter().map(|l| l.name).collect(),
                open: i.state.as_deref() != Some("closed"),
                author: i.user.into(),
                is_pull_request: i.pull_request.is_some(),
            }
        }
    }

    #[derive(Deserialize)]
    pub struct IssuesPayload {
        pub issue: IssueBody,
        #[serde(default)]
        pub repository: Option<Repository>,
        #[serde(default)]
        pub sender: Option<User>,
        #[serde(default)]
        pub installation: Option<InstallationRef>,
    }

    #[derive(Deserialize)]
    pub struct CommentBody {
        pub id: u64,
        #[serde(default)]
        pub body: String,
        pub user: User,
    }

    impl From<CommentBody> for Comment {
        fn from(c: CommentBody) -> Self {
            Comment {
                id: c.id,
                body: c.body,
                author: c.user.into(),
            }
        }
    }

    #[derive(Deserialize)]
    pub struct From_ {
        pub from: String,
    }

    #[derive(Deserialize)]
    pub struct Changes {
        #[serde(default)]
        pub body: Option<From_>,
    }

    #[derive(Deserialize)]
    pub struct CommentPayload {
        pub issue: IssueBody,
        pub comment: CommentBody,
        #[serde(default)]
        pub changes: Option<Changes>,
        #[serde(default)]
        pub repository: Option<Repository>,
        #[serde(default)]
        pub sender: Option<User>,
        #[serde(default)]
        pub installation: Option<InstallationRef>,
    }

    #[derive(Deserialize)]
    pub struct RepoName {
        pub full_name: String,
    }

    #[derive(Deserialize)]
    pub struct Branch {
        #[serde(rename = "ref")]
        pub git_ref: String,
        pub sha: String,
        #[serde(default)]
        pub repo: Option<RepoName>,
    }

    #[derive(Deserialize)]
    pub struct PullBody {
        pub number: u64,
        #[serde(default)]
        pub title: String,
        #[serde(default)]
        pub body: Option<String>,
        #[serde(default)]
        pub state: Option<String>,
        #[serde(default)]
        pub merged: Option<bool>,
        #[serde(default)]
        pub merge_commit_sha: Option<String>,
        pub head: Branch,
        pub base: Branch,
        pub user: User,
    }

    impl From<PullBody> for PullRequest {
        fn from(p: PullBody) -> Self {
            PullRequest {
                number: p.number,
                title: p.title,
                body: p.body.unwrap_or_default(),
                open: p.state.as_deref() != Some("closed"),
                merged: p.merged.unwrap_or(false),
                merge_commit_sha: p.merge_commit_sha,
                head_sha: p.head.sha,
                head_ref: p.head.git_ref,
                head_repo: p.head.repo.map(|r| r.full_name),
                base_ref: p.base.git_ref,
                author: p.user.into(),
            }
        }
    }

    #[derive(Deserialize)]
    pub struct PullPayload {
        pub pull_request: PullBody,
        #[serde(default)]
        pub repository: Option<Repository>,
        #[serde(default)]
        pub sender: Option<User>,
        #[serde(default)]
        pub installation: Option<InstallationRef>,
    }

    #[derive(Deserialize)]
    pub struct PushPayload {
        #[serde(rename = "ref")]
        pub git_ref: String,
        pub before: String,
        pub after: String,
        #[serde(default)]
        pub repository: Option<Repository>,
        #[serde(default)]
        pub sender: Option<User>,
        #[serde(default)]
        pub installation: Option<InstallationRef>,
    }

    #[derive(Deserialize)]
    pub struct RunBody {
        pub id: u64,
        #[serde(default)]
        pub name: Option<String>,
        #[serde(default)]
        pub head_branch: Option<String>,
        pub head_sha: String,
        #[serde(default)]
        pub conclusion: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct RunPayload {
        pub workflow_run: RunBody,
        #[serde(default)]
        pub repository: Option<Repository>,
        #[serde(default)]
        pub sender: Option<User>,
        #[serde(default)]
        pub installation: Option<InstallationRef>,
    }

    #[derive(Deserialize)]
    pub struct InstallationBody {
        pub id: u64,
        #[serde(default)]
        pub account: Option<User>,
    }

    #[derive(Deserialize)]
    pub struct InstallationPayload {
        pub installation: InstallationBody,
        #[serde(default)]
        pub repository: Option<Repository>,
        #[serde(default)]
        pub sender: Option<User>,
    }

    #[derive(Deserialize)]
    pub struct RepositoriesPayload {
        pub installation: InstallationBody,
        #[serde(default)]
        pub repositories_added: Vec<RepoName>,
        #[serde(default)]
        pub repositories_removed: Vec<RepoName>,
        #[serde(default)]
        pub repository: Option<Repository>,
        #[serde(default)]
        pub sender: Option<User>,
    }
}
