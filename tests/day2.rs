//! Day 2 from comments, end to end against the sandbox: status, promotion,
//! scaling, rollback, deletion and continuous deployment, each at the
//! permission levels that may and may not run it.

mod common;

use std::time::{Duration, Instant};

use common::{TempDir, ask};
use paved::demo::{CATALOG, PLATFORM, Stage, StageOptions};
use paved_app::platform::AppSpec;

const LIMIT: Duration = Duration::from_secs(60);

async fn app(stage: &Stage, env: &str) -> Option<AppSpec> {
    common::application(stage, "orders", env).await
}

async fn wait_for<F: Fn(&Option<AppSpec>) -> bool>(
    stage: &Stage,
    env: &str,
    ok: F,
) -> Option<AppSpec> {
    common::wait_for_application(stage, "orders", env, ok).await
}

/// A writer pushes to acme/orders' main and CI completes with each of
/// `conclusions` in turn; waits until dev runs the commit, and returns it.
async fn ci_deploys(stage: &Stage, conclusions: &[&str]) -> String {
    let sha = stage
        .writer
        .push_files("acme/orders", "main", &[("CHANGES.md", b"v2\n")], "v2")
        .await
        .unwrap();
    for conclusion in conclusions {
        stage
            .sandbox
            .complete_workflow_run("acme/orders", "main", "ci", conclusion)
            .await
            .unwrap();
    }
    wait_for(stage, "dev", |a| a.as_ref().is_some_and(|a| a.tag == sha)).await;
    sha
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_service_lives_its_life_from_comments() {
    let work = TempDir::new("day2");
    let stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let n = stage
        .request(&stage.writer, "orders", "node-express", "Takes orders.")
        .await
        .unwrap();
    assert!(
        stage
            .settled(n, LIMIT)
            .await
            .unwrap()
            .contains(&"paved:deploying".to_owned())
    );
    let first = app(&stage, "dev").await.unwrap().tag;

    // Reading is for everyone; changing needs write.
    let status = ask(&stage, &stage.reader, n, "/paved status").await;
    assert!(
        status.contains(&format!("| `{}` | 1 |", &first[..7]))
            && status.contains("| prod | not deployed"),
        "{status}"
    );
    let denied = ask(&stage, &stage.reader, n, "/paved promote staging").await;
    assert!(
        denied.contains("needs write permission") && denied.contains("you have read"),
        "{denied}"
    );
    assert!(app(&stage, "staging").await.is_none());

    // Promotion and scaling within policy, by a writer; several commands run in order.
    let answer = ask(
        &stage,
        &stage.writer,
        n,
        "/paved promote staging\n/PAVED  scale staging 4",
    )
    .await;
    assert_eq!(answer.matches("✅").count(), 2, "{answer}");
    let staging = app(&stage, "staging").await.unwrap();
    assert_eq!(
        (
            staging.tag.as_str(),
            staging.replicas,
            staging.namespace.as_str()
        ),
        (first.as_str(), 4, "orders-staging")
    );
    // The cap is the catalog's policy's: a writer is denied, an admin not.
    let above = ask(&stage, &stage.writer, n, "/paved scale staging 50").await;
    assert!(
        above.contains("❌")
            && above.contains("denied by policy/replicas.rego (main.deny): orders in staging may run at most 5 replicas; 50 needs an admin"),
        "{above}"
    );
    assert_eq!(app(&stage, "staging").await.unwrap().replicas, 4);
    let admin = ask(&stage, &stage.admin, n, "/paved scale staging 50").await;
    assert!(admin.contains("✅"), "{admin}");

    // CI passing on main deploys the commit to dev; a failed run changes nothing.
    ci_deploys(&stage, &["failure", "success"]).await;
    stage
        .sandbox
        .complete_workflow_run("acme/orders", "main", "ci", "success")
        .await
        .unwrap();

    // Rollback restores the exact previous tag from the platform history.
    let back = ask(&stage, &stage.writer, n, "/paved rollback dev").await;
    assert!(back.contains("✅"), "{back}");
    assert_eq!(app(&stage, "dev").await.unwrap().tag, first);

    // Production changes go through review: a pull request on the platform repository.
    let refused = ask(&stage, &stage.writer, n, "/paved promote prod").await;
    assert!(refused.contains("needs admin permission"), "{refused}");
    let pr = ask(&stage, &stage.admin, n, "/paved promote prod").await;
    assert!(
        pr.contains("needs review, so this is a pull request"),
        "{pr}"
    );
    assert!(app(&stage, "prod").await.is_none(), "not before the merge");
    let number: u64 = pr.rsplit('/').next().unwrap().trim().parse().unwrap();
    stage.admin.merge_pull(PLATFORM, number).await.unwrap();
    assert_eq!(app(&stage, "prod").await.unwrap().tag, first);

    // Hostile or unknown commands get help and change nothing.
    let before = stage.sandbox.branch_sha(PLATFORM, "main").await;
    let help = ask(
        &stage,
        &stage.admin,
        n,
        "/paved scale dev $(rm -rf /)\n> /paved delete orders\n```\n/paved delete orders\n```",
    )
    .await;
    assert!(help.contains("| `/paved help` |"), "{help}");
    assert_eq!(stage.sandbox.branch_sha(PLATFORM, "main").await, before);

    // Deletion: admin only; Applications removed, repository archived, request closed.
    let no = ask(&stage, &stage.writer, n, "/paved delete orders").await;
    assert!(no.contains("needs admin permission"), "{no}");
    let gone = ask(&stage, &stage.admin, n, "/paved delete orders").await;
    assert!(gone.contains("archived, not deleted"), "{gone}");
    for env in ["dev", "staging", "prod"] {
        assert!(app(&stage, env).await.is_none(), "{env} still there");
    }
    let repo: serde_json::Value = stage
        .admin
        .call(http::Method::GET, "/repos/acme/orders", None)
        .await
        .unwrap();
    assert_eq!(repo["archived"], true);
}

/// Messages of the platform repository's commits, newest first.
fn platform_log(stage: &Stage) -> Vec<String> {
    let repo = git2::Repository::open_bare(stage.sandbox.repo_path(PLATFORM).unwrap()).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push_ref("refs/heads/main").unwrap();
    walk.map(|o| {
        repo.find_commit(o.unwrap())
            .unwrap()
            .message()
            .unwrap_or_default()
            .to_owned()
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commands_apply_in_order_ci_deploys_once_and_service_repos_take_commands() {
    let work = TempDir::new("day2-order");
    let mut stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let n = stage
        .request(&stage.writer, "orders", "python-fastapi", "Takes orders.")
        .await
        .unwrap();
    stage.settled(n, LIMIT).await.unwrap();
    ask(&stage, &stage.writer, n, "/paved promote staging").await;

    // Two comments in quick succession: both apply, in order, nothing lost.
    stage
        .writer
        .comment(CATALOG, n, "/paved scale staging 4")
        .await
        .unwrap();
    stage
        .writer
        .comment(CATALOG, n, "/paved scale staging 3")
        .await
        .unwrap();
    wait_for(&stage, "staging", |a| {
        a.as_ref().is_some_and(|a| a.replicas == 3)
    })
    .await;
    stage.settled_jobs().await;
    let log = platform_log(&stage);
    assert!(
        log[0].starts_with("Scale orders in staging to 3")
            && log[1].starts_with("Scale orders in staging to 4"),
        "{log:#?}"
    );

    // The first comment redelivered to a restarted paved (which remembers no
    // delivery ids) is recognised as answered: staging stays at 3.
    let first = stage
        .sandbox
        .deliveries()
        .into_iter()
        .find(|d| {
            d.event == "issue_comment"
                && String::from_utf8_lossy(&d.body).contains("/paved scale staging 4")
        })
        .unwrap();
    stage.stop_paved().await;
    stage.start_paved().await.unwrap();
    stage.sandbox.redeliver(first.id).unwrap();
    assert!(stage.sandbox.settle(LIMIT).await);
    stage.settled_jobs().await;
    assert_eq!(platform_log(&stage), log, "nothing ran again");
    assert_eq!(app(&stage, "staging").await.unwrap().replicas, 3);
    let answers = stage
        .sandbox
        .comments(CATALOG, n)
        .into_iter()
        .filter(|c| c.body.contains("/paved scale") || c.body.contains("asked:"))
        .filter(|c| c.user == "paved[bot]")
        .count();
    assert_eq!(answers, 3, "promote, scale 4, scale 3: one answer each");

    // The same CI success twice deploys once.
    let sha = stage
        .writer
        .push_files("acme/orders", "main", &[("CHANGES.md", b"v2\n")], "v2")
        .await
        .unwrap();
    for _ in 0..2 {
        stage
            .sandbox
            .complete_workflow_run("acme/orders", "main", "ci", "success")
            .await
            .unwrap();
    }
    wait_for(&stage, "dev", |a| a.as_ref().is_some_and(|a| a.tag == sha)).await;
    common::quiescent(&stage).await;
    let deploys = platform_log(&stage)
        .iter()
        .filter(|m| m.starts_with("Deploy orders"))
        .count();
    assert_eq!(deploys, 1);

    // A command on an issue of the service's own repository.
    let issue = stage
        .writer
        .open_issue("acme/orders", "How is it?", "", &[])
        .await
        .unwrap();
    stage
        .writer
        .comment("acme/orders", issue, "/paved status")
        .await
        .unwrap();
    let deadline = Instant::now() + LIMIT;
    let answer = loop {
        if let Some(c) = stage
            .sandbox
            .comments("acme/orders", issue)
            .into_iter()
            .find(|c| c.user == "paved[bot]")
        {
            break c.body;
        }
        assert!(
            Instant::now() < deadline,
            "no answer on the service repository"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    assert!(
        answer.contains("[staging](") && answer.contains(&sha[..7]),
        "{answer}"
    );

    // Editing an old comment runs only what the edit added.
    let id = stage
        .writer
        .comment(CATALOG, n, "/paved scale staging 3")
        .await
        .unwrap();
    stage.settled_jobs().await;
    let before = platform_log(&stage).len();
    stage
        .writer
        .edit_comment(CATALOG, id, "/paved scale staging 3\nthanks!")
        .await
        .unwrap();
    common::quiescent(&stage).await;
    assert_eq!(platform_log(&stage).len(), before);

    // Every Application paved wrote passes Argo CD's schema.
    let apps: Vec<serde_json::Value> =
        futures_util::future::join_all(["dev", "staging"].map(|e| app(&stage, e)))
            .await
            .into_iter()
            .map(|a| serde_yaml::from_str(&a.unwrap().to_yaml()).unwrap())
            .collect();
    common::assert_argo_valid(&apps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn members_of_an_admin_team_in_paved_yaml_act_as_admins() {
    let work = TempDir::new("day2-team");
    let stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let n = stage
        .request(&stage.writer, "orders", "node-express", "Takes orders.")
        .await
        .unwrap();
    stage.settled(n, LIMIT).await.unwrap();
    // Past dev's cap of 3 only an admin may scale, by the catalog's policy.
    let denied = ask(&stage, &stage.writer, n, "/paved scale dev 9").await;
    assert!(
        denied.contains("denied by policy/replicas.rego (main.deny): orders in dev may run at most 3 replicas; 9 needs an admin"),
        "{denied}"
    );
    // catalog/paved.yaml names @acme/platform-team in policy.admin_teams.
    stage
        .sandbox
        .add_team_member("acme", "platform-team", "writer");
    let allowed = ask(&stage, &stage.writer, n, "/paved scale dev 9").await;
    assert!(allowed.contains("✅"), "{allowed}");
    assert_eq!(app(&stage, "dev").await.unwrap().replicas, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollback_expands_a_short_sha_from_history_and_refuses_unknown_tags() {
    let (_work, stage, n) = common::ready_service("day2-tags", "orders").await;
    let first = app(&stage, "dev").await.unwrap().tag;
    ci_deploys(&stage, &["success"]).await;
    common::quiescent(&stage).await;
    let before = platform_log(&stage);

    // Unknown tags change nothing and say why.
    let unknown = ask(&stage, &stage.writer, n, "/paved rollback dev deadbee").await;
    assert!(
        unknown.contains("no tag deployed to dev starts with `deadbee`"),
        "{unknown}"
    );
    let never = ask(&stage, &stage.writer, n, "/paved rollback dev V1.2").await;
    assert!(
        never.contains("`V1.2` was never deployed to dev"),
        "{never}"
    );
    let hidden = ask(&stage, &stage.writer, n, "/paved rollback dev .hidden").await;
    assert!(hidden.contains("usage: /paved rollback"), "{hidden}");
    common::quiescent(&stage).await;
    assert_eq!(platform_log(&stage), before);

    // A short SHA from the status becomes the full tag in the commit and Application.
    let back = ask(
        &stage,
        &stage.writer,
        n,
        &format!("/paved rollback dev {}", &first[..7]),
    )
    .await;
    assert!(back.contains("✅"), "{back}");
    assert_eq!(app(&stage, "dev").await.unwrap().tag, first);
    assert!(
        platform_log(&stage)[0].contains(&first),
        "the commit names the full tag: {:?}",
        platform_log(&stage)[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_applications_in_the_platform_repository_get_answers_not_panics() {
    let (_work, stage, n) = common::ready_service("day2-hostile", "orders").await;
    let good = app(&stage, "dev").await.unwrap().to_yaml();
    let first = app(&stage, "dev").await.unwrap().tag;
    let admin = &stage.admin;
    let hand_edit = |text: String| async move {
        admin
            .push_files(
                PLATFORM,
                "main",
                &[("apps/orders/dev.yaml", text.as_bytes())],
                "Hand edit",
            )
            .await
            .unwrap();
    };

    // A tag no registry takes: named in the answer, and nothing changes.
    hand_edit(good.replace(&first, "ünïcødé-tåg")).await;
    let commits = platform_log(&stage).len();
    let status = ask(&stage, &stage.reader, n, "/paved status").await;
    assert!(
        status.contains("❌")
            && status.contains("\"ghcr.io/acme/orders:ünïcødé-tåg\" has no valid tag"),
        "{status}"
    );
    let back = ask(&stage, &stage.writer, n, "/paved rollback dev").await;
    assert!(
        back.contains("❌ apps/orders/dev.yaml in the platform repository"),
        "{back}"
    );
    assert_eq!(platform_log(&stage).len(), commits, "nothing was committed");

    // Broken YAML, a missing field, a wrong type: each command answers ❌.
    let broken = [
        "kind: [1, 2".to_owned(),
        good.replace("kind: Application", ""),
        good.replace("count: 1", "count: many"),
    ];
    for text in broken {
        assert_ne!(text, good, "each variant is broken");
        hand_edit(text.clone()).await;
        let answer = ask(
            &stage,
            &stage.writer,
            n,
            "/paved status\n/paved scale dev 2",
        )
        .await;
        assert!(answer.contains("❌"), "{text}\n{answer}");
    }

    // The runner lives on: after a good file, commands work as before.
    hand_edit(good).await;
    let answer = ask(&stage, &stage.writer, n, "/paved scale dev 2").await;
    assert!(answer.contains("✅"), "{answer}");
    assert_eq!(app(&stage, "dev").await.unwrap().replicas, 2);
}
