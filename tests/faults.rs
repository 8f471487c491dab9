//! GitHub misbehaving, call by call: every call paved makes to provision a
//! service and to run a command fails once with each kind of fault; each
//! request still ends ready exactly once. A spent rate limit parks work
//! until the reset instead of hammering.

mod common;

use std::time::{Duration, Instant};

use common::TempDir;
use paved::demo::{CATALOG, PLATFORM, Stage, StageOptions};
use paved_sandbox::{FaultKind, FaultRule};

const LIMIT: Duration = Duration::from_secs(90);

fn options(work: &TempDir) -> StageOptions {
    let mut o = StageOptions::shipped(work.path().to_owned());
    // A stalled call is given up after 2 s (GitHub's clients wait longer).
    o.github_timeout = Duration::from_secs(2);
    o.github_max_wait = Duration::from_secs(1);
    o
}

/// A stage whose paved has run one request: it knows the App, the
/// installation and paved.yaml.
async fn warmed(name: &str) -> (TempDir, Stage) {
    let work = TempDir::new(name);
    let stage = Stage::start(options(&work)).await.unwrap();
    let warm = stage
        .request(&stage.writer, "warm-up", "node-express", "Warm.")
        .await
        .unwrap();
    stage.settled(warm, LIMIT).await.unwrap();
    (work, stage)
}

fn kinds() -> [(&'static str, FaultKind); 5] {
    [
        ("500", FaultKind::ServerError),
        ("502", FaultKind::BadGateway),
        ("timeout", FaultKind::Stall { millis: 3_000 }),
        (
            "403 secondary",
            FaultKind::SecondaryRateLimit { retry_after: 1 },
        ),
        ("429", FaultKind::TooManyRequests { retry_after: 1 }),
    ]
}

/// [`kinds`], and a 429 past the client's inline wait, which comes back to
/// the job runner.
fn kinds_with_long_waits() -> impl Iterator<Item = (&'static str, FaultKind)> {
    let long = FaultKind::TooManyRequests { retry_after: 3 };
    kinds()
        .into_iter()
        .chain([("429 past the inline wait", long)])
}

/// `kind` once at `call`, for paved's calls alone (git calls are not told
/// apart by caller). `None` for a 403 to a git push: a refusal, not a fault,
/// and not retried.
fn once(call: &str, kind_name: &str, kind: FaultKind) -> Option<FaultRule> {
    let rule = FaultRule::next(call, kind, 1);
    match (call.contains(".git/"), kind_name) {
        (true, "403 secondary") => None,
        (true, _) => Some(rule),
        (false, _) => Some(rule.by("installation")),
    }
}

/// The work waited for a rate limit spent at `spent` to reset (4 s), and
/// asked GitHub at most 3 times meanwhile.
fn assert_waited_without_hammering(stage: &Stage, spent: Instant) {
    assert!(
        spent.elapsed() >= Duration::from_secs(3),
        "it waited for the reset"
    );
    let refused = stage
        .sandbox
        .requests()
        .by_installation()
        .filter(|r| r.status == 403)
        .count();
    assert!(
        refused <= 3,
        "{refused} calls while the limit was spent: paved must not hammer"
    );
}

/// Each of `calls` fails once in each way, one request at a time, on a
/// stage of its own (`name`): every request ends ready with one status
/// comment, and one repository each.
async fn provisioning_matrix(name: &str, calls: &[&str]) {
    let (_work, stage) = warmed(name).await;
    let mut made = 1;
    for call in calls {
        for (kind_name, kind) in kinds() {
            let Some(rule) = once(call, kind_name, kind) else {
                continue;
            };
            made += 1;
            let name = format!("f{made:02}");
            stage.sandbox.inject(rule);
            let n = stage
                .request(&stage.writer, &name, "node-express", "Flaky.")
                .await
                .unwrap();
            let labels = stage.settled(n, LIMIT).await.unwrap();
            assert!(
                labels.contains(&"paved:deploying".to_owned()),
                "{kind_name} at {call}: {labels:?}"
            );
            let status = stage
                .sandbox
                .comments(CATALOG, n)
                .into_iter()
                .filter(|c| c.body.starts_with("<!-- paved:status"))
                .count();
            assert_eq!(status, 1, "{kind_name} at {call}: status comments");
            let unused = stage.sandbox.pending_faults();
            assert!(
                unused.is_empty(),
                "{kind_name} at {call} never came: {unused:?}"
            );
            stage.sandbox.clear_faults();
        }
    }
    let created = stage.sandbox.requests().created("repos/create-in-org");
    assert_eq!(created, made, "one repository per request");
    let recorded = stage.sandbox.requests().created("repos/create-deployment");
    assert_eq!(recorded, made, "one deployment per request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_provisioning_call_failing_once_in_each_way_still_ends_ready_once() {
    // Three stages at once: the matrices wait on GitHub's retry pauses
    // far more than they compute.
    futures_util::future::join_all([
        provisioning_matrix(
            "faults-provision-request",
            &["issues/get", "issues/update", "issues/create-comment"],
        ),
        provisioning_matrix(
            "faults-provision-repository",
            &[
                "repos/create-in-org",
                // The first push of a request is its scaffold's.
                "POST /acme/{service}.git/git-receive-pack",
                "POST /acme/platform.git/git-receive-pack",
            ],
        ),
        provisioning_matrix("faults-provision-deployment", &["repos/create-deployment"]),
    ])
    .await;
}

/// Each of `calls` fails once in each way while a reader asks for the
/// status, on a stage of its own: on the request (`on_request`) or on an
/// issue of the service's own repository, where paved first checks the
/// repository is its own. Each is answered exactly once.
async fn command_matrix(name: &str, on_request: bool) {
    let work = TempDir::new(name);
    let stage = Stage::start(options(&work)).await.unwrap();
    let n = stage
        .request(&stage.writer, "orders", "node-express", "Orders.")
        .await
        .unwrap();
    stage.settled(n, LIMIT).await.unwrap();
    let (repo, number) = if on_request {
        (CATALOG, n)
    } else {
        let issue = stage
            .writer
            .open_issue("acme/orders", "How is it?", "", &[])
            .await
            .unwrap();
        ("acme/orders", issue)
    };
    let calls = [
        "reactions/create-for-issue-comment",
        "repos/get-collaborator-permission-level",
        "repos/get-content",
        "issues/create-comment",
    ];
    for call in calls {
        for (kind_name, kind) in kinds_with_long_waits() {
            let before = stage.sandbox.comments(repo, number).len();
            let context = format!("{kind_name} at {call} on {repo}#{number}");
            // paved's calls alone: the reader's comment goes through.
            let rule = once(call, kind_name, kind).expect("REST calls all");
            stage.sandbox.inject(rule);
            let answer = common::ask_in(&stage, &stage.reader, repo, number, "/paved status").await;
            assert!(answer.contains("[dev]("), "{context}: {answer}");
            common::quiescent(&stage).await;
            let answers = stage
                .sandbox
                .comments(repo, number)
                .into_iter()
                .skip(before)
                .filter(|c| c.user == "paved[bot]")
                .count();
            assert_eq!(answers, 1, "{context}");
            let unused = stage.sandbox.pending_faults();
            assert!(unused.is_empty(), "{context}: never came: {unused:?}");
            stage.sandbox.clear_faults();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_command_call_failing_once_in_each_way_still_answers_once() {
    futures_util::future::join_all([
        command_matrix("faults-commands-request", true),
        command_matrix("faults-commands-service", false),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_spent_rate_limit_parks_the_request_until_the_reset() {
    let (_work, stage) = warmed("faults-ratelimit").await;
    let n = stage
        .request(&stage.writer, "patient", "node-express", "Waits.")
        .await
        .unwrap();
    stage.sandbox.exhaust_rate_limit(Duration::from_secs(4));
    let exhausted_at = Instant::now();
    let labels = stage.settled(n, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    assert_waited_without_hammering(&stage, exhausted_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_limit_running_low_is_kept_for_reporting_and_work_resumes_after_the_reset() {
    let (_work, stage) = warmed("faults-reserve").await;
    // Fewer calls left than paved keeps in reserve, for 6 s.
    let left = paved_app::github::RATE_LIMIT_RESERVE as u32 - 10;
    stage.sandbox.drain_rate_limit(left, Duration::from_secs(6));
    let n = stage
        .request(&stage.writer, "frugal", "node-express", "Waits its turn.")
        .await
        .unwrap();
    let deadline = Instant::now() + LIMIT;
    let waiting = loop {
        let status = stage.sandbox.comments(CATALOG, n).into_iter().next();
        if let Some(c) = status.filter(|c| c.body.contains("waiting for GitHub's rate limit")) {
            break c.body;
        }
        assert!(Instant::now() < deadline, "the status never said it waits");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        waiting.contains("UTC; paved carries on by itself"),
        "{waiting}"
    );
    let labels = stage.settled(n, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");

    // A command while the limit is low again waits for the reset, then runs once.
    stage.sandbox.drain_rate_limit(left, Duration::from_secs(4));
    stage
        .writer
        .comment(CATALOG, n, "/paved scale dev 2")
        .await
        .unwrap();
    let deadline = Instant::now() + LIMIT;
    let answers = loop {
        let answers: Vec<String> = stage
            .sandbox
            .comments(CATALOG, n)
            .into_iter()
            .filter(|c| c.user == "paved[bot]" && c.body.contains("asked:"))
            .map(|c| c.body)
            .collect();
        if !answers.is_empty() {
            break answers;
        }
        assert!(Instant::now() < deadline, "the command was never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stage.settled_jobs().await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(answers[0].contains("✅"), "{answers:?}");
    assert_eq!(
        stage
            .sandbox
            .requests()
            .count("reactions/create-for-issue-comment"),
        1
    );

    let requests = stage.sandbox.requests();
    let refused = requests
        .by_installation()
        .filter(|r| r.status == 403)
        .count();
    assert_eq!(refused, 0, "paved never ran into the limit itself");
    assert_eq!(
        requests.count("repos/create-in-org"),
        2,
        "one repository each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_platform_push_failing_past_gits_retries_is_tried_again_not_failed() {
    let (_work, stage) = warmed("faults-platform-push").await;
    // git tries each push TRANSIENT_ATTEMPTS times: one write fails whole,
    // and the next run's write fails once more before it lands.
    let failures = paved_app::git::TRANSIENT_ATTEMPTS + 1;
    stage.sandbox.inject(FaultRule::next(
        "POST /acme/platform.git/git-receive-pack",
        FaultKind::ServerError,
        failures,
    ));
    let n = stage
        .request(&stage.writer, "steady", "node-express", "Keeps going.")
        .await
        .unwrap();
    let labels = stage.settled(n, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    stage.settled_jobs().await;
    let requests = stage.sandbox.requests();
    let pushes = requests
        .0
        .iter()
        .filter(|r| r.path == "/acme/platform.git/git-receive-pack")
        .count();
    assert!(pushes > failures as usize, "{pushes} pushes");
    let status: Vec<_> = stage
        .sandbox
        .comments(CATALOG, n)
        .into_iter()
        .filter(|c| c.body.starts_with("<!-- paved:status"))
        .collect();
    assert_eq!(status.len(), 1);
    assert!(
        status[0].body.contains("**Committed.**"),
        "{}",
        status[0].body
    );
    assert_eq!(
        requests.created("repos/create-in-org"),
        2,
        "one repository each for the warm-up and this request"
    );
}

/// A writer pushes a change to `repo`'s main and CI passes on it; the commit.
async fn ci_passes(stage: &Stage, repo: &str) -> String {
    let sha = stage
        .writer
        .push_files(repo, "main", &[("CHANGES.md", b"v2\n")], "v2")
        .await
        .unwrap();
    stage
        .sandbox
        .complete_workflow_run(repo, "main", "ci", "success")
        .await
        .unwrap();
    sha
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ci_run_while_the_rate_limit_is_spent_is_deployed_after_the_reset() {
    let (_work, stage) = warmed("faults-deploy-ratelimit").await;
    stage.sandbox.exhaust_rate_limit(Duration::from_secs(4));
    let exhausted_at = Instant::now();
    let sha = ci_passes(&stage, "acme/warm-up").await;
    common::wait_for_application(&stage, "warm-up", "dev", |a| {
        a.as_ref().is_some_and(|a| a.tag == sha)
    })
    .await;
    assert_waited_without_hammering(&stage, exhausted_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deployment_paved_cannot_make_is_reported_on_the_commit_ci_built() {
    let (_work, stage) = warmed("faults-deploy-broken").await;
    let path = "apps/warm-up/dev.yaml";
    let good = stage.sandbox.file(PLATFORM, "main", path).await.unwrap();
    let good = String::from_utf8(good).unwrap();
    let tag = common::application(&stage, "warm-up", "dev")
        .await
        .unwrap()
        .tag;
    let broken = good.replace(&format!(":{tag}"), "");
    assert_ne!(broken, good);
    stage
        .admin
        .push_files(PLATFORM, "main", &[(path, broken.as_bytes())], "Hand edit")
        .await
        .unwrap();
    let sha = ci_passes(&stage, "acme/warm-up").await;
    let deadline = Instant::now() + LIMIT;
    let run = loop {
        let runs = stage.sandbox.check_runs("acme/warm-up");
        if let Some(run) = runs.into_iter().find(|r| r.name == "paved/deploy") {
            break run;
        }
        assert!(Instant::now() < deadline, "no paved/deploy check run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(run.head_sha, sha);
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let summary = run.output.summary.unwrap_or_default();
    assert!(
        summary.contains("did not deploy this commit") && summary.contains(path),
        "{summary}"
    );
    common::quiescent(&stage).await;
    let now = stage.sandbox.file(PLATFORM, "main", path).await.unwrap();
    assert_eq!(
        String::from_utf8(now).unwrap(),
        broken,
        "the file is left as it is"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_deployment_call_failing_once_in_each_way_still_deploys_once() {
    let (_work, stage) = warmed("faults-deploy").await;
    let calls = [
        "repos/get-content",
        "repos/list-deployments",
        "POST /acme/platform.git/git-receive-pack",
    ];
    for call in calls {
        for (kind_name, kind) in kinds_with_long_waits() {
            let Some(rule) = once(call, kind_name, kind) else {
                continue;
            };
            let context = format!("{kind_name} at {call}");
            let before = platform_commits(&stage);
            stage.sandbox.inject(rule);
            let sha = ci_passes(&stage, "acme/warm-up").await;
            common::wait_for_application(&stage, "warm-up", "dev", |a| {
                a.as_ref().is_some_and(|a| a.tag == sha)
            })
            .await;
            common::quiescent(&stage).await;
            assert_eq!(platform_commits(&stage), before + 1, "{context}");
            stage.sandbox.clear_faults();
        }
    }
    assert!(
        stage.sandbox.check_runs("acme/warm-up").is_empty(),
        "no deployment was given up"
    );
}

fn platform_commits(stage: &Stage) -> usize {
    let repo = git2::Repository::open_bare(stage.sandbox.repo_path(PLATFORM).unwrap()).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push_ref("refs/heads/main").unwrap();
    walk.count()
}
