//! `paved demo`, and the stage end-to-end tests play on: a sandbox seeded
//! with an organisation, its catalog and platform repositories, the App and
//! three users, with paved running against it in the same process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use paved_app::config::{
    Config, DEFAULT_BODY_TIMEOUT, DEFAULT_QUEUE_CAPACITY, DEFAULT_SHUTDOWN_GRACE, DEFAULT_WORKERS,
};
use paved_app::github::{AppKey, PaceLimits, RepoName};
use paved_app::scaffold::TemplateSource;
use paved_app::server::{Paved, StartError};
use paved_sandbox::{Actor, Sandbox, SandboxConfig, SandboxError};

pub const ORG: &str = "acme";
pub const CATALOG: &str = "acme/catalog";
pub const PLATFORM: &str = "acme/platform";
/// Who paved's comments are by: the sandbox App's bot.
pub const BOT: &str = "paved[bot]";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("sandbox: {0}")]
    Sandbox(#[from] SandboxError),
    #[error("starting paved: {0}")]
    Start(#[from] StartError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Failed(String),
}

/// How to set the stage.
#[derive(Debug, Clone)]
pub struct StageOptions {
    /// Keep the bare repositories under `DIR/<owner>/<repo>.git`.
    pub dir: Option<PathBuf>,
    /// The catalog repository's initial files (the project's `catalog/`).
    /// The catalog repository's initial files; `None`: the sample catalog
    /// built into paved.
    pub catalog_dir: Option<PathBuf>,
    pub templates: TemplateSource,
    /// paved's local git caches.
    pub work_dir: PathBuf,
    pub resync: Duration,
    pub github_timeout: Duration,
    pub github_max_wait: Duration,
    /// Keep the fleet dashboard. Off by default on a stage: its rebuilds
    /// read every service, and most stories count or fault paved's calls;
    /// the demo and the dashboard's own stories turn it on.
    pub dashboard: bool,
    /// GitHub's secondary limits: enforced by the sandbox and kept to by
    /// paved. On by default; off, both behave as a GitHub Enterprise
    /// Server without them.
    pub secondary_limits: bool,
    /// How many times faster the clock of those limits runs, for the
    /// sandbox and paved alike: a benchmark sees hours of GitHub's pace in
    /// minutes. 1 on every stage but that benchmark's.
    pub hastened: u32,
}

impl StageOptions {
    /// The catalog and templates of this source tree's folders, a fresh work
    /// dir: what the tests play with.
    pub fn shipped(work_dir: PathBuf) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let templates = TemplateSource::Folder(root.join("templates"));
        Self::new(work_dir, templates, Some(root.join("catalog")))
    }

    /// `templates` and the catalog in `catalog_dir` (the sample one when
    /// `None`), a fresh work dir.
    pub fn new(work_dir: PathBuf, templates: TemplateSource, catalog_dir: Option<PathBuf>) -> Self {
        Self {
            dir: None,
            catalog_dir,
            templates,
            work_dir,
            resync: Duration::from_secs(3600),
            github_timeout: paved_app::config::DEFAULT_GITHUB_TIMEOUT,
            github_max_wait: paved_app::config::DEFAULT_GITHUB_MAX_WAIT,
            dashboard: false,
            secondary_limits: true,
            hastened: 1,
        }
    }
}

/// Set when a task on a runtime worker thread panics while a stage runs:
/// tokio catches such a panic, and without this a test would only see a
/// long timeout.
static BACKGROUND_PANIC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records panics of background tasks (on tokio's threads, `tokio-rt-worker`
/// and the like, not the test's own) for [`background_panicked`]; installed once.
fn watch_background_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_tokio = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("tokio-"));
            if on_tokio {
                BACKGROUND_PANIC.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// Whether a background task has panicked since a stage started; the
/// stage's waits fail at once when it has.
pub fn background_panicked() -> bool {
    BACKGROUND_PANIC.load(std::sync::atomic::Ordering::SeqCst)
}

/// Fails at once when a background task panicked.
fn assert_no_background_panic() {
    assert!(
        !background_panicked(),
        "a background task panicked (its message is above)"
    );
}

/// The sandbox, paved, and the three users.
pub struct Stage {
    pub sandbox: Sandbox,
    pub paved: Option<Paved>,
    pub admin: Actor,
    pub writer: Actor,
    pub reader: Actor,
    /// A GitHub user who is not a member of the organisation.
    pub outsider: Actor,
    pub options: StageOptions,
    addr: SocketAddr,
}

impl Stage {
    /// Seeds a sandbox and starts paved against it.
    pub async fn start(options: StageOptions) -> Result<Self, DemoError> {
        let mut stage = Self::seeded(options).await?;
        stage.start_paved().await?;
        Ok(stage)
    }

    /// Seeds a sandbox whose webhooks then go to [`Stage::webhook_addr`],
    /// where nothing listens yet: start paved in process, or as a process of
    /// its own. Seeding itself sends none, as the App is set up after it.
    pub async fn seeded(options: StageOptions) -> Result<Self, DemoError> {
        watch_background_panics();
        // paved's address is known before paved exists: take a free port.
        let addr = free_addr()?;
        let sandbox = Sandbox::start(SandboxConfig {
            dir: options.dir.clone(),
            webhook_url: None,
            secondary: options
                .secondary_limits
                .then(|| paved_sandbox::SecondaryLimits::GITHUB.hastened(options.hastened)),
            ..SandboxConfig::default()
        })
        .await?;
        sandbox.create_org(ORG);
        sandbox.install_app(ORG);
        let [admin, writer, reader, outsider] = crate::standalone::seed_users(&sandbox, ORG);
        let catalog = options.catalog_dir.as_deref();
        crate::standalone::seed_repositories(&sandbox, ORG, catalog, admin.login()).await?;
        sandbox.set_webhook_url(Some(format!("http://{addr}/webhook")));
        Ok(Self {
            sandbox,
            paved: None,
            admin,
            writer,
            reader,
            outsider,
            options,
            addr,
        })
    }

    /// Where the sandbox delivers webhooks (`/webhook` on this address).
    pub fn webhook_addr(&self) -> SocketAddr {
        self.addr
    }

    /// paved's settings for this sandbox.
    pub fn config(&self) -> Config {
        let app = self.sandbox.app();
        Config {
            app_id: app.id,
            private_key: AppKey::from_pem(app.private_key_pem.expose())
                .expect("the sandbox makes valid keys"),
            webhook_secrets: vec![paved_app::secret::Secret::new(app.webhook_secret.expose())],
            github_api_url: self.sandbox.url(),
            catalog_repo: CATALOG.parse::<RepoName>().expect("valid"),
            platform_repo: PLATFORM.parse::<RepoName>().expect("valid"),
            listen: self.addr,
            webhook_path: "/webhook".into(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            resync: self.options.resync,
            github_timeout: self.options.github_timeout,
            github_max_wait: self.options.github_max_wait,
            workers: DEFAULT_WORKERS,
            pace: self
                .options
                .secondary_limits
                .then(|| PaceLimits::GITHUB.hastened(self.options.hastened)),
            work_dir: self.options.work_dir.clone(),
            templates: self.options.templates.clone(),
            body_timeout: DEFAULT_BODY_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            dashboard: self.options.dashboard,
        }
    }

    /// The environment of a `paved serve` of this stage, listening on
    /// `listen` with its caches in `work_dir`: `KEY=value` lines, as
    /// `--env-file` reads them.
    pub fn serve_env(&self, listen: SocketAddr, work_dir: &Path) -> String {
        let config = self.config();
        let app = self.sandbox.app();
        let mut env = format!(
            "APP_ID={}\nPRIVATE_KEY={}\nWEBHOOK_SECRET={}\nGITHUB_API_URL={}\nPAVED_CATALOG_REPO={CATALOG}\n\
             PAVED_PLATFORM_REPO={PLATFORM}\nPAVED_LISTEN={listen}\nPAVED_WORK_DIR={}\n",
            app.id,
            app.private_key_pem.expose().replace('\n', "\\n"),
            app.webhook_secret.expose(),
            config.github_api_url,
            work_dir.display(),
        );
        if let TemplateSource::Folder(dir) = &config.templates {
            env.push_str(&format!("PAVED_TEMPLATES={}\n", dir.display()));
        }
        env
    }

    /// Starts paved (again, after [`Stage::stop_paved`]). The port was free
    /// when the stage took it, but another test may have taken it since: then
    /// paved listens on another, and the sandbox's webhooks follow it.
    pub async fn start_paved(&mut self) -> Result<(), DemoError> {
        for _ in 0..3 {
            match paved_app::server::start(self.config()).await {
                Err(StartError::Listen { source, .. })
                    if source.kind() == std::io::ErrorKind::AddrInUse =>
                {
                    self.addr = free_addr()?;
                    let url = format!("http://{}/webhook", self.addr);
                    self.sandbox.set_webhook_url(Some(url));
                }
                started => {
                    self.paved = Some(started?);
                    return Ok(());
                }
            }
        }
        self.paved = Some(paved_app::server::start(self.config()).await?);
        Ok(())
    }

    /// Stops paved at once, dropping running jobs as a crash would.
    pub async fn stop_paved(&mut self) {
        if let Some(p) = self.paved.take() {
            p.halt().await;
        }
    }

    /// Opens a request through the issue form, as `actor`; its issue number.
    pub async fn request(
        &self,
        actor: &Actor,
        name: &str,
        template: &str,
        description: &str,
    ) -> Result<u64, DemoError> {
        self.request_with_resources(actor, name, template, description, "")
            .await
    }

    /// [`Stage::request`] with the form's Resources field filled in (one
    /// resource a line).
    pub async fn request_with_resources(
        &self,
        actor: &Actor,
        name: &str,
        template: &str,
        description: &str,
        resources: &str,
    ) -> Result<u64, DemoError> {
        let body =
            form_body_with_resources(name, template, description, "@acme/payments", "", resources);
        actor
            .open_issue(
                CATALOG,
                &format!("New service: {name}"),
                &body,
                &["paved:request"],
            )
            .await
            .map_err(|e| DemoError::Failed(format!("opening the request: {}", e.message)))
    }

    /// Comments `body` as `actor` on `repo#number` and waits (bounded) for
    /// paved's answer; the answer, and whether paved reacted 👀 to the comment.
    pub async fn ask(
        &self,
        actor: &Actor,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<(String, bool), DemoError> {
        let before = self.sandbox.comments(repo, number).len();
        actor
            .comment(repo, number, body)
            .await
            .map_err(|e| DemoError::Failed(format!("commenting {body:?}: {}", e.message)))?;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert_no_background_panic();
            let comments = self.sandbox.comments(repo, number);
            // A long command shows its progress first, on the comment its
            // answer then replaces.
            let answered = |c: &&paved_sandbox::Comment| {
                c.user == BOT && !c.body.starts_with("<!-- paved:progress")
            };
            if let Some(answer) = comments.iter().skip(before + 1).find(answered) {
                let reacted = comments[before]
                    .reactions
                    .iter()
                    .any(|r| r.content == "eyes" && r.user == BOT);
                return Ok((answer.body.clone(), reacted));
            }
            if Instant::now() > deadline {
                return Err(DemoError::Failed(format!("no answer to {body:?}")));
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// Waits (at most a minute) until nothing moves: webhooks delivered,
    /// paved idle, and the sandbox's request log unchanged across two looks.
    /// Whether it got there.
    pub async fn quiesce(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = usize::MAX;
        loop {
            if !self.sandbox.settle(Duration::from_secs(30)).await {
                return false;
            }
            self.settled_jobs().await;
            let now = self.sandbox.requests().len();
            let idle = self.paved.as_ref().is_none_or(|p| p.jobs.idle());
            if now == last && idle {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (bounded) until paved has no job running or waiting.
    pub async fn settled_jobs(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        assert_no_background_panic();
        while self.paved.as_ref().is_some_and(|p| !p.jobs.idle()) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert_no_background_panic();
        }
    }

    /// The REST calls paved has made so far, by the sandbox's log (git over
    /// HTTP not counted).
    pub fn rest_calls(&self) -> usize {
        self.sandbox
            .requests()
            .by_installation()
            .filter(|r| !r.is_git())
            .count()
    }

    /// Runs one resync pass now, as the periodic one does.
    pub async fn resync(&self) {
        if let Some(p) = &self.paved {
            paved_app::reconcile::resync(&p.jobs).await;
        }
    }

    /// Waits until paved is done with request `number`: committed (deploying
    /// or ready), failed or invalid; the labels it ended with. Bounded by
    /// `limit`.
    pub async fn settled(&self, number: u64, limit: Duration) -> Result<Vec<String>, DemoError> {
        let deadline = Instant::now() + limit;
        loop {
            assert_no_background_panic();
            if let Some(issue) = self.sandbox.issue(CATALOG, number) {
                let done = issue.labels.iter().any(|l| {
                    matches!(
                        l.as_str(),
                        "paved:deploying" | "paved:ready" | "paved:failed" | "paved:invalid"
                    )
                });
                let idle = self.paved.as_ref().is_none_or(|p| p.jobs.idle());
                if done && idle {
                    return Ok(issue.labels);
                }
            }
            if Instant::now() > deadline {
                return Err(DemoError::Failed(format!(
                    "request #{number} did not settle within {limit:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A loopback address with a port free at this moment.
fn free_addr() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// An issue body as GitHub renders a submitted new-service form.
pub fn form_body(
    name: &str,
    template: &str,
    description: &str,
    owner: &str,
    extras: &str,
) -> String {
    form_body_with_resources(name, template, description, owner, extras, "")
}

/// [`form_body`] with the Resources field filled in (one resource a line).
pub fn form_body_with_resources(
    name: &str,
    template: &str,
    description: &str,
    owner: &str,
    extras: &str,
    resources: &str,
) -> String {
    let or_none = |s: &str| {
        if s.is_empty() {
            "_No response_".to_owned()
        } else {
            s.to_owned()
        }
    };
    let (extras, resources) = (or_none(extras), or_none(resources));
    format!(
        "### Service name\n\n{name}\n\n### Template\n\n{template}\n\n### Description\n\n{description}\n\n\
         ### Owning team\n\n{owner}\n\n### Extra parameters\n\n{extras}\n\n### Resources\n\n{resources}\n\n\
         ### Before you submit\n\n- [X] The name is not taken by another service or repository.\n"
    )
}

/// `paved demo`: a request opened as a developer, carried to ready, and
/// what paved did, printed. Errors name the step that failed.
pub async fn run(
    dir: Option<PathBuf>,
    templates: TemplateSource,
    catalog_dir: Option<PathBuf>,
) -> Result<(), DemoError> {
    let dir = dir.unwrap_or_else(|| std::env::temp_dir().join("paved-demo"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let options = StageOptions {
        dir: Some(dir.join("github")),
        dashboard: true,
        ..StageOptions::new(dir.join("paved-work"), templates, catalog_dir)
    };
    let started = Instant::now();
    let stage = Stage::start(options).await?;
    let paved_addr = stage.paved.as_ref().map(|p| p.addr);
    println!(
        "sandbox (a local GitHub) at {}; paved at http://{}",
        stage.sandbox.url(),
        paved_addr.expect("started")
    );
    println!(
        "set up in {:.1} s: organisation {ORG}, {CATALOG}, {PLATFORM}, users admin/writer/reader\n",
        started.elapsed().as_secs_f64()
    );

    let (name, template) = ("billing-api", "python-fastapi");
    let opened = Instant::now();
    let number = stage
        .request(
            &stage.writer,
            name,
            template,
            "Bills customers once a month.",
        )
        .await?;
    println!(
        "writer opened {CATALOG}#{number} \"New service: {name}\" ({template}) through the issue form"
    );
    let labels = stage.settled(number, Duration::from_secs(120)).await?;
    let took = opened.elapsed();
    let comment = stage
        .sandbox
        .comments(CATALOG, number)
        .into_iter()
        .find(|c| c.body.starts_with(paved_app::status::MARKER));
    let comment = comment.map(|c| c.body).unwrap_or_default();
    if !labels.iter().any(|l| l == "paved:deploying") {
        return Err(DemoError::Failed(format!(
            "the request ended as {labels:?}:\n{comment}"
        )));
    }
    let rest = stage.rest_calls();
    let requests = stage.sandbox.requests();
    let git = requests.by_installation().filter(|r| r.is_git()).count();
    println!(
        "committed in {:.2} s: {rest} REST calls and {git} git requests by paved\n",
        took.as_secs_f64()
    );
    println!("── status comment on {CATALOG}#{number} ──\n{comment}");
    let repo = format!("{ORG}/{name}");
    let files = list_files(&stage.sandbox, &repo)?;
    println!("── {repo}, branch main ({} files) ──", files.len());
    for f in &files {
        println!("  {f}");
    }
    let app_path = paved_app::platform::path(name, "dev");
    let app = stage
        .sandbox
        .file(PLATFORM, "main", &app_path)
        .await
        .unwrap_or_default();
    println!(
        "\n── {PLATFORM}: {app_path} ──\n{}",
        String::from_utf8_lossy(&app)
    );
    go_live(&stage, number, &repo).await?;
    day_two(&stage, number, &repo).await?;
    history(&stage, &repo).await?;
    fleet(&stage).await?;
    let bare = stage.sandbox.dir().display().to_string();
    println!("\nthe repositories are bare git repositories under {bare}/<owner>/<repo>.git, e.g.");
    println!("  git clone {bare}/{repo}.git && git -C {name} log --stat");
    // paved takes its own last webhooks before it stops, so none is sent
    // to a paved that is gone.
    stage.quiesce().await;
    let mut stage = stage;
    stage.stop_paved().await;
    Ok(())
}

/// The rest of a service's life: a promotion, a deployment by CI and a
/// rollback, each with its answer and what it changed in the platform repository.
async fn day_two(stage: &Stage, number: u64, repo: &str) -> Result<(), DemoError> {
    println!("── day 2 ──");
    let (answer, _) = stage
        .ask(&stage.writer, CATALOG, number, "/paved promote staging")
        .await?;
    println!("writer: /paved promote staging\n  {}", result_line(&answer));
    println!("{}", last_change(&stage.sandbox)?);

    // A database, as a Crossplane resource beside the Application.
    let (answer, _) = stage
        .ask(
            &stage.writer,
            CATALOG,
            number,
            "/paved add postgres billing-db",
        )
        .await?;
    println!(
        "writer: /paved add postgres billing-db\n  {}",
        result_line(&answer)
    );
    let service = &repo[ORG.len() + 1..];
    let claim_path = format!("apps/{service}/dev/resources/billing-db.yaml");
    let claim = stage
        .sandbox
        .file(PLATFORM, "main", &claim_path)
        .await
        .ok_or_else(|| DemoError::Failed(format!("{claim_path} was not committed")))?;
    println!(
        "── {PLATFORM}: {claim_path} ──\n{}",
        String::from_utf8_lossy(&claim)
    );

    let commit = stage
        .writer
        .push_files(
            repo,
            "main",
            &[("CHANGES.md", b"- Bills in euros.\n")],
            "Bill in euros",
        )
        .await?;
    stage
        .sandbox
        .complete_workflow_run(repo, "main", "ci", "success")
        .await
        .map_err(|e| DemoError::Failed(format!("completing CI: {}", e.message)))?;
    let path = paved_app::platform::path(&repo[ORG.len() + 1..], "dev");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = stage.sandbox.file(PLATFORM, "main", &path).await;
        if now.is_some_and(|f| String::from_utf8_lossy(&f).contains(&commit)) {
            break;
        }
        if Instant::now() > deadline {
            return Err(DemoError::Failed(format!(
                "CI's image never reached {path}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    println!(
        "writer pushed {} to {repo}; CI passed, so paved deployed it to dev",
        &commit[..7]
    );
    println!("{}", last_change(&stage.sandbox)?);

    let (answer, _) = stage
        .ask(&stage.writer, CATALOG, number, "/paved rollback dev")
        .await?;
    println!("writer: /paved rollback dev\n  {}", result_line(&answer));
    println!("{}", last_change(&stage.sandbox)?);
    for env in ["dev", "staging"] {
        argo_cd_healthy(stage, repo, env).await?;
    }
    println!("Argo CD synced dev and staging, and reported both Healthy");
    stage.quiesce().await;
    let (answer, _) = stage
        .ask(&stage.writer, CATALOG, number, "/paved status")
        .await?;
    println!("writer: /paved status");
    for row in answer.lines().filter(|l| l.starts_with("| [")) {
        println!("  {row}");
    }
    Ok(())
}

/// From committed to live: the scaffold's CI run starts and passes, then
/// Argo CD (the sandbox's `argo-cd` App, with the REST calls its GitHub
/// notification service makes) reports dev Healthy; the status comment's
/// card and the labels follow each step.
async fn go_live(stage: &Stage, number: u64, repo: &str) -> Result<(), DemoError> {
    println!("── from committed to live ──");
    let failed = |what: &str, e: paved_sandbox::ApiError| {
        DemoError::Failed(format!("{what}: {}", e.message))
    };
    let sha = stage
        .sandbox
        .branch_sha(repo, "main")
        .await
        .unwrap_or_default();
    stage
        .sandbox
        .start_workflow_run(repo, "main", "ci")
        .await
        .map_err(|e| failed("starting CI", e))?;
    stage
        .sandbox
        .complete_workflow_run(repo, "main", "ci", "success")
        .await
        .map_err(|e| failed("completing CI", e))?;
    let card = card_once(stage, number, "CI passed").await?;
    println!(
        "CI (played by the sandbox) ran on `{}` and passed\n  {card}",
        short(&sha)
    );

    argo_cd_healthy(stage, repo, "dev").await?;
    let card = card_once(stage, number, "**Live**").await?;
    let labels = stage
        .sandbox
        .issue(CATALOG, number)
        .map(|i| i.labels.join(", "))
        .unwrap_or_default();
    println!(
        "Argo CD (the sandbox's argo-cd App) synced dev and reported it Healthy\n  {card}\n  labels: {labels}\n"
    );
    Ok(())
}

/// Argo CD (the sandbox's `argo-cd` App) reports `repo`'s Application in
/// `env` synced and Healthy, through the REST calls its GitHub
/// notification service makes.
pub async fn argo_cd_healthy(stage: &Stage, repo: &str, env: &str) -> Result<(), DemoError> {
    let app = application(stage, repo, env).await?;
    let healthy = paved_sandbox::Notification {
        repo: repo.to_owned(),
        revision: app.tag.clone(),
        environment: app.environment.clone(),
        health: paved_sandbox::Health::Healthy,
        environment_url: app.url.clone(),
        log_url: format!("https://argocd.example.com/applications/{}", app.name()),
        message: format!("{} is synced and Healthy", app.name()),
    };
    stage
        .sandbox
        .argo_cd_notifies(&healthy)
        .await
        .map_err(|e| DemoError::Failed(format!("reporting {env} Healthy: {}", e.message)))?;
    Ok(())
}

/// The deployments GitHub holds for `repo`, newest first, as its
/// Environments panel shows them: environment, commit, newest status.
async fn history(stage: &Stage, repo: &str) -> Result<(), DemoError> {
    let failed =
        |e: paved_sandbox::ApiError| DemoError::Failed(format!("deployments: {}", e.message));
    stage.quiesce().await;
    let list = stage
        .admin
        .call(
            reqwest::Method::GET,
            &format!("/repos/{repo}/deployments"),
            None,
        )
        .await
        .map_err(failed)?;
    println!("\n── deployments of {repo} (its Environments panel) ──");
    for d in list.as_array().into_iter().flatten() {
        let statuses = stage
            .admin
            .call(
                reqwest::Method::GET,
                &format!("/repos/{repo}/deployments/{}/statuses", d["id"]),
                None,
            )
            .await
            .map_err(failed)?;
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        println!(
            "  {:<8} `{}`  {:<12} {}",
            text(&d["environment"]),
            short(&text(&d["sha"])),
            text(&statuses[0]["state"]),
            text(&statuses[0]["environment_url"]),
        );
    }
    Ok(())
}

/// The fleet dashboard paved keeps in the catalog: its number and body.
async fn fleet(stage: &Stage) -> Result<(), DemoError> {
    stage.quiesce().await;
    let dashboard = stage
        .sandbox
        .issues(CATALOG)
        .into_iter()
        .find(|i| i.user == BOT && i.title == "Services")
        .ok_or_else(|| DemoError::Failed("paved kept no fleet dashboard".into()))?;
    let pinned = if dashboard.pinned { ", pinned" } else { "" };
    println!(
        "\n── fleet dashboard: {CATALOG}#{} \"{}\"{pinned} ──",
        dashboard.number, dashboard.title
    );
    for line in dashboard.body.unwrap_or_default().lines().skip(1) {
        println!("  {line}");
    }
    Ok(())
}

/// `service`'s Application in `env` on the platform repository's main.
async fn application(
    stage: &Stage,
    repo: &str,
    env: &str,
) -> Result<paved_app::platform::AppSpec, DemoError> {
    let path = paved_app::platform::path(&repo[ORG.len() + 1..], env);
    let file = stage.sandbox.file(PLATFORM, "main", &path).await;
    file.and_then(|f| paved_app::platform::AppSpec::from_yaml(&String::from_utf8_lossy(&f)).ok())
        .ok_or_else(|| DemoError::Failed(format!("{path} cannot be read")))
}

/// Waits (bounded) until the live card on request `number` says `text`; its
/// headline.
async fn card_once(stage: &Stage, number: u64, text: &str) -> Result<String, DemoError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let card = stage
            .sandbox
            .comments(CATALOG, number)
            .into_iter()
            .find(|c| c.body.starts_with(paved_app::status::MARKER))
            .and_then(|c| {
                c.body
                    .split_once("#### What runs\n\n")
                    .map(|(_, live)| live.to_owned())
            });
        if let Some(card) = card.filter(|c| c.contains(text)) {
            return Ok(card.lines().next().unwrap_or_default().to_owned());
        }
        if Instant::now() > deadline {
            return Err(DemoError::Failed(format!("the card never said {text:?}")));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// The first seven characters of a commit.
fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// The line of an answer that says what happened.
fn result_line(answer: &str) -> &str {
    answer
        .lines()
        .find(|l| l.starts_with('✅') || l.starts_with('❌'))
        .unwrap_or(answer)
}

/// The platform repository's newest commit: its subject and changed lines.
fn last_change(sandbox: &Sandbox) -> Result<String, DemoError> {
    let failed = |e: git2::Error| DemoError::Failed(e.to_string());
    let path = sandbox
        .repo_path(PLATFORM)
        .ok_or_else(|| DemoError::Failed(format!("{PLATFORM} is missing")))?;
    let git = git2::Repository::open_bare(path).map_err(failed)?;
    let head = git
        .revparse_single("refs/heads/main")
        .and_then(|o| o.peel_to_commit())
        .map_err(failed)?;
    let parent = head.parent(0).and_then(|p| p.tree()).ok();
    let diff = git
        .diff_tree_to_tree(parent.as_ref(), Some(&head.tree().map_err(failed)?), None)
        .map_err(failed)?;
    let mut out = format!(
        "  {PLATFORM} {}: {}",
        &head.id().to_string()[..7],
        head.summary().ok().flatten().unwrap_or("")
    );
    // A changed file shows its changed lines; a new Application, the lines
    // day 2 changes (its image and replica count).
    diff.print(git2::DiffFormat::Patch, |delta, _, line| {
        let text = String::from_utf8_lossy(line.content());
        let added = delta.status() == git2::Delta::Added;
        let shown = matches!(line.origin(), '+' | '-')
            && (!added || text.contains("- ghcr.io/") || text.contains("count:"));
        if shown {
            let file = delta.new_file().path().map(|p| p.display().to_string());
            let what = if added { " (new)" } else { "" };
            out.push_str(&format!(
                "\n    {}{what} {}{}",
                file.unwrap_or_default(),
                line.origin(),
                text.trim_end()
            ));
        }
        true
    })
    .map_err(failed)?;
    Ok(out)
}

/// The files on `main` of a sandbox repository.
fn list_files(sandbox: &Sandbox, repo: &str) -> Result<Vec<String>, DemoError> {
    let path = sandbox
        .repo_path(repo)
        .ok_or_else(|| DemoError::Failed(format!("{repo} was not created")))?;
    let git = git2::Repository::open_bare(path).map_err(|e| DemoError::Failed(e.to_string()))?;
    let tree = git
        .revparse_single("refs/heads/main")
        .and_then(|o| o.peel_to_tree())
        .map_err(|e| DemoError::Failed(format!("{repo} has no main: {e}")))?;
    let mut out = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() == Some(git2::ObjectType::Blob) {
            out.push(format!("{dir}{}", entry.name().unwrap_or("?")));
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(|e| DemoError::Failed(e.to_string()))?;
    Ok(out)
}
