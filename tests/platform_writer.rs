//! The platform writer against the sandbox: what goes wrong on the way to
//! the platform repository comes back as the step error the job runner
//! decides on, a rate limit as a rate limit with its reset, a push that
//! keeps failing as transient, and nothing is written twice.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::TempDir;
use paved::demo::{PLATFORM, Stage, StageOptions};
use paved_app::clock::SystemClock;
use paved_app::error::StepError;
use paved_app::git::{Author, FileChange};
use paved_app::github::{GitHub, GitHubOptions, PaceLimits, RepoName, RetryPolicy};
use paved_app::metrics::Metrics;
use paved_app::platform::{PlatformWriter, WriteMode, WriterConfig};
use paved_sandbox::{FaultKind, FaultRule};

/// A client of its own, with no token cached yet, that waits at most 1 s
/// for a rate limit inline.
fn client(stage: &Stage) -> GitHub {
    let config = stage.config();
    GitHub::new(GitHubOptions {
        api_url: config.github_api_url,
        app_id: config.app_id,
        key: config.private_key,
        retry: RetryPolicy {
            max_wait: Duration::from_secs(1),
            base_delay: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        timeout: Duration::from_secs(5),
        clock: Arc::new(SystemClock),
        metrics: Arc::new(Metrics::new()),
        // Beside paved's own client, on the same installation.
        pace: Some(PaceLimits::GITHUB.shared_by(2)),
    })
    .unwrap()
}

async fn writer(stage: &Stage, work: &TempDir) -> PlatformWriter {
    let lookup = client(stage);
    let platform: RepoName = PLATFORM.parse().unwrap();
    let installation = lookup.repo_installation(&platform).await.unwrap();
    let repo = lookup
        .get_repo(installation, &platform)
        .await
        .unwrap()
        .unwrap();
    PlatformWriter::spawn(WriterConfig {
        github: client(stage),
        branch: repo.default_branch,
        clone_url: repo.clone_url,
        installation,
        author: Author {
            name: "paved-test".into(),
            email: "paved-test@example.com".into(),
        },
        cache_dir: work.path().join("platform.git"),
        metrics: Arc::new(Metrics::new()),
    })
}

fn change(path: &str) -> Vec<FileChange> {
    vec![FileChange {
        path: path.into(),
        contents: Some(b"kind: ConfigMap\n".to_vec()),
        executable: false,
    }]
}

fn main_head(stage: &Stage) -> git2::Oid {
    let repo = git2::Repository::open_bare(stage.sandbox.repo_path(PLATFORM).unwrap()).unwrap();
    repo.refname_to_id("refs/heads/main").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_inside_the_writer_comes_back_as_a_rate_limit_with_its_reset() {
    let work = TempDir::new("writer-ratelimit");
    let stage = Stage::seeded(StageOptions::shipped(work.path().join("paved")))
        .await
        .unwrap();
    let writer = writer(&stage, &work).await;
    let before = main_head(&stage);
    stage.sandbox.inject(FaultRule::next(
        "apps/create-installation-access-token",
        FaultKind::TooManyRequests { retry_after: 30 },
        1,
    ));
    let asked = SystemTime::now();
    let error = writer
        .write(change("apps/a/dev.yaml"), WriteMode::Replace, "A".into())
        .await
        .unwrap_err();
    let StepError::RateLimited { until, .. } = error else {
        panic!("not a rate limit: {error:?}");
    };
    let wait = until.duration_since(asked).unwrap();
    assert!(
        (Duration::from_secs(28)..=Duration::from_secs(32)).contains(&wait),
        "resets in {wait:?}"
    );
    assert_eq!(main_head(&stage), before, "nothing was pushed");

    // Once the limit lets it, the same write lands, once.
    let written = writer
        .write(change("apps/a/dev.yaml"), WriteMode::Replace, "A".into())
        .await
        .unwrap();
    assert!(written.changed);
    assert_eq!(main_head(&stage).to_string(), written.commit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_that_keeps_failing_is_transient_and_a_later_write_lands_once() {
    let work = TempDir::new("writer-transient");
    let stage = Stage::seeded(StageOptions::shipped(work.path().join("paved")))
        .await
        .unwrap();
    let writer = writer(&stage, &work).await;
    let before = main_head(&stage);
    // More failures than git's own attempts.
    let attempts = paved_app::git::TRANSIENT_ATTEMPTS;
    stage.sandbox.inject(FaultRule::next(
        "POST /acme/platform.git/git-receive-pack",
        FaultKind::BadGateway,
        attempts,
    ));
    let error = writer
        .write(change("apps/b/dev.yaml"), WriteMode::Replace, "B".into())
        .await
        .unwrap_err();
    assert!(matches!(error, StepError::Transient(_)), "{error:?}");
    assert_eq!(main_head(&stage), before, "nothing was pushed");
    let written = writer
        .write(change("apps/b/dev.yaml"), WriteMode::Replace, "B".into())
        .await
        .unwrap();
    let repo = git2::Repository::open_bare(stage.sandbox.repo_path(PLATFORM).unwrap()).unwrap();
    let head = repo.find_commit(main_head(&stage)).unwrap();
    assert_eq!(head.id().to_string(), written.commit);
    assert_eq!(
        head.parent_id(0).unwrap(),
        before,
        "one commit, on top of main"
    );
}
