//! The sandbox's world: accounts, repositories, issues, comments and the rest,
//! as plain domain types. Everything lives behind one mutex in [`super::Shared`];
//! git objects live on disk (see [`super::git`]).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::secret::Secret;

pub type Time = DateTime<Utc>;

/// A repository permission, ordered from weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    None,
    Read,
    Write,
    Admin,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::None => "none",
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    User,
    Organization,
    Bot,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::User => "User",
            AccountKind::Organization => "Organization",
            AccountKind::Bot => "Bot",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: u64,
    pub login: String,
    pub kind: AccountKind,
    /// For users: the permission they get on every repository of these organisations.
    pub org_roles: BTreeMap<String, Permission>,
    /// The first branch of this account's new repositories (GitHub's
    /// "repository default branch" setting).
    pub new_repo_branch: String,
}

impl Account {
    /// This user's role in organisation `org`, if a member.
    pub fn role_in(&self, org: &str) -> Option<Permission> {
        self.org_roles.get(&org.to_ascii_lowercase()).copied()
    }
}

#[derive(Debug, Clone)]
pub struct Label {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueState {
    Open,
    Closed,
}

impl IssueState {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueState::Open => "open",
            IssueState::Closed => "closed",
        }
    }
}

/// What makes an issue a pull request: issues and pulls share the number space.
#[derive(Debug, Clone)]
pub struct Pull {
    pub id: u64,
    /// The fork the head branch lives in; `None` for a branch of the base repository.
    pub head_repo: Option<RepoKey>,
    pub head_ref: String,
    pub base_ref: String,
    /// Recorded when the PR is created and refreshed on reads and pushes.
    pub head_sha: String,
    pub base_sha: String,
    pub merged: Option<Merged>,
}

impl Pull {
    /// Who owns the head branch: the fork's owner, or the base repository's.
    pub fn head_owner<'a>(&'a self, base: &'a RepoKey) -> &'a str {
        &self.head_repo.as_ref().unwrap_or(base).owner
    }
}

#[derive(Debug, Clone)]
pub struct Merged {
    pub sha: String,
    pub at: Time,
    pub by: String,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    pub state: IssueState,
    pub state_reason: Option<String>,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub created_at: Time,
    pub updated_at: Time,
    pub closed_at: Option<Time>,
    pub pull: Option<Pull>,
    /// Pinned to the repository's issue list (GraphQL's `pinIssue`).
    pub pinned: bool,
}

#[derive(Debug, Clone)]
pub struct Reaction {
    pub id: u64,
    pub user: String,
    pub content: String,
    pub created_at: Time,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub repo: RepoKey,
    pub issue: u64,
    pub user: String,
    pub body: String,
    pub created_at: Time,
    pub updated_at: Time,
    pub reactions: Vec<Reaction>,
}

#[derive(Debug, Clone)]
pub struct CheckRun {
    pub id: u64,
    pub repo: RepoKey,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub external_id: Option<String>,
    pub details_url: Option<String>,
    pub started_at: Time,
    pub completed_at: Option<Time>,
    pub output: CheckOutput,
}

/// A simulated GitHub Actions run of one workflow on one commit.
#[derive(Debug, Clone)]
pub struct WorkflowRun {
    pub id: u64,
    pub repo: RepoKey,
    pub workflow_id: u64,
    /// The workflow's `name:`, its file stem without one.
    pub name: String,
    /// `.github/workflows/<file>`.
    pub path: String,
    pub head_branch: String,
    pub head_sha: String,
    pub actor: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    pub conclusion: Option<String>,
    pub created_at: Time,
    pub updated_at: Time,
}

#[derive(Debug, Clone, Default)]
pub struct CheckOutput {
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    pub annotations: Vec<CheckAnnotation>,
}

/// A line-level finding reported with a check run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct CheckAnnotation {
    pub path: String,
    pub start_line: u64,
    pub end_line: u64,
    pub annotation_level: String,
    pub message: String,
}

/// `owner/name` as typed at creation; lookups are case-insensitive like GitHub's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoKey {
    pub owner: String,
    pub name: String,
}

impl RepoKey {
    pub fn new(owner: &str, name: &str) -> Self {
        Self {
            owner: owner.to_string(),
            name: name.to_string(),
        }
    }

    /// Parses `owner/name`.
    pub fn parse(full: &str) -> Option<Self> {
        let (owner, name) = full.split_once('/')?;
        (!owner.is_empty() && !name.is_empty() && !name.contains('/'))
            .then(|| Self::new(owner, name))
    }

    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    fn folded(&self) -> String {
        self.full_name().to_ascii_lowercase()
    }
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub id: u64,
    pub key: RepoKey,
    pub description: Option<String>,
    pub homepage: Option<String>,
    pub private: bool,
    pub archived: bool,
    pub is_template: bool,
    pub topics: Vec<String>,
    pub default_branch: String,
    pub delete_branch_on_merge: bool,
    /// The repository this one is a fork of.
    pub parent: Option<RepoKey>,
    pub created_at: Time,
    pub updated_at: Time,
    pub pushed_at: Time,
    pub issues: BTreeMap<u64, Issue>,
    pub labels: BTreeMap<String, Label>,
    /// Made by the first deployment that names them, keyed by name.
    pub environments: BTreeMap<String, Environment>,
}

/// A deployment environment of a repository.
#[derive(Debug, Clone)]
pub struct Environment {
    pub id: u64,
    pub name: String,
    pub created_at: Time,
    pub updated_at: Time,
}

/// A request to deploy a ref, and what deployers reported of it.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: u64,
    pub repo: RepoKey,
    pub sha: String,
    pub git_ref: String,
    pub task: String,
    pub payload: serde_json::Value,
    pub environment: String,
    pub original_environment: String,
    pub description: Option<String>,
    /// The login that created it.
    pub creator: String,
    pub created_at: Time,
    pub updated_at: Time,
    pub transient_environment: bool,
    pub production_environment: bool,
    /// Oldest first.
    pub statuses: Vec<DeploymentStatus>,
}

#[derive(Debug, Clone)]
pub struct DeploymentStatus {
    pub id: u64,
    /// `error`, `failure`, `inactive`, `in_progress`, `queued`, `pending` or `success`.
    pub state: String,
    pub description: String,
    pub environment: String,
    pub environment_url: String,
    pub log_url: String,
    pub creator: String,
    pub created_at: Time,
}

impl Deployment {
    /// The state of its newest status, if it has one.
    pub fn state(&self) -> Option<&str> {
        self.statuses.last().map(|s| s.state.as_str())
    }
}

impl Repo {
    pub fn next_number(&self) -> u64 {
        self.issues.keys().next_back().map_or(1, |n| n + 1)
    }
}

#[derive(Debug, Clone)]
pub struct Installation {
    pub id: u64,
    pub account: String,
    pub created_at: Time,
}

/// The installation of a GitHub App other than the hosted one (Argo CD's,
/// which a control plays) on one account. The sandbox mints its tokens
/// itself, since it holds no key of it; no webhooks go to it.
#[derive(Debug, Clone)]
pub struct PeerInstallation {
    pub id: u64,
    /// The App's slug: its bot is `<slug>[bot]`.
    pub slug: String,
    pub account: String,
    /// What it may do on the account's repositories.
    pub permission: Permission,
}

impl PeerInstallation {
    pub fn bot_login(&self) -> String {
        format!("{}[bot]", self.slug)
    }
}

/// Who a bearer token or password stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Installation(u64),
    User(String),
}

#[derive(Debug, Clone)]
pub struct Token {
    pub grant: Grant,
    pub expires_at: Option<Time>,
}

/// The single GitHub App this sandbox hosts.
#[derive(Debug, Clone)]
pub struct App {
    pub id: u64,
    pub slug: String,
    pub name: String,
    pub client_id: String,
    pub owner: String,
    pub private_key_pem: Secret,
    pub webhook_secret: Secret,
    pub created_at: Time,
}

impl App {
    pub fn bot_login(&self) -> String {
        format!("{}[bot]", self.slug)
    }
}

/// Deliberately not `Debug`: it holds every token.
pub struct World {
    next_id: u64,
    pub app: App,
    accounts: BTreeMap<String, Account>,
    repos: BTreeMap<String, Repo>,
    pub installations: BTreeMap<u64, Installation>,
    /// Other Apps' installations, by id (ids are shared with the hosted App's).
    pub peers: BTreeMap<u64, PeerInstallation>,
    pub tokens: HashMap<String, Token>,
    pub comments: BTreeMap<u64, Comment>,
    pub check_runs: BTreeMap<u64, CheckRun>,
    pub deployments: BTreeMap<u64, Deployment>,
    pub workflow_runs: BTreeMap<u64, WorkflowRun>,
    /// Collaborator grants, keyed by folded login and folded `owner/name`.
    grants: HashMap<(String, String), Permission>,
    /// Manifest conversion codes and when they expire.
    pub manifest_codes: HashMap<String, Time>,
    /// Team members, keyed by folded `org/team-slug`; folded logins.
    pub teams: HashMap<String, std::collections::BTreeSet<String>>,
}

impl World {
    pub fn new(app_id: u64, app: impl FnOnce(u64) -> App) -> Self {
        let app = app(app_id);
        let mut world = Self {
            next_id: app_id + 1,
            app,
            accounts: BTreeMap::new(),
            repos: BTreeMap::new(),
            installations: BTreeMap::new(),
            peers: BTreeMap::new(),
            tokens: HashMap::new(),
            comments: BTreeMap::new(),
            check_runs: BTreeMap::new(),
            deployments: BTreeMap::new(),
            workflow_runs: BTreeMap::new(),
            grants: HashMap::new(),
            manifest_codes: HashMap::new(),
            teams: HashMap::new(),
        };
        let bot = world.app.bot_login();
        world.add_account(&bot, AccountKind::Bot);
        world
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn add_account(&mut self, login: &str, kind: AccountKind) -> &Account {
        let id = self.next_id();
        self.accounts
            .entry(login.to_ascii_lowercase())
            .or_insert_with(|| Account {
                id,
                login: login.to_string(),
                kind,
                org_roles: BTreeMap::new(),
                new_repo_branch: "main".into(),
            })
    }

    pub fn account(&self, login: &str) -> Option<&Account> {
        self.accounts.get(&login.to_ascii_lowercase())
    }

    pub fn account_mut(&mut self, login: &str) -> Option<&mut Account> {
        self.accounts.get_mut(&login.to_ascii_lowercase())
    }

    /// The address GitHub puts on commits made through the web or API.
    pub fn noreply_email(&self, login: &str) -> String {
        let id = self.account(login).map_or(0, |a| a.id);
        format!("{id}+{login}@users.noreply.github.com")
    }

    pub fn repo(&self, key: &RepoKey) -> Option<&Repo> {
        self.repos.get(&key.folded())
    }

    pub fn repo_mut(&mut self, key: &RepoKey) -> Option<&mut Repo> {
        self.repos.get_mut(&key.folded())
    }

    /// Installation `id`'s hourly rate limit, grown with its account's
    /// repositories and members as GitHub grows it; `base` for anyone else.
    pub fn rate_limit(&self, caller: &crate::auth::Caller, base: u32) -> u32 {
        let crate::auth::Caller::Installation(id) = caller else {
            return base;
        };
        let Some(account) = self.installations.get(id).map(|i| i.account.to_lowercase()) else {
            return base;
        };
        let repos = self
            .repos
            .values()
            .filter(|r| r.key.owner.eq_ignore_ascii_case(&account))
            .count();
        let members = self
            .accounts
            .values()
            .filter(|a| {
                a.org_roles
                    .keys()
                    .any(|org| org.eq_ignore_ascii_case(&account))
            })
            .count();
        crate::ratelimit::installation_limit(base, repos, members)
    }

    pub fn repos(&self) -> impl Iterator<Item = &Repo> {
        self.repos.values()
    }

    pub fn insert_repo(&mut self, repo: Repo) {
        self.repos.insert(repo.key.folded(), repo);
    }

    pub fn grant(&mut self, login: &str, key: &RepoKey, permission: Permission) {
        self.grants
            .insert((login.to_ascii_lowercase(), key.folded()), permission);
    }

    /// The installation on the account that owns `owner`'s repositories, if any.
    pub fn installation_for(&self, owner: &str) -> Option<&Installation> {
        self.installations
            .values()
            .find(|i| i.account.eq_ignore_ascii_case(owner))
    }

    /// The installation of the App `slug` on `account`, made on first use
    /// with `permission`; its id.
    pub fn peer_installation(&mut self, slug: &str, account: &str, permission: Permission) -> u64 {
        if let Some(found) = self
            .peers
            .values()
            .find(|p| p.slug == slug && p.account.eq_ignore_ascii_case(account))
        {
            return found.id;
        }
        let id = self.next_id();
        let peer = PeerInstallation {
            id,
            slug: slug.to_owned(),
            account: account.to_owned(),
            permission,
        };
        let bot = peer.bot_login();
        if self.account(&bot).is_none() {
            self.add_account(&bot, AccountKind::Bot);
        }
        self.peers.insert(id, peer);
        id
    }

    /// What `login` may do on `repo`: explicit grants aside, owners are admins,
    /// organisation roles apply to every repository of the organisation and the
    /// App's bot may do everything where it is installed.
    pub fn permission(&self, login: &str, repo: &Repo) -> Permission {
        if login.eq_ignore_ascii_case(&self.app.bot_login()) {
            return if self.installation_for(&repo.key.owner).is_some() {
                Permission::Admin
            } else {
                Permission::None
            };
        }
        if login.eq_ignore_ascii_case(&repo.key.owner) {
            return Permission::Admin;
        }
        let from_org = self
            .account(login)
            .and_then(|a| a.role_in(&repo.key.owner))
            .unwrap_or(Permission::None);
        let explicit = self
            .grants
            .get(&(login.to_ascii_lowercase(), repo.key.folded()))
            .copied()
            .unwrap_or(Permission::None);
        let public = if repo.private {
            Permission::None
        } else {
            Permission::Read
        };
        from_org.max(explicit).max(public)
    }
}
