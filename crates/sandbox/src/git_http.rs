//! Git over smart HTTP at `/{owner}/{repo}.git/...`, answered by git's own
//! `upload-pack` and `receive-pack`, with GitHub's basic auth (user
//! `x-access-token` and an installation token, or a user's personal token).
//! A successful push fires `push` webhooks.

use std::process::Stdio;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use std::io::Read;

use axum::http::Method;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::Shared;
use super::auth::{self, Caller};
use super::error::{ApiError, SandboxError};
use super::events::after_push;
use super::rest::permission_of;
use super::state::{Permission, RepoKey};

/// Git clients push whole packs in one request; this bounds what we buffer.
const MAX_BODY: usize = 512 * 1024 * 1024;

/// `/{owner}/{name}.git/{service path}` split into its parts.
fn split(path: &str) -> Option<(&str, &str, &str)> {
    let mut parts = path.trim_start_matches('/').splitn(3, '/');
    let owner = parts.next()?;
    let name = parts.next()?.strip_suffix(".git")?;
    let rest = parts.next()?;
    (!owner.is_empty() && !name.is_empty()).then_some((owner, name, rest))
}

pub fn is_git_path(path: &str) -> bool {
    split(path).is_some()
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, text.to_string()).into_response()
}

/// The router's fallback: git requests, or GitHub's 404 for anything else.
pub async fn serve(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let Some((owner, name, rest)) = split(&path) else {
        return ApiError::not_found().into_response();
    };
    let query = req.uri().query().unwrap_or_default().to_string();
    let pushing = rest == "git-receive-pack" || query.contains("service=git-receive-pack");
    let authenticated = {
        let world = shared.world();
        auth::authenticate(req.headers(), &world, &shared.key, Utc::now())
    };
    let caller = match authenticated {
        Ok(Caller::App | Caller::Anonymous) | Err(_) => None,
        Ok(caller) => Some(caller),
    };
    let need = if pushing {
        Permission::Write
    } else {
        Permission::Read
    };
    let (key, login) = {
        let world = shared.world();
        let Some(repo) = world.repo(&RepoKey::new(owner, name)) else {
            return plain(StatusCode::NOT_FOUND, "Repository not found.\n");
        };
        let who = caller.clone().unwrap_or(Caller::Anonymous);
        let has = permission_of(&world, &who, repo);
        if has < need {
            if caller.is_none() {
                let mut response = plain(StatusCode::UNAUTHORIZED, "Authentication required\n");
                response.headers_mut().insert(
                    "www-authenticate",
                    HeaderValue::from_static("Basic realm=\"GitHub\""),
                );
                return response;
            }
            if has == Permission::None {
                return plain(StatusCode::NOT_FOUND, "Repository not found.\n");
            }
            let whom = who.login(&world).unwrap_or_default();
            let text = format!("Permission to {} denied to {whom}.\n", repo.key.full_name());
            return plain(StatusCode::FORBIDDEN, &text);
        }
        if pushing && repo.archived {
            return plain(
                StatusCode::FORBIDDEN,
                "This repository was archived so it is read-only.\n",
            );
        }
        (
            repo.key.clone(),
            who.login(&world).unwrap_or_else(|| "anonymous".into()),
        )
    };
    let before = if pushing && req.method() == "POST" {
        shared.git.refs(&key).await.ok()
    } else {
        None
    };
    let mut response = match backend(&shared, &key, rest, &query, &login, req).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "git over HTTP failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "git failed\n")
        }
    };
    if let (Some(before), true) = (before, response.status().is_success()) {
        match shared.git.refs(&key).await {
            Ok(after) => after_push(&shared, &key, &before, &after, &login).await,
            Err(e) => tracing::warn!(error = %e, "could not read refs after a push"),
        }
    }
    if let Some(caller) = caller {
        response.extensions_mut().insert(caller);
    }
    response
}

/// A smart HTTP service, as its request names it (`git-upload-pack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    UploadPack,
    ReceivePack,
}

impl Service {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "git-upload-pack" => Some(Self::UploadPack),
            "git-receive-pack" => Some(Self::ReceivePack),
            _ => None,
        }
    }

    /// The `git` subcommand, also the middle of its content types.
    fn command(self) -> &'static str {
        match self {
            Self::UploadPack => "upload-pack",
            Self::ReceivePack => "receive-pack",
        }
    }
}

/// Answers one smart HTTP request (git's `http-protocol` documentation) by
/// running its service with `--stateless-rpc`, as `git http-backend` does
/// but without that process in between: a push or fetch is two requests,
/// and in a burst of new services each process counts.
async fn backend(
    shared: &Shared,
    key: &RepoKey,
    rest: &str,
    query: &str,
    login: &str,
    req: Request,
) -> Result<Response, SandboxError> {
    let (parts, body) = req.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let run = Run {
        dir: shared.git.repo_path(key),
        protocol: header("git-protocol"),
        login,
    };
    if rest == "info/refs" && parts.method == Method::GET {
        let Some(service) = query
            .split('&')
            .find_map(|p| p.strip_prefix("service="))
            .and_then(Service::parse)
        else {
            return Ok(plain(
                StatusCode::FORBIDDEN,
                "Git's dumb HTTP protocol is not served; use a git client that speaks smart HTTP.\n",
            ));
        };
        let mut body = Vec::new();
        // Protocol v2 starts with the capabilities; v0 with this announcement.
        if !run.protocol.contains("version=2") {
            let line = format!("# service=git-{}\n", service.command());
            body.extend(format!("{:04x}{line}0000", line.len() + 4).as_bytes());
        }
        body.extend(run.service(service, Some("--advertise-refs"), &[]).await?);
        return Ok(git_answer(service, "advertisement", body));
    }
    let Some(service) = Service::parse(rest) else {
        return Ok(plain(StatusCode::NOT_FOUND, "Not Found\n"));
    };
    if parts.method != Method::POST {
        return Ok(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed\n",
        ));
    }
    let expected = format!("application/x-git-{}-request", service.command());
    if header("content-type") != expected {
        return Ok(plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type\n",
        ));
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(e) => {
            return Ok(plain(
                StatusCode::BAD_REQUEST,
                &format!("request body: {e}\n"),
            ));
        }
    };
    let body = match header("content-encoding").as_str() {
        "gzip" | "x-gzip" => match gunzip(&body) {
            Ok(body) => body,
            Err(e) => return Ok(plain(StatusCode::BAD_REQUEST, &format!("{e}\n"))),
        },
        _ => body.to_vec(),
    };
    let out = run.service(service, None, &body).await?;
    Ok(git_answer(service, "result", out))
}

/// How a service is run for one request.
struct Run<'a> {
    dir: std::path::PathBuf,
    /// The client's `Git-Protocol` header, passed on as git expects.
    protocol: String,
    login: &'a str,
}

impl Run<'_> {
    /// Runs `git <service> --stateless-rpc [flag] <dir>` on `input`.
    async fn service(
        &self,
        service: Service,
        flag: Option<&str>,
        input: &[u8],
    ) -> Result<Vec<u8>, SandboxError> {
        let mut child = Command::new("git")
            .arg(service.command())
            .arg("--stateless-rpc")
            .args(flag)
            .arg(&self.dir)
            .env("GIT_PROTOCOL", &self.protocol)
            // Who pushed, as http-backend would name them for ref logs.
            .env("GIT_COMMITTER_NAME", self.login)
            .env("GIT_COMMITTER_EMAIL", format!("{}@127.0.0.1", self.login))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        // Fed from its own task: the service may answer before reading all input.
        let mut stdin = child.stdin.take().expect("stdin was piped");
        let input = input.to_vec();
        let feeder = tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
        let out = child.wait_with_output().await?;
        let _ = feeder.await;
        if !out.status.success() && out.stdout.is_empty() {
            return Err(SandboxError::Git {
                command: service.command().into(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out.stdout)
    }
}

/// A service's answer, with the content type git clients check.
fn git_answer(service: Service, kind: &str, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    let content_type = format!("application/x-git-{}-{kind}", service.command());
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, max-age=0, must-revalidate"),
    );
    response
}

/// A gzipped request body (git compresses large fetch negotiations),
/// inflated no further than a body may be.
fn gunzip(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("gzipped request body: {e}"))?;
    if out.len() > MAX_BODY {
        return Err("request body too large once inflated".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_git_paths() {
        assert_eq!(
            split("/acme/cat.git/info/refs"),
            Some(("acme", "cat", "info/refs"))
        );
        assert_eq!(split("/acme/cat/info/refs"), None);
        assert_eq!(split("/acme/cat.git"), None);
    }
}
