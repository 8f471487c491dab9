//! Who may make paved act, as stories against the sandbox: each asserts the
//! answer and that nothing else changed (repositories, platform commits,
//! labels, comments).

mod common;

use std::time::Duration;

use common::{TempDir, ask, paved_comment, quiescent};
use paved::demo::{CATALOG, PLATFORM, Stage, StageOptions, form_body};

const LIMIT: Duration = Duration::from_secs(60);

async fn stage(work: &TempDir) -> Stage {
    Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap()
}

async fn repo(stage: &Stage, name: &str) -> Option<serde_json::Value> {
    stage
        .admin
        .call(http::Method::GET, &format!("/repos/acme/{name}"), None)
        .await
        .ok()
}

async fn has_app(stage: &Stage, name: &str) -> bool {
    stage
        .sandbox
        .file(PLATFORM, "main", &format!("apps/{name}/dev.yaml"))
        .await
        .is_some()
}

/// The admin sets `policy.requesters` to `rule` (one YAML line) in the
/// catalog's paved.yaml; returns once paved has heard of the push.
async fn set_requesters(stage: &Stage, rule: &str) {
    let settings = std::fs::read_to_string(common::workspace().join("catalog/paved.yaml"))
        .unwrap()
        .replace(
            "  private_repositories: true",
            &format!("  private_repositories: true\n  requesters:\n    {rule}"),
        );
    assert!(settings.contains("requesters:"), "paved.yaml changed shape");
    stage
        .admin
        .push_files(
            CATALOG,
            "main",
            &[("paved.yaml", settings.as_bytes())],
            "Who may request",
        )
        .await
        .unwrap();
    quiescent(stage).await;
}

fn labels(stage: &Stage, n: u64) -> Vec<String> {
    stage.sandbox.issue(CATALOG, n).unwrap().labels
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edit_runs_with_the_editors_rights_not_the_authors() {
    let (_work, stage, n) = common::ready_service("authz-edit", "orders").await;
    let status = ask(&stage, &stage.admin, n, "/paved status").await;
    assert!(status.contains("@admin asked:"), "{status}");
    let id = stage
        .sandbox
        .comments(CATALOG, n)
        .into_iter()
        .rfind(|c| c.user == "admin")
        .unwrap()
        .id;
    quiescent(&stage).await;
    let platform = stage.sandbox.branch_sha(PLATFORM, "main").await;
    let before_labels = labels(&stage, n);
    let before_comments = stage.sandbox.comments(CATALOG, n).len();

    // A writer edits the admin's comment to add an admin-only command.
    stage
        .writer
        .edit_comment(CATALOG, id, "/paved status\n/paved delete orders")
        .await
        .unwrap();
    let answer = paved_comment(&stage, CATALOG, n, "by editing a comment of @admin").await;
    assert!(
        answer.contains("@writer asked, by editing a comment of @admin")
            && answer.contains("needs admin permission")
            && answer.contains("you have write"),
        "{answer}"
    );
    quiescent(&stage).await;
    assert_eq!(repo(&stage, "orders").await.unwrap()["archived"], false);
    assert!(has_app(&stage, "orders").await);
    assert_eq!(stage.sandbox.branch_sha(PLATFORM, "main").await, platform);
    assert_eq!(labels(&stage, n), before_labels);
    assert_eq!(
        stage.sandbox.comments(CATALOG, n).len(),
        before_comments + 1,
        "one answer, nothing else"
    );

    // The admin's own edit, by contrast, runs with the admin's rights.
    stage
        .admin
        .edit_comment(CATALOG, id, "/paved status\n/paved scale dev 2")
        .await
        .unwrap();
    let answer = paved_comment(&stage, CATALOG, n, "scale orders in dev to 2").await;
    assert!(answer.contains("@admin asked:"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_service_stays_deleted() {
    let (_work, mut stage, n) = common::ready_service("authz-delete", "orders").await;
    let gone = ask(&stage, &stage.admin, n, "/paved delete orders").await;
    assert!(gone.contains("archived, not deleted"), "{gone}");
    quiescent(&stage).await;
    let issue = stage.sandbox.issue(CATALOG, n).unwrap();
    assert!(
        issue.labels.contains(&"paved:deleted".to_owned())
            && !issue.labels.contains(&"paved:deploying".to_owned()),
        "{:?}",
        issue.labels
    );
    assert_eq!(issue.state.as_str(), "closed");
    let card = paved_comment(&stage, CATALOG, n, "<!-- paved:status -->").await;
    assert!(card.contains("**Deleted** by @admin on 20"), "{card}");
    let platform = stage.sandbox.branch_sha(PLATFORM, "main").await;
    let deleted_labels = issue.labels.clone();

    // A writer reopens it: one reply, closed again, nothing re-created.
    stage
        .writer
        .update_issue(CATALOG, n, serde_json::json!({"state": "open"}))
        .await
        .unwrap();
    let reply = paved_comment(&stage, CATALOG, n, "reopening its request changes nothing").await;
    assert!(reply.contains("deleted by @admin on 20"), "{reply}");
    quiescent(&stage).await;
    let after = |stage: &Stage| {
        let issue = stage.sandbox.issue(CATALOG, n).unwrap();
        (issue.state.as_str().to_owned(), issue.labels)
    };
    assert_eq!(after(&stage), ("closed".to_owned(), deleted_labels.clone()));
    assert_eq!(stage.sandbox.branch_sha(PLATFORM, "main").await, platform);
    assert!(!has_app(&stage, "orders").await);
    assert_eq!(repo(&stage, "orders").await.unwrap()["archived"], true);
    let replies = |stage: &Stage| {
        stage
            .sandbox
            .comments(CATALOG, n)
            .iter()
            .filter(|c| c.body.contains("changes nothing:"))
            .count()
    };
    assert_eq!(replies(&stage), 1);

    // Reopened and edited, retried, resynced after a restart: still deleted.
    stage
        .writer
        .update_issue(CATALOG, n, serde_json::json!({"state": "open"}))
        .await
        .unwrap();
    paved_comment(&stage, CATALOG, n, "changes nothing").await;
    quiescent(&stage).await;
    let retried = ask(&stage, &stage.admin, n, "/paved retry").await;
    assert!(retried.contains("❌ not retried"), "{retried}");
    stage
        .writer
        .update_issue(
            CATALOG,
            n,
            serde_json::json!({"body": form_body("orders", "node-express", "Again.", "@acme/payments", "")}),
        )
        .await
        .unwrap();
    stage.stop_paved().await;
    stage.start_paved().await.unwrap();
    quiescent(&stage).await;
    assert_eq!(after(&stage), ("closed".to_owned(), deleted_labels));
    assert_eq!(stage.sandbox.branch_sha(PLATFORM, "main").await, platform);
    assert!(!has_app(&stage, "orders").await);
    assert_eq!(replies(&stage), 2, "one reply per reopen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_requesters_by_policy_get_a_service() {
    let work = TempDir::new("authz-requesters");
    let stage = stage(&work).await;
    let platform = stage.sandbox.branch_sha(PLATFORM, "main").await;

    // An outsider submits the form on the public catalog; the form's label sticks.
    let body = form_body("leak", "node-express", "Mine.", "@acme/payments", "");
    let n = stage
        .sandbox
        .submit_issue_form(
            CATALOG,
            "outsider",
            "New service: leak",
            &body,
            &["paved:request"],
        )
        .unwrap();
    let card = paved_comment(&stage, CATALOG, n, "Nothing was created").await;
    assert!(
        card.contains("requested by members of the acme organisation")
            && card.contains("@outsider is not one of them"),
        "{card}"
    );
    quiescent(&stage).await;
    assert!(repo(&stage, "leak").await.is_none(), "no repository");
    assert_eq!(stage.sandbox.branch_sha(PLATFORM, "main").await, platform);
    assert_eq!(labels(&stage, n), ["paved:request", "paved:invalid"]);
    let bot = |stage: &Stage| {
        stage
            .sandbox
            .comments(CATALOG, n)
            .iter()
            .filter(|c| c.user == "paved[bot]")
            .count()
    };
    assert_eq!(bot(&stage), 1, "one reply");
    assert_eq!(
        stage.sandbox.requests().count("repos/create-in-org"),
        0,
        "no repository was asked for"
    );

    // paved.yaml asks write permission on the catalog: a reader (a member) may not.
    set_requesters(&stage, "permission: write").await;
    let n = stage
        .sandbox
        .submit_issue_form(
            CATALOG,
            "reader",
            "New service: peek",
            &form_body("peek", "node-express", "Peek.", "@acme/payments", ""),
            &["paved:request"],
        )
        .unwrap();
    let card = paved_comment(&stage, CATALOG, n, "Nothing was created").await;
    assert!(
        card.contains("requested by people with write permission on the catalog"),
        "{card}"
    );
    quiescent(&stage).await;
    assert!(repo(&stage, "peek").await.is_none());
    assert_eq!(stage.sandbox.branch_sha(PLATFORM, "main").await, platform);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_and_quotes_never_run_commands() {
    let (_work, stage, n) = common::ready_service("authz-code", "orders").await;
    quiescent(&stage).await;
    let platform = stage.sandbox.branch_sha(PLATFORM, "main").await;
    let before = stage.sandbox.comments(CATALOG, n).len();
    let body = "To delete it one would write:\n\n    /paved delete orders\n\n\
                or `/paved delete orders`, <!-- /paved delete orders -->\n\n\
                > /paved delete orders\n";
    stage.admin.comment(CATALOG, n, body).await.unwrap();
    quiescent(&stage).await;
    let comments = stage.sandbox.comments(CATALOG, n);
    assert_eq!(comments.len(), before + 1, "no answer: {comments:#?}");
    assert!(comments[before].reactions.is_empty(), "not even picked up");
    assert_eq!(stage.sandbox.branch_sha(PLATFORM, "main").await, platform);
    assert_eq!(repo(&stage, "orders").await.unwrap()["archived"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn echoed_text_links_nobody_and_nothing() {
    use pulldown_cmark::{Event, Parser};
    let work = TempDir::new("authz-echo");
    let stage = stage(&work).await;
    let body = form_body(
        "@admin #1 <img src=x onerror=alert(1)> https://evil.example",
        "node-express",
        "x",
        "@acme/payments",
        "",
    );
    let n = stage
        .writer
        .open_issue(CATALOG, "New service", &body, &["paved:request"])
        .await
        .unwrap();
    let card = paved_comment(&stage, CATALOG, n, "Nothing was created").await;
    for event in Parser::new(&card) {
        match event {
            Event::Html(h) | Event::InlineHtml(h) => {
                assert!(h.starts_with("<!-- paved:"), "raw HTML {h:?} in {card}")
            }
            Event::Text(t) => assert!(
                !t.contains(['@', '#']) && !t.contains("://"),
                "{t:?} would link on GitHub: {card}"
            ),
            _ => {}
        }
    }
    assert!(
        card.contains("`\"@admin`") && card.contains("`#1`"),
        "{card}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edit_by_someone_else_is_judged_by_the_editors_rights() {
    let work = TempDir::new("authz-issue-edit");
    let stage = stage(&work).await;
    // An outside collaborator: write on the catalog, no member of acme.
    let contractor = stage.sandbox.create_user("contractor");
    stage
        .sandbox
        .grant("contractor", CATALOG, paved_sandbox::Permission::Write);
    let platform = stage.sandbox.branch_sha(PLATFORM, "main").await;
    // The writer's request is invalid (a reserved name) and waits for an edit.
    let body = |name: &str| form_body(name, "node-express", "Edited.", "@acme/payments", "");
    let n = stage
        .writer
        .open_issue(CATALOG, "New service", &body("admin"), &["paved:request"])
        .await
        .unwrap();
    paved_comment(&stage, CATALOG, n, "is reserved").await;
    quiescent(&stage).await;

    // The contractor fixes it: the edit is theirs, and they may not request.
    contractor
        .update_issue(CATALOG, n, serde_json::json!({ "body": body("ledger") }))
        .await
        .unwrap();
    let card = paved_comment(&stage, CATALOG, n, "@contractor is not one of them").await;
    assert!(
        card.contains("requested by members of the acme organisation"),
        "{card}"
    );
    quiescent(&stage).await;
    assert!(repo(&stage, "ledger").await.is_none());
    assert_eq!(stage.sandbox.branch_sha(PLATFORM, "main").await, platform);
    assert_eq!(labels(&stage, n), ["paved:request", "paved:invalid"]);

    // The author takes it up again by editing: now it goes through.
    stage
        .writer
        .update_issue(
            CATALOG,
            n,
            serde_json::json!({ "body": body("ledger") + "\n" }),
        )
        .await
        .unwrap();
    paved_comment(&stage, CATALOG, n, "**Committed.** ledger").await;
    let labels = stage.settled(n, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    assert!(repo(&stage, "ledger").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requesters_may_be_named_by_team() {
    let work = TempDir::new("authz-teams");
    let stage = stage(&work).await;
    set_requesters(&stage, "teams: [\"@acme/builders\"]").await;
    let body = |d: &str| form_body("tally", "node-express", d, "@acme/payments", "");
    let n = stage
        .writer
        .open_issue(
            CATALOG,
            "New service: tally",
            &body("Counts."),
            &["paved:request"],
        )
        .await
        .unwrap();
    let card = paved_comment(&stage, CATALOG, n, "Nothing was created").await;
    assert!(
        card.contains("requested by members of `@acme/builders`")
            && card.contains("@writer is not one of them"),
        "{card}"
    );
    quiescent(&stage).await;
    assert!(repo(&stage, "tally").await.is_none());

    // Once on the team, an edit of the request goes through.
    stage.sandbox.add_team_member("acme", "builders", "writer");
    stage
        .writer
        .update_issue(
            CATALOG,
            n,
            serde_json::json!({ "body": body("Counts things.") }),
        )
        .await
        .unwrap();
    paved_comment(&stage, CATALOG, n, "**Committed.** tally").await;
    assert!(repo(&stage, "tally").await.is_some());
}
