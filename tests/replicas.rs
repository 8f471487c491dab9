//! Three `paved serve` processes against one sandbox, as `deploy/` runs
//! them behind a Service: deliveries spread across them at random,
//! redeliveries sent to another replica than the first, and one replica
//! killed and started again mid-way, through 100 requests and 100
//! commands. Replicas share nothing but GitHub: every request ends ready
//! once and every command runs once, with no duplicate comment,
//! repository or commit.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::TempDir;
use common::process::{Paved, Random, env_file, kill, spawn_paved};
use paved::demo::{CATALOG, PLATFORM, Stage, StageOptions};

const REPLICAS: usize = 3;
const REQUESTS: usize = 100;
const BOT: &str = "paved[bot]";

/// The load balancer in front of the replicas: each delivery goes to one
/// at random, a redelivery (same GUID) to another than last time.
struct Balancer {
    replicas: Vec<SocketAddr>,
    routes: Mutex<HashMap<String, usize>>,
    random: Mutex<Random>,
    http: reqwest::Client,
}

impl Balancer {
    async fn start(replicas: Vec<SocketAddr>, random: Random) -> String {
        let balancer = Arc::new(Self {
            replicas,
            routes: Mutex::default(),
            random: Mutex::new(random),
            http: reqwest::Client::new(),
        });
        let router = axum::Router::new()
            .route("/webhook", axum::routing::post(forward))
            .with_state(balancer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}/webhook")
    }

    fn pick(&self, guid: &str) -> usize {
        let n = self.replicas.len() as u64;
        let mut routes = self.routes.lock().unwrap();
        let mut pick = self.random.lock().unwrap().below(n) as usize;
        if routes.get(guid) == Some(&pick) {
            pick = (pick + 1) % self.replicas.len();
        }
        routes.insert(guid.to_owned(), pick);
        pick
    }
}

async fn forward(
    State(b): State<Arc<Balancer>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let guid = headers
        .get("x-github-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let replica = b.replicas[b.pick(&guid)];
    let mut request = b.http.post(format!("http://{replica}/webhook")).body(body);
    for (name, value) in &headers {
        if name.as_str().starts_with("x-") || name == "content-type" || name == "user-agent" {
            request = request.header(name, value);
        }
    }
    match request.timeout(Duration::from_secs(10)).send().await {
        Ok(answer) => StatusCode::from_u16(answer.status().as_u16()).unwrap(),
        // A replica that is down: the load balancer's own answer.
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}

/// A loopback address free at this moment.
fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Waits (bounded) until `/healthz` answers on every replica.
async fn healthy(replicas: &[SocketAddr]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for addr in replicas {
        while reqwest::get(format!("http://{addr}/healthz"))
            .await
            .map_or(true, |r| !r.status().is_success())
        {
            assert!(Instant::now() < deadline, "{addr} never became healthy");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Redeliveries, as an operator makes them: which deliveries were sent
/// again, and the randomness that picks some of the rest.
struct Redeliveries {
    done: HashSet<String>,
    random: Random,
}

impl Redeliveries {
    /// Redelivers, once each, every delivery that failed, every one still
    /// `wanted` (accepted by a replica killed before it acted), and one in
    /// ten of the rest; the balancer sends each to another replica. How many.
    fn send(&mut self, stage: &Stage, wanted: impl Fn(&paved_sandbox::Delivery) -> bool) -> usize {
        let mut sent = 0;
        for d in stage.sandbox.deliveries() {
            if d.redelivery || self.done.contains(&d.guid) {
                continue;
            }
            let Some(status) = d.status_code.or(d.error.as_ref().map(|_| 0)) else {
                continue; // not attempted yet
            };
            let failed = !(200..300).contains(&status);
            if failed || wanted(&d) || self.random.below(10) == 0 {
                self.done.insert(d.guid.clone());
                stage.sandbox.redeliver(d.id);
                sent += 1;
            }
        }
        sent
    }
}

/// Waits (bounded, redelivering meanwhile) until `ok` holds of every
/// request. After 15 s, deliveries of `event` about requests still short
/// of it are redelivered too, as an operator would.
async fn until_all(
    stage: &Stage,
    numbers: &[u64],
    redeliveries: &mut Redeliveries,
    what: &str,
    event: &str,
    ok: impl Fn(u64) -> bool,
) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    loop {
        let left: Vec<u64> = numbers.iter().copied().filter(|n| !ok(*n)).collect();
        if left.is_empty() {
            eprintln!("{what} after {:.1} s", started.elapsed().as_secs_f64());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {} requests never got there, e.g. #{}: {:#?}\n{:#?}",
            left.len(),
            left[0],
            stage.sandbox.issue(CATALOG, left[0]).map(|i| i.labels),
            stage.sandbox.comments(CATALOG, left[0]),
        );
        let stale = started.elapsed() > Duration::from_secs(15);
        let wanted = |d: &paved_sandbox::Delivery| {
            let number = d.payload()["issue"]["number"].as_u64();
            stale && d.event == event && number.is_some_and(|n| left.contains(&n))
        };
        redeliveries.send(stage, wanted);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn labels(stage: &Stage, n: u64) -> Vec<String> {
    stage
        .sandbox
        .issue(CATALOG, n)
        .map(|i| i.labels)
        .unwrap_or_default()
}

/// paved's answers to commands on request `n`: its comments other than
/// the status comment.
fn answers(stage: &Stage, n: u64) -> Vec<String> {
    stage
        .sandbox
        .comments(CATALOG, n)
        .into_iter()
        .filter(|c| c.user == BOT && !c.body.starts_with("<!-- paved:status"))
        .map(|c| c.body)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_one_killed_and_restarted_do_everything_once() {
    let work = TempDir::new("replicas");
    let mut options = StageOptions::shipped(work.path().join("stage"));
    // 100 requests and 100 commands make some 700 content-creating calls,
    // more than GitHub takes in an hour: this story runs as on a GitHub
    // Enterprise Server without secondary limits. Pacing under them is
    // proven by the stories of one process, which settle with none passed.
    options.secondary_limits = false;
    let stage = Stage::seeded(options).await.unwrap();
    let random = Random::new("PAVED_REPLICAS_SEED");
    let seed = random.seed;
    let addrs: Vec<SocketAddr> = (0..REPLICAS).map(|_| free_addr()).collect();
    let envs: Vec<_> = addrs
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            let cache = work.path().join(format!("cache-{i}"));
            // Each replica resyncs every open request: every 10 s, so three
            // stay within the installation's 5,000 calls an hour.
            let extra = format!(
                "PAVED_REPLICAS={REPLICAS}\nPAVED_SECONDARY_LIMITS=false\nPAVED_DASHBOARD=false\nPAVED_RESYNC=10s\n"
            );
            env_file(
                &stage,
                work.path(),
                &format!("replica-{i}"),
                *addr,
                &cache,
                &extra,
            )
        })
        .collect();
    let mut replicas: Vec<Paved> = envs.iter().map(|e| spawn_paved(e)).collect();
    healthy(&addrs).await;
    let url = Balancer::start(addrs.clone(), Random::new("PAVED_BALANCER_SEED")).await;
    stage.sandbox.set_webhook_url(Some(url));
    let mut redeliveries = Redeliveries {
        done: HashSet::new(),
        random,
    };

    // 100 requests; replica 1 is killed after the 40th and back after the 60th.
    let mut numbers = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS {
        let name = format!("svc-{i:03}");
        let n = stage.request(&stage.writer, &name, "node-express", "Replicated.");
        numbers.push(n.await.unwrap());
        match i {
            40 => kill(&mut replicas[1]),
            60 => replicas[1] = spawn_paved(&envs[1]),
            _ => {}
        }
    }
    let committed = |n: u64| {
        labels(&stage, n)
            .iter()
            .any(|l| l == "paved:deploying" || l == "paved:ready")
    };
    until_all(
        &stage,
        &numbers,
        &mut redeliveries,
        "committed",
        "issues",
        committed,
    )
    .await;

    // CI passes on every scaffold, then Argo CD reports each Healthy.
    for i in 0..REQUESTS {
        let repo = format!("acme/svc-{i:03}");
        stage
            .sandbox
            .complete_workflow_run(&repo, "main", "ci", "success")
            .await
            .unwrap();
    }
    for i in 0..REQUESTS {
        let repo = format!("acme/svc-{i:03}");
        paved::demo::argo_cd_healthy(&stage, &repo, "dev")
            .await
            .unwrap();
    }
    let ready = |n: u64| labels(&stage, n).iter().any(|l| l == "paved:ready");
    until_all(
        &stage,
        &numbers,
        &mut redeliveries,
        "ready",
        "deployment_status",
        ready,
    )
    .await;

    // 100 commands, one on each request; replica 2 is killed and back mid-way.
    let scale = |i: usize| 2 + (i % 2) as u32;
    for (i, n) in numbers.iter().enumerate() {
        let body = format!("/paved scale dev {}", scale(i));
        stage.writer.comment(CATALOG, *n, &body).await.unwrap();
        match i {
            30 => kill(&mut replicas[2]),
            50 => replicas[2] = spawn_paved(&envs[2]),
            _ => {}
        }
    }
    let answered = |n: u64| !answers(&stage, n).is_empty();
    until_all(
        &stage,
        &numbers,
        &mut redeliveries,
        "answered",
        "issue_comment",
        answered,
    )
    .await;
    // Late redeliveries land too, on another replica, and change nothing.
    let deadline = Instant::now() + Duration::from_secs(30);
    while redeliveries.send(&stage, |_| false) > 0
        || !stage.sandbox.settle(Duration::from_secs(5)).await
    {
        assert!(Instant::now() < deadline, "deliveries never settled");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Until no replica writes any more (their resync keeps reading), then
    // stop them all: what is counted below is final.
    quiet(&stage).await;
    for r in &mut replicas {
        kill(r);
    }

    let sb = &stage.sandbox;
    let made = sb.requests().created("repos/create-in-org");
    assert_eq!(made, REQUESTS, "one repository per request (seed {seed})");
    for (i, n) in numbers.iter().enumerate() {
        let comments = sb.comments(CATALOG, *n);
        let status = comments
            .iter()
            .filter(|c| c.body.starts_with("<!-- paved:status"))
            .count();
        assert_eq!(status, 1, "status comments on #{n} (seed {seed})");
        let answers = answers(&stage, *n);
        assert_eq!(
            answers.len(),
            1,
            "answers on #{n} (seed {seed}): {answers:#?}"
        );
        assert!(answers[0].contains('✅'), "#{n}: {}", answers[0]);
        assert!(labels(&stage, *n).iter().any(|l| l == "paved:ready"));
        let service = format!("svc-{i:03}");
        let app = common::application(&stage, &service, "dev").await.unwrap();
        assert_eq!(app.replicas, scale(i), "{service} (seed {seed})");
        // One deployment recorded for the first commit of each service.
        let deployments = sb
            .requests()
            .with_operation("repos/create-deployment")
            .filter(|r| r.status == 201 && r.path == format!("/repos/acme/{service}/deployments"))
            .count();
        assert!(deployments >= 1, "{service} has its deployment");
    }
    // The platform history: linear, one line adding each service, and one
    // scaling each.
    let repo = git2::Repository::open_bare(sb.repo_path(PLATFORM).unwrap()).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push_ref("refs/heads/main").unwrap();
    let mut lines = Vec::new();
    for oid in walk {
        let c = repo.find_commit(oid.unwrap()).unwrap();
        assert!(c.parent_count() <= 1, "linear history");
        lines.extend(c.message().unwrap_or_default().lines().map(str::to_owned));
    }
    for i in 0..REQUESTS {
        let once = |prefix: String| {
            // A batch's commit lists each request's line after "- ".
            let n = lines
                .iter()
                .filter(|l| l.trim_start_matches("- ").starts_with(&prefix))
                .count();
            assert_eq!(n, 1, "{prefix:?} (seed {seed}): {lines:#?}");
        };
        once(format!("Add svc-{i:03} "));
        once(format!("Scale svc-{i:03} in dev to {} ", scale(i)));
    }
}

/// Waits (bounded) until the sandbox has seen no write for three seconds
/// and every webhook was attempted.
async fn quiet(stage: &Stage) {
    let writes = || {
        stage
            .sandbox
            .requests()
            .0
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = writes();
    let mut since = Instant::now();
    while since.elapsed() < Duration::from_secs(3) {
        assert!(Instant::now() < deadline, "the replicas never went quiet");
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = writes();
        if now != last || !stage.sandbox.settle(Duration::from_secs(1)).await {
            (last, since) = (now, Instant::now());
        }
    }
}
