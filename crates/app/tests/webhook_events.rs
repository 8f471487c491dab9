//! GitHub's JSON becomes our own events: the fields paved acts on are read,
//! everything else is left behind at the edge.

mod common;

use common::fixture;
use paved_app::webhook::event::*;

fn event(name: &str, file: &str) -> Event {
    match parse(name, &fixture(file)).unwrap() {
        Parsed::Event(e) => *e,
        other => panic!("{file}: {other:?}"),
    }
}

#[test]
fn issue_comments_carry_the_previous_body_when_edited() {
    let e = event("issue_comment", "issue_comment.edited.json");
    let EventKind::IssueComment {
        action,
        issue,
        comment,
        previous_body,
    } = e.kind
    else {
        panic!()
    };
    assert_eq!(action, CommentAction::Edited);
    assert_eq!(issue.number, 12);
    assert!(!issue.is_pull_request);
    assert_eq!(comment.body, "/paved status");
    assert_eq!(previous_body.as_deref(), Some("/paved retry"));
    assert_eq!(
        e.sender,
        Actor {
            login: "alice".into(),
            id: 101,
            is_bot: false
        }
    );
}

#[test]
fn pull_requests_know_whether_they_were_merged() {
    let opened = event("pull_request", "pull_request.opened.json");
    let EventKind::PullRequest {
        action,
        pull_request: pr,
    } = opened.kind
    else {
        panic!()
    };
    assert_eq!(action, PullRequestAction::Opened);
    assert_eq!((pr.number, pr.open, pr.merged), (13, true, false));
    assert_eq!(pr.head_repo.as_deref(), Some("acme/catalog"));
    assert_eq!(pr.body, "", "a null body reads as empty");

    let closed = event("pull_request", "pull_request.closed.json");
    let EventKind::PullRequest {
        action,
        pull_request: pr,
    } = closed.kind
    else {
        panic!()
    };
    assert_eq!(action, PullRequestAction::Closed);
    assert!(pr.merged && !pr.open);
    assert_eq!(
        pr.merge_commit_sha.as_deref(),
        Some("cccccccccccccccccccccccccccccccccccccccc")
    );
}

#[test]
fn pushes_and_workflow_runs() {
    let push = event("push", "push.json");
    assert_eq!(
        push.kind,
        EventKind::Push(Push {
            git_ref: "refs/heads/main".into(),
            before: "0".repeat(40),
            after: "d".repeat(40),
        })
    );
    let run = event("workflow_run", "workflow_run.completed.json");
    let EventKind::WorkflowRun(r) = run.kind else {
        panic!()
    };
    assert_eq!(r.conclusion.as_deref(), Some("success"));
    assert_eq!(r.head_branch.as_deref(), Some("main"));
    assert_eq!(run.repo.unwrap().name, "user-service");
}

#[test]
fn installation_events_name_the_installation() {
    let e = event("installation", "installation.created.json");
    assert_eq!(
        e.kind,
        EventKind::Installation {
            action: InstallationAction::Created,
            account: "acme".into()
        }
    );
    assert_eq!(e.installation, Some(4242));
    let e = event(
        "installation_repositories",
        "installation_repositories.added.json",
    );
    let EventKind::InstallationRepositories {
        action,
        added,
        removed,
    } = e.kind
    else {
        panic!()
    };
    assert_eq!(
        (action, added, removed),
        (
            RepositoriesAction::Added,
            vec!["acme/platform".into()],
            vec![]
        )
    );
}

#[test]
fn unknown_events_are_labelled_other_for_metrics() {
    assert_eq!(event_label("issues"), "issues");
    assert_eq!(event_label("star"), "other");
    assert_eq!(event_label(""), "other");
}
