//! Contents (read, create, update) and repositories made from a template.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use paved_sandbox::{Permission, SandboxConfig};
use serde_json::json;
use support::{client, world};

#[tokio::test]
async fn files_are_read_created_and_updated_as_commits() {
    let w = world(SandboxConfig::default()).await;
    let gh = client(&w.sb, &w.sb.installation_token(w.installation));
    let put = |sha: Option<String>, text: &str| {
        let mut body = json!({"message": "Write app", "content": STANDARD.encode(text)});
        if let Some(sha) = sha {
            body["sha"] = json!(sha);
        }
        let gh = gh.clone();
        async move {
            gh.put::<serde_json::Value, _, _>(
                "/repos/acme/catalog/contents/apps/svc/dev.yaml",
                Some(&body),
            )
            .await
        }
    };
    let created = put(None, "replicas: 1\n").await.unwrap();
    let blob = created["content"]["sha"].as_str().unwrap().to_string();
    let commit = created["commit"]["sha"].as_str().unwrap().to_string();
    assert_eq!(
        w.sb.branch_sha("acme/catalog", "main").await.unwrap(),
        commit
    );
    let push = w.hooks.wait_for("push", None).await;
    assert_eq!(push.payload["head_commit"]["message"], "Write app");
    assert_eq!(push.payload["sender"]["login"], "paved[bot]");

    // An update must name the current blob.
    assert!(put(None, "replicas: 2\n").await.is_err());
    assert!(put(Some("0".repeat(40)), "replicas: 2\n").await.is_err());
    let updated = put(Some(blob), "replicas: 2\n").await.unwrap();
    assert_ne!(updated["commit"]["sha"].as_str().unwrap(), commit);
    assert_eq!(
        w.sb.file("acme/catalog", "main", "apps/svc/dev.yaml")
            .await
            .unwrap(),
        b"replicas: 2\n"
    );

    let file = gh
        .repos("acme", "catalog")
        .get_content()
        .path("apps/svc/dev.yaml")
        .send()
        .await
        .unwrap();
    assert_eq!(
        file.items[0].decoded_content().as_deref(),
        Some("replicas: 2\n")
    );
    let root: Vec<serde_json::Value> = gh
        .get("/repos/acme/catalog/contents", None::<&()>)
        .await
        .unwrap();
    assert_eq!(root[0]["name"], "apps");
    assert_eq!(root[0]["type"], "dir");
    let old: serde_json::Value = gh
        .get(
            format!("/repos/acme/catalog/contents/apps/svc/dev.yaml?ref={commit}"),
            None::<&()>,
        )
        .await
        .unwrap();
    let text: String = old["content"].as_str().unwrap().split('\n').collect();
    assert_eq!(STANDARD.decode(text).unwrap(), b"replicas: 1\n");
    let missing = gh
        .get::<serde_json::Value, _, _>("/repos/acme/catalog/contents/nope", None::<&()>)
        .await;
    assert!(missing.is_err());
}

#[tokio::test]
async fn repositories_are_generated_from_templates() {
    let w = world(SandboxConfig::default()).await;
    let alice = w.sb.create_user("alice");
    w.sb.set_org_role("alice", "acme", Permission::Admin);
    w.sb.create_repo("acme", "template-svc").await.unwrap();
    let files: &[(&str, &[u8])] = &[
        ("Dockerfile", b"FROM scratch\n"),
        ("src/main.rs", b"fn main() {}\n"),
    ];
    w.sb.push_files("acme/template-svc", "main", files, "template", "alice")
        .await
        .unwrap();
    let gh = client(&w.sb, &w.sb.installation_token(w.installation));

    let body = json!({"owner": "acme", "name": "svc"});
    let refused = gh
        .post::<_, serde_json::Value>("/repos/acme/template-svc/generate", Some(&body))
        .await;
    assert!(refused.is_err(), "not a template yet");
    alice
        .call(
            reqwest::Method::PATCH,
            "/repos/acme/template-svc",
            Some(json!({"is_template": true})),
        )
        .await
        .unwrap();
    let repo: octocrab::models::Repository = gh
        .post("/repos/acme/template-svc/generate", Some(&body))
        .await
        .unwrap();
    assert_eq!(repo.full_name.as_deref(), Some("acme/svc"));
    assert_eq!(
        w.sb.file("acme/svc", "main", "src/main.rs").await.unwrap(),
        b"fn main() {}\n"
    );
    assert_eq!(w.sb.requests().count("repos/create-using-template"), 2);

    // Archived repositories are read-only.
    alice
        .call(
            reqwest::Method::PATCH,
            "/repos/acme/svc",
            Some(json!({"archived": true})),
        )
        .await
        .unwrap();
    let refused = alice
        .open_issue("acme/svc", "late", "", &[])
        .await
        .unwrap_err();
    assert_eq!(refused.status, 403);
    let repo = gh.repos("acme", "svc").get().await.unwrap();
    assert_eq!(repo.archived, Some(true));
}

/// A repository's default branch is data: an organisation names the first
/// branch of its new repositories, and an admin may make any existing
/// branch the default, but not one that does not exist.
#[tokio::test]
async fn default_branches_follow_the_organisation_and_must_exist() {
    let w = world(SandboxConfig::default()).await;
    let gh = client(&w.sb, &w.sb.installation_token(w.installation));
    w.sb.set_new_repo_branch("acme", "trunk");
    let created: serde_json::Value = gh
        .post(
            "/orgs/acme/repos",
            Some(&json!({"name": "svc", "auto_init": true})),
        )
        .await
        .unwrap();
    assert_eq!(created["default_branch"], "trunk");
    assert!(w.sb.branch_sha("acme/svc", "trunk").await.is_some());
    assert!(w.sb.branch_sha("acme/svc", "main").await.is_none());

    let missing = gh
        .patch::<serde_json::Value, _, _>(
            "/repos/acme/svc",
            Some(&json!({"default_branch": "release"})),
        )
        .await;
    match missing {
        Err(octocrab::Error::GitHub { source, .. }) => {
            assert_eq!(source.status_code.as_u16(), 422);
        }
        other => panic!("a missing branch was made the default: {other:?}"),
    }
    let unchanged: serde_json::Value = gh.get("/repos/acme/svc", None::<&()>).await.unwrap();
    assert_eq!(unchanged["default_branch"], "trunk");

    w.sb.push_files(
        "acme/svc",
        "release",
        &[("x", b"1")],
        "Release",
        "paved[bot]",
    )
    .await
    .unwrap();
    let moved: serde_json::Value = gh
        .patch(
            "/repos/acme/svc",
            Some(&json!({"default_branch": "release"})),
        )
        .await
        .unwrap();
    assert_eq!(moved["default_branch"], "release");
    // Contents without a ref read the default branch.
    let file = gh
        .repos("acme", "svc")
        .get_content()
        .path("x")
        .send()
        .await
        .unwrap();
    assert_eq!(file.items[0].decoded_content().as_deref(), Some("1"));
}

/// GitHub's conditional requests: a read carries an `ETag`; asking again
/// with `If-None-Match` gets `304 Not Modified`, no body, and costs nothing
/// from the rate limit; once the file changes, the old tag gets the new file.
#[tokio::test]
async fn a_conditional_read_of_an_unchanged_file_is_304_and_free() {
    use http::header::{ETAG, IF_NONE_MATCH};
    let w = world(SandboxConfig::default()).await;
    let gh = client(&w.sb, &w.sb.installation_token(w.installation));
    let path = "/repos/acme/catalog/contents/paved.yaml";
    let write = |text: &str| {
        let gh = gh.clone();
        let body = json!({"message": "Settings", "content": STANDARD.encode(text)});
        async move {
            gh.put::<serde_json::Value, _, _>(path, Some(&body))
                .await
                .unwrap()
        }
    };
    let created = write("organization: acme\n").await;
    let remaining = |r: &http::Response<_>| -> u64 {
        r.headers()["x-ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let first = gh._get(path).await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()[ETAG].clone();
    let mut ask = http::HeaderMap::new();
    ask.insert(IF_NONE_MATCH, etag.clone());
    let again = gh._get_with_headers(path, Some(ask.clone())).await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()[ETAG], etag);
    assert_eq!(remaining(&again), remaining(&first), "a 304 is not counted");
    let body = gh.body_to_string(again).await.unwrap();
    assert!(body.is_empty(), "{body}");

    let sha = created["content"]["sha"].as_str().unwrap().to_string();
    let update = json!({"message": "Settings", "content": STANDARD.encode("organization: acme\ndomain: x.dev\n"), "sha": sha});
    gh.put::<serde_json::Value, _, _>(path, Some(&update))
        .await
        .unwrap();
    let changed = gh._get_with_headers(path, Some(ask)).await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()[ETAG], etag);
    assert!(remaining(&changed) < remaining(&first));
}
