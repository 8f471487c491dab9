//! Webhook intake under load: `cargo bench --bench intake`.
//!
//! Runs the real `paved serve` (release build) as its own process. The
//! deliveries are for a repository that is not the catalog, so the workers
//! take each off the queue and drop it: a no-op consumer behind the real
//! endpoint. Then, from this process:
//! 1. 16 keep-alive connections send signed ~8 KB `issues.opened` deliveries
//!    for 10 s: deliveries per second, latency p50/p99/max, paved's CPU time
//!    and peak RSS;
//! 2. 10 000 deliveries in a row on one connection: paved's RSS before and
//!    after (caches are bounded, so it must not grow).
//!
//! The load generator shares the machine with paved; on 2 cores the figures
//! are what both together reach.

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{SECRET, fixture};
use paved_app::secret::Secret;
use paved_app::webhook::signature::sign;
use support::{memory, serve};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 16;
const LOAD: Duration = Duration::from_secs(10);
const IN_A_ROW: usize = 10_000;
const BODY_BYTES: usize = 8 * 1024;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::temp_dir().join(format!("paved-bench-intake-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (mut paved, addr) = serve(&dir).await;
    let pid = paved.id();
    let delivery = Arc::new(Delivery::new(&addr));
    println!(
        "paved serve, pid {pid}; deliveries of {} bytes; RSS at start {} KiB",
        delivery.body.len(),
        memory(pid, "VmRSS")
    );

    let cpu_before = cpu_seconds(pid);
    let load = load(&addr, &delivery).await;
    let cpu = cpu_seconds(pid) - cpu_before;
    println!(
        "{CONNECTIONS} connections for {}s: {} deliveries ({} not 202), {:.0}/s; latency p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; paved CPU {:.1} s ({:.1} µs a delivery); peak RSS {} KiB",
        LOAD.as_secs(),
        load.latencies.len(),
        load.failures,
        load.latencies.len() as f64 / load.elapsed.as_secs_f64(),
        percentile(&load.latencies, 0.50),
        percentile(&load.latencies, 0.99),
        percentile(&load.latencies, 1.0),
        cpu,
        cpu * 1e6 / load.latencies.len() as f64,
        memory(pid, "VmHWM"),
    );

    let before = memory(pid, "VmRSS");
    let mut conn = Connection::open(&addr).await;
    for i in 0..IN_A_ROW {
        conn.send(&delivery, &format!("row-{i}")).await;
    }
    let after = memory(pid, "VmRSS");
    println!(
        "{IN_A_ROW} deliveries in a row: RSS {before} KiB before, {after} KiB after ({:+} KiB)",
        after as i64 - before as i64
    );

    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = paved.wait();
    let _ = std::fs::remove_dir_all(dir);
}

/// One delivery's bytes, the same for every request but its id.
struct Delivery {
    head: Vec<u8>,
    body: Vec<u8>,
}

impl Delivery {
    /// The documented `issues.opened` example with its body padded to ~8 KB.
    fn new(addr: &str) -> Self {
        let mut event: serde_json::Value =
            serde_json::from_slice(&fixture("issues.opened.json")).expect("fixture");
        let base = serde_json::to_vec(&event).expect("json").len();
        let text = "### Description\n\nA service that does one thing well. ";
        event["issue"]["body"] = text.repeat((BODY_BYTES - base) / text.len()).into();
        let body = serde_json::to_vec(&event).expect("json");
        let signature = sign(&Secret::new(SECRET), &body);
        let head = format!(
            "POST /webhook HTTP/1.1\r\nhost: {addr}\r\nuser-agent: GitHub-Hookshot/bench\r\n\
             content-type: application/json\r\nx-github-event: issues\r\n\
             x-hub-signature-256: {signature}\r\ncontent-length: {}\r\nx-github-delivery: ",
            body.len()
        );
        Self {
            head: head.into_bytes(),
            body,
        }
    }
}

/// A keep-alive HTTP/1.1 connection that sends deliveries one after another.
struct Connection {
    stream: BufReader<TcpStream>,
    request: Vec<u8>,
    line: String,
}

impl Connection {
    async fn open(addr: &str) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream: BufReader::new(stream),
            request: Vec::with_capacity(16 * 1024),
            line: String::new(),
        }
    }

    /// Sends one delivery and reads the whole answer; returns its status.
    async fn send(&mut self, delivery: &Delivery, id: &str) -> u16 {
        self.request.clear();
        self.request.extend_from_slice(&delivery.head);
        self.request.extend_from_slice(id.as_bytes());
        self.request.extend_from_slice(b"\r\n\r\n");
        self.request.extend_from_slice(&delivery.body);
        let stream = self.stream.get_mut();
        stream.write_all(&self.request).await.expect("send");
        self.line.clear();
        self.stream.read_line(&mut self.line).await.expect("status");
        let status = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("an HTTP status line");
        let mut length = 0;
        loop {
            self.line.clear();
            self.stream.read_line(&mut self.line).await.expect("header");
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("content-length");
            }
        }
        let mut answer = vec![0; length];
        self.stream.read_exact(&mut answer).await.expect("body");
        status
    }
}

struct Load {
    /// Milliseconds, one per delivery.
    latencies: Vec<f64>,
    failures: usize,
    elapsed: Duration,
}

/// [`CONNECTIONS`] connections sending deliveries back to back for [`LOAD`].
async fn load(addr: &str, delivery: &Arc<Delivery>) -> Load {
    let started = Instant::now();
    let until = started + LOAD;
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let (delivery, addr) = (delivery.clone(), addr.to_owned());
            tokio::spawn(async move {
                let mut conn = Connection::open(&addr).await;
                let (mut latencies, mut failures) = (Vec::new(), 0);
                let mut i = 0u64;
                while Instant::now() < until {
                    let sent = Instant::now();
                    if conn.send(&delivery, &format!("load-{c}-{i}")).await != 202 {
                        failures += 1;
                    }
                    latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                    i += 1;
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut load = Load {
        latencies: Vec::new(),
        failures: 0,
        elapsed: Duration::ZERO,
    };
    for w in workers {
        let (latencies, failures) = w.await.expect("worker");
        load.latencies.extend(latencies);
        load.failures += failures;
    }
    load.elapsed = started.elapsed();
    load.latencies.sort_by(f64::total_cmp);
    load
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// User plus system CPU time the process has used, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the command name (which may hold spaces) start at 3.
    let fields: Vec<&str> = stat.rsplit_once(") ").expect("stat").1.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // Linux reports in USER_HZ, 100 on every mainstream architecture.
    ticks / 100.0
}
