//! Git through libgit2: trees built from files in memory, commits, fetches and
//! pushes over HTTP(S) with an installation token. Blocking: call it through
//! [`blocking`].

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Once, OnceLock};

use git2::{
    Cred, Direction, FetchOptions, ObjectType, Oid, PushOptions, RemoteCallbacks, Repository,
    Signature, Tree,
};

use crate::secret::Secret;

const FILE_MODE: i32 = 0o100_644;
const EXEC_MODE: i32 = 0o100_755;
const TREE_MODE: i32 = 0o040_000;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    /// The remote moved since we fetched: fetch, re-apply, push again.
    #[error("the remote branch moved on; fetch and try again")]
    NotFastForward,
    /// The server refused a ref (a hook, branch protection): a failure even
    /// though libgit2's push returned success.
    #[error("the server rejected {}", .0.iter().map(|(r, m)| format!("{r} ({m})")).collect::<Vec<_>>().join(", "))]
    Rejected(Vec<(String, String)>),
    /// Others kept pushing first, every time.
    #[error("the branch kept moving; gave up after {0} attempts")]
    Raced(u32),
}

impl GitError {
    /// A failure that may pass: the server answered 5xx or 429, or the
    /// connection failed or timed out. Refusals (other 4xx, rejected refs)
    /// are not.
    pub fn is_transient(&self) -> bool {
        match self {
            GitError::Git(e) => {
                let message = e.message();
                matches!(e.class(), git2::ErrorClass::Net | git2::ErrorClass::Os)
                    || message.contains("status code: 5")
                    || message.contains("status code: 429")
                    || message.contains("timed out")
            }
            _ => false,
        }
    }
}

/// Runs git work `f` on tokio's blocking pool, on a thread that does not take
/// SIGCHLD: libgit2's sockets carry timeouts, and a socket call with a
/// timeout fails with EINTR when a signal lands on its thread, even under
/// SA_RESTART. Child processes exiting anywhere in the process (a template
/// hook, the sandbox's git in the tests) would otherwise fail fetches and
/// pushes at random.
pub fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> tokio::task::JoinHandle<T> {
    tokio::task::spawn_blocking(move || {
        without_sigchld();
        f()
    })
}

/// Blocks SIGCHLD for the calling thread; the process still gets it, on a
/// thread that does not block it.
fn without_sigchld() {
    #[cfg(unix)]
    // SAFETY: sigemptyset, sigaddset and pthread_sigmask only write the
    // set we own and this thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// The bound [`set_timeouts`] recorded, in milliseconds.
static TIMEOUT_MS: OnceLock<i32> = OnceLock::new();

/// Bounds every network operation of libgit2: a server that stops answering
/// fails the call instead of hanging it. Recorded at startup, and given to
/// libgit2 before this process's first connection ([`callbacks`]): setting
/// it initialises libgit2 and its TLS library, which a process that has not
/// yet talked git has no need to hold in memory.
pub fn set_timeouts(timeout: std::time::Duration) {
    let _ = TIMEOUT_MS.set(i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX));
}

fn apply_timeouts() {
    static APPLIED: Once = Once::new();
    APPLIED.call_once(|| {
        let Some(&ms) = TIMEOUT_MS.get() else {
            return;
        };
        // SAFETY: libgit2's global options, which it reads when a connection
        // opens; set once, before the first connection of this process, as
        // every connection's callbacks come from `callbacks`.
        unsafe {
            let _ = git2::opts::set_server_connect_timeout_in_milliseconds(ms);
            let _ = git2::opts::set_server_timeout_in_milliseconds(ms);
        }
    });
}

/// Attempts at a git exchange that fails transiently (5xx, timeouts).
pub const TRANSIENT_ATTEMPTS: u32 = 4;

/// Runs `op` again after a short pause while it fails transiently, at most
/// `attempts` times in all.
pub fn with_retries<T>(
    attempts: u32,
    mut op: impl FnMut() -> Result<T, GitError>,
) -> Result<T, GitError> {
    let mut attempt = 1;
    loop {
        match op() {
            Err(e) if e.is_transient() && attempt < attempts => {
                tracing::warn!(attempt, error = %e, "git failed; trying again");
                std::thread::sleep(std::time::Duration::from_millis(250 * u64::from(attempt)));
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// A file to write (or, with `contents: None`, delete) at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    pub contents: Option<Vec<u8>>,
    pub executable: bool,
}

/// Who commits: the App's bot identity.
#[derive(Debug, Clone)]
pub struct Author {
    pub name: String,
    pub email: String,
}

/// Opens (or creates) the bare repository that caches a remote locally.
pub fn open_cache(dir: &Path) -> Result<Repository, GitError> {
    match Repository::open_bare(dir) {
        Ok(r) => Ok(r),
        Err(_) => {
            std::fs::create_dir_all(dir).map_err(|e| git2::Error::from_str(&e.to_string()))?;
            Ok(Repository::init_bare(dir)?)
        }
    }
}

/// The callbacks of every connection: the token, and the timeouts set first.
fn callbacks(token: &Secret) -> RemoteCallbacks<'_> {
    apply_timeouts();
    let mut cbs = RemoteCallbacks::new();
    cbs.credentials(move |_, _, _| Cred::userpass_plaintext("x-access-token", token.expose()));
    cbs
}

/// The remote's branches and their commits (`git ls-remote --heads`).
pub fn remote_heads(
    repo: &Repository,
    url: &str,
    token: &Secret,
) -> Result<BTreeMap<String, Oid>, GitError> {
    let mut remote = repo.remote_anonymous(url)?;
    let connection = remote.connect_auth(Direction::Fetch, Some(callbacks(token)), None)?;
    let heads = connection
        .list()?
        .iter()
        .filter_map(|h| {
            h.name()
                .strip_prefix("refs/heads/")
                .map(|b| (b.to_owned(), h.oid()))
        })
        .collect();
    Ok(heads)
}

/// Fetches `branch` into `refs/remotes/origin/<branch>`; its commit, or
/// `None` when the remote has no such branch.
pub fn fetch(
    repo: &Repository,
    url: &str,
    token: &Secret,
    branch: &str,
) -> Result<Option<Oid>, GitError> {
    if !remote_heads(repo, url, token)?.contains_key(branch) {
        return Ok(None);
    }
    let mut remote = repo.remote_anonymous(url)?;
    let mut opts = FetchOptions::new();
    opts.remote_callbacks(callbacks(token));
    let tracking = format!("refs/remotes/origin/{branch}");
    remote.fetch(
        &[format!("+refs/heads/{branch}:{tracking}")],
        Some(&mut opts),
        None,
    )?;
    Ok(Some(repo.refname_to_id(&tracking)?))
}

/// Writes `changes` on top of `base` and returns the new tree, or `None`
/// when the result is empty.
pub fn write_tree(
    repo: &Repository,
    base: Option<&Tree>,
    changes: &[FileChange],
) -> Result<Option<Oid>, GitError> {
    let items: Vec<(&str, &FileChange)> = changes.iter().map(|c| (c.path.as_str(), c)).collect();
    build(repo, base, &items)
}

fn build(
    repo: &Repository,
    base: Option<&Tree>,
    changes: &[(&str, &FileChange)],
) -> Result<Option<Oid>, GitError> {
    let mut builder = repo.treebuilder(base)?;
    let mut by_dir: BTreeMap<&str, Vec<(&str, &FileChange)>> = BTreeMap::new();
    for (path, change) in changes {
        match path.split_once('/') {
            None => match &change.contents {
                Some(bytes) => {
                    let mode = if change.executable {
                        EXEC_MODE
                    } else {
                        FILE_MODE
                    };
                    builder.insert(path, repo.blob(bytes)?, mode)?;
                }
                None if builder.get(path)?.is_some() => builder.remove(path)?,
                None => {}
            },
            Some((dir, rest)) => by_dir.entry(dir).or_default().push((rest, change)),
        }
    }
    for (dir, sub) in by_dir {
        let existing = builder
            .get(dir)?
            .filter(|e| e.kind() == Some(ObjectType::Tree))
            .map(|e| e.id());
        let sub_base = existing.map(|id| repo.find_tree(id)).transpose()?;
        match build(repo, sub_base.as_ref(), &sub)? {
            Some(oid) => {
                builder.insert(dir, oid, TREE_MODE)?;
            }
            None if builder.get(dir)?.is_some() => builder.remove(dir)?,
            None => {}
        }
    }
    if builder.is_empty() {
        Ok(None)
    } else {
        Ok(Some(builder.write()?))
    }
}

/// Commits `tree` with `parent` (if any) and points `refname` at it.
pub fn commit(
    repo: &Repository,
    refname: &str,
    tree: Oid,
    parent: Option<Oid>,
    author: &Author,
    message: &str,
) -> Result<Oid, GitError> {
    let signature = Signature::now(&author.name, &author.email)?;
    let tree = repo.find_tree(tree)?;
    let parent = parent.map(|p| repo.find_commit(p)).transpose()?;
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let oid = repo.commit(None, &signature, &signature, message, &tree, &parents)?;
    repo.reference(refname, oid, true, "paved")?;
    Ok(oid)
}

/// Pushes `refspecs`; never forced. A ref the server refuses is an error.
pub fn push(
    repo: &Repository,
    url: &str,
    token: &Secret,
    refspecs: &[String],
) -> Result<(), GitError> {
    let rejected = RefCell::new(Vec::new());
    let mut cbs = callbacks(token);
    cbs.push_update_reference(|refname, status| {
        if let Some(message) = status {
            rejected
                .borrow_mut()
                .push((refname.to_owned(), message.to_owned()));
        }
        Ok(())
    });
    let mut opts = PushOptions::new();
    opts.remote_callbacks(cbs);
    let mut remote = repo.remote_anonymous(url)?;
    match remote.push(refspecs, Some(&mut opts)) {
        Err(e) if e.code() == git2::ErrorCode::NotFastForward => {
            return Err(GitError::NotFastForward);
        }
        other => other?,
    }
    drop(opts);
    let rejected = rejected.into_inner();
    if rejected
        .iter()
        .any(|(_, m)| m.contains("fetch first") || m.contains("non-fast-forward"))
    {
        return Err(GitError::NotFastForward);
    }
    if rejected.is_empty() {
        Ok(())
    } else {
        Err(GitError::Rejected(rejected))
    }
}

/// The blob at `path` in `tree`, if any.
pub fn read_file(repo: &Repository, tree: &Tree, path: &str) -> Result<Option<Vec<u8>>, GitError> {
    match tree.get_path(Path::new(path)) {
        Ok(entry) => Ok(Some(repo.find_blob(entry.id())?.content().to_vec())),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}
