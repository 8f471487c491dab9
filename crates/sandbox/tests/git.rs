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
    // Two commits in one push: one adds and modifies, the next removes.
    std::fs::write(work.join("hello.txt"), "hi\n").unwrap();
    std::fs::write(work.join("README.md"), "# svc, saying hello\n").unwrap();
    assert!(git(&work, &["add", "."]).await.0);
    let dated = ["commit", "--quiet", "--date=2026-01-02T03:04:05+02:00"];
    assert!(
        git(&work, &[&dated[..], &["-m", "Say hello"]].concat())
            .await
            .0
    );
    assert!(git(&work, &["rm", "--quiet", "README.md"]).await.0);
    assert!(
        git(&work, &[&dated[..], &["-m", "Drop the readme"]].concat())
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
    let commits = p["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 2, "{commits:?}");
    assert_eq!(commits[0]["message"], "Say hello");
    assert_eq!(commits[0]["timestamp"], "2026-01-02T03:04:05+02:00");
    assert_eq!(commits[0]["added"], serde_json::json!(["hello.txt"]));
    assert_eq!(commits[0]["modified"], serde_json::json!(["README.md"]));
    assert_eq!(commits[0]["removed"], serde_json::json!([]));
    assert_eq!(commits[1]["message"], "Drop the readme");
    assert_eq!(commits[1]["removed"], serde_json::json!(["README.md"]));
    assert_eq!(commits[1]["id"], p["after"]);
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

/// What a git client sends and checks, spoken by hand: a gzipped protocol
/// v2 request is inflated, and what smart HTTP does not cover is refused
/// without running git.
#[tokio::test]
async fn smart_http_inflates_gzipped_requests_and_refuses_what_it_does_not_serve() {
    use std::io::Write;

    let w = world(SandboxConfig::default()).await;
    w.sb.create_user("will");
    let head =
        w.sb.push_files("acme/catalog", "main", &[("a.txt", b"a")], "seed", "will")
            .await
            .unwrap();
    let http = reqwest::Client::new();
    let base = format!("{}/acme/catalog.git", w.sb.url());
    let upload = format!("{base}/git-upload-pack");

    // A v2 request to list the refs, with the given content type, gzipped or not.
    let ls_refs = |content_type: &'static str, body: Vec<u8>| {
        http.post(&upload)
            .header("content-type", content_type)
            .header("content-encoding", "gzip")
            .header("git-protocol", "version=2")
            .body(body)
            .send()
    };
    let request = b"0014command=ls-refs\n0000";
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(request).unwrap();
    let git_request = "application/x-git-upload-pack-request";
    let answer = ls_refs(git_request, gzip.finish().unwrap()).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["content-type"],
        "application/x-git-upload-pack-result"
    );
    let refs = answer.text().await.unwrap();
    assert!(refs.contains(&format!("{head} refs/heads/main")), "{refs}");

    // v0's advertisement opens with the service's announcement.
    let advert = http
        .get(format!("{base}/info/refs?service=git-upload-pack"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        advert.headers()["content-type"],
        "application/x-git-upload-pack-advertisement"
    );
    let advert = advert.text().await.unwrap();
    assert!(
        advert.starts_with("001e# service=git-upload-pack\n0000"),
        "{advert}"
    );
    assert!(advert.contains(&head), "{advert}");

    let dumb = http.get(format!("{base}/info/refs")).send().await.unwrap();
    assert_eq!(dumb.status(), 403);
    let not_gzip = ls_refs(git_request, request.to_vec()).await.unwrap();
    assert_eq!(not_gzip.status(), 400);
    let wrong_type = ls_refs("text/plain", request.to_vec()).await.unwrap();
    assert_eq!(wrong_type.status(), 415);
    let wrong_method = http.get(&upload).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(w.sb.branch_sha("acme/catalog", "main").await.unwrap(), head);
}
