//! What one person's input may cost paved, as stories against the sandbox:
//! a comment runs at most ten commands, repeats are answered once, form
//! input is bounded, and no body paved writes goes over GitHub's limits.

mod common;

use common::{TempDir, ask, paved_comment, quiescent};
use paved::demo::{CATALOG, PLATFORM, Stage, StageOptions, form_body};

/// REST calls paved made with its installation token so far.
fn app_calls(stage: &Stage) -> usize {
    stage.sandbox.requests().by_installation().count()
}

/// Every answer the sandbox gave paved: none may be a 422 for a body.
fn refused_bodies(stage: &Stage) -> Vec<String> {
    stage
        .sandbox
        .requests()
        .by_installation()
        .filter(|r| r.status == 422)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_comment_costs_little_whatever_it_holds() {
    let (_work, stage, n) = common::ready_service("costs-comment", "orders").await;
    quiescent(&stage).await;

    // 100 status lines by a reader: one answer, a handful of calls.
    let before = app_calls(&stage);
    let answer = ask(&stage, &stage.reader, n, &"/paved status\n".repeat(100)).await;
    quiescent(&stage).await;
    assert_eq!(answer.matches("**orders**").count(), 1, "{answer}");
    let spent = app_calls(&stage) - before;
    assert!(spent <= 10, "100 status lines cost {spent} calls");

    // 100 help lines: the help once.
    let help = ask(&stage, &stage.reader, n, &"/paved help\n".repeat(100)).await;
    assert_eq!(help.matches("| `/paved help` |").count(), 1);
    assert!(help.len() < 4_000, "{} bytes", help.len());
    // 100 mistakes: each reason once, the help once.
    let wrong = ask(&stage, &stage.reader, n, &"/paved nope\n".repeat(100)).await;
    assert_eq!(wrong.matches("unknown command").count(), 1, "{wrong}");
    assert_eq!(wrong.matches("| `/paved help` |").count(), 1, "{wrong}");

    // 15 changes by a writer: ten run, the rest are said not to.
    let platform = stage.sandbox.branch_sha(PLATFORM, "main").await;
    let body: String = (1..=15)
        .map(|i| format!("/paved scale dev {}\n", i % 3 + 1))
        .collect();
    let answer = ask(&stage, &stage.writer, n, &body).await;
    assert_eq!(answer.matches("✅").count(), 10, "{answer}");
    assert!(
        answer.contains("❌ 5 more not run: at most 10 commands in one comment"),
        "{answer}"
    );
    quiescent(&stage).await;
    assert_ne!(stage.sandbox.branch_sha(PLATFORM, "main").await, platform);
    assert!(
        refused_bodies(&stage).is_empty(),
        "{:?}",
        refused_bodies(&stage)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn form_input_is_bounded_and_the_answer_fits() {
    let work = TempDir::new("costs-form");
    let stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let platform = stage.sandbox.branch_sha(PLATFORM, "main").await;
    let lines: String = (0..1_500)
        .map(|i| format!("p{i}: #{i} <b>x</b>\n"))
        .collect();
    let body = form_body(
        "orders",
        "node-express",
        "Takes orders.",
        "@acme/payments",
        &lines,
    );
    let n = stage
        .writer
        .open_issue(CATALOG, "New service: orders", &body, &["paved:request"])
        .await
        .unwrap();
    let card = paved_comment(&stage, CATALOG, n, "Nothing was created").await;
    assert!(
        card.contains("has 1500 lines; at most 50 parameters are accepted"),
        "{card}"
    );
    assert!(card.len() < 2_000, "{} bytes", card.len());

    // One value over 1 KB.
    let big = format!("port: 9000\nnote: {}\n", "x".repeat(2_000));
    let body = form_body(
        "orders",
        "node-express",
        "Takes orders.",
        "@acme/payments",
        &big,
    );
    stage
        .writer
        .update_issue(CATALOG, n, serde_json::json!({ "body": body }))
        .await
        .unwrap();
    let card = paved_comment(&stage, CATALOG, n, "at most 1024 are accepted").await;
    assert!(card.contains("line 2: the value is 2000 bytes"), "{card}");
    quiescent(&stage).await;
    assert_eq!(stage.sandbox.branch_sha(PLATFORM, "main").await, platform);
    let repo = stage
        .admin
        .call(http::Method::GET, "/repos/acme/orders", None)
        .await;
    assert!(repo.is_err(), "nothing was created");
    assert!(
        refused_bodies(&stage).is_empty(),
        "{:?}",
        refused_bodies(&stage)
    );
}

#[tokio::test]
async fn the_sandbox_refuses_bodies_over_githubs_limits_as_github_does() {
    let work = TempDir::new("costs-sandbox");
    let stage = Stage::seeded(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let n = stage
        .writer
        .open_issue(CATALOG, "Hello", "", &[])
        .await
        .unwrap();
    let err = stage
        .writer
        .comment(CATALOG, n, &"é".repeat(65_537))
        .await
        .unwrap_err();
    assert_eq!(err.status.as_u16(), 422);
    assert!(
        err.errors[0]["message"] == "body is too long (maximum is 65536 characters)",
        "{:?}",
        err.errors
    );
    // Exactly at the limit is fine, counted in characters, not bytes.
    let id = stage
        .writer
        .comment(CATALOG, n, &"é".repeat(65_536))
        .await
        .unwrap();
    let err = stage
        .writer
        .edit_comment(CATALOG, id, &"x".repeat(65_537))
        .await
        .unwrap_err();
    assert_eq!(err.status.as_u16(), 422);
    assert_eq!(stage.sandbox.comments(CATALOG, n).len(), 1);
}
