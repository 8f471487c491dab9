//! Issues, comments, labels and reactions through octocrab, with the webhooks
//! they fire.

mod support;

use octocrab::models::issues::{Comment, Issue};
use octocrab::params::State;
use paved_sandbox::{Permission, SandboxConfig};
use support::{client, world};

#[tokio::test]
async fn pagination_over_250_issues_follows_link_headers() {
    let w = world(SandboxConfig::default()).await;
    let gh = client(&w.sb, &w.sb.installation_token(w.installation));
    // People open them: 250 would pass the App's secondary limits.
    let alice = w.sb.create_user("alice");
    w.sb.grant("alice", "acme/catalog", Permission::Write);
    let people = client(&w.sb, alice.token());
    for n in 0..250 {
        let labels = if n % 5 == 0 {
            vec!["even".to_string()]
        } else {
            vec![]
        };
        people
            .issues("acme", "catalog")
            .create(format!("issue {n}"))
            .labels(labels)
            .send()
            .await
            .unwrap();
    }
    let first = gh
        .issues("acme", "catalog")
        .list()
        .per_page(100)
        .send()
        .await
        .unwrap();
    assert_eq!(first.items.len(), 100);
    assert_eq!(first.total_count, None);
    assert!(first.next.is_some() && first.last.is_some());
    let all = gh.all_pages::<Issue>(first).await.unwrap();
    assert_eq!(all.len(), 250);
    let mut numbers: Vec<u64> = all.iter().map(|i| i.number).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 250);

    let raw = reqwest::Client::new()
        .get(format!(
            "{}/repos/acme/catalog/issues?per_page=100&page=2",
            w.sb.url()
        ))
        .send()
        .await
        .unwrap();
    let link = raw.headers()["link"].to_str().unwrap().to_string();
    assert!(link.contains("page=3>; rel=\"next\""), "{link}");
    assert!(
        link.contains("rel=\"last\"") && link.contains("rel=\"prev\""),
        "{link}"
    );
    assert!(raw.headers().contains_key("x-ratelimit-remaining"));

    let labelled = gh
        .issues("acme", "catalog")
        .list()
        .labels(&["even".to_string()])
        .per_page(100)
        .send()
        .await
        .unwrap();
    assert_eq!(labelled.items.len(), 50);
    assert!(
        labelled
            .items
            .iter()
            .all(|i| i.labels.iter().any(|l| l.name == "even"))
    );
}

#[tokio::test]
async fn a_users_issue_and_the_bots_reply_fire_webhooks() {
    let w = world(SandboxConfig::default()).await;
    let alice = w.sb.create_user("alice");
    w.sb.set_org_role("alice", "acme", Permission::Write);
    let number = alice
        .open_issue(
            "acme/catalog",
            "New service",
            "### Name\n\nsvc",
            &["paved:request"],
        )
        .await
        .unwrap();
    let opened = w.hooks.wait_for("issues", Some("opened")).await;
    assert!(opened.signature_ok);
    assert_eq!(opened.payload["issue"]["number"], number);
    assert_eq!(opened.payload["sender"]["login"], "alice");
    assert_eq!(opened.payload["sender"]["type"], "User");
    let labeled = w.hooks.wait_for("issues", Some("labeled")).await;
    assert_eq!(labeled.payload["label"]["name"], "paved:request");

    // The App answers through its installation token: it appears as its bot.
    let bot = client(&w.sb, &w.sb.installation_token(w.installation));
    let issues = bot.issues("acme", "catalog");
    let comment: Comment = issues.create_comment(number, "On it").await.unwrap();
    assert_eq!(comment.user.login, "paved[bot]");
    assert_eq!(comment.user.r#type, "Bot");
    let created = w.hooks.wait_for("issue_comment", Some("created")).await;
    assert_eq!(created.payload["comment"]["id"], comment.id.0);
    assert_eq!(created.payload["issue"]["number"], number);
    let edited: Comment = issues.update_comment(comment.id, "Done").await.unwrap();
    assert_eq!(edited.body.as_deref(), Some("Done"));
    let change = w.hooks.wait_for("issue_comment", Some("edited")).await;
    assert_eq!(change.payload["changes"]["body"]["from"], "On it");
    let comments = issues.list_comments(number).send().await.unwrap();
    assert_eq!(comments.items.len(), 1);

    // Labels: set in one call, add, remove; each change fires its event.
    let set = issues
        .replace_all_labels(number, &["paved:provisioning".to_string()])
        .await
        .unwrap();
    assert_eq!(
        set.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["paved:provisioning"]
    );
    w.hooks.wait_for("issues", Some("unlabeled")).await;
    issues
        .add_labels(number, &["paved:ready".to_string()])
        .await
        .unwrap();
    issues
        .remove_label(number, "paved:provisioning")
        .await
        .unwrap();
    let missing = issues.remove_label(number, "nope").await;
    assert!(missing.is_err());
    let issue = issues.get(number).await.unwrap();
    assert_eq!(issue.labels.len(), 1);
    assert_eq!(issue.labels[0].name, "paved:ready");
    assert_eq!(issue.comments, 1);

    // Reactions: 201 the first time, 200 for the same reaction again.
    let http = reqwest::Client::new();
    let url = format!(
        "{}/repos/acme/catalog/issues/comments/{}/reactions",
        w.sb.url(),
        comment.id.0
    );
    let react = || {
        http.post(&url)
            .bearer_auth(alice.token().expose())
            .json(&serde_json::json!({"content": "eyes"}))
            .send()
    };
    assert_eq!(react().await.unwrap().status(), 201);
    assert_eq!(react().await.unwrap().status(), 200);
    let reaction: octocrab::models::reactions::Reaction =
        react().await.unwrap().json().await.unwrap();
    assert_eq!(reaction.user.login, "alice");

    // Closing, by the bot, and listing by state.
    let closed = issues
        .update(number)
        .state(octocrab::models::IssueState::Closed)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.state, octocrab::models::IssueState::Closed);
    let event = w.hooks.wait_for("issues", Some("closed")).await;
    assert_eq!(event.payload["issue"]["state"], "closed");
    let open = issues.list().state(State::Open).send().await.unwrap();
    assert!(open.items.is_empty());
    let closed = issues.list().state(State::Closed).send().await.unwrap();
    assert_eq!(closed.items.len(), 1);

    assert_eq!(w.sb.requests().count("issues/create-comment"), 1);
    assert_eq!(w.sb.comments("acme/catalog", number).len(), 1);
}

#[tokio::test]
async fn readers_cannot_label_and_strangers_cannot_edit_others_issues() {
    let w = world(SandboxConfig::default()).await;
    let reader = w.sb.create_user("rita");
    w.sb.set_org_role("rita", "acme", Permission::Read);
    let writer = w.sb.create_user("will");
    w.sb.set_org_role("will", "acme", Permission::Write);
    // Readers may open issues, but labels they ask for are dropped, as on GitHub.
    let number = reader
        .open_issue("acme/catalog", "Question", "?", &["paved:request"])
        .await
        .unwrap();
    assert!(
        w.sb.issue("acme/catalog", number)
            .unwrap()
            .labels
            .is_empty()
    );
    let gh = client(&w.sb, reader.token());
    let refused = gh
        .issues("acme", "catalog")
        .add_labels(number, &["x".to_string()])
        .await;
    assert!(refused.is_err());
    let writers_issue = writer
        .open_issue("acme/catalog", "Mine", "", &[])
        .await
        .unwrap();
    let error = reader
        .update_issue(
            "acme/catalog",
            writers_issue,
            serde_json::json!({"title": "hijacked"}),
        )
        .await
        .unwrap_err();
    assert_eq!(error.status, 403);
    let missing = reader
        .comment("acme/catalog", 999, "hello")
        .await
        .unwrap_err();
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn repository_labels_and_closing_a_pull_request_without_merging() {
    let w = world(SandboxConfig::default()).await;
    let gh = client(&w.sb, &w.sb.installation_token(w.installation));
    let issues = gh.issues("acme", "catalog");
    let label = issues
        .create_label("paved:ready", "0E8A16", "Provisioned")
        .await
        .unwrap();
    assert_eq!(label.color, "0e8a16");
    assert!(
        issues
            .create_label("paved:ready", "0E8A16", "again")
            .await
            .is_err()
    );
    let labels = issues.list_labels_for_repo().send().await.unwrap();
    assert_eq!(labels.items.len(), 1);

    w.sb.push_files("acme/catalog", "main", &[("a", b"a")], "seed", "paved[bot]")
        .await
        .unwrap();
    w.sb.push_files("acme/catalog", "topic", &[("b", b"b")], "b", "paved[bot]")
        .await
        .unwrap();
    let pr = gh
        .pulls("acme", "catalog")
        .create("Topic", "topic", "main")
        .send()
        .await
        .unwrap();
    let closed = gh
        .pulls("acme", "catalog")
        .update(pr.number)
        .state(octocrab::params::pulls::State::Closed)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.state, Some(octocrab::models::IssueState::Closed));
    assert_eq!(closed.merged_at, None);
    let event = w.hooks.wait_for("pull_request", Some("closed")).await;
    assert_eq!(event.payload["pull_request"]["merged"], false);
}
