//! Git over smart HTTP: clone and push with tokens, push webhooks, refusals.

mod support;

use paved_sandbox::{Permission, SandboxConfig};
use support::{client, git, remote, scratch, world};

#[tokio::test]
async fn create_clone_push_and_receive_a_signed_push_webhook() {
    let w = world(SandboxConfig::default()).await;
    let token = w.sb.installation_token(w.installation);
    let gh = client(&w.sb, &token);

    let repo: octocrab::models::Repository = gh
        .post(
            "/orgs/acme/repos",
            Some(&serde_json::json!({"name": "svc", "auto_init": true})),
        )
        .await
        .unwrap();
    assert_eq!(repo.full_name.as_deref(), Some("acme/svc"));
    let clone_url = repo.clone_url.unwrap().to_string();
    assert_eq!(clone_url, format!("{}/acme/svc.git", w.sb.url()));
    assert_eq!(w.sb.requests().count("repos/create-in-org"), 1);

    let dir = scratch("clone");
    let url = remote(&w.sb, "x-access-token", token.expose(), "acme/svc");
    let (ok, err) = git(&dir, &["clone", "--quiet", &url, "svc"]).await;
    assert!(ok, "clone failed: {err}");
    let work = dir.join("svc");
    assert!(work.join("README.md").exists());
    std::fs::write(work.join("hello.txt"), "hi\n").unwrap();
    assert!(git(&work, &["add", "."]).await.0);
    assert!(
        git(&work, &["commit", "--quiet", "-m", "Say hello"])
            .await
            .0
    );
    let (ok, err) = git(&work, &["push", "--quiet", "origin", "main"]).await;
    assert!(ok, "push failed: {err}");

    let push = w.hooks.wait_for("push", None).await;
    assert!(
        push.signature_ok,
        "signature must verify with the App's secret"
    );
    assert!(push.user_agent.starts_with("GitHub-Hookshot/"));
    assert_eq!(push.content_type, "application/json");
    assert_eq!(push.guid.len(), 36);
    let p = &push.payload;
    assert_eq!(p["ref"], "refs/heads/main");
    assert_eq!(p["repository"]["full_name"], "acme/svc");
    assert_eq!(p["installation"]["id"], w.installation);
    assert_eq!(p["organization"]["login"], "acme");
    assert_eq!(p["sender"]["login"], "paved[bot]");
    assert_eq!(p["sender"]["type"], "Bot");
    assert_eq!(p["commits"][0]["message"], "Say hello");
    assert_eq!(p["commits"][0]["added"][0], "hello.txt");
    let head = w.sb.branch_sha("acme/svc", "main").await.unwrap();
    assert_eq!(p["after"], head.as_str());
    assert_eq!(
        w.sb.file("acme/svc", "main", "hello.txt").await.unwrap(),
        b"hi\n"
    );
    assert_eq!(w.sb.requests().count("git/receive-pack"), 1);
    assert!(
        w.sb.requests()
            .with_operation("git/receive-pack")
            .all(|r| r.caller == format!("installation:{}", w.installation))
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn git_refuses_missing_bad_and_read_only_credentials() {
    let w = world(SandboxConfig::default()).await;
    let reader = w.sb.create_user("rita");
    w.sb.set_org_role("rita", "acme", Permission::Read);
    let writer = w.sb.create_user("will");
    w.sb.set_org_role("will", "acme", Permission::Write);
    w.sb.push_files("acme/catalog", "main", &[("a.txt", b"a")], "seed", "will")
        .await
        .unwrap();

    let dir = scratch("refuse");
    // Public repository: anonymous clone works, anonymous push asks for credentials.
    let anonymous = format!("{}/acme/catalog.git", w.sb.url());
    assert!(git(&dir, &["clone", "--quiet", &anonymous, "anon"]).await.0);
    let work = dir.join("anon");
    std::fs::write(work.join("b.txt"), "b").unwrap();
    assert!(git(&work, &["add", "."]).await.0);
    assert!(git(&work, &["commit", "--quiet", "-m", "b"]).await.0);
    let (ok, err) = git(&work, &["push", "--quiet", &anonymous, "main"]).await;
    assert!(!ok, "anonymous push must fail");
    assert!(
        err.contains("terminal prompts disabled") || err.contains("401"),
        "{err}"
    );

    let bad = remote(&w.sb, "x-access-token", "ghs_wrong", "acme/catalog");
    let (ok, _) = git(&work, &["push", "--quiet", &bad, "main"]).await;
    assert!(!ok);

    let read_only = remote(&w.sb, "rita", reader.token().expose(), "acme/catalog");
    let (ok, err) = git(&work, &["push", "--quiet", &read_only, "main"]).await;
    assert!(!ok && err.contains("403"), "{err}");

    let write = remote(&w.sb, "will", writer.token().expose(), "acme/catalog");
    let (ok, err) = git(&work, &["push", "--quiet", &write, "main"]).await;
    assert!(ok, "{err}");
    let push = w.hooks.wait_for("push", None).await;
    assert_eq!(push.payload["pusher"]["name"], "will");

    let missing = format!("{}/acme/nope.git", w.sb.url());
    assert!(!git(&dir, &["clone", "--quiet", &missing, "nope"]).await.0);
    let _ = std::fs::remove_dir_all(dir);
}
