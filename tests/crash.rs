//! paved killed with SIGKILL at random points while 20 requests are under
//! way, and started again: every request completes, exactly once.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::TempDir;
use paved::demo::{CATALOG, PLATFORM, Stage, StageOptions};

const REQUESTS: usize = 20;

fn spawn_paved(env_file: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_paved"))
        .args(["serve", "--env-file"])
        .arg(env_file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn kill(child: &mut Child) {
    let _ = child.kill(); // SIGKILL: no chance to finish anything
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_at_random_points_and_restarted_every_request_completes_once() {
    let work = TempDir::new("crash");
    let stage = Stage::seeded(StageOptions::shipped(work.path().join("paved")))
        .await
        .unwrap();
    let config = stage.config();
    let app = stage.sandbox.app();
    let env_file = work.path().join("paved.env");
    let env = format!(
        "APP_ID={}\nPRIVATE_KEY={}\nWEBHOOK_SECRET={}\nGITHUB_API_URL={}\nPAVED_CATALOG_REPO={CATALOG}\n\
         PAVED_PLATFORM_REPO={PLATFORM}\nPAVED_LISTEN={}\nPAVED_RESYNC=2s\nPAVED_WORK_DIR={}\nPAVED_TEMPLATES={}\n",
        app.id,
        app.private_key_pem.expose().replace('\n', "\\n"),
        app.webhook_secret.expose(),
        config.github_api_url,
        config.listen,
        config.work_dir.display(),
        templates_folder(&config.templates).display(),
    );
    std::fs::write(&env_file, env).unwrap();

    // PAVED_CRASH_SEED replays a run: the kill points follow from the seed.
    let seed = match std::env::var("PAVED_CRASH_SEED") {
        Ok(given) => given.parse().expect("PAVED_CRASH_SEED is a number"),
        Err(_) => SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    };
    eprintln!("random seed {seed} (PAVED_CRASH_SEED={seed} replays it)");
    let mut state = seed | 1;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };

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
    let created = sb
        .requests()
        .with_operation("repos/create-in-org")
        .filter(|r| r.status == 201)
        .count();
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

/// The folder of a stage's templates (the shipped ones, in a folder).
fn templates_folder(source: &paved_app::scaffold::TemplateSource) -> &std::path::Path {
    match source {
        paved_app::scaffold::TemplateSource::Folder(dir) => dir,
        paved_app::scaffold::TemplateSource::BuiltIn => {
            panic!("the stage's templates are a folder")
        }
    }
}
