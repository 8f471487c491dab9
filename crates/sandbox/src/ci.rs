//! Simulated GitHub Actions. A push to a branch queues a run of each
//! workflow the pushed commit holds (`.github/workflows/*.yml`) and fires
//! `workflow_run` `requested`; the control moves a run on to `in_progress`
//! and then `completed` with a conclusion, firing the webhook each time, as
//! GitHub Actions does. Nothing is executed.

use chrono::Utc;
use serde_yaml::Value;

use super::Shared;
use super::error::ApiError;
use super::git::Entry;
use super::state::{RepoKey, WorkflowRun, World};

const WORKFLOWS: &str = ".github/workflows";

/// The conclusions GitHub gives a completed run.
const CONCLUSIONS: [&str; 8] = [
    "success",
    "failure",
    "neutral",
    "cancelled",
    "skipped",
    "timed_out",
    "action_required",
    "startup_failure",
];

/// Where the control moves a run: `in_progress`, or `completed` with a
/// conclusion.
pub enum Step<'a> {
    Start,
    Complete(&'a str),
}

/// Queues a run of every workflow `sha` holds, for the push of `branch` by
/// `actor`. A commit without workflows runs nothing.
pub(crate) async fn queue_runs(
    shared: &Shared,
    key: &RepoKey,
    branch: &str,
    sha: &str,
    actor: &str,
) {
    let workflows = match workflows(shared, key, sha, branch).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e.message, "could not read the pushed workflows");
            return;
        }
    };
    let mut world = shared.world();
    for (path, name) in workflows {
        let id = insert_run(&mut world, key, path, name, branch, sha, actor);
        emit(shared, &world, id, "requested");
    }
}

/// The workflow files of `sha` that a push to `branch` triggers, and each
/// one's `name:` (its file stem when it has none).
async fn workflows(
    shared: &Shared,
    key: &RepoKey,
    sha: &str,
    branch: &str,
) -> Result<Vec<(String, String)>, ApiError> {
    let Some(Entry::Dir(entries)) = shared.git.read_path(key, sha, WORKFLOWS).await? else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries {
        let Some(stem) = entry
            .name
            .strip_suffix(".yml")
            .or_else(|| entry.name.strip_suffix(".yaml"))
        else {
            continue;
        };
        let path = format!("{WORKFLOWS}/{}", entry.name);
        let Some(Entry::File { content, .. }) = shared.git.read_path(key, sha, &path).await? else {
            continue;
        };
        let Ok(workflow) = serde_yaml::from_slice::<Value>(&content) else {
            continue;
        };
        if pushed(&workflow, branch) {
            let name = workflow.get("name").and_then(Value::as_str);
            let name = name.filter(|n| !n.is_empty()).unwrap_or(stem);
            found.push((path, name.to_owned()));
        }
    }
    Ok(found)
}

/// Whether a push to `branch` triggers `workflow`, as its `on:` says: the
/// `push` event, with its `branches` or `branches-ignore` filters.
fn pushed(workflow: &Value, branch: &str) -> bool {
    let Some(on) = workflow.get("on") else {
        return false;
    };
    let push = match on {
        Value::String(event) => return event == "push",
        Value::Sequence(events) => return events.iter().any(|e| e.as_str() == Some("push")),
        Value::Mapping(events) => match events.get("push") {
            Some(push) => push,
            None => return false,
        },
        _ => return false,
    };
    let patterns = |key: &str| -> Option<Vec<&str>> {
        let list = push.get(key)?.as_sequence()?;
        Some(list.iter().filter_map(Value::as_str).collect())
    };
    if let Some(only) = patterns("branches") {
        return only.iter().any(|p| glob(p, branch));
    }
    if let Some(ignored) = patterns("branches-ignore") {
        return !ignored.iter().any(|p| glob(p, branch));
    }
    true
}

/// GitHub's filter patterns: `**` matches anything, `*` anything but `/`,
/// `?` one character; the rest literally.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("**") {
        Some(rest) => (0..=name.len())
            .filter(|&i| name.is_char_boundary(i))
            .any(|i| glob(rest, &name[i..])),
        None => match pattern.chars().next() {
            None => name.is_empty(),
            Some('*') => {
                let rest = &pattern[1..];
                let end = name.find('/').unwrap_or(name.len());
                (0..=end)
                    .filter(|&i| name.is_char_boundary(i))
                    .any(|i| glob(rest, &name[i..]))
            }
            Some(c) => {
                let mut chars = name.chars();
                match chars.next() {
                    Some(n) if c == '?' || c == n => glob(&pattern[c.len_utf8()..], chars.as_str()),
                    _ => false,
                }
            }
        },
    }
}

/// Moves the newest unfinished run of `workflow` on the head of `branch` in
/// `repo` a `step` on (queuing one first when there is none, as a rerun
/// would); its id.
pub(crate) async fn advance_run(
    shared: &Shared,
    repo: &str,
    branch: &str,
    workflow: &str,
    step: Step<'_>,
) -> Result<u64, ApiError> {
    if let Step::Complete(conclusion) = step
        && !CONCLUSIONS.contains(&conclusion)
    {
        return Err(ApiError::invalid("WorkflowRun", "conclusion", "invalid"));
    }
    let key = RepoKey::parse(repo).ok_or_else(ApiError::not_found)?;
    let key = shared
        .world()
        .repo(&key)
        .map(|r| r.key.clone())
        .ok_or_else(ApiError::not_found)?;
    let head_sha = shared
        .git
        .resolve(&key, &format!("refs/heads/{branch}"))
        .await?
        .ok_or_else(|| ApiError::unprocessable(format!("No commit found for ref {branch}")))?;
    let unfinished = |world: &World| {
        world
            .workflow_runs
            .values()
            .rev()
            .find(|r| {
                r.repo == key
                    && r.head_sha == head_sha
                    && r.name == workflow
                    && r.status != "completed"
            })
            .map(|r| r.id)
    };
    let queued = unfinished(&shared.world());
    let id = match queued {
        Some(id) => id,
        None => {
            let bot = shared.world().app.bot_login();
            queue_one(shared, &key, branch, &head_sha, workflow, &bot)
        }
    };
    let mut world = shared.world();
    let run = world
        .workflow_runs
        .get_mut(&id)
        .ok_or_else(ApiError::not_found)?;
    run.updated_at = Utc::now();
    let action = match step {
        Step::Start => {
            run.status = "in_progress".into();
            "in_progress"
        }
        Step::Complete(conclusion) => {
            run.status = "completed".into();
            run.conclusion = Some(conclusion.to_owned());
            "completed"
        }
    };
    emit(shared, &world, id, action);
    Ok(id)
}

/// Queues a run of `workflow` by name, for a workflow no push queued.
fn queue_one(
    shared: &Shared,
    key: &RepoKey,
    branch: &str,
    sha: &str,
    workflow: &str,
    actor: &str,
) -> u64 {
    let path = format!(
        "{WORKFLOWS}/{}.yml",
        workflow.to_lowercase().replace(' ', "-")
    );
    let mut world = shared.world();
    let id = insert_run(
        &mut world,
        key,
        path,
        workflow.to_owned(),
        branch,
        sha,
        actor,
    );
    emit(shared, &world, id, "requested");
    id
}

/// Records a queued run of the workflow at `path`; its id. Runs of one
/// workflow share its id.
fn insert_run(
    world: &mut World,
    key: &RepoKey,
    path: String,
    name: String,
    branch: &str,
    sha: &str,
    actor: &str,
) -> u64 {
    let workflow_id = world
        .workflow_runs
        .values()
        .find(|r| &r.repo == key && r.path == path)
        .map(|r| r.workflow_id)
        .unwrap_or_else(|| world.next_id());
    let id = world.next_id();
    let now = Utc::now();
    world.workflow_runs.insert(
        id,
        WorkflowRun {
            id,
            repo: key.clone(),
            workflow_id,
            name,
            path,
            head_branch: branch.to_owned(),
            head_sha: sha.to_owned(),
            actor: actor.to_owned(),
            status: "queued".into(),
            conclusion: None,
            created_at: now,
            updated_at: now,
        },
    );
    id
}

/// Fires `workflow_run` `action` for run `id`.
fn emit(shared: &Shared, world: &World, id: u64, action: &str) {
    let Some(run) = world.workflow_runs.get(&id) else {
        return;
    };
    let Some(repo) = world.repo(&run.repo) else {
        return;
    };
    let render = shared.render(world);
    let fields = vec![
        ("workflow_run", render.workflow_run(repo, run)),
        ("workflow", render.workflow(repo, run)),
    ];
    shared.emit(
        world,
        "workflow_run",
        Some(action),
        repo,
        &run.actor,
        fields,
    );
}

#[cfg(test)]
mod tests {
    use super::{Value, glob, pushed};

    fn on(yaml: &str, branch: &str) -> bool {
        pushed(&serde_yaml::from_str::<Value>(yaml).unwrap(), branch)
    }

    #[test]
    fn a_push_runs_the_workflows_whose_filters_take_its_branch() {
        assert!(on("on: push", "x"));
        assert!(on("on: [pull_request, push]", "x"));
        assert!(!on("on: pull_request", "main"));
        assert!(!on("name: no trigger", "main"));
        assert!(on("on:\n  push:\n", "feature/a"));
        let main_only = "on:\n  pull_request:\n  push:\n    branches: [main]\n";
        assert!(on(main_only, "main"));
        assert!(!on(main_only, "paved/template"));
        let ignored = "on:\n  push:\n    branches-ignore: ['paved/**']\n";
        assert!(!on(ignored, "paved/template"));
        assert!(on(ignored, "main"));
    }

    #[test]
    fn patterns_match_as_github_documents() {
        assert!(glob("main", "main"));
        assert!(!glob("main", "mains"));
        assert!(glob("releases/*", "releases/v1"));
        assert!(!glob("releases/*", "releases/v1/x"));
        assert!(glob("releases/**", "releases/v1/x"));
        assert!(glob("**", "any/thing"));
        assert!(glob("v?", "v1"));
        assert!(!glob("v?", "v10"));
    }
}
