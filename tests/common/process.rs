//! `paved serve` as processes of their own, against a seeded stage: their
//! env files, starting and killing them, and the seeded randomness that
//! decides when.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::SystemTime;

use paved::demo::Stage;

/// Writes the env file of a `paved serve` for `stage`, listening on
/// `listen` with caches in `work_dir`, plus `extra` lines; its path.
pub fn env_file(
    stage: &Stage,
    dir: &Path,
    name: &str,
    listen: SocketAddr,
    work_dir: &Path,
    extra: &str,
) -> PathBuf {
    let env = format!("{}{extra}", stage.serve_env(listen, work_dir));
    let path = dir.join(format!("{name}.env"));
    std::fs::write(&path, env).unwrap();
    path
}

/// A `paved serve` process, killed when dropped: a failing test leaves
/// none running.
pub struct Paved(Child);

impl Drop for Paved {
    fn drop(&mut self) {
        kill(self);
    }
}

/// `paved serve --env-file env_file`, quiet.
pub fn spawn_paved(env_file: &Path) -> Paved {
    let child = Command::new(env!("CARGO_BIN_EXE_paved"))
        .args(["serve", "--env-file"])
        .arg(env_file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Paved(child)
}

/// SIGKILL: no chance to finish anything.
pub fn kill(paved: &mut Paved) {
    let _ = paved.0.kill();
    let _ = paved.0.wait();
}

/// A xorshift generator seeded from `var` when set (to replay a run),
/// else from the clock; says its seed.
pub struct Random {
    pub seed: u64,
    state: u64,
}

impl Random {
    pub fn new(var: &str) -> Self {
        let seed = match std::env::var(var) {
            Ok(given) => given.parse().expect("the seed is a number"),
            Err(_) => SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64,
        };
        eprintln!("random seed {seed} ({var}={seed} replays it)");
        Self {
            seed,
            state: seed | 1,
        }
    }

    /// A number below `bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state % bound
    }
}
