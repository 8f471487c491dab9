//! Bare repositories on disk. Commits written without a work tree, merges
//! and diffs go through the `git` command line; creation and reads (refs,
//! revisions, files and folders, a push's commits), made on nearly every
//! REST call or push, are made in process through libgit2, as a process
//! for each would cost more than the work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::error::SandboxError;
use super::state::RepoKey;

/// Author and committer of commits the sandbox writes itself.
#[derive(Debug, Clone)]
pub struct Signature {
    pub name: String,
    pub email: String,
}

/// A changed file between two commits, as a pull request's file list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub filename: String,
    /// `added`, `removed` or `modified`.
    pub status: &'static str,
    pub additions: u64,
    pub deletions: u64,
    pub sha: String,
}

/// One commit of a push, with the paths it touched.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub sha: String,
    pub tree: String,
    pub message: String,
    pub timestamp: String,
    pub author: Signature,
    pub committer: Signature,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub modified: Vec<String>,
}

/// What a path names at a revision.
#[derive(Debug, Clone)]
pub enum Entry {
    File { sha: String, content: Vec<u8> },
    Dir(Vec<DirEntry>),
}

#[derive(Debug, Clone)]
pub struct DirEntry {
    pub name: String,
    pub sha: String,
    pub is_dir: bool,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMethod {
    Merge,
    Squash,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    Merged(String),
    Conflict,
}

#[derive(Debug, Clone)]
pub struct GitStore {
    root: PathBuf,
}

impl GitStore {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn repo_path(&self, key: &RepoKey) -> PathBuf {
        self.root.join(&key.owner).join(format!("{}.git", key.name))
    }

    /// A bare repository with `main` as HEAD, made in process: a burst of
    /// new repositories spawns no `git` for them.
    pub async fn init(&self, key: &RepoKey) -> Result<(), SandboxError> {
        let path = self.repo_path(key);
        in_process("init", move || {
            let mut options = git2::RepositoryInitOptions::new();
            // No template folder: git's sample hooks serve nobody here.
            options
                .bare(true)
                .initial_head("main")
                .external_template(false);
            let repo = git2::Repository::init_opts(&path, &options)?;
            let mut config = repo.config()?;
            // Served over HTTP, so receive-pack must be allowed without a
            // per-repo flag.
            config.set_bool("http.receivepack", true)?;
            // GitHub packs its repositories out of band; a push here must
            // not start `git maintenance` (two more processes) on its way.
            config.set_bool("receive.autogc", false)?;
            config.set_bool("maintenance.auto", false)
        })
        .await
    }

    /// Runs `read` on `key`'s repository, opened in process.
    async fn read<T: Send + 'static>(
        &self,
        key: &RepoKey,
        read: impl FnOnce(&git2::Repository) -> Result<T, git2::Error> + Send + 'static,
    ) -> Result<T, SandboxError> {
        let path = self.repo_path(key);
        in_process("read", move || read(&git2::Repository::open_bare(path)?)).await
    }

    /// Every ref and the object it points at.
    pub async fn refs(&self, key: &RepoKey) -> Result<BTreeMap<String, String>, SandboxError> {
        self.read(key, |repo| {
            let mut refs = BTreeMap::new();
            for r in repo.references()? {
                let r = r?;
                if let (Ok(name), Some(target)) = (r.name(), r.target()) {
                    refs.insert(name.to_owned(), target.to_string());
                }
            }
            Ok(refs)
        })
        .await
    }

    /// The commit `rev` names, if any.
    pub async fn resolve(&self, key: &RepoKey, rev: &str) -> Result<Option<String>, SandboxError> {
        let spec = format!("{rev}^{{commit}}");
        self.read(key, move |repo| {
            Ok(repo.revparse_single(&spec).ok().map(|o| o.id().to_string()))
        })
        .await
    }

    /// Commits `files` on top of `branch` without a work tree and moves the
    /// branch. A new branch starts from HEAD (the default branch), or as a root
    /// commit in an empty repository.
    pub async fn write_commit(
        &self,
        key: &RepoKey,
        branch: &str,
        files: &[(String, Vec<u8>)],
        message: &str,
        author: &Signature,
    ) -> Result<String, SandboxError> {
        let path = self.repo_path(key);
        let tip = self.resolve(key, &format!("refs/heads/{branch}")).await?;
        let parent = match &tip {
            Some(tip) => Some(tip.clone()),
            None => self.resolve(key, "HEAD").await?,
        };
        let index = path.join(format!("sandbox-index-{}", super::ids::random_hex(8)));
        let index_env = index.to_string_lossy().into_owned();
        let env = [("GIT_INDEX_FILE", index_env.as_str())];
        let result = async {
            if let Some(parent) = &parent {
                run(&path, &["read-tree", parent], &env, None).await?;
            }
            for (file, content) in files {
                let blob =
                    run(&path, &["hash-object", "-w", "--stdin"], &[], Some(content)).await?;
                let info = format!("100644,{},{file}", blob.trim());
                run(
                    &path,
                    &["update-index", "--add", "--cacheinfo", &info],
                    &env,
                    None,
                )
                .await?;
            }
            let tree = run(&path, &["write-tree"], &env, None).await?;
            self.commit_tree(key, tree.trim(), parent.as_slice(), message, author)
                .await
        }
        .await;
        let _ = tokio::fs::remove_file(&index).await;
        let sha = result?;
        self.update_ref(key, branch, &sha, tip.as_deref()).await?;
        Ok(sha)
    }

    /// The tree of merging `head` into `base`, or `None` on conflicts.
    pub async fn merge_tree(
        &self,
        key: &RepoKey,
        base: &str,
        head: &str,
    ) -> Result<Option<String>, SandboxError> {
        let out = Command::new("git")
            .args(["merge-tree", "--write-tree", "--no-messages", base, head])
            .current_dir(self.repo_path(key))
            .stdin(Stdio::null())
            .output()
            .await?;
        match out.status.code() {
            Some(0) => {}
            Some(1) => return Ok(None),
            _ => return Err(git_failure("merge-tree", &out.stderr)),
        }
        let tree = String::from_utf8_lossy(&out.stdout);
        Ok(tree.lines().next().map(|t| t.trim().to_string()))
    }

    pub async fn delete_branch(&self, key: &RepoKey, branch: &str) -> Result<(), SandboxError> {
        let name = format!("refs/heads/{branch}");
        run_in(self, key, &["update-ref", "-d", &name])
            .await
            .map(drop)
    }

    /// The tree a commit records.
    pub async fn tree_of(&self, key: &RepoKey, commit: &str) -> Result<String, SandboxError> {
        let spec = format!("{commit}^{{tree}}");
        self.read(key, move |repo| {
            Ok(repo.revparse_single(&spec)?.id().to_string())
        })
        .await
    }

    /// Starts `to`'s branch `branch` with one commit holding the tree of
    /// `from`'s branch, as "Use this template" does.
    pub async fn copy_tree(
        &self,
        from: &RepoKey,
        to: &RepoKey,
        branch: &str,
        message: &str,
        author: &Signature,
    ) -> Result<String, SandboxError> {
        let fetched = "refs/sandbox/template";
        self.fetch(from, to, &format!("+refs/heads/{branch}:{fetched}"))
            .await?;
        let tree = self.tree_of(to, fetched).await?;
        let sha = self.commit_tree(to, &tree, &[], message, author).await?;
        self.update_ref(to, branch, &sha, None).await?;
        run_in(self, to, &["update-ref", "-d", fetched]).await?;
        Ok(sha)
    }

    /// Gives `to` (a new, empty repository) every branch of `from`, as a fork starts.
    pub async fn fork(&self, from: &RepoKey, to: &RepoKey) -> Result<(), SandboxError> {
        self.fetch(from, to, "+refs/heads/*:refs/heads/*").await
    }

    /// Fetches `refspec` (or a commit) of the sandbox repository `from` into `to`.
    async fn fetch(&self, from: &RepoKey, to: &RepoKey, refspec: &str) -> Result<(), SandboxError> {
        let source = self.repo_path(from);
        let source = source.to_string_lossy();
        let args = [
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            &source,
            refspec,
        ];
        run_in(self, to, &args).await.map(drop)
    }

    /// The head of `branch` in the fork `from`, with its commits fetched
    /// into `to`: a fork's commits are readable in the base repository, as
    /// in GitHub's fork network. `None` when the branch does not exist.
    pub async fn fetch_fork_head(
        &self,
        from: &RepoKey,
        branch: &str,
        to: &RepoKey,
    ) -> Result<Option<String>, SandboxError> {
        let Some(sha) = self.resolve(from, &format!("refs/heads/{branch}")).await? else {
            return Ok(None);
        };
        self.fetch(from, to, &sha).await?;
        Ok(Some(sha))
    }

    /// Points `refs/pull/{number}/head` of `key` at `sha`.
    pub async fn set_pull_head(
        &self,
        key: &RepoKey,
        number: u64,
        sha: &str,
    ) -> Result<(), SandboxError> {
        let name = format!("refs/pull/{number}/head");
        run_in(self, key, &["update-ref", &name, sha])
            .await
            .map(drop)
    }

    /// Merges `head_sha` into branch `base` the way GitHub's merge button does
    /// and moves `base`.
    pub async fn merge(
        &self,
        key: &RepoKey,
        base: &str,
        head_sha: &str,
        message: &str,
        author: &Signature,
        method: MergeMethod,
    ) -> Result<MergeOutcome, SandboxError> {
        let Some(base_sha) = self.resolve(key, &format!("refs/heads/{base}")).await? else {
            return Ok(MergeOutcome::Conflict);
        };
        let Some(tree) = self.merge_tree(key, &base_sha, head_sha).await? else {
            return Ok(MergeOutcome::Conflict);
        };
        let parents = match method {
            MergeMethod::Merge => vec![base_sha.clone(), head_sha.to_string()],
            MergeMethod::Squash => vec![base_sha.clone()],
        };
        let sha = self
            .commit_tree(key, &tree, &parents, message, author)
            .await?;
        self.update_ref(key, base, &sha, Some(&base_sha)).await?;
        Ok(MergeOutcome::Merged(sha))
    }

    /// How many commits `head` has that `base` lacks.
    pub async fn count_commits(
        &self,
        key: &RepoKey,
        base: &str,
        head: &str,
    ) -> Result<u64, SandboxError> {
        let range = format!("{base}..{head}");
        let out = run_in(self, key, &["rev-list", "--count", &range]).await?;
        Ok(out.trim().parse().unwrap_or(0))
    }

    async fn commit_tree(
        &self,
        key: &RepoKey,
        tree: &str,
        parents: &[String],
        message: &str,
        author: &Signature,
    ) -> Result<String, SandboxError> {
        let mut args = vec!["commit-tree", tree];
        for p in parents {
            args.extend(["-p", p.as_str()]);
        }
        let env = [
            ("GIT_AUTHOR_NAME", author.name.as_str()),
            ("GIT_AUTHOR_EMAIL", author.email.as_str()),
            ("GIT_COMMITTER_NAME", author.name.as_str()),
            ("GIT_COMMITTER_EMAIL", author.email.as_str()),
        ];
        let sha = run(&self.repo_path(key), &args, &env, Some(message.as_bytes())).await?;
        Ok(sha.trim().to_string())
    }

    async fn update_ref(
        &self,
        key: &RepoKey,
        branch: &str,
        new: &str,
        old: Option<&str>,
    ) -> Result<(), SandboxError> {
        let name = format!("refs/heads/{branch}");
        // An empty old value makes git insist the ref does not exist yet.
        let args = ["update-ref", name.as_str(), new, old.unwrap_or("")];
        run_in(self, key, &args).await.map(drop)
    }

    /// Files changed on `head` since it forked from `base` (GitHub's three-dot diff).
    pub async fn diff_files(
        &self,
        key: &RepoKey,
        base: &str,
        head: &str,
    ) -> Result<Vec<FileChange>, SandboxError> {
        let fork = run_in(self, key, &["merge-base", base, head]).await?;
        let fork = fork.trim();
        let raw = run_in(
            self,
            key,
            &["diff", "--no-renames", "--raw", "-z", fork, head],
        )
        .await?;
        let numstat = run_in(
            self,
            key,
            &["diff", "--no-renames", "--numstat", "-z", fork, head],
        )
        .await?;
        let stats: Vec<(u64, u64)> = numstat
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(|line| {
                let mut parts = line.split('\t');
                let n = |p: Option<&str>| p.and_then(|v| v.parse().ok()).unwrap_or(0);
                (n(parts.next()), n(parts.next()))
            })
            .collect();
        // `--raw -z` alternates ":meta" and path fields.
        let fields: Vec<&str> = raw.split('\0').filter(|s| !s.is_empty()).collect();
        Ok(fields
            .chunks(2)
            .zip(stats)
            .filter_map(|(pair, (additions, deletions))| {
                let meta: Vec<&str> = pair.first()?.split(' ').collect();
                let status = match *meta.get(4)? {
                    "A" => "added",
                    "D" => "removed",
                    _ => "modified",
                };
                let sha = if status == "removed" {
                    meta.get(2)?
                } else {
                    meta.get(3)?
                };
                Some(FileChange {
                    filename: pair.get(1)?.to_string(),
                    status,
                    additions,
                    deletions,
                    sha: sha.to_string(),
                })
            })
            .collect())
    }

    /// Commits a push of `ref_name` brought: reachable from `after` but not from
    /// `before` (or, for a new branch, from any other branch), oldest first, at
    /// most the last 20 like GitHub's payload. Read in process: a push's
    /// webhook needs it for every ref the push moved.
    pub async fn commits(
        &self,
        key: &RepoKey,
        ref_name: &str,
        before: Option<&str>,
        after: &str,
    ) -> Result<Vec<CommitInfo>, SandboxError> {
        let (ref_name, before, after) = (
            ref_name.to_owned(),
            before.map(str::to_owned),
            after.to_owned(),
        );
        self.read(key, move |repo| {
            let mut walk = repo.revwalk()?;
            walk.set_sorting(git2::Sort::TIME | git2::Sort::REVERSE)?;
            walk.push(git2::Oid::from_str(&after)?)?;
            match before {
                Some(before) => walk.hide(git2::Oid::from_str(&before)?)?,
                None => {
                    for branch in repo.references_glob("refs/heads/*")? {
                        let branch = branch?;
                        match branch.target() {
                            Some(tip) if branch.name_bytes() != ref_name.as_bytes() => {
                                walk.hide(tip)?
                            }
                            _ => {}
                        }
                    }
                }
            }
            // Only the last 20 are described: a diff for each older one
            // would be work thrown away.
            let ids = walk.collect::<Result<Vec<_>, _>>()?;
            let last = &ids[ids.len().saturating_sub(20)..];
            last.iter()
                .map(|id| commit_info(repo, &repo.find_commit(*id)?))
                .collect()
        })
        .await
    }

    /// The file or directory at `path` on `rev`.
    pub async fn read_path(
        &self,
        key: &RepoKey,
        rev: &str,
        path: &str,
    ) -> Result<Option<Entry>, SandboxError> {
        let Some(commit) = self.resolve(key, rev).await? else {
            return Ok(None);
        };
        let path = path.trim_matches('/').to_owned();
        self.read(key, move |repo| {
            let root = repo.find_commit(git2::Oid::from_str(&commit)?)?.tree()?;
            let (id, kind) = if path.is_empty() {
                (root.id(), Some(git2::ObjectType::Tree))
            } else {
                match root.get_path(Path::new(&path)) {
                    Ok(entry) => (entry.id(), entry.kind()),
                    Err(_) => return Ok(None),
                }
            };
            match kind {
                Some(git2::ObjectType::Blob) => Ok(Some(Entry::File {
                    sha: id.to_string(),
                    content: repo.find_blob(id)?.content().to_vec(),
                })),
                Some(git2::ObjectType::Tree) => {
                    let odb = repo.odb()?;
                    let entries = repo
                        .find_tree(id)?
                        .iter()
                        .map(|e| {
                            let size = if e.kind() == Some(git2::ObjectType::Blob) {
                                odb.read_header(e.id()).map_or(0, |(n, _)| n as u64)
                            } else {
                                0
                            };
                            DirEntry {
                                name: String::from_utf8_lossy(e.name_bytes()).into_owned(),
                                sha: e.id().to_string(),
                                is_dir: e.kind() == Some(git2::ObjectType::Tree),
                                size,
                            }
                        })
                        .collect();
                    Ok(Some(Entry::Dir(entries)))
                }
                // A submodule's commit is not in this repository.
                _ => Ok(None),
            }
        })
        .await
    }
}

/// A commit as a push's payload tells it. The paths are those `git log
/// --name-status` gives: against the first parent, none for a merge.
fn commit_info(repo: &git2::Repository, commit: &git2::Commit) -> Result<CommitInfo, git2::Error> {
    let signature = |s: git2::Signature| Signature {
        name: String::from_utf8_lossy(s.name_bytes()).into_owned(),
        email: String::from_utf8_lossy(s.email_bytes()).into_owned(),
    };
    let when = commit.author().when();
    let timestamp = chrono::FixedOffset::east_opt(when.offset_minutes() * 60)
        .and_then(|zone| {
            chrono::DateTime::from_timestamp(when.seconds(), 0).map(|t| t.with_timezone(&zone))
        })
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
        .unwrap_or_default();
    let mut info = CommitInfo {
        sha: commit.id().to_string(),
        tree: commit.tree_id().to_string(),
        message: String::from_utf8_lossy(commit.message_bytes())
            .trim_end()
            .to_string(),
        timestamp,
        author: signature(commit.author()),
        committer: signature(commit.committer()),
        added: Vec::new(),
        removed: Vec::new(),
        modified: Vec::new(),
    };
    if commit.parent_count() > 1 {
        return Ok(info);
    }
    let parent = match commit.parent_count() {
        0 => None,
        _ => Some(commit.parent(0)?.tree()?),
    };
    let diff = repo.diff_tree_to_tree(parent.as_ref(), Some(&commit.tree()?), None)?;
    for delta in diff.deltas() {
        let (list, file) = match delta.status() {
            git2::Delta::Added => (&mut info.added, delta.new_file()),
            git2::Delta::Deleted => (&mut info.removed, delta.old_file()),
            _ => (&mut info.modified, delta.new_file()),
        };
        if let Some(path) = file.path() {
            list.push(path.to_string_lossy().into_owned());
        }
    }
    Ok(info)
}

async fn run_in(store: &GitStore, key: &RepoKey, args: &[&str]) -> Result<String, SandboxError> {
    run(&store.repo_path(key), args, &[], None).await
}

/// Runs libgit2 `work` on a blocking thread; its error is told as
/// `command`'s.
async fn in_process<T: Send + 'static>(
    command: &'static str,
    work: impl FnOnce() -> Result<T, git2::Error> + Send + 'static,
) -> Result<T, SandboxError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SandboxError::Io(std::io::Error::other(e)))?
        .map_err(|e| SandboxError::Git {
            command: command.into(),
            stderr: e.message().to_owned(),
        })
}

/// Runs git in `dir` with extra environment and optional stdin, returning stdout.
async fn run(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> Result<String, SandboxError> {
    let mut child = Command::new("git")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input).await?;
    }
    let out = child.wait_with_output().await?;
    if !out.status.success() {
        return Err(git_failure(args.first().unwrap_or(&""), &out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn git_failure(command: &str, stderr: &[u8]) -> SandboxError {
    SandboxError::Git {
        command: command.to_string(),
        stderr: String::from_utf8_lossy(stderr).trim().to_string(),
    }
}
