//! `paved sandbox` (run_standalone): the env file, the key beside it, the
//! seeded repositories and users.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use paved::standalone::{StandaloneOptions, run_standalone};

#[tokio::test]
async fn standalone_writes_a_working_env_file_and_seeds_the_catalog() {
    let work = common::TempDir::new("standalone");
    let dir = work.path().to_owned();
    let catalog = dir.join("catalog");
    std::fs::create_dir_all(catalog.join(".github/ISSUE_TEMPLATE")).unwrap();
    std::fs::write(catalog.join("paved.yaml"), "organization: acme\n").unwrap();
    std::fs::write(
        catalog.join(".github/ISSUE_TEMPLATE/new-service.yml"),
        "name: New\n",
    )
    .unwrap();
    let env_file = dir.join("env/sandbox.env");
    let options = StandaloneOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        catalog_dir: Some(catalog),
        dir: Some(dir.join("repos")),
        ..StandaloneOptions::new(&env_file)
    };
    let server = tokio::spawn(run_standalone(options));
    let mut text = String::new();
    for _ in 0..200 {
        if let Ok(found) = std::fs::read_to_string(&env_file) {
            text = found;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let env: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    for key in [
        "GITHUB_API_URL",
        "APP_ID",
        "PRIVATE_KEY_PATH",
        "WEBHOOK_SECRET",
        "PAVED_CATALOG_REPO",
        "PAVED_PLATFORM_REPO",
        "SANDBOX_ADMIN_USER",
        "SANDBOX_ADMIN_TOKEN",
        "SANDBOX_WRITER_USER",
        "SANDBOX_WRITER_TOKEN",
        "SANDBOX_READER_USER",
        "SANDBOX_OUTSIDER_USER",
        "SANDBOX_OUTSIDER_TOKEN",
        "SANDBOX_READER_TOKEN",
    ] {
        assert!(env.contains_key(key), "{key} missing from {text}");
    }
    assert_eq!(env["PAVED_CATALOG_REPO"], "acme/catalog");
    assert_eq!(env["PAVED_PLATFORM_REPO"], "acme/platform");
    // paved serve --env-file listens where the sandbox sends webhooks.
    assert_eq!(env["PAVED_LISTEN"], "127.0.0.1:3000");
    assert_eq!(env["PAVED_WEBHOOK_PATH"], "/webhook");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(std::path::Path::new(env["PRIVATE_KEY_PATH"])), 0o600);
        assert_eq!(mode(env_file.as_path()), 0o600);
    }
    assert!(dir.join("repos/acme/catalog.git/HEAD").exists());

    // The App credentials work as paved would use them.
    let pem = std::fs::read(env["PRIVATE_KEY_PATH"]).unwrap();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap();
    let app_id: u64 = env["APP_ID"].parse().unwrap();
    let app = octocrab::Octocrab::builder()
        .base_uri(env["GITHUB_API_URL"])
        .unwrap()
        .app(app_id.into(), key)
        .build()
        .unwrap();
    let installation: octocrab::models::Installation = app
        .get("/repos/acme/catalog/installation", None::<&()>)
        .await
        .unwrap();
    assert_eq!(installation.account.login, "acme");

    // The catalog holds the project's catalog files; users have their roles.
    let reader = octocrab::Octocrab::builder()
        .base_uri(env["GITHUB_API_URL"])
        .unwrap()
        .personal_token(env["SANDBOX_READER_TOKEN"].to_string())
        .build()
        .unwrap();
    let file: serde_json::Value = reader
        .get("/repos/acme/catalog/contents/paved.yaml", None::<&()>)
        .await
        .unwrap();
    let content: String = file["content"].as_str().unwrap().split('\n').collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(content)
        .unwrap();
    assert_eq!(decoded, b"organization: acme\n");
    let listing: Vec<serde_json::Value> = reader
        .get(
            "/repos/acme/catalog/contents/.github/ISSUE_TEMPLATE",
            None::<&()>,
        )
        .await
        .unwrap();
    assert_eq!(listing[0]["name"], "new-service.yml");
    let permission: serde_json::Value = reader
        .get(
            format!(
                "/repos/acme/catalog/collaborators/{}/permission",
                env["SANDBOX_WRITER_USER"]
            ),
            None::<&()>,
        )
        .await
        .unwrap();
    assert_eq!(permission["permission"], "write");

    server.abort();
    let _ = server.await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_sandbox_that_cannot_listen_names_the_address_and_leaves_no_folder() {
    let work = common::TempDir::new("standalone-busy");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let repos = work.path().join("repos");
    let options = StandaloneOptions {
        listen: addr,
        catalog_dir: Some(work.path().join("catalog")),
        dir: Some(repos.clone()),
        ..StandaloneOptions::new(work.path().join("sandbox.env"))
    };
    let error = run_standalone(options).await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("cannot listen on {addr}: ")),
        "{error}"
    );
    assert!(!repos.exists(), "--dir was made");
    assert!(!work.path().join("sandbox.env").exists());
}
