//! What the benchmarks share: `paved serve` as a process of its own, and
//! reading its memory from `/proc`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::common::{SECRET, key};

/// Starts `paved serve` on a free loopback port and waits until it answers.
pub async fn serve(dir: &std::path::Path) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_paved"))
        .arg("serve")
        .env("APP_ID", "1")
        .env("PRIVATE_KEY", &key().pem)
        .env("WEBHOOK_SECRET", SECRET)
        // The fixture's repository is acme/catalog: not this catalog.
        .env("PAVED_CATALOG_REPO", "acme/not-the-catalog")
        .env("PAVED_PLATFORM_REPO", "acme/platform")
        .env("PAVED_LISTEN", &addr)
        .env("GITHUB_API_URL", "http://127.0.0.1:9")
        .env("PAVED_WORK_DIR", dir.join("work"))
        .env(
            "PAVED_TEMPLATES",
            concat!(env!("CARGO_MANIFEST_DIR"), "/templates"),
        )
        .stderr(Stdio::null())
        .spawn()
        .expect("paved serve starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(&addr).await.is_err() {
        assert!(Instant::now() < deadline, "paved serve did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (child, addr)
}

/// A `/proc/<pid>/status` memory field (VmRSS, VmHWM), in KiB.
pub fn memory(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .expect("memory field")
}
