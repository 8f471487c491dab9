//! Pull requests (merge moves the branch for real), changed files, check runs.

mod support;

use octocrab::models::checks::CheckRun;
use octocrab::models::pulls::PullRequest;
use paved_sandbox::{Permission, SandboxConfig};
use support::{client, world};

#[tokio::test]
async fn open_list_merge_and_the_base_branch_moves() {
    let w = world(SandboxConfig::default()).await;
    let alice = w.sb.create_user("alice");
    w.sb.set_org_role("alice", "acme", Permission::Write);
    let files: &[(&str, &[u8])] = &[("README.md", b"# catalog\n"), ("old.txt", b"old\n")];
    w.sb.push_files("acme/catalog", "main", files, "seed", "alice")
        .await
        .unwrap();
    let base_before = w.sb.branch_sha("acme/catalog", "main").await.unwrap();
    let change: &[(&str, &[u8])] = &[
        ("services/svc.yaml", b"name: svc\n"),
        ("README.md", b"# catalog\nmore\n"),
    ];
    alice
        .push_files("acme/catalog", "add-svc", change, "Add svc")
        .await
        .unwrap();

    let number = alice
        .open_pull("acme/catalog", "add-svc", "main", "Add svc", "please")
        .await
        .unwrap();
    let opened = w.hooks.wait_for("pull_request", Some("opened")).await;
    assert_eq!(opened.payload["pull_request"]["head"]["ref"], "add-svc");
    assert_eq!(opened.payload["number"], number);

    let gh = client(&w.sb, &w.sb.installation_token(w.installation));
    let pulls = gh.pulls("acme", "catalog");
    let pr: PullRequest = pulls.get(number).await.unwrap();
    assert_eq!(pr.base.ref_field, "main");
    assert_eq!(pr.head.ref_field, "add-svc");
    assert_eq!(pr.mergeable, Some(true));
    assert_eq!(pr.changed_files, Some(2));
    let list = pulls.list().send().await.unwrap();
    assert_eq!(list.items.len(), 1);
    let files = pulls.list_files(number).await.unwrap();
    let mut names: Vec<(String, String)> = files
        .items
        .iter()
        .map(|f| (f.filename.clone(), format!("{:?}", f.status)))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("README.md".to_string(), "Modified".to_string()),
            ("services/svc.yaml".to_string(), "Added".to_string()),
        ]
    );

    // A push to the head branch synchronizes the pull request.
    alice
        .push_files(
            "acme/catalog",
            "add-svc",
            &[("services/svc.yaml", b"name: svc\nteam: a\n")],
            "Team",
        )
        .await
        .unwrap();
    let sync = w.hooks.wait_for("pull_request", Some("synchronize")).await;
    let head = w.sb.branch_sha("acme/catalog", "add-svc").await.unwrap();
    assert_eq!(sync.payload["after"], head.as_str());

    // A stale sha is a 409; the right one merges.
    let stale = pulls.merge(number).sha("0000000").send().await;
    assert!(stale.is_err());
    let merged = pulls.merge(number).sha(head.clone()).send().await.unwrap();
    assert!(merged.merged);
    let merge_sha = merged.sha.unwrap();
    let base_after = w.sb.branch_sha("acme/catalog", "main").await.unwrap();
    assert_eq!(base_after, merge_sha);
    assert_ne!(base_after, base_before);
    assert_eq!(
        w.sb.file("acme/catalog", "main", "services/svc.yaml")
            .await
            .unwrap(),
        b"name: svc\nteam: a\n"
    );
    let closed = w.hooks.wait_for("pull_request", Some("closed")).await;
    assert_eq!(closed.payload["pull_request"]["merged"], true);
    assert_eq!(
        closed.payload["pull_request"]["merge_commit_sha"],
        merge_sha.as_str()
    );
    let pr = pulls.get(number).await.unwrap();
    assert!(pr.merged_at.is_some());
    assert_eq!(pr.merge_commit_sha.as_deref(), Some(merge_sha.as_str()));
    let push = w
        .hooks
        .all()
        .into_iter()
        .rfind(|d| d.event == "push")
        .unwrap();
    assert_eq!(push.payload["after"], merge_sha.as_str());

    assert!(w.sb.branch_sha("acme/catalog", "add-svc").await.is_some());

    // With delete_branch_on_merge, the head branch goes and a deletion push is sent.
    alice
        .call(
            reqwest::Method::PATCH,
            "/repos/acme/catalog",
            Some(serde_json::json!({"delete_branch_on_merge": true})),
        )
        .await
        .unwrap_err();
    w.sb.set_org_role("alice", "acme", Permission::Admin);
    alice
        .call(
            reqwest::Method::PATCH,
            "/repos/acme/catalog",
            Some(serde_json::json!({"delete_branch_on_merge": true})),
        )
        .await
        .unwrap();
    alice
        .push_files("acme/catalog", "second", &[("c.txt", b"c\n")], "c")
        .await
        .unwrap();
    let second = alice
        .open_pull("acme/catalog", "second", "main", "C", "")
        .await
        .unwrap();
    alice.merge_pull("acme/catalog", second).await.unwrap();
    assert!(w.sb.branch_sha("acme/catalog", "second").await.is_none());
    assert!(w.sb.settle(std::time::Duration::from_secs(5)).await);
    let deleted = w.hooks.all().into_iter().any(|d| {
        d.event == "push" && d.payload["ref"] == "refs/heads/second" && d.payload["deleted"] == true
    });
    assert!(deleted, "{:?}", w.hooks.events());

    // Merging again: 405 like GitHub.
    let again = reqwest::Client::new()
        .put(format!(
            "{}/repos/acme/catalog/pulls/{number}/merge",
            w.sb.url()
        ))
        .bearer_auth(alice.token().expose())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 405);
}

#[tokio::test]
async fn conflicts_are_not_mergeable_and_readers_cannot_merge() {
    let w = world(SandboxConfig::default()).await;
    let alice = w.sb.create_user("alice");
    w.sb.set_org_role("alice", "acme", Permission::Write);
    let rita = w.sb.create_user("rita");
    w.sb.set_org_role("rita", "acme", Permission::Read);
    w.sb.push_files(
        "acme/catalog",
        "main",
        &[("f.txt", b"base\n")],
        "seed",
        "alice",
    )
    .await
    .unwrap();
    alice
        .push_files("acme/catalog", "left", &[("f.txt", b"left\n")], "left")
        .await
        .unwrap();
    w.sb.push_files(
        "acme/catalog",
        "main",
        &[("f.txt", b"right\n")],
        "right",
        "alice",
    )
    .await
    .unwrap();
    let number = alice
        .open_pull("acme/catalog", "left", "main", "Left", "")
        .await
        .unwrap();

    let denied = rita.merge_pull("acme/catalog", number).await.unwrap_err();
    assert_eq!(denied.status, 403);
    let conflict = alice.merge_pull("acme/catalog", number).await.unwrap_err();
    assert_eq!(conflict.status, 405);
    assert_eq!(conflict.message, "Pull Request is not mergeable");
    let same = alice
        .open_pull("acme/catalog", "left", "main", "Again", "")
        .await
        .unwrap_err();
    assert_eq!(same.status, 422);
    let nothing = alice
        .open_pull("acme/catalog", "main", "main", "Nothing", "")
        .await
        .unwrap_err();
    assert_eq!(nothing.status, 422);
}

#[tokio::test]
async fn a_pull_request_from_a_fork_is_read_and_merged_through_the_base() {
    let w = world(SandboxConfig::default()).await;
    let alice = w.sb.create_user("alice");
    w.sb.set_org_role("alice", "acme", Permission::Write);
    let bob = w.sb.create_user("bob");
    w.sb.set_org_role("bob", "acme", Permission::Read);
    let seed: &[(&str, &[u8])] = &[("README.md", b"# catalog\n")];
    w.sb.push_files("acme/catalog", "main", seed, "seed", "alice")
        .await
        .unwrap();

    // A reader forks; asking again gives the same fork.
    assert_eq!(bob.fork("acme/catalog").await.unwrap(), "bob/catalog");
    assert_eq!(bob.fork("acme/catalog").await.unwrap(), "bob/catalog");
    let gh = client(&w.sb, &w.sb.installation_token(w.installation));
    let fork: serde_json::Value = bob
        .call(reqwest::Method::GET, "/repos/bob/catalog", None)
        .await
        .unwrap();
    assert_eq!(fork["fork"], true);
    assert_eq!(fork["parent"]["full_name"], "acme/catalog");
    assert_eq!(
        w.sb.branch_sha("bob/catalog", "main").await,
        w.sb.branch_sha("acme/catalog", "main").await
    );

    let change: &[(&str, &[u8])] = &[("services/x.yaml", b"name: x\n")];
    bob.push_files("bob/catalog", "add-x", change, "Add x")
        .await
        .unwrap();
    let number = bob
        .open_pull("acme/catalog", "bob:add-x", "main", "Add x", "")
        .await
        .unwrap();
    let opened = w.hooks.wait_for("pull_request", Some("opened")).await;
    let head = &opened.payload["pull_request"]["head"];
    assert_eq!(head["label"], "bob:add-x");
    assert_eq!(head["repo"]["full_name"], "bob/catalog");
    assert_eq!(opened.payload["repository"]["full_name"], "acme/catalog");

    // The base repository reads the fork's commits: files, contents at the head.
    let pulls = gh.pulls("acme", "catalog");
    let pr: PullRequest = pulls.get(number).await.unwrap();
    let head_sha = pr.head.sha.clone();
    assert_eq!(
        pr.head.repo.unwrap().full_name.as_deref(),
        Some("bob/catalog")
    );
    assert_eq!(pr.changed_files, Some(1));
    let files = pulls.list_files(number).await.unwrap();
    assert_eq!(files.items[0].filename, "services/x.yaml");
    assert_eq!(
        w.sb.file("acme/catalog", &head_sha, "services/x.yaml")
            .await
            .unwrap(),
        b"name: x\n"
    );
    let listed = |head: &'static str| {
        let pulls = gh.pulls("acme", "catalog");
        async move { pulls.list().head(head).send().await.unwrap().items.len() }
    };
    assert_eq!(listed("bob:add-x").await, 1);
    assert_eq!(listed("acme:add-x").await, 0);

    // A branch of the same name in the base repository is not the fork's.
    alice
        .push_files("acme/catalog", "add-x", &[("other.txt", b"o\n")], "Other")
        .await
        .unwrap();
    assert_eq!(pulls.get(number).await.unwrap().head.sha, head_sha);

    // A push to the fork's branch synchronizes the pull request in the base.
    let more: &[(&str, &[u8])] = &[("services/x.yaml", b"name: x\nteam: b\n")];
    bob.push_files("bob/catalog", "add-x", more, "Team")
        .await
        .unwrap();
    let sync = w.hooks.wait_for("pull_request", Some("synchronize")).await;
    let new_head = w.sb.branch_sha("bob/catalog", "add-x").await.unwrap();
    assert_eq!(sync.payload["after"], new_head.as_str());
    assert_eq!(sync.payload["repository"]["full_name"], "acme/catalog");
    assert_eq!(pulls.get(number).await.unwrap().head.sha, new_head);

    // Only someone with write access to the base merges it.
    assert_eq!(
        bob.merge_pull("acme/catalog", number)
            .await
            .unwrap_err()
            .status,
        403
    );
    alice.merge_pull("acme/catalog", number).await.unwrap();
    assert_eq!(
        w.sb.file("acme/catalog", "main", "services/x.yaml")
            .await
            .unwrap(),
        b"name: x\nteam: b\n"
    );
    assert!(w.sb.branch_sha("bob/catalog", "add-x").await.is_some());
}

#[tokio::test]
async fn the_app_creates_and_completes_check_runs() {
    let w = world(SandboxConfig::default()).await;
    let sha =
        w.sb.push_files("acme/catalog", "main", &[("a", b"a")], "seed", "paved[bot]")
            .await
            .unwrap();
    let gh = client(&w.sb, &w.sb.installation_token(w.installation));
    let run: CheckRun = gh
        .checks("acme", "catalog")
        .create_check_run("paved/validate", sha.clone())
        .status(octocrab::params::checks::CheckRunStatus::InProgress)
        .send()
        .await
        .unwrap();
    assert_eq!(run.head_sha, sha);
    assert_eq!(run.conclusion, None);
    assert!(run.completed_at.is_none());
    let done: CheckRun = gh
        .checks("acme", "catalog")
        .update_check_run(run.id)
        .conclusion(octocrab::params::checks::CheckRunConclusion::Success)
        .output(octocrab::params::checks::CheckRunOutput {
            title: "Valid".into(),
            summary: "All good".into(),
            text: None,
            annotations: vec![],
            images: vec![],
        })
        .send()
        .await
        .unwrap();
    assert_eq!(done.conclusion.as_deref(), Some("success"));
    assert!(done.completed_at.is_some());
    assert_eq!(done.output.title.as_deref(), Some("Valid"));

    // Only Apps create check runs.
    let alice = w.sb.create_user("alice");
    w.sb.set_org_role("alice", "acme", Permission::Admin);
    let user = client(&w.sb, alice.token());
    assert!(
        user.checks("acme", "catalog")
            .create_check_run("x", sha)
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_completed_workflow_run_fires_with_its_pull_requests() {
    let w = world(SandboxConfig::default()).await;
    let alice = w.sb.create_user("alice");
    w.sb.set_org_role("alice", "acme", Permission::Write);
    w.sb.push_files("acme/catalog", "main", &[("a", b"a")], "seed", "alice")
        .await
        .unwrap();
    alice
        .push_files("acme/catalog", "feature", &[("b", b"b")], "b")
        .await
        .unwrap();
    let number = alice
        .open_pull("acme/catalog", "feature", "main", "F", "")
        .await
        .unwrap();
    w.sb.complete_workflow_run("acme/catalog", "feature", "CI", "failure")
        .await
        .unwrap();
    let run = w.hooks.wait_for("workflow_run", Some("completed")).await;
    assert_eq!(run.payload["workflow_run"]["conclusion"], "failure");
    assert_eq!(run.payload["workflow_run"]["head_branch"], "feature");
    assert_eq!(
        run.payload["workflow_run"]["pull_requests"][0]["number"],
        number
    );
    assert_eq!(run.payload["workflow"]["name"], "CI");
}
