//! Reading the platform repository's history, for rollbacks: every version
//! an Application file had on the default branch, newest first.

use std::path::Path;

use crate::git::{self, GitError};
use crate::secret::Secret;

/// The contents `path` had in each commit on `branch` that changed it,
/// newest first. Blocking: run it in `spawn_blocking`.
pub fn versions(
    cache_dir: &Path,
    url: &str,
    token: &Secret,
    branch: &str,
    path: &str,
) -> Result<Vec<Vec<u8>>, GitError> {
    let repo = git::open_cache(cache_dir)?;
    let Some(head) = git::fetch(&repo, url, token, branch)? else {
        return Ok(vec![]);
    };
    let mut walk = repo.revwalk()?;
    walk.push(head)?;
    walk.simplify_first_parent()?;
    let mut out: Vec<Vec<u8>> = Vec::new();
    for oid in walk {
        let tree = repo.find_commit(oid?)?.tree()?;
        if let Some(bytes) = git::read_file(&repo, &tree, path)?
            && out.last() != Some(&bytes)
        {
            out.push(bytes);
        }
    }
    Ok(out)
}
