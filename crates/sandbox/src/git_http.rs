//! Git over smart HTTP at `/{owner}/{repo}.git/...`, served by `git
//! http-backend` as a CGI program, with GitHub's basic auth (user
//! `x-access-token` and an installation token, or a user's personal token).
//! A successful push fires `push` webhooks.

use std::process::Stdio;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
            tracing::error!(error = %e, "git http-backend failed");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "git http-backend failed\n",
            )
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

/// Runs `git http-backend` for one request and turns its CGI output into a response.
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
    let content_type = header("content-type");
    let encoding = header("content-encoding");
    let protocol = header("git-protocol");
    let method = parts.method.to_string();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| SandboxError::Invalid(format!("request body: {e}")))?;
    let mut child = Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", shared.git.root())
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env(
            "PATH_INFO",
            format!("/{}/{}.git/{rest}", key.owner, key.name),
        )
        .env("QUERY_STRING", query)
        .env("REQUEST_METHOD", method)
        .env("CONTENT_TYPE", content_type)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", encoding)
        .env("GIT_PROTOCOL", protocol)
        // Without REMOTE_USER, http-backend refuses receive-pack.
        .env("REMOTE_USER", login)
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    // Fed from its own task: http-backend may write output before reading all input.
    let mut stdin = child.stdin.take().expect("stdin was piped");
    let feeder = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .expect("stdout was piped")
        .read_to_end(&mut stdout)
        .await?;
    child.wait().await?;
    let _ = feeder.await;
    cgi_response(&stdout)
}

/// Parses CGI output: header lines (with `Status:`), a blank line, the body.
fn cgi_response(output: &[u8]) -> Result<Response, SandboxError> {
    let (head, body) = match find(output, b"\r\n\r\n") {
        Some(i) => (&output[..i], &output[i + 4..]),
        None => match find(output, b"\n\n") {
            Some(i) => (&output[..i], &output[i + 2..]),
            None => return Err(SandboxError::Invalid("CGI output without headers".into())),
        },
    };
    let mut response = Response::new(Body::from(body.to_vec()));
    for line in String::from_utf8_lossy(head).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().and_then(|c| c.parse().ok());
            *response.status_mut() = code
                .and_then(|c: u16| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        } else if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(name.trim()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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

    #[test]
    fn parses_cgi_status_and_headers() {
        let out = b"Status: 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nno";
        let response = cgi_response(out).unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()["content-type"], "text/plain");
        let ok = cgi_response(b"Content-Type: application/x-git\n\nPACK").unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
    }
}
