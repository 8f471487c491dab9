//! Template upgrades, GitOps-style: the current template is rendered with
//! the answers a service recorded, committed on top of its `paved/template`
//! branch (which only ever holds pure renders), and git's own three-way
//! merge into the service's branch keeps the service's changes. Blocking git
//! work: call it through `git::blocking`.

use std::collections::BTreeMap;

use git2::{Oid, Repository};

use crate::git::{self, Author, FileChange, GitError};
use crate::scaffold::foreign::hooks::Hooks;
use crate::scaffold::publish::{
    ANSWERS_PATH, Answers, TEMPLATE_BRANCH, answers_file, scaffold_files,
};
use crate::scaffold::{ParamError, Template, render, resolve};

#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("{0}")]
    Git(#[from] GitError),
    #[error("the recorded answers no longer fit {template}: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Answers {
        template: String,
        problems: Vec<ParamError>,
    },
    #[error("rendering: {0}")]
    Render(String),
    #[error(
        "{ANSWERS_PATH} is missing or unreadable on {TEMPLATE_BRANCH}: was this repository made by paved?"
    )]
    NoAnswers,
}

/// Whether `answers` already describe a render of `template` as it is now.
pub fn up_to_date(template: &Template, answers: &Answers) -> bool {
    answers.version == template.version && answers.digest == template.digest
}

/// The pure render of `template` with a service's recorded answers, plus the
/// updated answers file. Parameters the template dropped are left out; new
/// ones take their defaults.
pub fn render_with(
    template: &Template,
    answers: &Answers,
    hooks: &Hooks,
) -> Result<Vec<FileChange>, UpgradeError> {
    let given: BTreeMap<String, String> = answers
        .answers
        .iter()
        .filter(|(k, _)| template.param(k).is_some())
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect();
    let values = resolve(template, &given).map_err(|problems| UpgradeError::Answers {
        template: template.name.clone(),
        problems,
    })?;
    let mut rendered =
        render(template, &values, hooks).map_err(|e| UpgradeError::Render(e.to_string()))?;
    let base = crate::scaffold::base::complete(template, &mut rendered, answers.base.as_ref());
    Ok(scaffold_files(
        &rendered,
        answers_file(template, &values, &answers.request, base.as_ref()),
    ))
}

/// The answers recorded on the tip of `paved/template`.
pub fn recorded_answers(repo: &Repository, template_head: Oid) -> Result<Answers, UpgradeError> {
    let tree = repo
        .find_commit(template_head)
        .and_then(|c| c.tree())
        .map_err(GitError::from)?;
    let bytes = git::read_file(repo, &tree, ANSWERS_PATH)?.ok_or(UpgradeError::NoAnswers)?;
    Answers::parse(&bytes).map_err(|_| UpgradeError::NoAnswers)
}

/// Commits `files` as the whole tree on top of `base` (the old pure render),
/// on the local `paved/template`; `base` itself when nothing changed. A file
/// the template keeps on upgrades (Copier's `_skip_if_exists`) keeps its old
/// render, so the merge leaves the service's copy alone.
pub fn commit_render(
    repo: &Repository,
    template: &Template,
    base: Oid,
    files: &[FileChange],
    author: &Author,
    message: &str,
) -> Result<Oid, UpgradeError> {
    let base_tree = repo
        .find_commit(base)
        .and_then(|c| c.tree())
        .map_err(GitError::from)?;
    let mut files = files.to_vec();
    for file in files
        .iter_mut()
        .filter(|f| template.keeps_on_upgrade(&f.path))
    {
        if let Some(old) = git::read_file(repo, &base_tree, &file.path)? {
            file.contents = Some(old);
        }
    }
    let tree = git::write_tree(repo, None, &files)?
        .ok_or(UpgradeError::Render("the render is empty".into()))?;
    if base_tree.id() == tree {
        return Ok(base);
    }
    Ok(git::commit(
        repo,
        &format!("refs/heads/{TEMPLATE_BRANCH}"),
        tree,
        Some(base),
        author,
        message,
    )?)
}

/// The paths git's three-way merge of `theirs` into `ours` leaves in conflict.
pub fn conflicts(repo: &Repository, ours: Oid, theirs: Oid) -> Result<Vec<String>, UpgradeError> {
    let (ours, theirs) = (
        repo.find_commit(ours).map_err(GitError::from)?,
        repo.find_commit(theirs).map_err(GitError::from)?,
    );
    let index = repo
        .merge_commits(&ours, &theirs, None)
        .map_err(GitError::from)?;
    let mut paths: Vec<String> = index
        .conflicts()
        .map_err(GitError::from)?
        .filter_map(Result::ok)
        .filter_map(|c| c.our.or(c.their).or(c.ancestor))
        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
        .collect();
    paths.dedup();
    Ok(paths)
}

/// The template's `CHANGELOG.md` sections for versions after `since`
/// (`## <version>` headings, newest first as written).
pub fn changelog_since(template: &Template, since: &str) -> Option<String> {
    let text = template.changelog.as_deref()?;
    let mut out = String::new();
    let mut keep = false;
    for line in text.lines() {
        if let Some(version) = line.strip_prefix("## ") {
            keep = version.trim() != since;
            if !keep {
                break;
            }
        }
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    (!out.trim().is_empty()).then_some(out)
}

/// What an upgrade pull request says: the change, the template's notes,
/// and how to resolve any conflicts.
pub fn pull_body(
    template: &Template,
    from: &str,
    changed: &[String],
    conflicts: &[String],
) -> String {
    let mut body = format!(
        "paved rendered **{}** {} with this service's recorded answers (`{ANSWERS_PATH}`) on `{TEMPLATE_BRANCH}`. \
         Merging brings the template's changes in; git's three-way merge keeps yours.\n\n",
        template.name, template.version
    );
    match changelog_since(template, from) {
        Some(notes) => body.push_str(&format!("### What changed in the template\n\n{notes}\n")),
        None => {
            body.push_str("### Files the template changed\n\n");
            for f in changed {
                body.push_str(&format!("- `{f}`\n"));
            }
        }
    }
    if conflicts.is_empty() {
        body.push_str("\nNo conflicts: this merges cleanly.\n");
    } else {
        body.push_str("\n### Conflicts\n\nThe template and this service both changed:\n\n");
        for c in conflicts {
            body.push_str(&format!("- `{c}`\n"));
        }
        body.push_str(&format!(
            "\nResolve them locally: `git fetch && git checkout main && git merge origin/{TEMPLATE_BRANCH}`, \
             fix the files, commit and push (or run `paved upgrade --repo .`).\n"
        ));
    }
    body
}

/// Paths whose contents differ between two trees (added, changed or removed).
pub fn changed_paths(repo: &Repository, old: Oid, new: Oid) -> Result<Vec<String>, UpgradeError> {
    let tree = |oid| {
        repo.find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(GitError::from)
    };
    let diff = repo
        .diff_tree_to_tree(Some(&tree(old)?), Some(&tree(new)?), None)
        .map_err(GitError::from)?;
    Ok(diff
        .deltas()
        .filter_map(|d| {
            d.new_file()
                .path()
                .or(d.old_file().path())
                .map(|p| p.to_string_lossy().into_owned())
        })
        .collect())
}

/// What `paved upgrade --repo` did to a checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Local {
    AlreadyOn(String),
    /// Merged and committed.
    Merged {
        from: String,
        to: String,
    },
    /// Merged into the working tree; these files need resolving, then `git commit`.
    Conflicts {
        from: String,
        to: String,
        paths: Vec<String>,
    },
}

/// `paved upgrade --repo DIR`: the same upgrade on a local checkout. The new
/// render is committed on the local `paved/template` (from the local branch,
/// else `origin/paved/template`), then merged into the checked-out branch.
pub fn upgrade_checkout(
    dir: &std::path::Path,
    templates: &crate::scaffold::Templates,
    trusted: bool,
) -> Result<Local, UpgradeError> {
    let repo = Repository::open(dir).map_err(GitError::from)?;
    let dirty = repo
        .statuses(None)
        .map_err(GitError::from)?
        .iter()
        .any(|s| !s.status().is_ignored() && !s.status().is_empty());
    if dirty {
        return Err(UpgradeError::Render(
            "the working tree has uncommitted changes: commit or stash them first".into(),
        ));
    }
    let base = [
        format!("refs/heads/{TEMPLATE_BRANCH}"),
        format!("refs/remotes/origin/{TEMPLATE_BRANCH}"),
    ]
    .iter()
    .find_map(|r| repo.refname_to_id(r).ok())
    .ok_or(UpgradeError::NoAnswers)?;
    let answers = recorded_answers(&repo, base)?;
    let template = templates.get(&answers.template).ok_or_else(|| {
        UpgradeError::Render(format!(
            "template {} is not in the templates directory",
            answers.template
        ))
    })?;
    if up_to_date(template, &answers) {
        return Ok(Local::AlreadyOn(template.version.clone()));
    }
    let signature = repo
        .signature()
        .or_else(|_| git2::Signature::now("paved", "paved@localhost"))
        .map_err(GitError::from)?;
    let author = Author {
        name: signature.name().unwrap_or("paved").into(),
        email: signature.email().unwrap_or("").into(),
    };
    let (from, to) = (answers.version.clone(), template.version.clone());
    let message = format!("Upgrade {} {from} → {to}\n", template.name);
    let mut hooks = Hooks::refused(&std::env::temp_dir(), &dir.display().to_string());
    hooks.trusted = trusted;
    let files = render_with(template, &answers, &hooks)?;
    let new = commit_render(&repo, template, base, &files, &author, &message)?;
    let theirs = repo.find_annotated_commit(new).map_err(GitError::from)?;
    repo.merge(&[&theirs], None, None).map_err(GitError::from)?;
    let mut index = repo.index().map_err(GitError::from)?;
    if index.has_conflicts() {
        let paths = index
            .conflicts()
            .map_err(GitError::from)?
            .filter_map(Result::ok)
            .filter_map(|c| c.our.or(c.their))
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .collect();
        return Ok(Local::Conflicts { from, to, paths });
    }
    let tree = repo
        .find_tree(index.write_tree().map_err(GitError::from)?)
        .map_err(GitError::from)?;
    let head = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(GitError::from)?;
    let merged = repo.find_commit(new).map_err(GitError::from)?;
    let msg = format!("Merge {TEMPLATE_BRANCH}: {} {from} → {to}", template.name);
    repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        &msg,
        &tree,
        &[&head, &merged],
    )
    .map_err(GitError::from)?;
    repo.cleanup_state().map_err(GitError::from)?;
    Ok(Local::Merged { from, to })
}
