//! Our own event types. GitHub's JSON is read here, into the fields routing
//! uses (which request, which comment, which run), and nothing past
//! `webhook/` sees it: the reconciler reads the world from GitHub itself.
//! Unknown fields are skipped, so GitHub adding fields never breaks intake;
//! unknown actions are "not handled".

use serde::Deserialize;

use crate::github::CiRun;

/// The repository an event happened in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub owner: String,
    pub name: String,
    pub default_branch: String,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// A request issue (or pull request, in comments) as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub labels: Vec<String>,
    /// The author's login.
    pub author: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub body: String,
    /// The author's login.
    pub author: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRun {
    pub id: u64,
    pub head_branch: Option<String>,
    pub head_sha: String,
    /// `success`, `failure`, `cancelled`, ...
    pub conclusion: Option<String>,
    /// The run as a card shows it.
    pub run: CiRun,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// `refs/heads/<branch>`.
    pub git_ref: String,
    /// The commit the ref points at now.
    pub after: String,
    /// Files the pushed commits added or modified, as GitHub lists them
    /// (at most [`MAX_PUSHED_FILES`]).
    pub written: Vec<String>,
}

/// Paths of one push that paved reads; GitHub itself lists at most 20
/// commits and 3,000 files in a push delivery.
pub const MAX_PUSHED_FILES: usize = 3_000;

/// A check suite finished on a commit: CI other than GitHub Actions'
/// workflow runs, or their suite. What it says is read from GitHub again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSuite {
    pub head_sha: String,
}

/// A deployment status someone (Argo CD, as a rule) posted: which image in
/// which environment it is about. What it says is read from GitHub again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentStatus {
    pub sha: String,
    pub environment: String,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Issue {
        action: IssueAction,
        issue: Issue,
    },
    IssueComment {
        action: CommentAction,
        /// The issue or pull request commented on.
        number: u64,
        comment: Comment,
        previous_body: Option<String>,
    },
    PullRequest {
        action: PullRequestAction,
        number: u64,
    },
    /// A push: to the catalog only that it happened matters; to the
    /// platform repository, which files it wrote.
    Push(Push),
    /// A run was requested, started or completed (`conclusion` set).
    WorkflowRun(WorkflowRun),
    /// Only completed suites are handled.
    CheckSuite(CheckSuite),
    DeploymentStatus(DeploymentStatus),
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

impl EventKind {
    /// GitHub's name for the event.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Issue { .. } => "issues",
            Self::IssueComment { .. } => "issue_comment",
            Self::PullRequest { .. } => "pull_request",
            Self::Push(_) => "push",
            Self::WorkflowRun(_) => "workflow_run",
            Self::CheckSuite(_) => "check_suite",
            Self::DeploymentStatus(_) => "deployment_status",
        }
    }
}

/// A handled delivery, in our terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub repo: Option<Repo>,
    /// The login of who acted; empty when GitHub named nobody.
    pub sender: String,
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

/// The events paved knows by name (`ping` included); others are ignored.
/// Installation events reach every App; paved needs nothing from them, since
/// it looks its installation up when it first works.
pub const EVENTS: [&str; 10] = [
    "ping",
    "issues",
    "issue_comment",
    "pull_request",
    "push",
    "workflow_run",
    "check_suite",
    "deployment_status",
    "installation",
    "installation_repositories",
];

/// Parses a verified body for the event named by `X-GitHub-Event`, in one
/// pass over it: events paved does not subscribe to, and ping, are only
/// checked for JSON syntax; the others are decoded with their action, the
/// fields routing reads alone.
pub fn parse(event: &str, body: &[u8]) -> Result<Parsed, ParseError> {
    let label = event_label(event);
    let err = |source| ParseError {
        event: label,
        source,
    };
    let skipped = match label {
        "ping" => Some(Parsed::Ping),
        "installation" | "installation_repositories" => {
            Some(Parsed::Ignored("installation changes need no work"))
        }
        "other" => Some(Parsed::Ignored("event not handled")),
        _ => None,
    };
    if let Some(parsed) = skipped {
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(err)?;
        return Ok(parsed);
    }
    match serde_json::from_slice::<wire::Envelope>(body) {
        Ok(envelope) => match handled(label, envelope.action.as_deref().unwrap_or("")) {
            Some(kind) => envelope.into_parsed(kind).map_err(err),
            None => Ok(Parsed::Ignored("action not handled")),
        },
        // An action paved does not act on is not held to the fields it
        // reads: only its syntax, and the action, count then.
        Err(error) => {
            let only: wire::Action = serde_json::from_slice(body).map_err(err)?;
            match handled(label, only.action.as_deref().unwrap_or("")) {
                Some(_) => Err(err(error)),
                None => Ok(Parsed::Ignored("action not handled")),
            }
        }
    }
}

/// Whether paved acts on `action` of the event labelled `label`.
fn handled(label: &str, action: &str) -> Option<Handled> {
    match label {
        "issues" => IssueAction::from_name(action).map(Handled::Issue),
        "issue_comment" => CommentAction::from_name(action).map(Handled::Comment),
        "pull_request" => PullRequestAction::from_name(action).map(Handled::Pull),
        "push" => Some(Handled::Push),
        "workflow_run" => {
            matches!(action, "requested" | "in_progress" | "completed").then_some(Handled::Run)
        }
        "check_suite" => (action == "completed").then_some(Handled::Suite),
        "deployment_status" => (action == "created").then_some(Handled::DeploymentStatus),
        _ => None,
    }
}

/// An event and action paved acts on, before its payload is decoded.
enum Handled {
    Issue(IssueAction),
    Comment(CommentAction),
    Pull(PullRequestAction),
    Push,
    Run,
    Suite,
    DeploymentStatus,
}

/// GitHub's JSON, only the fields routing reads. Lenient by design: real
/// deliveries do not always match the published schemas.
mod wire {
    use std::borrow::Cow;

    use serde::de::Error as _;

    use super::*;

    /// Only the action, for a delivery whose other fields did not decode.
    #[derive(Deserialize)]
    pub struct Action<'a> {
        #[serde(default, borrow)]
        pub action: Option<Cow<'a, str>>,
    }

    /// Every delivery's shape: what all events carry, and the one object
    /// each event is about.
    #[derive(Deserialize)]
    pub struct Envelope {
        #[serde(default)]
        pub action: Option<String>,
        #[serde(default)]
        repository: Option<Repository>,
        #[serde(default)]
        sender: Option<User>,
        #[serde(default)]
        installation: Option<Id>,
        #[serde(default)]
        issue: Option<IssueBody>,
        #[serde(default)]
        comment: Option<CommentBody>,
        #[serde(default)]
        changes: Option<Changes>,
        #[serde(default)]
        pull_request: Option<Numbered>,
        #[serde(default)]
        workflow_run: Option<RunBody>,
        #[serde(default)]
        check_suite: Option<SuiteBody>,
        #[serde(default)]
        deployment: Option<DeploymentBody>,
        #[serde(default, rename = "ref")]
        git_ref: Option<String>,
        #[serde(default)]
        after: Option<String>,
        #[serde(default)]
        commits: Vec<PushedCommit>,
    }

    /// A pushed commit: the files it wrote.
    #[derive(Deserialize)]
    struct PushedCommit {
        #[serde(default)]
        added: Vec<String>,
        #[serde(default)]
        modified: Vec<String>,
    }

    /// The object an event is about, or a malformed-payload error naming it.
    fn required<T>(field: Option<T>, name: &'static str) -> serde_json::Result<T> {
        field.ok_or_else(|| serde_json::Error::missing_field(name))
    }

    impl Envelope {
        pub(super) fn into_parsed(self, handled: Handled) -> serde_json::Result<Parsed> {
            let kind = match handled {
                Handled::Issue(action) => EventKind::Issue {
                    action,
                    issue: required(self.issue, "issue")?.into(),
                },
                Handled::Comment(action) => {
                    let comment = required(self.comment, "comment")?;
                    if comment.user.is_bot() || self.sender.as_ref().is_some_and(User::is_bot) {
                        return Ok(Parsed::Ignored("comment by a bot"));
                    }
                    EventKind::IssueComment {
                        action,
                        number: required(self.issue, "issue")?.number,
                        comment: comment.into(),
                        previous_body: self.changes.and_then(|c| c.body).map(|b| b.from),
                    }
                }
                Handled::Pull(action) => EventKind::PullRequest {
                    action,
                    number: required(self.pull_request, "pull_request")?.number,
                },
                Handled::Push => EventKind::Push(Push {
                    git_ref: self.git_ref.unwrap_or_default(),
                    after: self.after.unwrap_or_default(),
                    written: self
                        .commits
                        .into_iter()
                        .flat_map(|c| c.added.into_iter().chain(c.modified))
                        .take(MAX_PUSHED_FILES)
                        .collect(),
                }),
                Handled::Run => {
                    EventKind::WorkflowRun(required(self.workflow_run, "workflow_run")?.into())
                }
                Handled::Suite => EventKind::CheckSuite(CheckSuite {
                    head_sha: required(self.check_suite, "check_suite")?.head_sha,
                }),
                Handled::DeploymentStatus => {
                    let d = required(self.deployment, "deployment")?;
                    EventKind::DeploymentStatus(DeploymentStatus {
                        sha: d.sha,
                        environment: d.environment,
                    })
                }
            };
            Ok(Parsed::Event(Box::new(Event {
                kind,
                repo: self.repository.map(Into::into),
                sender: self.sender.map(|s| s.login).unwrap_or_default(),
                installation: self.installation.map(|i| i.id),
            })))
        }
    }

    #[derive(Deserialize)]
    struct User {
        login: String,
        #[serde(default, rename = "type")]
        kind: Option<String>,
    }

    impl User {
        fn is_bot(&self) -> bool {
            self.kind.as_deref() == Some("Bot") || self.login.ends_with("[bot]")
        }
    }

    #[derive(Deserialize)]
    struct Repository {
        name: String,
        owner: User,
        #[serde(default)]
        default_branch: Option<String>,
    }

    impl From<Repository> for Repo {
        fn from(r: Repository) -> Self {
            Repo {
                owner: r.owner.login,
                name: r.name,
                default_branch: r
                    .default_branch
                    .unwrap_or_else(|| crate::github::DEFAULT_BRANCH.into()),
            }
        }
    }

    /// An installation: routing reads only its id.
    #[derive(Deserialize)]
    struct Id {
        id: u64,
    }

    /// A pull request: routing reads only its number.
    #[derive(Deserialize)]
    struct Numbered {
        number: u64,
    }

    #[derive(Deserialize)]
    struct Label {
        name: String,
    }

    #[derive(Deserialize)]
    struct IssueBody {
        number: u64,
        #[serde(default)]
        labels: Vec<Label>,
        user: User,
    }

    impl From<IssueBody> for Issue {
        fn from(i: IssueBody) -> Self {
            Issue {
                number: i.number,
                labels: i.labels.into_iter().map(|l| l.name).collect(),
                author: i.user.login,
            }
        }
    }

    #[derive(Deserialize)]
    struct CommentBody {
        id: u64,
        #[serde(default)]
        body: String,
        user: User,
    }

    impl From<CommentBody> for Comment {
        fn from(c: CommentBody) -> Self {
            Comment {
                id: c.id,
                body: c.body,
                author: c.user.login,
            }
        }
    }

    #[derive(Deserialize)]
    struct Previous {
        from: String,
    }

    #[derive(Deserialize)]
    struct Changes {
        #[serde(default)]
        body: Option<Previous>,
    }

    /// The deployment a status is about; the status itself is read from
    /// GitHub when the work runs, so a late delivery never decides.
    #[derive(Deserialize)]
    struct DeploymentBody {
        sha: String,
        environment: String,
    }

    #[derive(Deserialize)]
    struct SuiteBody {
        head_sha: String,
    }

    #[derive(Deserialize)]
    struct RunBody {
        id: u64,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        head_branch: Option<String>,
        head_sha: String,
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        conclusion: Option<String>,
        #[serde(default)]
        html_url: String,
    }

    impl From<RunBody> for WorkflowRun {
        fn from(r: RunBody) -> Self {
            let name = r.name.unwrap_or_default();
            let (status, conclusion) = (r.status.as_deref(), r.conclusion.as_deref());
            let run = CiRun::new(name, status, conclusion, r.html_url);
            WorkflowRun {
                id: r.id,
                head_branch: r.head_branch,
                head_sha: r.head_sha,
                conclusion: r.conclusion,
                run,
            }
        }
    }
}
