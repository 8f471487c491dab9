//! GitHub's JSON becomes our own events: the fields routing acts on are
//! read, everything else is left behind at the edge.

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
    assert_eq!(
        e.kind,
        EventKind::IssueComment {
            action: CommentAction::Edited,
            number: 12,
            comment: Comment {
                id: 88,
                body: "/paved status".into(),
                author: "alice".into(),
            },
            previous_body: Some("/paved retry".into()),
        }
    );
    assert_eq!(e.sender, "alice");
    assert_eq!(e.repo.unwrap().full_name(), "acme/catalog");
}

#[test]
fn pull_requests_are_routed_by_number_and_action() {
    let opened = event("pull_request", "pull_request.opened.json");
    assert_eq!(
        opened.kind,
        EventKind::PullRequest {
            action: PullRequestAction::Opened,
            number: 13
        }
    );
    let closed = event("pull_request", "pull_request.closed.json");
    assert_eq!(
        closed.kind,
        EventKind::PullRequest {
            action: PullRequestAction::Closed,
            number: 13
        }
    );
}

#[test]
fn pushes_and_workflow_runs() {
    let push = event("push", "push.json");
    assert_eq!(
        push.kind,
        EventKind::Push(Push {
            git_ref: "refs/heads/main".into(),
            after: "d".repeat(40),
            written: vec!["README.md".into()],
        })
    );
    let run = event("workflow_run", "workflow_run.completed.json");
    let EventKind::WorkflowRun(r) = run.kind else {
        panic!()
    };
    assert_eq!(r.conclusion.as_deref(), Some("success"));
    assert_eq!(r.head_branch.as_deref(), Some("main"));
    assert_eq!(r.head_sha.len(), 40);
    let repo = run.repo.unwrap();
    assert_eq!(
        (repo.name.as_str(), repo.default_branch.as_str()),
        ("user-service", "main")
    );
}

#[test]
fn installation_events_are_ignored_for_want_of_work() {
    for (name, file) in [
        ("installation", "installation.created.json"),
        (
            "installation_repositories",
            "installation_repositories.added.json",
        ),
    ] {
        assert_eq!(
            parse(name, &fixture(file)).unwrap(),
            Parsed::Ignored("installation changes need no work"),
            "{file}"
        );
    }
}

#[test]
fn a_handled_event_without_its_object_is_malformed_and_names_it() {
    let cases = [
        ("issues", r#"{"action":"opened"}"#, "issue"),
        (
            "issue_comment",
            r#"{"action":"created","issue":{"number":1,"user":{"login":"a"}}}"#,
            "comment",
        ),
        ("pull_request", r#"{"action":"opened"}"#, "pull_request"),
        ("workflow_run", r#"{"action":"completed"}"#, "workflow_run"),
    ];
    for (name, body, field) in cases {
        let error = parse(name, body.as_bytes()).unwrap_err().to_string();
        assert!(
            error.contains(&format!("missing field `{field}`")),
            "{name}: {error}"
        );
    }
}

#[test]
fn actions_paved_does_not_act_on_are_not_decoded() {
    // An `assigned` issue without its issue object is still well formed.
    assert_eq!(
        parse("issues", br#"{"action":"assigned"}"#).unwrap(),
        Parsed::Ignored("action not handled")
    );
    assert_eq!(
        parse("check_suite", br#"{"action":"requested"}"#).unwrap(),
        Parsed::Ignored("action not handled")
    );
    // Nor is it held to the fields paved reads: a number that is no number
    // is malformed only for an action paved acts on.
    let odd = br#"{"issue":{"number":"one"},"action":"assigned"}"#;
    assert_eq!(
        parse("issues", odd).unwrap(),
        Parsed::Ignored("action not handled")
    );
    let odd = br#"{"issue":{"number":"one"},"action":"opened"}"#;
    let error = parse("issues", odd).unwrap_err().to_string();
    assert!(error.contains("malformed issues payload"), "{error}");
    // Its syntax still counts.
    assert!(parse("issues", br#"{"action":"assigned""#).is_err());
}

#[test]
fn unknown_events_are_labelled_other_for_metrics() {
    assert_eq!(event_label("issues"), "issues");
    assert_eq!(event_label("star"), "other");
    assert_eq!(event_label(""), "other");
}
