//! Domain types rendered as GitHub's JSON objects, with every field GitHub's
//! schemas require, URLs pointing back at the sandbox.

use serde_json::{Value, json};

use super::state::{
    Account, AccountKind, App, CheckRun, Comment, Deployment, DeploymentStatus, Environment,
    Installation, Issue, IssueState, Label, Permission, Reaction, Repo, Time, WorkflowRun, World,
};

/// Renders objects of `world` with URLs under `base` (the sandbox's address,
/// which serves the API, the web pages and git alike).
pub struct Render<'a> {
    pub world: &'a World,
    pub base: &'a str,
}

fn ts(t: &Time) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(crate) fn node_id(kind: &str, id: u64) -> String {
    format!("{kind}_{id:08}")
}

/// Installation permissions the App was granted, as GitHub lists them.
pub fn app_permissions() -> Value {
    json!({
        "administration": "write", "checks": "write", "contents": "write",
        "issues": "write", "metadata": "read", "pull_requests": "write",
        "members": "read", "actions": "read", "deployments": "write", "statuses": "read"
    })
}

/// The `permissions` object GitHub puts on repositories and collaborators.
pub fn permission_flags(p: Permission) -> Value {
    json!({
        "admin": p >= Permission::Admin, "maintain": p >= Permission::Admin,
        "push": p >= Permission::Write, "triage": p >= Permission::Write,
        "pull": p >= Permission::Read,
    })
}

/// URL templates GitHub puts on every repository, relative to its API URL.
const REPO_API_URLS: &[(&str, &str)] = &[
    ("archive_url", "/{archive_format}{/ref}"),
    ("assignees_url", "/assignees{/user}"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("branches_url", "/branches{/branch}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("comments_url", "/comments{/number}"),
    ("commits_url", "/commits{/sha}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("contents_url", "/contents/{+path}"),
    ("contributors_url", "/contributors"),
    ("deployments_url", "/deployments"),
    ("downloads_url", "/downloads"),
    ("events_url", "/events"),
    ("forks_url", "/forks"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("hooks_url", "/hooks"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("issue_events_url", "/issues/events{/number}"),
    ("issues_url", "/issues{/number}"),
    ("keys_url", "/keys{/key_id}"),
    ("labels_url", "/labels{/name}"),
    ("languages_url", "/languages"),
    ("merges_url", "/merges"),
    ("milestones_url", "/milestones{/number}"),
    (
        "notifications_url",
        "/notifications{?since,all,participating}",
    ),
    ("pulls_url", "/pulls{/number}"),
    ("releases_url", "/releases{/id}"),
    ("stargazers_url", "/stargazers"),
    ("statuses_url", "/statuses/{sha}"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("tags_url", "/tags"),
    ("teams_url", "/teams"),
    ("trees_url", "/git/trees{/sha}"),
];

/// Repository fields the sandbox does not model (no forks, stars, wiki, ...).
fn repo_constants() -> Value {
    json!({
        "fork": false, "mirror_url": null, "language": null, "license": null,
        "forks": 0, "forks_count": 0, "stargazers_count": 0, "watchers": 0,
        "watchers_count": 0, "size": 0, "network_count": 0, "subscribers_count": 0,
        "disabled": false, "allow_forking": true,
        "web_commit_signoff_required": false,
        "has_issues": true, "has_projects": true, "has_wiki": false,
        "has_pages": false, "has_downloads": true, "has_discussions": false,
    })
}

pub const APP_EVENTS: [&str; 7] = [
    "issues",
    "issue_comment",
    "pull_request",
    "push",
    "workflow_run",
    "check_suite",
    "deployment_status",
];

impl Render<'_> {
    pub fn user(&self, login: &str) -> Value {
        match self.world.account(login) {
            Some(account) => self.account(account),
            None => Value::Null,
        }
    }

    pub fn account(&self, a: &Account) -> Value {
        let api = format!("{}/users/{}", self.base, a.login);
        json!({
            "login": a.login,
            "id": a.id,
            "node_id": node_id(if a.kind == AccountKind::Organization { "O" } else { "U" }, a.id),
            "avatar_url": format!("{}/avatars/{}", self.base, a.id),
            "gravatar_id": "",
            "url": api,
            "html_url": format!("{}/{}", self.base, a.login),
            "followers_url": format!("{api}/followers"),
            "following_url": format!("{api}/following{{/other_user}}"),
            "gists_url": format!("{api}/gists{{/gist_id}}"),
            "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{api}/subscriptions"),
            "organizations_url": format!("{api}/orgs"),
            "repos_url": format!("{api}/repos"),
            "events_url": format!("{api}/events{{/privacy}}"),
            "received_events_url": format!("{api}/received_events"),
            "type": a.kind.as_str(),
            "user_view_type": "public",
            "site_admin": false,
        })
    }

    /// The `organization` object of webhook payloads, when `owner` is one.
    pub fn organization(&self, owner: &str) -> Option<Value> {
        let a = self.world.account(owner)?;
        (a.kind == AccountKind::Organization).then(|| {
            let api = format!("{}/orgs/{}", self.base, a.login);
            json!({
                "login": a.login, "id": a.id, "node_id": node_id("O", a.id),
                "url": api, "repos_url": format!("{api}/repos"),
                "events_url": format!("{api}/events"), "hooks_url": format!("{api}/hooks"),
                "issues_url": format!("{api}/issues"),
                "members_url": format!("{api}/members{{/member}}"),
                "public_members_url": format!("{api}/public_members{{/member}}"),
                "avatar_url": format!("{}/avatars/{}", self.base, a.id), "description": null,
            })
        })
    }

    pub fn repo_api(&self, repo: &Repo) -> String {
        format!("{}/repos/{}", self.base, repo.key.full_name())
    }

    /// A repository; a fork also names its `parent` and the network's `source`.
    pub fn repo(&self, r: &Repo) -> Value {
        let mut repo = self.repo_fields(r);
        let up = |r: &Repo| r.parent.as_ref().and_then(|k| self.world.repo(k));
        if let Some(parent) = up(r) {
            let mut source = parent;
            while let Some(next) = up(source) {
                source = next;
            }
            repo["fork"] = json!(true);
            repo["parent"] = self.repo_fields(parent);
            repo["source"] = self.repo_fields(source);
        }
        repo
    }

    fn repo_fields(&self, r: &Repo) -> Value {
        let api = self.repo_api(r);
        let html = format!("{}/{}", self.base, r.key.full_name());
        let open_issues = r
            .issues
            .values()
            .filter(|i| i.state == IssueState::Open)
            .count();
        let mut repo = json!({
            "id": r.id,
            "node_id": node_id("R", r.id),
            "name": r.key.name,
            "full_name": r.key.full_name(),
            "owner": self.user(&r.key.owner),
            "private": r.private,
            "visibility": if r.private { "private" } else { "public" },
            "html_url": html,
            "description": r.description,
            "url": api,
            "git_url": format!("{html}.git"),
            "ssh_url": format!("{html}.git"),
            "clone_url": format!("{html}.git"),
            "svn_url": html,
            "homepage": r.homepage,
            "default_branch": r.default_branch,
            "open_issues": open_issues, "open_issues_count": open_issues,
            "topics": r.topics,
            "archived": r.archived,
            "is_template": r.is_template,
            "delete_branch_on_merge": r.delete_branch_on_merge,
            "pushed_at": ts(&r.pushed_at),
            "created_at": ts(&r.created_at),
            "updated_at": ts(&r.updated_at),
        });
        for (field, suffix) in REPO_API_URLS {
            repo[*field] = json!(format!("{api}{suffix}"));
        }
        extend(&mut repo, repo_constants());
        repo
    }

    pub fn label(&self, repo: &Repo, l: &Label) -> Value {
        json!({
            "id": l.id,
            "node_id": node_id("LA", l.id),
            "url": format!("{}/labels/{}", self.repo_api(repo), l.name),
            "name": l.name,
            "color": l.color,
            "default": false,
            "description": l.description,
        })
    }

    fn labels(&self, repo: &Repo, names: &[String]) -> Vec<Value> {
        names
            .iter()
            .filter_map(|n| repo.labels.get(&n.to_lowercase()))
            .map(|l| self.label(repo, l))
            .collect()
    }

    fn comment_count(&self, repo: &Repo, number: u64) -> usize {
        self.world
            .comments
            .values()
            .filter(|c| c.repo == repo.key && c.issue == number)
            .count()
    }

    pub fn issue(&self, repo: &Repo, i: &Issue) -> Value {
        let api = format!("{}/issues/{}", self.repo_api(repo), i.number);
        let html_kind = if i.pull.is_some() { "pull" } else { "issues" };
        let mut issue = json!({
            "id": i.id,
            "node_id": node_id("I", i.id),
            "url": api,
            "repository_url": self.repo_api(repo),
            "labels_url": format!("{api}/labels{{/name}}"),
            "comments_url": format!("{api}/comments"),
            "events_url": format!("{api}/events"),
            "html_url": format!("{}/{}/{html_kind}/{}", self.base, repo.key.full_name(), i.number),
            "number": i.number,
            "state": i.state.as_str(),
            "state_reason": i.state_reason,
            "title": i.title,
            "body": i.body,
            "user": self.user(&i.user),
            "labels": self.labels(repo, &i.labels),
            "assignee": i.assignees.first().map(|a| self.user(a)),
            "assignees": i.assignees.iter().map(|a| self.user(a)).collect::<Vec<_>>(),
            "milestone": null,
            "locked": false,
            "active_lock_reason": null,
            "comments": self.comment_count(repo, i.number),
            "closed_at": i.closed_at.as_ref().map(ts),
            "created_at": ts(&i.created_at),
            "updated_at": ts(&i.updated_at),
            "closed_by": null,
            "author_association": self.association(repo, &i.user),
            "reactions": reaction_rollup(&format!("{api}/reactions"), &[]),
            "timeline_url": format!("{api}/timeline"),
            "performed_via_github_app": null,
        });
        if let Some(pull) = &i.pull {
            let pulls = format!("{}/pulls/{}", self.repo_api(repo), i.number);
            let html = format!("{}/{}/pull/{}", self.base, repo.key.full_name(), i.number);
            issue["pull_request"] = json!({
                "url": pulls, "html_url": html,
                "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
                "merged_at": pull.merged.as_ref().map(|m| ts(&m.at)),
            });
        }
        issue
    }

    fn association(&self, repo: &Repo, login: &str) -> &'static str {
        use Permission::*;
        if login.eq_ignore_ascii_case(&repo.key.owner) {
            return "OWNER";
        }
        let member = self
            .world
            .account(login)
            .is_some_and(|a| a.role_in(&repo.key.owner).is_some());
        if member {
            return "MEMBER";
        }
        match self.world.permission(login, repo) {
            Admin | Write => "COLLABORATOR",
            Read if repo.private => "COLLABORATOR",
            _ => "NONE",
        }
    }

    /// A pull request; `i.pull` must be set.
    pub fn pull(&self, repo: &Repo, i: &Issue, diff: Option<&DiffStats>) -> Value {
        let Some(p) = &i.pull else {
            return Value::Null;
        };
        let api = format!("{}/pulls/{}", self.repo_api(repo), i.number);
        let issue_api = format!("{}/issues/{}", self.repo_api(repo), i.number);
        let html = format!("{}/{}/pull/{}", self.base, repo.key.full_name(), i.number);
        let branch = |on: &Repo, r: &str, sha: &str| {
            json!({
                "label": format!("{}:{r}", on.key.owner),
                "ref": r,
                "sha": sha,
                "user": self.user(&on.key.owner),
                "repo": self.repo(on),
            })
        };
        let head_repo = p
            .head_repo
            .as_ref()
            .and_then(|k| self.world.repo(k))
            .unwrap_or(repo);
        let links = json!({
            "self": {"href": api}, "html": {"href": html},
            "issue": {"href": issue_api}, "comments": {"href": format!("{issue_api}/comments")},
            "review_comments": {"href": format!("{api}/comments")},
            "review_comment": {"href": format!("{}/pulls/comments{{/number}}", self.repo_api(repo))},
            "commits": {"href": format!("{api}/commits")},
            "statuses": {"href": format!("{}/statuses/{}", self.repo_api(repo), p.head_sha)},
        });
        let open = i.state == IssueState::Open;
        let mut pull = json!({
            "url": api,
            "id": p.id,
            "node_id": node_id("PR", p.id),
            "html_url": html,
            "diff_url": format!("{html}.diff"),
            "patch_url": format!("{html}.patch"),
            "issue_url": issue_api,
            "commits_url": format!("{api}/commits"),
            "review_comments_url": format!("{api}/comments"),
            "review_comment_url": format!("{}/pulls/comments{{/number}}", self.repo_api(repo)),
            "comments_url": format!("{issue_api}/comments"),
            "statuses_url": format!("{}/statuses/{}", self.repo_api(repo), p.head_sha),
            "number": i.number,
            "state": i.state.as_str(),
            "locked": false,
            "title": i.title,
            "user": self.user(&i.user),
            "body": i.body,
            "labels": self.labels(repo, &i.labels),
            "milestone": null,
            "active_lock_reason": null,
            "created_at": ts(&i.created_at),
            "updated_at": ts(&i.updated_at),
            "closed_at": i.closed_at.as_ref().map(ts),
            "merged_at": p.merged.as_ref().map(|m| ts(&m.at)),
            "merge_commit_sha": p.merged.as_ref().map(|m| m.sha.clone()),
            "assignee": i.assignees.first().map(|a| self.user(a)),
            "assignees": i.assignees.iter().map(|a| self.user(a)).collect::<Vec<_>>(),
            "requested_reviewers": [],
            "requested_teams": [],
            "head": branch(head_repo, &p.head_ref, &p.head_sha),
            "base": branch(repo, &p.base_ref, &p.base_sha),
        });
        // Two literals: one this large exceeds `json!`'s recursion limit.
        extend(
            &mut pull,
            json!({
                "author_association": self.association(repo, &i.user),
                "auto_merge": null,
                "draft": false,
                "merged": p.merged.is_some(),
                "mergeable": if open { json!(true) } else { Value::Null },
                "rebaseable": if open { json!(true) } else { Value::Null },
                "mergeable_state": if open { "clean" } else { "unknown" },
                "merged_by": p.merged.as_ref().map(|m| self.user(&m.by)),
                "comments": self.comment_count(repo, i.number),
                "review_comments": 0,
                "maintainer_can_modify": false,
            }),
        );
        pull["_links"] = links;
        let stats = diff.copied().unwrap_or_default();
        pull["commits"] = json!(stats.commits);
        pull["additions"] = json!(stats.additions);
        pull["deletions"] = json!(stats.deletions);
        pull["changed_files"] = json!(stats.changed_files);
        pull
    }

    pub fn comment(&self, repo: &Repo, c: &Comment) -> Value {
        let api = format!("{}/issues/comments/{}", self.repo_api(repo), c.id);
        let kind = match repo.issues.get(&c.issue).and_then(|i| i.pull.as_ref()) {
            Some(_) => "pull",
            None => "issues",
        };
        json!({
            "id": c.id,
            "node_id": node_id("IC", c.id),
            "url": api,
            "html_url": format!("{}/{}/{kind}/{}#issuecomment-{}", self.base, repo.key.full_name(), c.issue, c.id),
            "issue_url": format!("{}/issues/{}", self.repo_api(repo), c.issue),
            "body": c.body,
            "user": self.user(&c.user),
            "created_at": ts(&c.created_at),
            "updated_at": ts(&c.updated_at),
            "author_association": self.association(repo, &c.user),
            "performed_via_github_app": null,
            "reactions": reaction_rollup(&format!("{api}/reactions"), &c.reactions),
        })
    }

    pub fn reaction(&self, r: &Reaction) -> Value {
        json!({
            "id": r.id,
            "node_id": node_id("REA", r.id),
            "user": self.user(&r.user),
            "content": r.content,
            "created_at": ts(&r.created_at),
        })
    }

    pub fn app(&self, app: &App) -> Value {
        json!({
            "id": app.id,
            "slug": app.slug,
            "node_id": node_id("A", app.id),
            "client_id": app.client_id,
            "owner": self.user(&app.owner),
            "name": app.name,
            "description": "paved's GitHub App (sandbox)",
            "external_url": self.base,
            "html_url": format!("{}/apps/{}", self.base, app.slug),
            "created_at": ts(&app.created_at),
            "updated_at": ts(&app.created_at),
            "permissions": app_permissions(),
            "events": APP_EVENTS,
            "installations_count": self.world.installations.len(),
        })
    }

    /// A workflow run as GitHub's `workflow-run` schema and the
    /// `workflow_run` webhook have it, with the open pull requests of this
    /// repository whose head is its branch.
    pub fn workflow_run(&self, repo: &Repo, run: &WorkflowRun) -> Value {
        let api = self.repo_api(repo);
        let html = format!("{}/{}", self.base, repo.key.full_name());
        let id = run.id;
        let pulls: Vec<Value> = repo
            .issues
            .values()
            .filter_map(|i| Some((i, i.pull.as_ref()?)))
            .filter(|(i, p)| {
                i.state == IssueState::Open && p.head_repo.is_none() && p.head_ref == run.head_branch
            })
            .map(|(i, p)| {
                let side = |r: &str, sha: &str| json!({"ref": r, "sha": sha, "repo": {"id": repo.id, "url": api, "name": repo.key.name}});
                json!({
                    "id": p.id, "number": i.number, "url": format!("{api}/pulls/{}", i.number),
                    "head": side(&p.head_ref, &p.head_sha), "base": side(&p.base_ref, &p.base_sha),
                })
            })
            .collect();
        let actor = self.user(&run.actor);
        let (created, updated) = (ts(&run.created_at), ts(&run.updated_at));
        json!({
            "id": id, "node_id": format!("WFR_{id}"), "name": run.name,
            "display_title": run.name, "path": run.path,
            "head_branch": run.head_branch, "head_sha": run.head_sha, "run_number": id, "run_attempt": 1,
            "event": "push", "status": run.status, "conclusion": run.conclusion,
            "workflow_id": run.workflow_id, "check_suite_id": id, "check_suite_node_id": format!("CS_{id}"),
            "url": format!("{api}/actions/runs/{id}"), "html_url": format!("{html}/actions/runs/{id}"),
            "pull_requests": pulls, "created_at": created, "updated_at": updated, "run_started_at": created,
            "actor": actor, "triggering_actor": actor,
            "jobs_url": format!("{api}/actions/runs/{id}/jobs"),
            "logs_url": format!("{api}/actions/runs/{id}/logs"),
            "check_suite_url": format!("{api}/check-suites/{id}"),
            "artifacts_url": format!("{api}/actions/runs/{id}/artifacts"),
            "cancel_url": format!("{api}/actions/runs/{id}/cancel"),
            "rerun_url": format!("{api}/actions/runs/{id}/rerun"),
            "previous_attempt_url": null,
            "workflow_url": format!("{api}/actions/workflows/{}", run.workflow_id),
            "head_commit": {"id": run.head_sha, "tree_id": run.head_sha, "message": "", "timestamp": created,
                            "author": {"name": run.actor, "email": ""}, "committer": {"name": run.actor, "email": ""}},
            "repository": self.repo(repo), "head_repository": self.repo(repo),
        })
    }

    /// The workflow a run belongs to, as the `workflow_run` webhook carries it.
    pub fn workflow(&self, repo: &Repo, run: &WorkflowRun) -> Value {
        let api = self.repo_api(repo);
        let html = format!("{}/{}", self.base, repo.key.full_name());
        let (id, created) = (run.workflow_id, ts(&run.created_at));
        json!({
            "id": id, "node_id": format!("W_{id}"), "name": run.name, "path": run.path,
            "state": "active", "created_at": created, "updated_at": created,
            "url": format!("{api}/actions/workflows/{id}"),
            "html_url": format!("{html}/blob/{}/{}", repo.default_branch, run.path),
            "badge_url": format!("{html}/workflows/{}/badge.svg", run.name),
        })
    }

    pub fn check_run(&self, repo: &Repo, c: &CheckRun) -> Value {
        let api = format!("{}/check-runs/{}", self.repo_api(repo), c.id);
        json!({
            "id": c.id,
            "node_id": node_id("CR", c.id),
            "head_sha": c.head_sha,
            "external_id": c.external_id.clone().unwrap_or_default(),
            "url": api,
            "html_url": format!("{}/{}/runs/{}", self.base, repo.key.full_name(), c.id),
            "details_url": c.details_url,
            "status": c.status,
            "conclusion": c.conclusion,
            "started_at": ts(&c.started_at),
            "completed_at": c.completed_at.as_ref().map(ts),
            "output": {
                "title": c.output.title, "summary": c.output.summary, "text": c.output.text,
                "annotations_count": c.output.annotations.len(), "annotations_url": format!("{api}/annotations"),
            },
            "name": c.name,
            "check_suite": {"id": c.id},
            "app": self.app(&self.world.app),
            "pull_requests": [],
        })
    }

    /// The App, when `login` is its bot: what `performed_via_github_app` names.
    fn via_app(&self, login: &str) -> Value {
        if login == self.world.app.bot_login() {
            self.app(&self.world.app)
        } else {
            Value::Null
        }
    }

    pub fn deployment(&self, repo: &Repo, d: &Deployment) -> Value {
        let api = format!("{}/deployments/{}", self.repo_api(repo), d.id);
        json!({
            "url": api,
            "id": d.id,
            "node_id": node_id("DE", d.id),
            "sha": d.sha,
            "ref": d.git_ref,
            "task": d.task,
            "payload": d.payload,
            "original_environment": d.original_environment,
            "environment": d.environment,
            "description": d.description,
            "creator": self.user(&d.creator),
            "created_at": ts(&d.created_at),
            "updated_at": ts(&d.updated_at),
            "statuses_url": format!("{api}/statuses"),
            "repository_url": self.repo_api(repo),
            "transient_environment": d.transient_environment,
            "production_environment": d.production_environment,
            "performed_via_github_app": self.via_app(&d.creator),
        })
    }

    pub fn deployment_status(&self, repo: &Repo, d: &Deployment, s: &DeploymentStatus) -> Value {
        let deployment = format!("{}/deployments/{}", self.repo_api(repo), d.id);
        json!({
            "url": format!("{deployment}/statuses/{}", s.id),
            "id": s.id,
            "node_id": node_id("DES", s.id),
            "state": s.state,
            "creator": self.user(&s.creator),
            "description": s.description,
            "environment": s.environment,
            "target_url": s.log_url,
            "log_url": s.log_url,
            "environment_url": s.environment_url,
            "created_at": ts(&s.created_at),
            "updated_at": ts(&s.created_at),
            "deployment_url": deployment,
            "repository_url": self.repo_api(repo),
            "performed_via_github_app": self.via_app(&s.creator),
        })
    }

    pub fn environment(&self, repo: &Repo, e: &Environment) -> Value {
        let name = super::rest::percent_encode(&e.name);
        json!({
            "id": e.id,
            "node_id": node_id("EN", e.id),
            "name": e.name,
            "url": format!("{}/environments/{name}", self.repo_api(repo)),
            "html_url": format!("{}/{}/deployments/activity_log?environments_filter={name}", self.base, repo.key.full_name()),
            "created_at": ts(&e.created_at),
            "updated_at": ts(&e.updated_at),
            "protection_rules": [],
            "deployment_branch_policy": null,
        })
    }

    pub fn installation(&self, i: &Installation) -> Value {
        let account = self.world.account(&i.account);
        json!({
            "id": i.id,
            "account": self.user(&i.account),
            "repository_selection": "all",
            "access_tokens_url": format!("{}/app/installations/{}/access_tokens", self.base, i.id),
            "repositories_url": format!("{}/installation/repositories", self.base),
            "html_url": format!("{}/organizations/{}/settings/installations/{}", self.base, i.account, i.id),
            "app_id": self.world.app.id,
            "app_slug": self.world.app.slug,
            "client_id": self.world.app.client_id,
            "target_id": account.map_or(0, |a| a.id),
            "target_type": account.map_or("Organization", |a| a.kind.as_str()),
            "permissions": app_permissions(),
            "events": APP_EVENTS,
            "created_at": ts(&i.created_at),
            "updated_at": ts(&i.created_at),
            "single_file_name": null,
            "has_multiple_single_files": false,
            "single_file_paths": [],
            "suspended_by": null,
            "suspended_at": null,
        })
    }
}

/// Size of a pull request's change, for the fields `GET /pulls/{n}` adds.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiffStats {
    pub commits: u64,
    pub additions: u64,
    pub deletions: u64,
    pub changed_files: u64,
}

/// Adds the fields of object `more` to object `value`.
fn extend(value: &mut Value, more: Value) {
    if let (Value::Object(fields), Value::Object(more)) = (value, more) {
        fields.extend(more);
    }
}

fn reaction_rollup(url: &str, reactions: &[Reaction]) -> Value {
    let count = |content: &str| reactions.iter().filter(|r| r.content == content).count();
    json!({
        "url": url,
        "total_count": reactions.len(),
        "+1": count("+1"), "-1": count("-1"), "laugh": count("laugh"),
        "confused": count("confused"), "heart": count("heart"), "hooray": count("hooray"),
        "eyes": count("eyes"), "rocket": count("rocket"),
    })
}
