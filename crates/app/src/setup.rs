//! `paved setup`: registers paved as a GitHub App through GitHub's manifest
//! flow. A local page posts `app-manifest.json` to GitHub; GitHub sends the
//! browser back with a code; paved trades the code for the App's id, private
//! key and webhook secret and writes them to an env file only its owner may
//! read.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::sync::oneshot;

use crate::config::DEFAULT_API_URL;

/// The manifest shipped with paved.
pub const MANIFEST: &str = include_str!("../../../app-manifest.json");

#[derive(Debug, Clone)]
pub struct SetupOptions {
    pub listen: SocketAddr,
    pub env_file: PathBuf,
    /// Register the App for this organisation instead of the signed-in user.
    pub org: Option<String>,
    /// GitHub's web root, e.g. `https://github.com`.
    pub github_url: String,
    /// GitHub's REST root, e.g. `https://api.github.com`.
    pub api_url: String,
    /// Where GitHub will deliver webhooks.
    pub webhook_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the browser came back with a state paved did not issue; nothing was written")]
    State,
    #[error(
        "GitHub did not trade the code for the App ({0}); codes last an hour and work once: run paved setup again"
    )]
    Exchange(String),
}

/// What the flow made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub app_id: u64,
    pub slug: String,
    pub env_file: PathBuf,
}

/// A running setup page.
pub struct SetupServer {
    pub addr: SocketAddr,
    done: oneshot::Receiver<Result<Created, SetupError>>,
    server: tokio::task::JoinHandle<()>,
}

impl SetupServer {
    /// Waits for the flow to finish, then stops the page.
    pub async fn finished(self) -> Result<Created, SetupError> {
        let result = self.done.await.unwrap_or(Err(SetupError::State));
        // Give the browser its answer page before the server goes.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        self.server.abort();
        result
    }
}

struct Flow {
    options: SetupOptions,
    state: String,
    manifest: String,
    done: Mutex<Option<oneshot::Sender<Result<Created, SetupError>>>>,
}

/// Serves the setup page; the returned handle's `finished` waits for the flow.
pub async fn start(options: SetupOptions) -> Result<SetupServer, SetupError> {
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    let mut manifest: serde_json::Value =
        serde_json::from_str(MANIFEST).expect("the shipped manifest is JSON");
    manifest["redirect_url"] = format!("http://{addr}/callback").into();
    manifest["hook_attributes"]["url"] = options.webhook_url.clone().into();
    let (tx, done) = oneshot::channel();
    let flow = Arc::new(Flow {
        options,
        state: random_state(),
        manifest: manifest.to_string(),
        done: Mutex::new(Some(tx)),
    });
    let router = Router::new()
        .route("/", get(page))
        .route("/callback", get(callback))
        .with_state(flow);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(SetupServer { addr, done, server })
}

fn random_state() -> String {
    use std::hash::{BuildHasher, Hasher};
    let s = std::collections::hash_map::RandomState::new();
    let (a, b) = (
        s.build_hasher().finish(),
        s.build_hasher().finish() ^ 0x9e37_79b9_7f4a_7c15,
    );
    format!("{a:016x}{b:016x}")
}

/// The page with the one button.
async fn page(State(flow): State<Arc<Flow>>) -> Html<String> {
    let o = &flow.options;
    let target = match &o.org {
        Some(org) => format!(
            "{}/organizations/{}/settings/apps/new",
            o.github_url,
            html(org)
        ),
        None => format!("{}/settings/apps/new", o.github_url),
    };
    let body = format!(
        "<h1>Set up paved</h1>\
         <p>This registers paved as a GitHub App{for_org}, with exactly the permissions and events in <code>app-manifest.json</code>. \
         GitHub asks you to confirm, then sends you back here.</p>\
         <form action=\"{target}?state={state}\" method=\"post\">\
         <input type=\"hidden\" name=\"manifest\" value=\"{manifest}\">\
         <input type=\"hidden\" name=\"state\" value=\"{state}\">\
         <button id=\"create\" type=\"submit\">Create the GitHub App</button></form>",
        for_org = o
            .org
            .as_deref()
            .map(|org| format!(" for the organisation {}", html(org)))
            .unwrap_or_default(),
        state = flow.state,
        manifest = html(&flow.manifest),
    );
    Html(document("Set up paved", &body))
}

#[derive(serde::Deserialize)]
struct Back {
    code: Option<String>,
    state: Option<String>,
}

/// Where GitHub sends the browser back.
async fn callback(State(flow): State<Arc<Flow>>, Query(back): Query<Back>) -> Response {
    let result = finish(&flow, back).await;
    let page = match &result {
        Ok(created) => (
            StatusCode::OK,
            document(
                "paved is set up",
                &format!(
                    "<h1 id=\"done\">paved is set up</h1><p>The App <b>{}</b> (id {}) exists. Its settings are in <code>{}</code>.</p>\
                     <p>Next: install the App on your organisation, set <code>PAVED_CATALOG_REPO</code> and <code>PAVED_PLATFORM_REPO</code> \
                     in that file, and run <code>paved serve --env-file {}</code>.</p>",
                    html(&created.slug),
                    created.app_id,
                    html(&created.env_file.display().to_string()),
                    html(&created.env_file.display().to_string()),
                ),
            ),
        ),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            document(
                "paved setup failed",
                &format!(
                    "<h1 id=\"failed\">Setup failed</h1><p>{}</p>",
                    html(&e.to_string())
                ),
            ),
        ),
    };
    if let Some(tx) = flow.done.lock().expect("setup lock").take() {
        let _ = tx.send(result);
    }
    (page.0, Html(page.1)).into_response()
}

async fn finish(flow: &Flow, back: Back) -> Result<Created, SetupError> {
    if back.state.as_deref() != Some(flow.state.as_str()) {
        return Err(SetupError::State);
    }
    let code = back
        .code
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric()));
    let code = code.ok_or_else(|| SetupError::Exchange("no code".into()))?;
    #[derive(serde::Deserialize)]
    struct Conversion {
        id: u64,
        slug: String,
        pem: String,
        webhook_secret: String,
    }
    let url = format!(
        "{}/app-manifests/{code}/conversions",
        flow.options.api_url.trim_end_matches('/')
    );
    let answer = reqwest::Client::new()
        .post(url)
        .header("accept", "application/vnd.github+json")
        .header("user-agent", concat!("paved/", env!("CARGO_PKG_VERSION")))
        .send()
        .await
        .map_err(|e| SetupError::Exchange(e.without_url().to_string()))?;
    if !answer.status().is_success() {
        return Err(SetupError::Exchange(format!(
            "GitHub answered {}",
            answer.status()
        )));
    }
    let app: Conversion = answer
        .json()
        .await
        .map_err(|e| SetupError::Exchange(e.without_url().to_string()))?;
    let mut env = format!(
        "APP_ID={}\nPRIVATE_KEY=\"{}\"\nWEBHOOK_SECRET={}\n",
        app.id,
        app.pem.trim_end().replace('\n', "\\n"),
        app.webhook_secret
    );
    if flow.options.api_url.trim_end_matches('/') != DEFAULT_API_URL {
        env.push_str(&format!(
            "GITHUB_API_URL={}\n",
            flow.options.api_url.trim_end_matches('/')
        ));
    }
    env.push_str("# Set these to your repositories:\n# PAVED_CATALOG_REPO=acme/catalog\n# PAVED_PLATFORM_REPO=acme/platform\n");
    write_private(&flow.options.env_file, &env)?;
    Ok(Created {
        app_id: app.id,
        slug: app.slug,
        env_file: flow.options.env_file.clone(),
    })
}

/// Writes a file only its owner may read or write: it holds the App's key.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    options.open(path)?.write_all(text.as_bytes())
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;line-height:1.5}}\
         button{{font-size:1.1rem;padding:.6rem 1.2rem}}</style></head><body>{body}</body></html>"
    )
}

/// Text for HTML, attributes included.
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
