//! Provisioning end to end: webhooks over HTTP from the sandbox to paved,
//! real git repositories, the Application in the platform repository, the
//! status back on the issue.

mod common;

use std::time::Duration;

use common::TempDir;
use paved::demo::{CATALOG, PLATFORM, Stage, StageOptions};

const LIMIT: Duration = Duration::from_secs(60);

async fn stage(work: &TempDir) -> Stage {
    Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .expect("stage")
}

fn paved_calls(stage: &Stage) -> Vec<String> {
    stage
        .sandbox
        .requests()
        .by_installation()
        .filter(|r| !r.is_git())
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                r.operation.clone().unwrap_or_else(|| r.path.clone())
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_issue_form_request_becomes_a_deployed_service() {
    let work = TempDir::new("e2e-issue");
    let stage = stage(&work).await;
    let number = stage
        .request(
            &stage.writer,
            "billing-api",
            "python-fastapi",
            "Bills customers.",
        )
        .await
        .unwrap();
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert!(
        labels.contains(&"paved:deploying".to_owned()),
        "{labels:?}\n{:#?}",
        stage.sandbox.comments(CATALOG, number)
    );

    // The repository holds the rendered scaffold and paved's record.
    let sb = &stage.sandbox;
    let main_py = sb
        .file("acme/billing-api", "main", "app/main.py")
        .await
        .expect("scaffold pushed");
    assert!(!main_py.is_empty());
    let answers = String::from_utf8(
        sb.file("acme/billing-api", "main", ".paved/answers.yml")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        answers.contains("template: python-fastapi") && answers.contains("billing-api"),
        "{answers}"
    );
    assert_eq!(
        sb.branch_sha("acme/billing-api", "main").await,
        sb.branch_sha("acme/billing-api", "paved/template").await
    );

    // One platform commit with a valid Application.
    let app = sb
        .file(PLATFORM, "main", "apps/billing-api/dev.yaml")
        .await
        .expect("Application committed");
    let app: serde_json::Value = serde_yaml::from_slice(&app).unwrap();
    let tag = sb.branch_sha("acme/billing-api", "main").await.unwrap();
    assert_eq!(
        app["spec"]["source"]["kustomize"]["images"][0],
        format!("ghcr.io/acme/billing-api:{tag}")
    );
    common::assert_argo_valid(&[app]);

    // One status comment, the right labels, the issue closed.
    let comments = sb.comments(CATALOG, number);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert_eq!(comments[0].user, "paved[bot]");
    assert!(
        comments[0]
            .body
            .contains("**Committed.** billing-api is committed to **dev**"),
        "{}",
        comments[0].body
    );
    let issue = sb.issue(CATALOG, number).unwrap();
    assert_eq!(issue.labels, ["paved:request", "paved:deploying"]);
    assert_eq!(issue.state, paved_sandbox::IssueState::Closed);

    // The REST calls paved made for it, from the sandbox's log.
    let calls = paved_calls(&stage);
    eprintln!("{} REST calls: {calls:#?}", calls.len());
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.contains("repos/create-in-org"))
            .count(),
        1
    );
    // Once per process (until the catalog changes): the platform
    // repository, the resync listings, paved.yaml, the policy folder and
    // each policy in it.
    let policies = std::fs::read_dir(common::workspace().join("catalog/policy"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".rego") && !n.ends_with("_test.rego"))
        .count();
    let mut per_request = calls.clone();
    let reads = std::iter::repeat_n("GET repos/get-content", 2 + policies);
    for once in [
        "GET repos/get",
        "GET issues/list-for-repo",
        "GET pulls/list",
    ]
    .into_iter()
    .chain(reads)
    {
        let at = per_request.iter().position(|c| c == once).expect(once);
        per_request.remove(at);
    }
    // 6 calls of its own: read the issue (GitHub counts no comments on it,
    // so there are none to list), the requester's permission for the
    // policies, create the repository, record the deployment (a repository
    // made in this run has none to look for, and it stays pending until
    // Argo CD reports), post the status comment once the service is
    // committed, label and close the issue (its answer counts one comment
    // more than before: ours, so there is no twin to look for). Not made: a
    // comment before the work is done, topics (the platform repository is
    // the list of services), CI's runs (its webhooks told them while the
    // service was made), the deployment paved has just made, later
    // environments of a service made in this run, a `paved:provisioning`
    // label for a request done in one go. One more may come with timing:
    // paved's start-up resync, racing the new issue, wakes the request
    // once more.
    for (deployment, times) in [
        ("GET repos/list-deployments", 0),
        ("POST repos/create-deployment", 1),
        ("POST repos/create-deployment-status", 0),
        ("GET repos/list-deployment-statuses", 0),
        ("GET actions/list-workflow-runs-for-repo", 0),
        ("GET repos/get-content", 2 + policies),
        ("GET repos/get-collaborator-permission-level", 1),
        ("GET issues/list-comments", 0),
        ("PUT repos/replace-all-topics", 0),
        ("POST issues/create-comment", 1),
        ("PATCH issues/update-comment", 0),
        ("PATCH issues/update", 1),
    ] {
        let made = calls.iter().filter(|c| c.as_str() == deployment).count();
        assert_eq!(made, times, "{deployment}: {calls:#?}");
    }
    let per_request = per_request.len();
    assert!(
        per_request <= 7,
        "{per_request} calls for one request: {calls:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invalid_request_gets_every_problem_and_nothing_is_created() {
    let work = TempDir::new("e2e-invalid");
    let stage = stage(&work).await;
    let number = stage
        .request(&stage.writer, "../Evil", "rails", "{{ name }} <script>")
        .await
        .unwrap();
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:invalid".to_owned()), "{labels:?}");
    let comments = stage.sandbox.comments(CATALOG, number);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(body.contains("not a DNS-1123 label"), "{body}");
    assert!(body.contains("is not a template here"), "{body}");
    assert_eq!(stage.sandbox.requests().count("repos/create-in-org"), 0);

    // Editing the issue re-validates: fixed, it is provisioned.
    let fixed = paved::demo::form_body(
        "fixed-name",
        "node-express",
        "Now fine.",
        "@acme/payments",
        "",
    );
    stage
        .writer
        .update_issue(CATALOG, number, serde_json::json!({ "body": fixed }))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let issue = stage.sandbox.issue(CATALOG, number).unwrap();
        if issue.labels.contains(&"paved:deploying".to_owned()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", issue.labels);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stage.sandbox.comments(CATALOG, number).len(),
        1,
        "the one status comment was edited in place"
    );
}

/// What must exist exactly once for a ready request, among `services` made in all.
async fn assert_once(stage: &Stage, number: u64, name: &str, services: usize) {
    let sb = &stage.sandbox;
    let creates = sb.requests().created("repos/create-in-org");
    assert_eq!(creates, services, "repositories created");
    let status: Vec<_> = sb
        .comments(CATALOG, number)
        .into_iter()
        .filter(|c| c.body.starts_with("<!-- paved:status"))
        .collect();
    assert_eq!(status.len(), 1, "status comments: {status:#?}");
    let log = platform_log(stage).await;
    let adds = log
        .iter()
        .filter(|m| m.contains(&format!("Add {name} ")))
        .count();
    assert_eq!(adds, 1, "platform commits adding {name}: {log:#?}");
}

/// Commit messages on the platform repository's main, newest first (first parents only).
async fn platform_log(stage: &Stage) -> Vec<String> {
    let path = stage.sandbox.repo_path(PLATFORM).unwrap();
    let repo = git2::Repository::open_bare(path).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push_ref("refs/heads/main").unwrap();
    walk.map(|oid| {
        let c = repo.find_commit(oid.unwrap()).unwrap();
        assert!(c.parent_count() <= 1, "history is linear");
        c.message().unwrap_or_default().to_owned()
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redeliveries_retries_and_a_second_replica_change_nothing() {
    let work = TempDir::new("e2e-idem");
    let mut stage = stage(&work).await;
    let number = stage
        .request(&stage.writer, "orders", "node-express", "Takes orders.")
        .await
        .unwrap();
    stage.settled(number, LIMIT).await.unwrap();
    assert_once(&stage, number, "orders", 1).await;

    // GitHub redelivers the opening webhook.
    let opened = stage
        .sandbox
        .deliveries()
        .into_iter()
        .find(|d| d.event == "issues")
        .unwrap();
    stage.sandbox.redeliver(opened.id).unwrap();
    // Reopened by someone, and told to retry.
    stage
        .writer
        .update_issue(CATALOG, number, serde_json::json!({"state": "open"}))
        .await
        .unwrap();
    stage
        .writer
        .comment(CATALOG, number, "/paved retry")
        .await
        .unwrap();
    assert!(stage.sandbox.settle(LIMIT).await);
    stage.settled(number, LIMIT).await.unwrap();
    assert_once(&stage, number, "orders", 1).await;

    // A second replica (or a restart) resyncs everything on start.
    stage.stop_paved().await;
    stage.start_paved().await.unwrap();
    common::quiescent(&stage).await;
    stage.settled(number, LIMIT).await.unwrap();
    assert_once(&stage, number, "orders", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_requests_for_one_name_one_wins_the_other_is_told_why() {
    let work = TempDir::new("e2e-race");
    let stage = stage(&work).await;
    let a = stage
        .request(&stage.writer, "payments", "node-express", "First.")
        .await
        .unwrap();
    let b = stage
        .request(&stage.admin, "payments", "python-fastapi", "Second.")
        .await
        .unwrap();
    let la = stage.settled(a, LIMIT).await.unwrap();
    let lb = stage.settled(b, LIMIT).await.unwrap();
    let ready = [&la, &lb]
        .iter()
        .filter(|l| l.contains(&"paved:deploying".to_owned()))
        .count();
    let invalid = [&la, &lb]
        .iter()
        .filter(|l| l.contains(&"paved:invalid".to_owned()))
        .count();
    assert_eq!((ready, invalid), (1, 1), "{la:?} {lb:?}");
    let loser = if la.contains(&"paved:invalid".to_owned()) {
        a
    } else {
        b
    };
    let body = &stage.sandbox.comments(CATALOG, loser)[0].body;
    assert!(
        body.contains("already exists and was not made for this request"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_requests_at_once_make_fifty_services_in_a_few_platform_commits() {
    let work = TempDir::new("e2e-fifty");
    let stage = stage(&work).await;
    let mut numbers = Vec::new();
    for i in 0..50 {
        numbers.push(
            stage
                .request(
                    &stage.writer,
                    &format!("svc-{i:02}"),
                    "node-express",
                    "Load.",
                )
                .await
                .unwrap(),
        );
    }
    for n in &numbers {
        let labels = stage.settled(*n, Duration::from_secs(240)).await.unwrap();
        assert!(
            labels.contains(&"paved:deploying".to_owned()),
            "#{n}: {labels:?}"
        );
    }
    for i in 0..50 {
        let path = format!("apps/svc-{i:02}/dev.yaml");
        assert!(
            stage.sandbox.file(PLATFORM, "main", &path).await.is_some(),
            "{path}"
        );
    }
    let log = platform_log(&stage).await;
    let commits = log.len() - 1; // the repository's first commit
    eprintln!("50 services in {commits} platform commits");
    assert!(commits < 50, "batched: {commits} commits");
    // More content than GitHub takes in a minute, made at its pace: the
    // sandbox refused none of it.
    let posts = stage
        .sandbox
        .requests()
        .by_installation()
        .filter(|r| r.method == "POST")
        .count();
    assert!(posts > 80, "{posts} content-creating calls");
    assert_eq!(stage.sandbox.secondary_limit_answers(), 0);
    // One repository each. A request that waited past the longest wait
    // taken inline runs again from the top later, and its second ask for
    // the repository is told it exists: idempotence, not a second repository.
    let created = stage.sandbox.requests().created("repos/create-in-org");
    assert_eq!(created, 50);
}

/// Requests `service`, with paved's first push to its repository held for
/// `millis` when given (then answered 504, not performed); its request
/// once the repository is made.
async fn made_and_held(stage: &Stage, service: &str, millis: Option<u64>) -> u64 {
    use paved_sandbox::{FaultKind, FaultRule};
    let repo = format!("acme/{service}");
    if let Some(millis) = millis {
        stage.sandbox.inject(FaultRule::next(
            format!("POST /{repo}.git/git-receive-pack").as_str(),
            FaultKind::Stall { millis },
            1,
        ));
    }
    let number = stage
        .request(&stage.writer, service, "python-fastapi", "Held.")
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + LIMIT;
    while stage.sandbox.repo_path(&repo).is_none() {
        assert!(std::time::Instant::now() < deadline, "{repo} never made");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    number
}

/// Requests `service` with the four tries of one run at its scaffold's
/// push failing (paved tries four times a run): the first held a while,
/// the other three refused. The stall is injected here, before the
/// refusals, and not through [`made_and_held`]: the sandbox applies the
/// first matching fault rule. Its request, once the repository is made.
async fn requested_with_a_failing_push(stage: &Stage, service: &str) -> u64 {
    use paved_sandbox::{FaultKind, FaultRule};
    let push = format!("POST /acme/{service}.git/git-receive-pack");
    let held = FaultKind::Stall { millis: 2_000 };
    stage
        .sandbox
        .inject(FaultRule::next(push.as_str(), held, 1));
    let refused = FaultKind::ServerError;
    stage
        .sandbox
        .inject(FaultRule::next(push.as_str(), refused, 3));
    made_and_held(stage, service, None).await
}

/// A run whose step fails after someone else finished the request (a
/// replica's run of it, or a person who closed it) leaves it as they left
/// it: no "tries again" on it, no label taken back, no run after.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_that_fails_after_someone_else_finished_the_request_leaves_it_be() {
    let work = TempDir::new("e2e-moved-on");
    let stage = stage(&work).await;
    let number = requested_with_a_failing_push(&stage, "ledger").await;
    let finished = ["paved:request", "paved:deploying"];
    let change = serde_json::json!({"state": "closed", "labels": finished});
    stage
        .admin
        .update_issue(CATALOG, number, change)
        .await
        .unwrap();
    common::quiescent(&stage).await;
    assert!(
        stage.sandbox.pending_faults().is_empty(),
        "every try at the push failed"
    );
    let issue = stage.sandbox.issue(CATALOG, number).unwrap();
    assert_eq!(issue.labels, finished);
    assert_eq!(issue.state, paved_sandbox::IssueState::Closed);
    let comments = stage.sandbox.comments(CATALOG, number);
    assert!(comments.is_empty(), "{comments:#?}");
    let deployed = stage.sandbox.file(PLATFORM, "main", "apps/ledger/dev.yaml");
    assert!(deployed.await.is_none());
}

/// A request tried again after a failed step looks for the repository it
/// made rather than making it again: no second create, so no 422 spending
/// a content-creating call under GitHub's secondary limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_tried_again_finds_its_repository_instead_of_making_it_again() {
    let work = TempDir::new("e2e-tried-again");
    let stage = stage(&work).await;
    let number = requested_with_a_failing_push(&stage, "ledger").await;
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    common::quiescent(&stage).await;
    assert!(stage.sandbox.pending_faults().is_empty());
    let log = stage.sandbox.requests();
    let creates: Vec<u16> = log
        .with_operation("repos/create-in-org")
        .map(|r| r.status)
        .collect();
    assert_eq!(
        creates,
        [201],
        "the repository is made once, and asked for once"
    );
    assert_once(&stage, number, "ledger", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stopped_mid_way_and_restarted_the_resync_completes_once() {
    let work = TempDir::new("e2e-crash");
    let mut stage = stage(&work).await;
    // Stop paved once the repository is there, its scaffold's push held.
    let number = made_and_held(&stage, "ledger", Some(5_000)).await;
    stage.stop_paved().await;
    assert!(
        stage
            .sandbox
            .file(PLATFORM, "main", "apps/ledger/dev.yaml")
            .await
            .is_none()
    );
    stage.sandbox.clear_faults();
    stage.start_paved().await.unwrap();
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    assert_once(&stage, number, "ledger", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn someone_pushing_to_the_new_repository_first_keeps_their_work() {
    let work = TempDir::new("e2e-first-push");
    let stage = stage(&work).await;
    // paved pushes to a repository it has just made without reading its
    // branches first. Its first push is held (then answered 504 undone),
    // and an admin pushes to main as soon as the repository is there.
    let number = made_and_held(&stage, "early", Some(3_000)).await;
    let files: [(&str, &[u8]); 1] = [("README.md", b"Ours first.\n")];
    let theirs = stage
        .sandbox
        .push_files("acme/early", "main", &files, "First", stage.admin.login())
        .await
        .unwrap();
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    assert!(
        stage.sandbox.pending_faults().is_empty(),
        "the hold was met"
    );
    // Their main is kept and deployed; the scaffold is on paved/template.
    let sb = &stage.sandbox;
    assert_eq!(
        sb.branch_sha("acme/early", "main").await,
        Some(theirs.clone())
    );
    let answers = sb
        .file("acme/early", "paved/template", ".paved/answers.yml")
        .await;
    assert!(answers.is_some(), "the scaffold is on paved/template");
    let app = sb
        .file(PLATFORM, "main", "apps/early/dev.yaml")
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&app).contains(&theirs));
    assert_once(&stage, number, "early", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failure_at_any_github_call_heals_by_retry() {
    use paved_sandbox::{FaultKind, FaultRule};
    let work = TempDir::new("e2e-faults");
    let stage = stage(&work).await;
    let calls = [
        // paved.yaml, read by the first request alone.
        "repos/get-content",
        "issues/get",
        "issues/update",
        "issues/create-comment",
        "repos/create-in-org",
        "repos/create-deployment",
    ];
    for (i, call) in calls.iter().enumerate() {
        stage
            .sandbox
            .inject(FaultRule::next(*call, FaultKind::BadGateway, 1));
        let name = format!("faulty-{i}");
        let number = stage
            .request(&stage.writer, &name, "node-express", "Flaky GitHub.")
            .await
            .unwrap();
        let labels = stage.settled(number, LIMIT).await.unwrap();
        assert!(
            labels.contains(&"paved:deploying".to_owned()),
            "502 at {call}: {labels:?}"
        );
        let unused = stage.sandbox.pending_faults();
        assert!(unused.is_empty(), "502 at {call} never came: {unused:?}");
        stage.sandbox.clear_faults();
    }
    // A failure that outlasts the client's retries is reported, and /paved retry fixes it.
    stage.sandbox.inject(FaultRule::next(
        "repos/create-deployment",
        FaultKind::ServerError,
        20,
    ));
    let number = stage
        .request(&stage.writer, "stubborn", "node-express", "Very flaky.")
        .await
        .unwrap();
    let labels = stage
        .settled(number, Duration::from_secs(90))
        .await
        .unwrap();
    assert!(labels.contains(&"paved:failed".to_owned()), "{labels:?}");
    let body = stage.sandbox.comments(CATALOG, number)[0].body.clone();
    assert!(
        body.contains("❌") && body.contains("500") && body.contains("/paved retry"),
        "{body}"
    );
    stage.sandbox.clear_faults();
    stage
        .writer
        .comment(CATALOG, number, "/paved retry")
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + LIMIT;
    while !stage
        .sandbox
        .issue(CATALOG, number)
        .unwrap()
        .labels
        .contains(&"paved:deploying".to_owned())
    {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_once(&stage, number, "stubborn", calls.len() + 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_issue_bodies_get_clear_replies_and_create_nothing() {
    let work = TempDir::new("e2e-hostile");
    let stage = stage(&work).await;
    let bodies = [
        "just some text, no form at all".to_owned(),
        paved::demo::form_body("x".repeat(200).as_str(), "node-express", "d", "@a/b", ""),
        paved::demo::form_body(
            "ok-name",
            "{{ template }}",
            "{% raw %}",
            "@acme/x",
            "port: {{ 7 * 7 }}",
        ),
        paved::demo::form_body(
            "ok-name",
            "node-express",
            "desc",
            "@acme/x\n### Service name\n\nother",
            "name: hijack",
        ),
        format!("### Service name\n\n{}\n", "a".repeat(60_000)),
    ];
    for body in &bodies {
        let number = stage
            .writer
            .open_issue(CATALOG, "hostile", body, &["paved:request"])
            .await
            .unwrap();
        let labels = stage.settled(number, LIMIT).await.unwrap();
        assert!(
            labels.contains(&"paved:invalid".to_owned()),
            "{labels:?} for {}",
            &body[..body.len().min(80)]
        );
        let reply = &stage.sandbox.comments(CATALOG, number)[0].body;
        assert!(
            reply.contains("paved could not take this request") && reply.lines().count() < 40,
            "{reply}"
        );
        assert!(
            !reply.contains("{{ 7 * 7 }}") || reply.contains("\\{"),
            "template syntax is shown escaped or not at all"
        );
    }
    assert_eq!(stage.sandbox.requests().count("repos/create-in-org"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_platform_push_that_loses_a_race_is_reapplied_and_nobodys_commit_is_lost() {
    use paved_sandbox::{FaultKind, FaultRule};
    let work = TempDir::new("e2e-push-race");
    let stage = stage(&work).await;
    // Hold paved's push to the platform repository long enough for someone else to push first.
    let push = "POST /acme/platform.git/git-receive-pack";
    stage.sandbox.inject(FaultRule::next(
        push,
        FaultKind::Latency { millis: 2_000 },
        1,
    ));
    let number = stage
        .request(&stage.writer, "racer", "node-express", "Races.")
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + LIMIT;
    while stage
        .sandbox
        .branch_sha("acme/racer", "main")
        .await
        .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the scaffold never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let theirs: &[(&str, &[u8])] = &[("NOTES.md", b"Someone else's change.\n")];
    stage
        .sandbox
        .push_files(PLATFORM, "main", theirs, "A change by a person", "admin")
        .await
        .unwrap();
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert!(
        labels.contains(&"paved:deploying".to_owned()),
        "{labels:?} {:#?}",
        stage.sandbox.comments(CATALOG, number)
    );
    let log = platform_log(&stage).await;
    assert!(log[0].starts_with("Add racer"), "{log:#?}");
    assert!(
        log.iter().any(|m| m.starts_with("A change by a person")),
        "{log:#?}"
    );
    assert!(
        stage
            .sandbox
            .file(PLATFORM, "main", "NOTES.md")
            .await
            .is_some()
    );
    let metrics = stage.paved.as_ref().unwrap().metrics.render();
    assert!(
        metrics.contains("paved_platform_push_retries_total 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_working_at_once_leave_one_repo_comment_and_commit_per_request() {
    let work = TempDir::new("e2e-replicas");
    let stage = stage(&work).await;
    // Webhooks go to the stage's paved; a second replica resyncs every 100 ms.
    let mut config = stage.config();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.resync = Duration::from_millis(100);
    config.work_dir = work.path().join("replica-2");
    let replica = paved_app::server::start(config).await.unwrap();
    let mut numbers = Vec::new();
    for i in 0..10 {
        numbers.push(
            stage
                .request(
                    &stage.writer,
                    &format!("twin-{i}"),
                    "node-express",
                    "Twice.",
                )
                .await
                .unwrap(),
        );
    }
    for n in &numbers {
        let labels = stage.settled(*n, LIMIT).await.unwrap();
        assert!(
            labels.contains(&"paved:deploying".to_owned()),
            "#{n}: {labels:?}"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    replica.halt().await;
    for (i, n) in numbers.iter().enumerate() {
        let status: Vec<_> = stage
            .sandbox
            .comments(CATALOG, *n)
            .into_iter()
            .filter(|c| c.body.starts_with("<!-- paved:status"))
            .collect();
        assert_eq!(status.len(), 1, "#{n}: {status:#?}");
        assert!(status[0].body.contains("**Committed.**"), "#{n}");
        let log = platform_log(&stage).await;
        let adds = log
            .iter()
            .flat_map(|m| m.lines())
            .filter(|l| l.contains(&format!("Add twin-{i} ")))
            .count();
        assert_eq!(adds, 1, "twin-{i}: {log:#?}");
    }
    assert_eq!(stage.sandbox.requests().created("repos/create-in-org"), 10);
    let raced = stage.sandbox.requests().count("issues/delete-comment");
    eprintln!("{raced} duplicate status comments were made by the race and removed");
}
