//! Helpers shared by the sandbox tests: a webhook receiver that verifies
//! signatures, octocrab clients, git on the command line.

#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use octocrab::Octocrab;
use paved_sandbox::secret::Secret;
use paved_sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;

/// Whether `header` is `sha256=<hex>` of the body's HMAC-SHA256 under one
/// of `secrets`, as GitHub's webhook docs say a receiver checks it.
fn signed_by(secrets: &[Secret], body: &[u8], header: &str) -> bool {
    use hmac::Mac as _;
    let Some(mac) = header
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    secrets.iter().any(|secret| {
        let mut check = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes())
            .expect("any key length");
        check.update(body);
        check.verify_slice(&mac).is_ok()
    })
}

/// A delivery as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub event: String,
    pub guid: String,
    pub user_agent: String,
    pub content_type: String,
    pub signature_ok: bool,
    pub payload: Value,
}

/// A tiny webhook endpoint that records what arrives and checks the signature.
pub struct Receiver {
    pub url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Listens on a free port; `secret` is filled in once the sandbox exists.
    pub async fn start(secret: Arc<Mutex<Option<Secret>>>) -> Self {
        let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
        let store = seen.clone();
        let app = Router::new().route(
            "/webhook",
            post(move |headers: HeaderMap, body: Bytes| {
                let store = store.clone();
                let secret = secret.clone();
                async move {
                    let header = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    let secrets: Vec<Secret> = secret.lock().unwrap().iter().cloned().collect();
                    let signature_ok = signed_by(&secrets, &body, &header("x-hub-signature-256"));
                    store.lock().unwrap().push(Received {
                        event: header("x-github-event"),
                        guid: header("x-github-delivery"),
                        user_agent: header("user-agent"),
                        content_type: header("content-type"),
                        signature_ok,
                        payload: serde_json::from_slice(&body).unwrap_or_default(),
                    });
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, seen }
    }

    pub fn all(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (bounded) for a delivery of `event` with `action` (`None`: any).
    pub async fn wait_for(&self, event: &str, action: Option<&str>) -> Received {
        for _ in 0..200 {
            let found = self
                .all()
                .into_iter()
                .find(|r| r.event == event && action.is_none_or(|a| r.payload["action"] == a));
            if let Some(found) = found {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "no {event} {action:?} delivery arrived; got {:?}",
            self.events()
        );
    }

    pub fn events(&self) -> Vec<String> {
        self.all()
            .iter()
            .map(|r| match r.payload["action"].as_str() {
                Some(a) => format!("{}.{a}", r.event),
                None => r.event.clone(),
            })
            .collect()
    }
}

/// A sandbox with org `acme` (App installed), repo `acme/catalog` and a
/// receiver for its webhooks.
pub struct World {
    pub sb: Sandbox,
    pub hooks: Receiver,
    pub installation: u64,
}

pub async fn world(config: SandboxConfig) -> World {
    let secret = Arc::new(Mutex::new(None));
    let hooks = Receiver::start(secret.clone()).await;
    let sb = Sandbox::start(SandboxConfig {
        webhook_url: Some(hooks.url.clone()),
        ..config
    })
    .await
    .unwrap();
    *secret.lock().unwrap() = Some(sb.app().webhook_secret);
    sb.create_org("acme");
    let installation = sb.install_app("acme");
    sb.create_repo("acme", "catalog").await.unwrap();
    World {
        sb,
        hooks,
        installation,
    }
}

/// octocrab with a token (installation or personal), as paved uses it.
pub fn client(sb: &Sandbox, token: &Secret) -> Octocrab {
    Octocrab::builder()
        .base_uri(sb.url())
        .unwrap()
        .personal_token(token.expose().to_string())
        .build()
        .unwrap()
}

/// octocrab authenticated as the App (JWTs from the private key).
pub fn app_client(sb: &Sandbox) -> Octocrab {
    let app = sb.app();
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(app.private_key_pem.expose().as_bytes()).unwrap();
    Octocrab::builder()
        .base_uri(sb.url())
        .unwrap()
        .app(app.id.into(), key)
        .build()
        .unwrap()
}

/// Runs git in `dir` without prompts or user config; returns (success, stderr).
/// Async: the sandbox serves on the same runtime.
pub async fn git(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh scratch directory under the system temp dir.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("paved-test-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `http://x-access-token:TOKEN@host/owner/repo.git`
pub fn remote(sb: &Sandbox, user: &str, token: &str, repo: &str) -> String {
    let host = sb.url().trim_start_matches("http://").to_string();
    format!("http://{user}:{token}@{host}/{repo}.git")
}

/// `rel` under the workspace's `../shared` (GitHub's reference material),
/// parsed as JSON; `None`, said aloud, when it is missing, and a failure
/// when `PAVED_REQUIRE_SHARED=1`.
pub fn shared_json(rel: &str) -> Option<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel);
    match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).unwrap()),
        Err(_) => {
            let required = std::env::var("PAVED_REQUIRE_SHARED").as_deref() == Ok("1");
            assert!(
                !required,
                "{} not found, and PAVED_REQUIRE_SHARED=1",
                path.display()
            );
            println!("skipped: {} not found", path.display());
            None
        }
    }
}
