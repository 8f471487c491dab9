//! The fleet at organisation scale: `cargo bench --bench fleet`
//! (`-- --services=N` for another size than 2,000).
//!
//! The services are made from node-express and seeded into the sandbox as
//! paved leaves them: a repository with its answers on `paved/template` and
//! `main`, and an Application in the platform repository.
//! Ten open requests wait beside them (invalid ones, as a catalog has).
//!
//! 1. Paced, paved in this process: the sandbox enforces GitHub's secondary
//!    limits and paved paces itself, with the limits' clock running 60
//!    times faster (a GitHub hour is a minute here).
//!    - A restart (start-up, a resync pass, the dashboard's rows read
//!      once), then a resync pass at steady state: REST calls and time.
//!    - `/paved upgrade --template node-express`: every service gets its
//!      upgrade pull request. The time, in GitHub's hours too; REST calls;
//!      secondary-limit answers; how often the fleet comment showed
//!      progress.
//! 2. Memory, paved as a `paved serve` process of its own (the sandbox,
//!    with every delivery and request it keeps, stays out of the figure),
//!    the limits off so that the same work runs in minutes: its RSS after
//!    the restart and its peak through the fleet upgrade.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use paved::demo::{CATALOG, ORG, PLATFORM, Stage, StageOptions};

/// How much faster the secondary limits' clock runs than GitHub's.
const HASTENED: u32 = 60;
const OPEN_REQUESTS: usize = 10;
/// Services seeded at once.
const SEEDING: usize = 16;
const TEMPLATE: &str = "node-express";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let services = std::env::args()
        .find_map(|a| a.strip_prefix("--services=")?.parse().ok())
        .unwrap_or(2_000);
    paced(services).await;
    memory(services).await;
}

async fn stage(name: &str, limits: bool) -> (Stage, PathBuf) {
    let work = std::env::temp_dir().join(format!("paved-bench-{name}-{}", std::process::id()));
    let mut options = StageOptions::shipped(work.clone());
    options.dashboard = true;
    options.secondary_limits = limits;
    options.hastened = HASTENED;
    (Stage::start(options).await.expect("stage"), work)
}

async fn paced(services: usize) {
    println!("— paced, paved in process, GitHub's clock {HASTENED} times faster");
    let (mut stage, work) = stage("fleet-paced", true).await;
    let started = Instant::now();
    let seed = seed(&stage, services).await;
    println!(
        "seeded {services} services and {OPEN_REQUESTS} open requests in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    resyncs(&mut stage).await;
    // A restarted paved does not know what its last run created within the
    // hour (the README counts restarts among the replicas): the upgrade
    // starts an hour of GitHub's clock later.
    tokio::time::sleep(Duration::from_secs(3600 / u64::from(HASTENED))).await;
    fleet_upgrade(&stage, seed, services, Some(HASTENED)).await;
    println!(
        "secondary-limit answers from the sandbox: {}",
        stage.sandbox.secondary_limit_answers()
    );
    drop(stage);
    let _ = std::fs::remove_dir_all(work);
}

async fn memory(services: usize) {
    println!("— memory, paved as a process, no secondary limits");
    let (mut stage, work) = stage("fleet-memory", false).await;
    let seed = seed(&stage, services).await;
    stage.stop_paved().await;
    let env = format!(
        "{}PAVED_SECONDARY_LIMITS=false\nPAVED_DASHBOARD=true\n",
        stage.serve_env(stage.webhook_addr(), &work.join("serve"))
    );
    let env_file = work.join("paved.env");
    std::fs::write(&env_file, env).expect("env file");
    let mut paved = Command::new(env!("CARGO_BIN_EXE_paved"))
        .args(["serve", "--env-file"])
        .arg(&env_file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("paved serve");
    let pid = paved.id();
    // Started once it has asked GitHub something; done once all is still.
    let before = stage.rest_calls();
    let deadline = Instant::now() + Duration::from_secs(60);
    while stage.rest_calls() == before {
        assert!(Instant::now() < deadline, "paved serve never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stage.quiesce().await, "paved serve never went quiet");
    let after_restart = status_mb(pid, "VmRSS:");
    let sampler = PeakSampler::start(pid);
    fleet_upgrade(&stage, seed, services, None).await;
    let (anon, file) = sampler.stop();
    println!(
        "paved serve: RSS {after_restart} MB after its start (a resync pass, the dashboard's rows read), {} MB after the fleet upgrade, peak {} MB (sampled every 100 ms: heap and stacks at most {anon} MB, mapped files at most {file} MB)",
        status_mb(pid, "VmRSS:"),
        status_mb(pid, "VmHWM:")
    );
    let _ = paved.kill();
    let _ = paved.wait();
    drop(stage);
    let _ = std::fs::remove_dir_all(work);
}

/// Seeds the fleet: one service paved really makes, copied `services`
/// times; then the open requests. The request of the real one.
async fn seed(stage: &Stage, services: usize) -> u64 {
    let seed = stage
        .request(&stage.writer, "fleet-seed", TEMPLATE, "The fleet's model.")
        .await
        .expect("request");
    stage
        .settled(seed, Duration::from_secs(120))
        .await
        .expect("settled");
    let sb = &stage.sandbox;
    let answers = text(
        sb.file("acme/fleet-seed", "main", ".paved/answers.yml")
            .await,
    );
    let app = text(sb.file(PLATFORM, "main", "apps/fleet-seed/dev.yaml").await);
    // An older version than the template's: each service has an upgrade due.
    let answers: String = answers
        .lines()
        .map(|l| {
            if l.starts_with("version:") {
                "version: 0.0.1".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let names: Vec<String> = (0..services).map(|i| format!("svc-{i:04}")).collect();
    for chunk in names.chunks(SEEDING) {
        let made = chunk.iter().map(|name| service(stage, name, &answers));
        futures_util::future::join_all(made).await;
    }
    let apps: Vec<(String, String)> = names
        .iter()
        .map(|n| (format!("apps/{n}/dev.yaml"), app.replace("fleet-seed", n)))
        .collect();
    let files: Vec<(&str, &[u8])> = apps
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_bytes()))
        .collect();
    sb.push_files(PLATFORM, "main", &files, "The fleet", stage.admin.login())
        .await
        .expect("platform");
    let mut open = Vec::with_capacity(OPEN_REQUESTS);
    for i in 0..OPEN_REQUESTS {
        let name = format!("Not_A_Name_{i}");
        let n = stage.request(&stage.writer, &name, TEMPLATE, "Invalid.");
        open.push(n.await.expect("request"));
    }
    for n in open {
        let labels = stage.settled(n, Duration::from_secs(600)).await;
        assert_eq!(
            labels.expect("answered"),
            ["paved:request", "paved:invalid"]
        );
    }
    assert!(stage.quiesce().await, "seeding never went quiet");
    seed
}

/// Makes service `name` as paved would have.
async fn service(stage: &Stage, name: &str, answers: &str) {
    let sb = &stage.sandbox;
    sb.create_repo(ORG, name).await.expect("repo");
    let repo = format!("{ORG}/{name}");
    let answers = answers.replace("fleet-seed", name);
    let files: [(&str, &[u8]); 1] = [(".paved/answers.yml", answers.as_bytes())];
    let admin = stage.admin.login();
    for branch in ["paved/template", "main"] {
        sb.push_files(&repo, branch, &files, "Scaffold", admin)
            .await
            .expect("push");
    }
}

/// A restart (whose resync pass reads the dashboard's rows once), then a
/// resync pass at steady state.
async fn resyncs(stage: &mut Stage) {
    stage.stop_paved().await;
    let before = stage.rest_calls();
    let started = Instant::now();
    stage.start_paved().await.expect("paved");
    assert!(stage.quiesce().await, "the restart never went quiet");
    println!(
        "restart (start-up, a resync pass, the dashboard's rows read once): {} REST calls, {:.1} s",
        stage.rest_calls() - before,
        started.elapsed().as_secs_f64()
    );
    let before = stage.rest_calls();
    let started = Instant::now();
    stage.resync().await;
    assert!(stage.quiesce().await, "the resync never went quiet");
    println!(
        "resync pass at steady state, {OPEN_REQUESTS} open requests: {} REST calls, {:.1} s",
        stage.rest_calls() - before,
        started.elapsed().as_secs_f64()
    );
}

/// Asks for the fleet upgrade and waits for its answer. `hastened`: how
/// much faster the limits' clock runs, to give the time in GitHub's hours.
async fn fleet_upgrade(stage: &Stage, seed: u64, services: usize, hastened: Option<u32>) {
    let before = stage.rest_calls();
    let started = Instant::now();
    let asked = format!("/paved upgrade --template {TEMPLATE}");
    let comment = stage.admin.comment(CATALOG, seed, &asked).await;
    let comment = comment.expect("comment");
    let answer = loop {
        let found = stage.sandbox.comments(CATALOG, seed).into_iter().find(|c| {
            c.body
                .starts_with(&format!("<!-- paved:answer {comment} -->"))
        });
        if let Some(answer) = found {
            break answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "no answer within the hour"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let elapsed = started.elapsed();
    let log = stage.sandbox.requests();
    let edits = format!("/repos/{CATALOG}/issues/comments/{}", answer.id);
    // Posted at the start, edited with progress, replaced by the answer.
    let progress_edits = log
        .by_installation()
        .filter(|r| r.method == "PATCH" && r.path == edits)
        .count()
        .saturating_sub(1);
    let pulls = log
        .by_installation()
        .filter(|r| r.operation.as_deref() == Some("pulls/create"))
        .count();
    let counts = answer.body.lines().find(|l| l.contains("pull requests,"));
    let github_hours = hastened.map_or_else(String::new, |f| {
        let hours = elapsed.as_secs_f64() * f64::from(f) / 3600.0;
        format!(", {hours:.1} h of GitHub's clock")
    });
    println!(
        "fleet upgrade of {services} services: answered after {:.0} s here{github_hours}; {pulls} pull requests made; {:.1} REST calls per service; the fleet comment was posted at the start, edited {progress_edits} times with progress, then replaced by the answer",
        elapsed.as_secs_f64(),
        (stage.rest_calls() - before) as f64 / services as f64,
    );
    println!("  {}", counts.unwrap_or("(no counts in the answer)"));
}

fn text(bytes: Option<Vec<u8>>) -> String {
    String::from_utf8(bytes.expect("the seed's file")).expect("utf-8")
}

/// The most anonymous memory (heap, stacks) and file-backed memory (the
/// binary, git's mapped packs) a process held, read from `/proc` every
/// 100 ms: what its peak RSS is made of.
struct PeakSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64)>,
}

impl PeakSampler {
    fn start(pid: u32) -> Self {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut anon, mut file) = (0, 0);
            while !stopped.load(Ordering::Relaxed) {
                anon = anon.max(status_mb(pid, "RssAnon:"));
                file = file.max(status_mb(pid, "RssFile:"));
                std::thread::sleep(Duration::from_millis(100));
            }
            (anon, file)
        });
        Self { stop, thread }
    }

    /// The peaks: anonymous, file-backed, in MB.
    fn stop(self) -> (u64, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("sampler")
    }
}

/// A `/proc/<pid>/status` figure, in MB.
fn status_mb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}
