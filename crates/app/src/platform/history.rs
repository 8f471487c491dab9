//! Reading the platform repository through a local clone: every version an
//! Application file had on the default branch, newest first (for
//! rollbacks), and every Application it holds now (for the fleet dashboard).

use std::path::Path;

use crate::git::{self, GitError};
use crate::secret::Secret;

/// For each of `paths`, the contents it had in each commit on `branch` that
/// changed it, newest first: one fetch and one walk of the history for all
/// of them. Blocking: run it through `git::blocking`.
pub fn versions(
    cache_dir: &Path,
    url: &str,
    token: &Secret,
    branch: &str,
    paths: &[String],
) -> Result<Vec<Vec<Vec<u8>>>, GitError> {
    let mut out: Vec<Vec<Vec<u8>>> = vec![Vec::new(); paths.len()];
    let repo = git::open_cache(cache_dir)?;
    let Some(head) = git::fetch(&repo, url, token, branch)? else {
        return Ok(out);
    };
    let mut walk = repo.revwalk()?;
    walk.push(head)?;
    walk.simplify_first_parent()?;
    for oid in walk {
        let tree = repo.find_commit(oid?)?.tree()?;
        for (path, versions) in paths.iter().zip(&mut out) {
            if let Some(bytes) = git::read_file(&repo, &tree, path)?
                && versions.last() != Some(&bytes)
            {
                versions.push(bytes);
            }
        }
    }
    Ok(out)
}

/// At most this many Application files are read for the fleet dashboard:
/// the platform repository is input, and its size is not paved's to choose.
pub const MAX_APPLICATIONS: usize = 20_000;

/// Every file `apps/<service>/<environment>.yaml` on `branch` now, by path
/// (at most [`MAX_APPLICATIONS`]). Blocking: run it through `git::blocking`.
pub fn applications(
    cache_dir: &Path,
    url: &str,
    token: &Secret,
    branch: &str,
) -> Result<Vec<(String, Vec<u8>)>, GitError> {
    let repo = git::open_cache(cache_dir)?;
    let Some(head) = git::fetch(&repo, url, token, branch)? else {
        return Ok(vec![]);
    };
    let tree = repo.find_commit(head)?.tree()?;
    let Ok(apps) = tree.get_path(Path::new("apps")) else {
        return Ok(vec![]);
    };
    let Ok(apps) = repo.find_tree(apps.id()) else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    for service in apps.iter() {
        let Some(dir) = service.to_object(&repo)?.into_tree().ok() else {
            continue;
        };
        for file in dir.iter() {
            let (Ok(s), Ok(f)) = (service.name(), file.name()) else {
                continue;
            };
            let Ok(blob) = file.to_object(&repo)?.into_blob() else {
                continue;
            };
            if out.len() == MAX_APPLICATIONS {
                return Ok(out);
            }
            out.push((format!("apps/{s}/{f}"), blob.content().to_vec()));
        }
    }
    Ok(out)
}
