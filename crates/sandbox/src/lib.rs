//! The sandbox: a local GitHub that behaves like the real one for everything
//! a GitHub App such as paved uses, for anyone testing one. `paved demo` and
//! paved's end-to-end tests run on it; it knows nothing of paved.
//!
//! - **REST** on loopback, same paths, status codes, headers and JSON shapes
//!   as GitHub (checked against GitHub's OpenAPI description in the tests):
//!   App auth (`/app`, installations, `POST .../access_tokens`,
//!   `/repos/{o}/{r}/installation`, `/orgs/{org}/installation`,
//!   `/installation/repositories`, `/app-manifests/{code}/conversions`, and
//!   the browser's `POST /settings/apps/new` manifest form, which redirects to
//!   the manifest's `redirect_url` with a code and the `state`),
//!   repositories (create in an org or for the user, get, patch incl.
//!   archive/`is_template`/`delete_branch_on_merge`, topics, generate from a
//!   template, forks, contents get/put, collaborator permission,
//!   `/orgs/{org}/repos`),
//!   issues (create, get, update, list with `state`/`labels`/`creator` and
//!   `Link` pagination), comments, labels (add, set, remove), reactions on
//!   comments, pull requests (create, also from a fork as `owner:branch`,
//!   whose head the base repository holds as `refs/pull/N/head`; get, list,
//!   files, merge, check merged),
//!   check runs (create, get, update), deployments (create from a branch, tag
//!   or SHA with `auto_merge` merging the default branch into a branch that
//!   is behind and `required_contexts` checked against the commit's check
//!   runs; list with `sha`/`ref`/`task`/`environment`; get), deployment
//!   statuses (create, with `auto_inactive` retiring the environment's older
//!   non-production successes; list) and environments (made by the first
//!   deployment that names one; list). Every answer carries `x-ratelimit-*`.
//! - **GraphQL** at `POST /graphql`, for the one mutation GitHub offers only
//!   there: `pinIssue` by the issue's node id (writers only, three pinned
//!   issues a repository, firing `issues.pinned`); any other query is
//!   answered with `errors`, as GitHub answers one it cannot run.
//! - **Git** at `{url}/{owner}/{repo}.git` over smart HTTP (git's own
//!   `upload-pack` and `receive-pack` behind it), basic auth with
//!   `x-access-token:<installation token>` or `<login>:<personal token>`.
//!   Pushes fire `push` (and `pull_request.synchronize`, in the
//!   parent repository for a fork's branch), and queue a simulated GitHub
//!   Actions run of each workflow the pushed commit holds whose `on: push`
//!   takes the branch (`branches`/`branches-ignore` patterns;
//!   `workflow_run.requested`; `GET .../actions/runs` lists them).
//! - **Webhooks** signed with the App's secret, delivered in order by one
//!   background task, recorded and redeliverable (same GUID); `deployment`
//!   and `deployment_status` (`created`) among them.
//! - **Control** under `/_sandbox/` (no auth, not logged): `GET|DELETE
//!   requests`, `GET deliveries`, `POST deliveries/{id}/redeliver`,
//!   `GET|POST|DELETE faults` (a [`FaultRule`] as JSON, e.g.
//!   `{"endpoint": "issues/create", "kind": "secondary_rate_limit",
//!   "retry_after": 30, "count": 2}`), `POST rate-limit/exhaust
//!   {"seconds": N}`, `DELETE rate-limit`, `POST repos/{o}/{r}/workflow-runs
//!   {"branch", "workflow", "status"?, "conclusion"?}` (moves the run its
//!   push queued to `in_progress`, or completes it),
//!   `POST app-manifests` (a manifest code), `POST argocd/notifications`
//!   (a [`Notification`] as JSON: Argo CD reports `Healthy`, `Degraded` or
//!   `SyncFailed` on a revision in an environment, as the `argo-cd` App,
//!   through the REST calls Argo CD's GitHub service makes).
//!
//! - **Secondary limits** as GitHub documents them, per installation:
//!   100 requests at once, 900 points a minute per endpoint (a read 1, a
//!   write 5), 80 content-creating requests (`POST`s) a minute and 500 an
//!   hour; past one, 403 with `retry-after`. On by default
//!   ([`SandboxConfig::secondary`]); users are not limited.
//!
//! Limits, on purpose: one App receives webhooks and authenticates with a
//! key (others, like `argo-cd`, only get installation tokens minted); installations cover all repositories of an
//! account; `required_contexts` reads check runs (the sandbox has no commit
//! statuses); environments have no protection rules; a fork copies its parent's branches once, when it is made; the
//! `rebase` merge method writes one squashed commit; a
//! stall fault answers 504 after sleeping and does not perform the request.
//!
//! ```no_run
//! # async fn story() -> Result<(), Box<dyn std::error::Error>> {
//! use paved_sandbox::{Permission, Sandbox, SandboxConfig};
//! let sb = Sandbox::start(SandboxConfig::default()).await?;
//! sb.create_org("acme");
//! let installation = sb.install_app("acme");
//! sb.create_repo("acme", "catalog").await?;
//! let alice = sb.create_user("alice");
//! sb.set_org_role("alice", "acme", Permission::Write);
//! let number = alice.open_issue("acme/catalog", "New service", "body", &["paved:request"]).await?;
//! assert_eq!(sb.requests().count("issues/create"), 1);
//! # let _ = (installation, number); Ok(()) }
//! ```

mod actor;
mod argocd;
mod auth;
mod ci;
mod error;
mod events;
mod faults;
mod git;
mod git_http;
mod hooks;
mod ids;
mod ratelimit;
mod render;
mod requests;
mod rest;
mod secondary;
pub mod secret;
mod state;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;

pub use actor::Actor;
pub use argocd::{ARGO_CD_APP, Health, Notification};
pub use error::{ApiError, SandboxError};
pub use faults::{Endpoint, FaultKind, FaultRule};
pub use hooks::Delivery;
pub use requests::{RequestRecord, Requests};
pub use secondary::SecondaryLimits;
pub use state::{CheckAnnotation, CheckRun, Comment, Issue, IssueState, Permission, RepoKey};

use auth::AppKey;
use faults::Faults;
use git::{GitStore, Signature};
use hooks::Hooks;
use ratelimit::RateLimits;
use requests::RequestLog;
use secondary::Secondary;
use state::{AccountKind, App, Grant, Installation, Repo, World};

use crate::secret::Secret;

/// How to start a sandbox. `Default` gives a throw-away sandbox on a free
/// loopback port that sends no webhooks.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub listen: SocketAddr,
    /// Where bare repositories live (`DIR/<owner>/<repo>.git`); a temporary
    /// directory, removed when the sandbox is dropped, when `None`.
    pub dir: Option<PathBuf>,
    /// Where webhooks are POSTed; `None` records deliveries as failed.
    pub webhook_url: Option<String>,
    /// Lifetime of installation tokens (GitHub: one hour).
    pub token_lifetime: Duration,
    /// Requests per hour per user or anonymous caller, and per
    /// installation before its organisation's growth (50 more for each
    /// repository and each member beyond 20, up to 12,500, as on GitHub).
    pub rate_limit: u32,
    /// GitHub's secondary limits, enforced per installation; `None` turns
    /// them off. On by default, at GitHub's documented figures.
    pub secondary: Option<SecondaryLimits>,
    pub app_slug: String,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir: None,
            webhook_url: None,
            token_lifetime: Duration::from_secs(3600),
            rate_limit: 5000,
            secondary: Some(SecondaryLimits::GITHUB),
            app_slug: "paved".into(),
        }
    }
}

/// What a GitHub App under test needs to act as the sandbox's App.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub id: u64,
    pub slug: String,
    pub client_id: String,
    pub private_key_pem: Secret,
    pub webhook_secret: Secret,
}

/// State shared by the HTTP handlers and the Rust API.
pub(crate) struct Shared {
    world: Mutex<World>,
    key: AppKey,
    git: GitStore,
    hooks: Arc<Hooks>,
    faults: Faults,
    limits: RateLimits,
    secondary: Secondary,
    log: RequestLog,
    token_lifetime: chrono::Duration,
    base: String,
}

impl Shared {
    fn world(&self) -> MutexGuard<'_, World> {
        // A handler that panicked mid-update leaves the world as it was written so far.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Renders objects of `world` as GitHub's JSON, with URLs under this sandbox.
    fn render<'a>(&'a self, world: &'a World) -> render::Render<'a> {
        render::Render {
            world,
            base: &self.base,
        }
    }

    /// The signature of commits made by `login` through the sandbox.
    fn signature(&self, login: &str) -> Signature {
        Signature {
            name: login.to_string(),
            email: self.world().noreply_email(login),
        }
    }

    fn new_manifest_code(&self) -> String {
        let code = ids::random_hex(20);
        let expires = Utc::now() + chrono::Duration::hours(1);
        self.world().manifest_codes.insert(code.clone(), expires);
        code
    }

    /// Creates a repository's bare git repository, then its record: the
    /// record is what makes it exist, so a creation cut short (its caller
    /// gone mid-request) never leaves a repository that git does not serve.
    async fn create_repo(
        &self,
        key: RepoKey,
        description: Option<String>,
        private: bool,
    ) -> Result<Repo, ApiError> {
        if self.world().repo(&key).is_some() {
            return Err(ApiError::repository_name_taken());
        }
        // Re-initialising a bare repository left by a cut-short creation is harmless.
        self.git.init(&key).await?;
        let repo = {
            let mut world = self.world();
            if world.repo(&key).is_some() {
                return Err(ApiError::repository_name_taken());
            }
            let now = Utc::now();
            let default_branch = world
                .account(&key.owner)
                .map_or_else(|| "main".into(), |a| a.new_repo_branch.clone());
            let repo = Repo {
                id: world.next_id(),
                key: key.clone(),
                description,
                homepage: None,
                private,
                archived: false,
                is_template: false,
                topics: Vec::new(),
                default_branch,
                delete_branch_on_merge: false,
                parent: None,
                created_at: now,
                updated_at: now,
                pushed_at: now,
                issues: Default::default(),
                labels: Default::default(),
                environments: Default::default(),
            };
            world.insert_repo(repo.clone());
            repo
        };
        Ok(repo)
    }
}

/// A running sandbox. Dropping it stops the server and removes a temporary directory.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
    temp_dir: Option<PathBuf>,
}

impl Sandbox {
    pub async fn start(config: SandboxConfig) -> Result<Self, SandboxError> {
        let (root, temp_dir) = match &config.dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let dir =
                    std::env::temp_dir().join(format!("paved-sandbox-{}", ids::random_hex(12)));
                (dir.clone(), Some(dir))
            }
        };
        // Bound first: a start that fails leaves no folder behind.
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SandboxError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr()?;
        tokio::fs::create_dir_all(&root).await?;
        let key = tokio::task::spawn_blocking(AppKey::generate)
            .await
            .map_err(|e| SandboxError::Key(e.to_string()))??;
        let webhook_secret = Secret::new(ids::random_hex(40));
        let world = World::new(1000, |id| App {
            id,
            slug: config.app_slug.clone(),
            name: config.app_slug.clone(),
            client_id: format!("Iv1.{}", ids::random_hex(16)),
            owner: config.app_slug.clone(),
            private_key_pem: key.private_pem.clone(),
            webhook_secret: webhook_secret.clone(),
            created_at: Utc::now(),
        });
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            key,
            git: GitStore::new(root),
            hooks: Hooks::start(config.webhook_url.clone(), webhook_secret),
            faults: Faults::default(),
            limits: RateLimits::new(config.rate_limit),
            secondary: Secondary::new(config.secondary),
            log: RequestLog::default(),
            token_lifetime: chrono::Duration::from_std(config.token_lifetime)
                .map_err(|e| SandboxError::Invalid(format!("token lifetime: {e}")))?,
            base: format!("http://{addr}"),
        });
        // The App's owner is an organisation account of the same name, as on GitHub.
        shared
            .world()
            .add_account(&config.app_slug, AccountKind::Organization);
        let app = rest::router(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "sandbox server stopped");
            }
        });
        tracing::info!(url = %shared.base, "sandbox listening");
        Ok(Self {
            shared,
            addr,
            server,
            temp_dir,
        })
    }

    /// Base URL of the REST API, the web pages and git: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.shared.base.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the bare repositories are.
    pub fn dir(&self) -> &Path {
        self.shared.git.root()
    }

    /// The bare repository of `repo` on disk.
    pub fn repo_path(&self, repo: &str) -> Option<PathBuf> {
        let key = self.repo_key(repo)?;
        Some(self.shared.git.repo_path(&key))
    }

    fn repo_key(&self, repo: &str) -> Option<RepoKey> {
        let key = RepoKey::parse(repo)?;
        self.shared.world().repo(&key).map(|r| r.key.clone())
    }

    pub fn app(&self) -> AppCredentials {
        let world = self.shared.world();
        AppCredentials {
            id: world.app.id,
            slug: world.app.slug.clone(),
            client_id: world.app.client_id.clone(),
            private_key_pem: world.app.private_key_pem.clone(),
            webhook_secret: world.app.webhook_secret.clone(),
        }
    }

    pub fn create_org(&self, login: &str) {
        self.shared
            .world()
            .add_account(login, AccountKind::Organization);
    }

    /// Creates a user with a personal token (`ghp_...`) that does not expire.
    pub fn create_user(&self, login: &str) -> Actor {
        let token = {
            let mut world = self.shared.world();
            world.add_account(login, AccountKind::User);
            auth::issue_token(&mut world, Grant::User(login.to_string()), None).0
        };
        Actor::new(self.shared.clone(), login, token)
    }

    /// An existing user, acting with their personal token.
    pub fn user(&self, login: &str) -> Option<Actor> {
        let world = self.shared.world();
        let account = world.account(login)?;
        let token = world.tokens.iter().find_map(|(token, t)| {
            (t.grant == Grant::User(account.login.clone())).then(|| Secret::new(token.as_str()))
        })?;
        Some(Actor::new(self.shared.clone(), &account.login, token))
    }

    /// Gives `user` `permission` on every repository of `org`.
    pub fn set_org_role(&self, user: &str, org: &str, permission: Permission) {
        if let Some(account) = self.shared.world().account_mut(user) {
            account
                .org_roles
                .insert(org.to_ascii_lowercase(), permission);
        }
    }

    /// Makes `user` a collaborator on `repo` (`owner/name`) with `permission`.
    pub fn grant(&self, user: &str, repo: &str, permission: Permission) {
        if let Some(key) = RepoKey::parse(repo) {
            self.shared.world().grant(user, &key, permission);
        }
    }

    /// Installs the App on `account` (all repositories), fires `installation`
    /// `created` and returns the installation id.
    pub fn install_app(&self, account: &str) -> u64 {
        let mut world = self.shared.world();
        if let Some(existing) = world.installation_for(account) {
            return existing.id;
        }
        let id = world.next_id();
        world.installations.insert(
            id,
            Installation {
                id,
                account: account.to_string(),
                created_at: Utc::now(),
            },
        );
        events::installation_created(&self.shared, &world, id);
        id
    }

    /// An installation token, as `POST /app/installations/{id}/access_tokens` gives.
    pub fn installation_token(&self, installation: u64) -> Secret {
        let lifetime = self.shared.token_lifetime;
        let mut world = self.shared.world();
        auth::issue_token(
            &mut world,
            Grant::Installation(installation),
            Some(lifetime),
        )
        .0
    }

    /// Every installation token issued so far (the ones the App under test was given, too).
    pub fn installation_tokens(&self) -> Vec<Secret> {
        let world = self.shared.world();
        world
            .tokens
            .iter()
            .filter(|(_, t)| matches!(t.grant, Grant::Installation(_)))
            .map(|(token, _)| Secret::new(token.clone()))
            .collect()
    }

    /// New repositories of `org` start on `branch` instead of `main`, as
    /// the organisation's "repository default branch" setting makes them.
    pub fn set_new_repo_branch(&self, org: &str, branch: &str) {
        let mut world = self.shared.world();
        if let Some(account) = world.account_mut(org) {
            account.new_repo_branch = branch.to_owned();
        }
    }

    /// Creates `owner/name`, empty, as a person would on github.com.
    pub async fn create_repo(&self, owner: &str, name: &str) -> Result<RepoKey, SandboxError> {
        let key = RepoKey::new(owner, name);
        self.shared
            .create_repo(key.clone(), None, false)
            .await
            .map_err(|e| SandboxError::Invalid(e.message))?;
        Ok(key)
    }

    /// Commits `files` onto `branch` of `repo` as `author` (a login) and fires
    /// the `push` webhook, as if `author` had pushed it.
    pub async fn push_files(
        &self,
        repo: &str,
        branch: &str,
        files: &[(&str, &[u8])],
        message: &str,
        author: &str,
    ) -> Result<String, SandboxError> {
        actor::push_files(&self.shared, repo, branch, files, message, author).await
    }

    /// The commit `branch` of `repo` points at.
    pub async fn branch_sha(&self, repo: &str, branch: &str) -> Option<String> {
        let key = self.repo_key(repo)?;
        let rev = format!("refs/heads/{branch}");
        self.shared.git.resolve(&key, &rev).await.ok().flatten()
    }

    /// A file's bytes at `rev` (branch, tag or sha).
    pub async fn file(&self, repo: &str, rev: &str, path: &str) -> Option<Vec<u8>> {
        let key = self.repo_key(repo)?;
        match self.shared.git.read_path(&key, rev, path).await.ok()?? {
            git::Entry::File { content, .. } => Some(content),
            git::Entry::Dir(_) => None,
        }
    }

    /// `login` submits an issue form on `repo`: the issue opens with the
    /// form's `labels`, whatever `login` may do there. Its number.
    pub fn submit_issue_form(
        &self,
        repo: &str,
        login: &str,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> Result<u64, SandboxError> {
        let key = self
            .repo_key(repo)
            .ok_or_else(|| SandboxError::Invalid(format!("no repository {repo}")))?;
        rest::issues::submit_form(&self.shared, &key, login, title, body, labels)
            .map_err(|e| SandboxError::Invalid(e.message))
    }

    /// The issue or pull request `number` of `repo`.
    pub fn issue(&self, repo: &str, number: u64) -> Option<Issue> {
        let key = RepoKey::parse(repo)?;
        self.shared.world().repo(&key)?.issues.get(&number).cloned()
    }

    /// Every issue (pull requests included) of `repo`, by number.
    pub fn issues(&self, repo: &str) -> Vec<Issue> {
        let Some(key) = RepoKey::parse(repo) else {
            return Vec::new();
        };
        let world = self.shared.world();
        let found = world
            .repo(&key)
            .map(|r| r.issues.values().cloned().collect());
        found.unwrap_or_default()
    }

    /// Comments on issue `number` of `repo`, oldest first.
    pub fn comments(&self, repo: &str, number: u64) -> Vec<Comment> {
        let Some(key) = self.repo_key(repo) else {
            return Vec::new();
        };
        let world = self.shared.world();
        world
            .comments
            .values()
            .filter(|c| c.repo == key && c.issue == number)
            .cloned()
            .collect()
    }

    /// Makes `user` a member of the team `org/slug`.
    pub fn add_team_member(&self, org: &str, slug: &str, user: &str) {
        let key = format!("{org}/{slug}").to_lowercase();
        self.shared
            .world()
            .teams
            .entry(key)
            .or_default()
            .insert(user.to_lowercase());
    }

    /// Check runs reported on `repo`, oldest first.
    pub fn check_runs(&self, repo: &str) -> Vec<CheckRun> {
        let Some(key) = self.repo_key(repo) else {
            return Vec::new();
        };
        let world = self.shared.world();
        world
            .check_runs
            .values()
            .filter(|c| c.repo == key)
            .cloned()
            .collect()
    }

    pub fn requests(&self) -> Requests {
        self.shared.log.snapshot()
    }

    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.hooks.list()
    }

    /// Sends webhooks to `url` from now on; `None` stops them (events then
    /// make no deliveries, as for an App with no webhook URL).
    pub fn set_webhook_url(&self, url: Option<String>) {
        self.shared.hooks.set_url(url);
    }

    /// Queues delivery `id` again (same GUID); returns the new delivery's id.
    pub fn redeliver(&self, id: u64) -> Option<u64> {
        self.shared.hooks.redeliver(id)
    }

    /// Waits (at most `limit`) until every webhook queued so far was attempted.
    pub async fn settle(&self, limit: Duration) -> bool {
        self.shared.hooks.settle(limit).await
    }

    pub fn inject(&self, rule: FaultRule) {
        self.shared.faults.add(rule);
    }

    /// Injected faults not yet used up: a rule still here never met its call.
    pub fn pending_faults(&self) -> Vec<FaultRule> {
        self.shared.faults.list()
    }

    pub fn clear_faults(&self) {
        self.shared.faults.clear();
        self.shared.limits.reset();
        self.shared.secondary.reset();
    }

    /// Requests refused so far for passing a secondary limit (injected
    /// faults not counted).
    pub fn secondary_limit_answers(&self) -> u64 {
        self.shared.secondary.refused()
    }

    /// Spends every rate-limit budget for `duration`: 403 "API rate limit exceeded".
    pub fn exhaust_rate_limit(&self, duration: Duration) {
        self.shared.limits.exhaust(duration);
    }

    /// Leaves every caller seen so far `leave` calls until `duration` from now.
    pub fn drain_rate_limit(&self, leave: u32, duration: Duration) {
        self.shared.limits.drain(leave, duration);
    }

    /// The CI run of `workflow` on the head of `branch` in `repo` (the one
    /// its push queued) completes: fires `workflow_run` `completed` with
    /// `conclusion` (`success`, `failure`, ...).
    pub async fn complete_workflow_run(
        &self,
        repo: &str,
        branch: &str,
        workflow: &str,
        conclusion: &str,
    ) -> Result<u64, ApiError> {
        ci::advance_run(
            &self.shared,
            repo,
            branch,
            workflow,
            ci::Step::Complete(conclusion),
        )
        .await
    }

    /// Argo CD reports on an Application through GitHub, as its own App
    /// with the REST calls its GitHub notification service makes; the id of
    /// the deployment it reported on.
    pub async fn argo_cd_notifies(&self, notification: &Notification) -> Result<u64, ApiError> {
        argocd::notify(&self.shared, notification).await
    }

    /// The CI run of `workflow` on the head of `branch` in `repo` starts:
    /// fires `workflow_run` `in_progress`.
    pub async fn start_workflow_run(
        &self,
        repo: &str,
        branch: &str,
        workflow: &str,
    ) -> Result<u64, ApiError> {
        ci::advance_run(&self.shared, repo, branch, workflow, ci::Step::Start).await
    }

    /// A code for `POST /app-manifests/{code}/conversions`, valid for an hour.
    pub fn new_manifest_code(&self) -> String {
        self.shared.new_manifest_code()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(dir) = &self.temp_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
