//! Pushing a scaffold: one commit holding the rendered files and paved's
//! record of how they were made, on the default branch and on `paved/template` (the
//! branch that only ever receives pure renders, for template upgrades).

use std::path::Path;

use serde::Serialize;

use super::{Rendered, Template, Values};
use crate::git::{self, Author, FileChange, GitError};
use crate::secret::Secret;

/// The branch holding untouched renders of the template.
pub const TEMPLATE_BRANCH: &str = "paved/template";
/// paved's record in every scaffold.
pub const ANSWERS_PATH: &str = ".paved/answers.yml";

/// `.paved/answers.yml`: how a repository was made.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Answers {
    pub template: String,
    pub version: String,
    /// The template folder's digest when rendered.
    #[serde(default)]
    pub digest: String,
    pub request: String,
    pub answers: std::collections::BTreeMap<String, serde_json::Value>,
    /// What paved's standard base was made for, when paved added it to a
    /// foreign template's render: an upgrade adds it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<super::base::Service>,
}

impl Answers {
    pub fn parse(bytes: &[u8]) -> Result<Self, crate::yaml::Error> {
        crate::yaml::from_str(&String::from_utf8_lossy(bytes))
    }
}

/// `.paved/answers.yml`: the template, its version and digest, every value
/// used, and what the standard base (if added) was made for.
pub fn answers_file(
    template: &Template,
    values: &Values,
    request_url: &str,
    base: Option<&super::base::Service>,
) -> Vec<u8> {
    let answers = Answers {
        template: template.name.clone(),
        version: template.version.clone(),
        digest: template.digest.clone(),
        request: request_url.to_owned(),
        answers: values.as_map().clone(),
        base: base.cloned(),
    };
    let body = crate::yaml::to_string(&answers).expect("answers serialize");
    format!("# Written by paved: how this repository was made. paved owns this file.\n{body}")
        .into_bytes()
}

/// The files of a scaffold commit: the render plus the answers file.
pub fn scaffold_files(rendered: &Rendered, answers: Vec<u8>) -> Vec<FileChange> {
    let mut files: Vec<FileChange> = rendered
        .files
        .iter()
        .map(|f| FileChange {
            path: f.path.clone(),
            contents: Some(f.contents.clone()),
            executable: f.executable,
        })
        .collect();
    files.push(FileChange {
        path: ANSWERS_PATH.into(),
        contents: Some(answers),
        executable: false,
    });
    files
}

/// Where a scaffold goes: the repository's clone URL, the token to push
/// with, its default branch, and whether this very run made it.
pub struct Destination<'a> {
    pub url: &'a str,
    pub token: &'a Secret,
    pub branch: &'a str,
    /// Made by this run, so empty: its branches need not be read before
    /// the push. Should someone have pushed first, the push is refused and
    /// they are read then.
    pub made_now: bool,
}

/// Pushes the initial commit to a new repository, unless it already holds
/// paved's scaffold (the `paved/template` branch), which makes this
/// idempotent. Returns the commit on the destination's default branch.
pub fn push_initial(
    cache_dir: &Path,
    to: &Destination<'_>,
    files: &[FileChange],
    author: &Author,
    message: &str,
) -> Result<String, GitError> {
    let (url, token, branch) = (to.url, to.token, to.branch);
    let repo = git::open_cache(cache_dir)?;
    let heads = if to.made_now {
        Default::default()
    } else {
        git::remote_heads(&repo, url, token)?
    };
    if let Some(done) = heads.get(TEMPLATE_BRANCH) {
        return Ok(heads.get(branch).unwrap_or(done).to_string());
    }
    let tree = git::write_tree(&repo, None, files)?
        .ok_or_else(|| git2::Error::from_str("empty scaffold"))?;
    let commit = git::commit(
        &repo,
        &format!("refs/heads/{TEMPLATE_BRANCH}"),
        tree,
        None,
        author,
        message,
    )?;
    let mut refspecs = vec![format!(
        "refs/heads/{TEMPLATE_BRANCH}:refs/heads/{TEMPLATE_BRANCH}"
    )];
    // Someone pushed to the branch first: keep their work, only add the
    // template branch.
    if !heads.contains_key(branch) {
        let target = format!("refs/heads/{branch}");
        repo.reference(&target, commit, true, "paved")?;
        refspecs.insert(0, format!("{target}:{target}"));
    }
    if let Err(e) = git::push(&repo, url, token, &refspecs) {
        // Another replica (or a retry racing a crash) may have pushed it first.
        let now = git::remote_heads(&repo, url, token)?;
        return match (now.get(TEMPLATE_BRANCH), now.get(branch)) {
            (Some(_), Some(head)) => Ok(head.to_string()),
            _ => Err(e),
        };
    }
    Ok(heads.get(branch).copied().unwrap_or(commit).to_string())
}
