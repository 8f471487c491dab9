//! paved killed with SIGKILL at random points while 20 requests are under
//! way, and started again: every request completes, exactly once.

mod common;

use std::time::{Duration, Instant};

use common::TempDir;
use common::process::{Random, env_file, kill, spawn_paved};
use paved::demo::{CATALOG, PLATFORM, Stage, StageOptions};

const REQUESTS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_at_random_points_and_restarted_every_request_completes_once() {
    let work = TempDir::new("crash");
    let mut options = StageOptions::shipped(work.path().join("paved"));
    // Each start is a new process that cannot know what the one killed a
    // moment ago sent: five in a few seconds could pass GitHub's minute
    // together. The limits are proven where processes live on.
    options.secondary_limits = false;
    let stage = Stage::seeded(options).await.unwrap();
    let listen = stage.config().listen;
    let env_file = env_file(
        &stage,
        work.path(),
        "paved",
        listen,
        &work.path().join("paved"),
        "PAVED_RESYNC=2s\nPAVED_SECONDARY_LIMITS=false\n",
    );
    // PAVED_CRASH_SEED replays a run: the kill points follow from the seed.
    let mut random = Random::new("PAVED_CRASH_SEED");
    let seed = random.seed;
    let mut next = move |bound: u64| random.below(bound);

    let mut paved = spawn_paved(&env_file);
    let mut numbers = Vec::new();
    for i in 0..REQUESTS {
        numbers.push(
            stage
                .request(
                    &stage.writer,
                    &format!("crash-{i:02}"),
                    "node-express",
                    "Survives.",
                )
                .await
                .unwrap(),
        );
    }
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(50 + next(600))).await;
        kill(&mut paved);
        tokio::time::sleep(Duration::from_millis(next(300))).await;
        paved = spawn_paved(&env_file);
    }

    let deadline = Instant::now() + Duration::from_secs(180);
    for n in &numbers {
        loop {
            let labels = stage.sandbox.issue(CATALOG, *n).unwrap().labels;
            if labels.iter().any(|l| l == "paved:deploying") {
                break;
            }
            let failed = labels.iter().any(|l| l == "paved:failed");
            assert!(
                !failed,
                "#{n} failed (seed {seed}): {:#?}",
                stage.sandbox.comments(CATALOG, *n)
            );
            assert!(
                Instant::now() < deadline,
                "#{n} never became ready: {labels:?} (seed {seed})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    kill(&mut paved);

    let sb = &stage.sandbox;
    // A create cut off by the kill may be logged without its 201, so count
    // at most one per service, and every service's repository is there.
    let created = sb.requests().created("repos/create-in-org");
    assert!(
        created <= REQUESTS,
        "{created} repositories created (seed {seed})"
    );
    for i in 0..REQUESTS {
        assert!(sb.repo_path(&format!("acme/crash-{i:02}")).is_some());
    }
    for n in &numbers {
        let status = sb
            .comments(CATALOG, *n)
            .into_iter()
            .filter(|c| c.body.starts_with("<!-- paved:status"))
            .count();
        assert_eq!(status, 1, "status comments on #{n} (seed {seed})");
    }
    let repo = git2::Repository::open_bare(sb.repo_path(PLATFORM).unwrap()).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push_ref("refs/heads/main").unwrap();
    let tree = repo
        .revparse_single("refs/heads/main")
        .unwrap()
        .peel_to_tree()
        .unwrap();
    let mut adds = 0;
    for oid in walk {
        let c = repo.find_commit(oid.unwrap()).unwrap();
        assert!(c.parent_count() <= 1, "linear history");
        adds += c
            .message()
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("Add crash-"))
            .count();
    }
    assert_eq!(
        adds, REQUESTS,
        "one Application commit line per service (seed {seed})"
    );
    for i in 0..REQUESTS {
        assert!(
            tree.get_path(std::path::Path::new(&format!("apps/crash-{i:02}/dev.yaml")))
                .is_ok()
        );
    }
}
