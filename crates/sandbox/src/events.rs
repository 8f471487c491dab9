//! Webhook payloads for what actors do: the common envelope, pushes (with
//! `pull_request.synchronize` for open PRs on the pushed branch, and the
//! CI runs a push queues).

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::Shared;
use super::git::CommitInfo;
use super::state::{IssueState, Repo, RepoKey, World};

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

impl Shared {
    /// Queues `event` with GitHub's envelope (`action`, `fields`, `repository`,
    /// `organization`, `sender`, `installation`). Only repositories where the App
    /// is installed produce deliveries, as on GitHub. Called with the world
    /// locked, so deliveries keep the order of the changes.
    pub(crate) fn emit(
        &self,
        world: &World,
        event: &str,
        action: Option<&str>,
        repo: &Repo,
        sender: &str,
        fields: Vec<(&str, Value)>,
    ) {
        let Some(installation) = world.installation_for(&repo.key.owner) else {
            return;
        };
        let render = self.render(world);
        let mut payload = Map::new();
        if let Some(action) = action {
            payload.insert("action".into(), action.into());
        }
        for (name, value) in fields {
            payload.insert(name.into(), value);
        }
        // A push carries its own rendering of the repository.
        payload
            .entry("repository")
            .or_insert_with(|| render.repo(repo));
        if let Some(org) = render.organization(&repo.key.owner) {
            payload.insert("organization".into(), org);
        }
        payload.insert("sender".into(), render.user(sender));
        payload.insert(
            "installation".into(),
            json!({"id": installation.id, "node_id": format!("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{}", installation.id)}),
        );
        self.hooks.enqueue(event, &Value::Object(payload));
    }
}

/// `installation` `created`, as GitHub sends when the App is installed on an
/// account (all repositories); the account itself stands in as the sender.
pub(crate) fn installation_created(shared: &Shared, world: &World, id: u64) {
    let Some(installation) = world.installations.get(&id) else {
        return;
    };
    let render = shared.render(world);
    let repositories: Vec<Value> = world
        .repos()
        .filter(|r| r.key.owner.eq_ignore_ascii_case(&installation.account))
        .map(|r| {
            json!({"id": r.id, "node_id": format!("R_{:08}", r.id), "name": r.key.name,
                   "full_name": r.key.full_name(), "private": r.private})
        })
        .collect();
    let payload = json!({
        "action": "created",
        "installation": render.installation(installation),
        "repositories": repositories,
        "requester": null,
        "sender": render.user(&installation.account),
    });
    shared.hooks.enqueue("installation", &payload);
}

/// After refs of `key` moved from `before` to `after` (a git push or a commit
/// written for an actor): one `push` per changed ref, `synchronize` for open
/// pull requests whose head moved.
pub(crate) async fn after_push(
    shared: &Shared,
    key: &RepoKey,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    pusher: &str,
) {
    let mut changed: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for name in before.keys().chain(after.keys()) {
        let (old, new) = (before.get(name), after.get(name));
        if old != new && !changed.iter().any(|(n, ..)| n == name) {
            changed.push((name.clone(), old.cloned(), new.cloned()));
        }
    }
    for (ref_name, old, new) in changed {
        let commits = match &new {
            Some(new) => shared
                .git
                .commits(key, &ref_name, old.as_deref(), new)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "could not list pushed commits");
                    Vec::new()
                }),
            None => Vec::new(),
        };
        record_ref_change(shared, key, &ref_name, &old, &new, &commits, pusher);
        if let (Some(branch), Some(sha)) = (ref_name.strip_prefix("refs/heads/"), &new) {
            synchronize_fork_pulls(shared, key, branch, pusher).await;
            crate::ci::queue_runs(shared, key, branch, sha, pusher).await;
        }
    }
}

/// A push to a fork's branch moves the pull requests it heads in the parent
/// repository: their `refs/pull/N/head`, and a `synchronize` webhook there.
async fn synchronize_fork_pulls(shared: &Shared, fork: &RepoKey, branch: &str, pusher: &str) {
    let (parent, numbers) = {
        let world = shared.world();
        let Some(parent) = world.repo(fork).and_then(|r| r.parent.clone()) else {
            return;
        };
        let Some(repo) = world.repo(&parent) else {
            return;
        };
        let numbers: Vec<u64> = repo
            .issues
            .values()
            .filter(|i| i.state == IssueState::Open)
            .filter(|i| {
                i.pull
                    .as_ref()
                    .is_some_and(|p| p.head_repo.as_ref() == Some(fork) && p.head_ref == branch)
            })
            .map(|i| i.number)
            .collect();
        (parent, numbers)
    };
    if numbers.is_empty() {
        return;
    }
    let head = match shared.git.fetch_fork_head(fork, branch, &parent).await {
        Ok(Some(sha)) => sha,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not fetch a fork's head");
            return;
        }
    };
    for number in numbers {
        if let Err(e) = shared.git.set_pull_head(&parent, number, &head).await {
            tracing::warn!(error = %e, "could not move refs/pull/{number}/head");
            continue;
        }
        let mut world = shared.world();
        let now = Utc::now();
        let Some(issue) = world
            .repo_mut(&parent)
            .and_then(|r| r.issues.get_mut(&number))
        else {
            continue;
        };
        let Some(pull) = issue.pull.as_mut() else {
            continue;
        };
        let previous = std::mem::replace(&mut pull.head_sha, head.clone());
        issue.updated_at = now;
        let repo = world.repo(&parent).expect("looked up above");
        emit_synchronize(shared, &world, repo, number, &previous, &head, pusher);
    }
}

/// Applies one moved ref to the world (PR heads and bases, `pushed_at`) and
/// queues its webhooks.
fn record_ref_change(
    shared: &Shared,
    key: &RepoKey,
    ref_name: &str,
    old: &Option<String>,
    new: &Option<String>,
    commits: &[CommitInfo],
    pusher: &str,
) {
    let mut world = shared.world();
    let now = Utc::now();
    let Some(repo) = world.repo_mut(key) else {
        return;
    };
    repo.pushed_at = now;
    let branch = ref_name.strip_prefix("refs/heads/").map(str::to_string);
    let mut synchronized = Vec::new();
    if let (Some(branch), Some(new)) = (&branch, &new) {
        for issue in repo.issues.values_mut() {
            let Some(pull) = issue.pull.as_mut() else {
                continue;
            };
            if issue.state == IssueState::Open
                && pull.head_repo.is_none()
                && &pull.head_ref == branch
            {
                let previous = std::mem::replace(&mut pull.head_sha, new.clone());
                issue.updated_at = now;
                synchronized.push((issue.number, previous));
            }
            if issue.state == IssueState::Open && &pull.base_ref == branch {
                pull.base_sha = new.clone();
            }
        }
    }
    let repo = world.repo(key).expect("looked up above");
    let payload = push_fields(shared, &world, repo, ref_name, old, new, commits, pusher);
    shared.emit(&world, "push", None, repo, pusher, payload);
    if let Some(new) = new {
        for (number, previous) in synchronized {
            emit_synchronize(shared, &world, repo, number, &previous, new, pusher);
        }
    }
}

/// `pull_request.synchronize`: pull request `number` of `repo` moved from `before` to `after`.
fn emit_synchronize(
    shared: &Shared,
    world: &World,
    repo: &Repo,
    number: u64,
    before: &str,
    after: &str,
    pusher: &str,
) {
    let pull = shared.render(world).pull(repo, &repo.issues[&number], None);
    let fields = vec![
        ("number", json!(number)),
        ("before", json!(before)),
        ("after", json!(after)),
        ("pull_request", pull),
    ];
    shared.emit(
        world,
        "pull_request",
        Some("synchronize"),
        repo,
        pusher,
        fields,
    );
}

#[allow(clippy::too_many_arguments)]
fn push_fields(
    shared: &Shared,
    world: &World,
    repo: &Repo,
    ref_name: &str,
    old: &Option<String>,
    new: &Option<String>,
    commits: &[CommitInfo],
    pusher: &str,
) -> Vec<(&'static str, Value)> {
    let html = format!("{}/{}", shared.base, repo.key.full_name());
    let commit_json = |c: &CommitInfo| {
        let person = |s: &super::git::Signature| json!({"name": s.name, "email": s.email, "username": s.name, "date": c.timestamp});
        json!({
            "id": c.sha, "tree_id": c.tree, "distinct": true, "message": c.message,
            "timestamp": c.timestamp, "url": format!("{html}/commit/{}", c.sha),
            "author": person(&c.author), "committer": person(&c.committer),
            "added": c.added, "removed": c.removed, "modified": c.modified,
        })
    };
    let before = old.clone().unwrap_or_else(|| ZERO_SHA.into());
    let after = new.clone().unwrap_or_else(|| ZERO_SHA.into());
    let email = world.noreply_email(pusher);
    // Push payloads carry the repository with epoch timestamps and `master_branch`.
    let mut repository = shared.render(world).repo(repo);
    repository["created_at"] = json!(repo.created_at.timestamp());
    repository["pushed_at"] = json!(repo.pushed_at.timestamp());
    repository["master_branch"] = json!(repo.default_branch);
    repository["stargazers"] = json!(0);
    vec![
        ("ref", json!(ref_name)),
        ("before", json!(before)),
        ("after", json!(after)),
        ("created", json!(old.is_none())),
        ("deleted", json!(new.is_none())),
        ("forced", json!(false)),
        ("base_ref", Value::Null),
        (
            "compare",
            json!(format!(
                "{html}/compare/{}...{}",
                &before[..12],
                &after[..12]
            )),
        ),
        (
            "commits",
            json!(commits.iter().map(commit_json).collect::<Vec<_>>()),
        ),
        (
            "head_commit",
            commits.last().map_or(Value::Null, commit_json),
        ),
        ("pusher", json!({"name": pusher, "email": email})),
        ("repository", repository),
    ]
}
