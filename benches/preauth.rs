//! Memory and sockets before authentication: `cargo bench --bench preauth`.
//!
//! Runs the real `paved serve` (release build) as its own process, then:
//! 1. 64 connections at once each send a 25 MB body with a bad signature, as
//!    fast as loopback carries it: paved's peak RSS, and how each was answered;
//! 2. 2,000 connections that send only a request line and then nothing, held
//!    for 3 s: paved's peak RSS.
//!
//! Throughout, `/healthz` is asked every 50 ms; every miss is counted. The
//! aim: peak RSS under 100 MB, and `/healthz` always answering.

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use support::{memory, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIG_SENDERS: usize = 64;
const BIG_BODY: usize = 25 * 1000 * 1000;
const IDLE: usize = 2_000;
const IDLE_HOLD: Duration = Duration::from_secs(3);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::temp_dir().join(format!("paved-bench-preauth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (mut paved, addr) = serve(&dir).await;
    let pid = paved.id();
    println!(
        "paved serve, pid {pid}; RSS at start {} KiB",
        memory(pid, "VmRSS")
    );

    let probe = Probe::start(addr.clone());
    let answers = big_bodies(&addr).await;
    println!(
        "{BIG_SENDERS} × {} MB bad-signature bodies at once: answers {answers:?}; peak RSS {} KiB; /healthz missed {} of {}",
        BIG_BODY / 1_000_000,
        memory(pid, "VmHWM"),
        probe.missed(),
        probe.asked()
    );

    let probe = Probe::start(addr.clone());
    let held = idle(&addr).await;
    println!(
        "{IDLE} idle connections ({held} opened) held {} s: peak RSS {} KiB; /healthz missed {} of {}",
        IDLE_HOLD.as_secs(),
        memory(pid, "VmHWM"),
        probe.missed(),
        probe.asked()
    );

    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = paved.wait();
    let _ = std::fs::remove_dir_all(dir);
}

/// Asks `/healthz` every 50 ms until dropped; counts what went unanswered
/// within a second.
struct Probe {
    asked: Arc<AtomicUsize>,
    missed: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
}

impl Probe {
    fn start(addr: String) -> Self {
        let probe = Self {
            asked: Arc::default(),
            missed: Arc::default(),
            done: Arc::default(),
        };
        let (asked, missed, done) = (
            probe.asked.clone(),
            probe.missed.clone(),
            probe.done.clone(),
        );
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                asked.fetch_add(1, Ordering::Relaxed);
                let ok = tokio::time::timeout(Duration::from_secs(1), health(&addr))
                    .await
                    .unwrap_or(false);
                if !ok {
                    missed.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        probe
    }

    fn asked(&self) -> usize {
        self.asked.load(Ordering::Relaxed)
    }

    fn missed(&self) -> usize {
        self.missed.load(Ordering::Relaxed)
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

async fn health(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return false;
    };
    let ask = b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    if s.write_all(ask).await.is_err() {
        return false;
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    out.starts_with(b"HTTP/1.1 200")
}

/// Sends the big bodies at once; the status line each got, counted.
async fn big_bodies(addr: &str) -> std::collections::BTreeMap<String, usize> {
    let chunk = Arc::new(vec![b'x'; 64 * 1024]);
    let senders: Vec<_> = (0..BIG_SENDERS)
        .map(|i| {
            let (addr, chunk) = (addr.to_owned(), chunk.clone());
            tokio::spawn(async move {
                let mut s = TcpStream::connect(&addr).await.ok()?;
                let head = format!(
                    "POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                     x-github-event: issues\r\nx-github-delivery: big-{i}\r\n\
                     x-hub-signature-256: sha256={}\r\ncontent-length: {BIG_BODY}\r\n\r\n",
                    "0".repeat(64)
                );
                s.write_all(head.as_bytes()).await.ok()?;
                let mut sent = 0;
                while sent < BIG_BODY {
                    let n = chunk.len().min(BIG_BODY - sent);
                    if s.write_all(&chunk[..n]).await.is_err() {
                        break; // answered early and closed: 503 before the body
                    }
                    sent += n;
                }
                let mut answer = vec![0u8; 64];
                let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut answer))
                    .await
                    .ok()?
                    .ok()?;
                let line = String::from_utf8_lossy(&answer[..n]);
                Some(line.lines().next().unwrap_or("").to_owned())
            })
        })
        .collect();
    let mut answers = std::collections::BTreeMap::new();
    for s in senders {
        let line = s.await.ok().flatten().unwrap_or_else(|| "closed".into());
        *answers.entry(line).or_insert(0) += 1;
    }
    answers
}

/// Opens the idle connections, holds them, closes them; how many opened.
async fn idle(addr: &str) -> usize {
    let mut held = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        if let Ok(mut s) = TcpStream::connect(addr).await {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\n").await;
            held.push(s);
        }
    }
    tokio::time::sleep(IDLE_HOLD).await;
    held.len()
}
