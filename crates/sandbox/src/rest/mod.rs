//! The REST API: routes, and the gate every request passes (authentication,
//! rate limit, faults, request log).

mod actions;
mod apps;
mod checks;
mod comments;
mod conditional;
mod contents;
mod control;
mod deployments;
mod graphql;
pub(crate) mod issues;
mod ops;
mod pulls;
mod repos;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::secondary;

use super::Shared;
use super::auth::{self, Caller};
use super::error::ApiError;
use super::faults::{self, FaultKind, MAX_STALL};
use super::requests::RequestRecord;
use super::state::{Permission, Repo, RepoKey, World};

pub(crate) type Api = State<Arc<Shared>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/app", get(apps::get_app))
        .route("/app/installations", get(apps::list_installations))
        .route("/app/installations/{id}", get(apps::get_installation))
        .route(
            "/app/installations/{id}/access_tokens",
            post(apps::create_token),
        )
        .route(
            "/app-manifests/{code}/conversions",
            post(apps::convert_manifest),
        )
        .route("/settings/apps/new", post(apps::manifest_form))
        .route(
            "/organizations/{org}/settings/apps/new",
            post(apps::manifest_form),
        )
        .route("/installation/repositories", get(apps::installation_repos))
        .route("/orgs/{org}/installation", get(apps::org_installation))
        .route("/orgs/{org}/memberships/{user}", get(apps::org_membership))
        .route(
            "/orgs/{org}/teams/{slug}/memberships/{user}",
            get(apps::team_membership),
        )
        .route(
            "/repos/{owner}/{repo}/installation",
            get(apps::repo_installation),
        )
        .route("/user", get(repos::authenticated_user))
        .route("/rate_limit", get(rate_limit))
        .merge(repos::routes())
        .merge(contents::routes())
        .merge(issues::routes())
        .merge(pulls::routes())
        .merge(checks::routes())
        .merge(actions::routes())
        .merge(deployments::routes())
        .merge(graphql::routes())
        .nest("/_sandbox", control::routes())
        .fallback(super::git_http::serve)
        // GitHub answers an unsupported method on a known path with a JSON 404.
        .method_not_allowed_fallback(|| async { ApiError::not_found() })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// Runs before every request: sandbox control endpoints pass straight
/// through; git requests get faults and the log; REST requests also get
/// authentication, the primary and secondary rate limits.
async fn gate(State(shared): Api, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_sandbox/") {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_string();
    let query = req.uri().query().map(str::to_string);
    let operation = ops::operation(&method, &path);
    let is_git = super::git_http::is_git_path(&path);
    let mut caller = Caller::Anonymous;
    let mut record = RequestRecord {
        at: Utc::now(),
        method: method.clone(),
        path: path.clone(),
        query,
        status: 0,
        operation: operation.map(str::to_string),
        caller: String::new(),
    };
    let response = if is_git {
        match injected(&shared, &method, &path, operation, None).await {
            Some(kind) => fail(&kind).await,
            None => next.run(req).await,
        }
    } else {
        let authenticated = {
            let world = shared.world();
            auth::authenticate(req.headers(), &world, &shared.key, Utc::now())
        };
        match authenticated {
            // Refused credentials still count against the caller's address, as on GitHub.
            Err(e) => {
                let mut response = e.into_response();
                let quota = shared
                    .limits
                    .charge(&Caller::Anonymous.describe(), shared.limits.base);
                quota
                    .unwrap_or_else(|spent| spent)
                    .write_headers(response.headers_mut());
                response
            }
            Ok(who) => {
                caller = who.clone();
                let budget = who.describe();
                let limit = shared.world().rate_limit(&who, shared.limits.base);
                let counted = match operation {
                    Some(RATE_LIMIT_OPERATION) => Ok(shared.limits.peek(&budget, limit)),
                    _ => shared.limits.charge(&budget, limit),
                };
                match counted {
                    Err(quota) => {
                        let mut response = rate_limited(&who).into_response();
                        quota.write_headers(response.headers_mut());
                        response
                    }
                    Ok(quota) => {
                        let call = secondary::Call {
                            endpoint: operation.unwrap_or(path.as_str()),
                            method: &method,
                        };
                        let in_flight = match shared.secondary.admit(&budget, call) {
                            Ok(in_flight) => in_flight,
                            Err(exceeded) => {
                                let mut response = secondary_limited(&exceeded);
                                quota.write_headers(response.headers_mut());
                                return logged(&shared, record, response);
                            }
                        };
                        // Injected latency is time the request is under way.
                        let failure =
                            injected(&shared, &method, &path, operation, Some(&budget)).await;
                        let asked = conditional::asked(&method, req.headers());
                        let mut response = match failure {
                            Some(kind) => fail(&kind).await,
                            None => {
                                req.extensions_mut().insert(who);
                                next.run(req).await
                            }
                        };
                        drop(in_flight);
                        let (tagged, unchanged) = conditional::tag(response, asked).await;
                        response = tagged;
                        let quota = if unchanged {
                            shared.limits.refund(&budget, limit)
                        } else {
                            quota
                        };
                        quota.write_headers(response.headers_mut());
                        response
                    }
                }
            }
        }
    };
    let caller = response
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(caller);
    record.caller = caller.describe();
    logged(&shared, record, response)
}

/// Logs the request with the answer's status, and gives the answer back.
fn logged(shared: &super::Shared, mut record: RequestRecord, response: Response) -> Response {
    record.status = response.status().as_u16();
    shared.log.push(record);
    response
}

/// 403 for a secondary limit, with `retry-after` as GitHub sends it.
fn secondary_limited(exceeded: &secondary::Exceeded) -> Response {
    let mut response = ApiError::forbidden(secondary::MESSAGE).into_response();
    let seconds = secondary::retry_after_seconds(exceeded.retry_after);
    response
        .headers_mut()
        .insert("retry-after", HeaderValue::from(seconds));
    response
}

/// The fault injected into this request, if any, after any injected delay.
async fn injected(
    shared: &super::Shared,
    method: &str,
    path: &str,
    operation: Option<&str>,
    caller: Option<&str>,
) -> Option<FaultKind> {
    let plan = shared.faults.plan(method, path, operation, caller);
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay.min(MAX_STALL)).await;
    }
    plan.failure
}

/// `GET /rate_limit`, which GitHub does not count against the budget it reports.
const RATE_LIMIT_OPERATION: &str = "rate-limit/get";

async fn rate_limit(
    State(shared): Api,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Response {
    let limit = shared.world().rate_limit(&caller, shared.limits.base);
    let quota = shared.limits.peek(&caller.describe(), limit);
    let rate = serde_json::json!({
        "limit": quota.limit, "used": quota.used, "remaining": quota.remaining,
        "reset": quota.reset.timestamp(), "resource": "core",
    });
    let search = serde_json::json!({
        "limit": 30, "used": 0, "remaining": 30,
        "reset": quota.reset.timestamp(), "resource": "search",
    });
    axum::Json(serde_json::json!({
        "resources": {"core": rate, "search": search},
        "rate": rate,
    }))
    .into_response()
}

async fn fail(kind: &FaultKind) -> Response {
    if let FaultKind::Stall { millis } = kind {
        tokio::time::sleep(std::time::Duration::from_millis(*millis).min(MAX_STALL)).await;
    }
    faults::failure_response(kind)
}

fn rate_limited(caller: &Caller) -> ApiError {
    let whom = match caller {
        Caller::Installation(id) => format!("installation ID {id}"),
        Caller::User(login) => format!("user {login}"),
        Caller::App | Caller::Anonymous => "127.0.0.1".into(),
    };
    ApiError::forbidden(format!(
        "API rate limit exceeded for {whom}. If you reach out to GitHub Support for help, \
         please include the request ID."
    ))
}

/// A JSON request body. Like GitHub: an empty body is `{}`, broken JSON is a
/// 400 "Problems parsing JSON", wrong fields a 422, and no content type is needed.
pub(crate) struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::bad_json())?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        let value: Value = serde_json::from_slice(bytes).map_err(|_| ApiError::bad_json())?;
        serde_json::from_value(value)
            .map(Body)
            .map_err(|e| ApiError::unprocessable(format!("Invalid request.\n\n{e}")))
    }
}

/// `page` and `per_page` (default 30, at most 100) from the query string.
pub(crate) struct Paging {
    page: usize,
    per_page: usize,
    uri: Uri,
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let number = |name: &str| query_param(&parts.uri, name).and_then(|v| v.parse().ok());
        Ok(Self {
            page: number("page").unwrap_or(1).max(1),
            per_page: number("per_page").unwrap_or(30).clamp(1, 100),
            uri: parts.uri.clone(),
        })
    }
}

/// One query parameter, percent-decoded.
pub(crate) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_param(uri.query()?, name)
}

/// One parameter of `a=1&b=2` (a query or a form body), percent-decoded.
pub(crate) fn form_param(pairs: &str, name: &str) -> Option<String> {
    pairs.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Paging {
    /// Answers one page of `items` with GitHub's `Link` header.
    pub(crate) fn respond(&self, base: &str, items: Vec<Value>) -> Response {
        self.respond_as(base, items, |page, _| Value::Array(page))
    }

    /// One page of `items` as `{"total_count": N, field: [...]}`, the shape
    /// of GitHub's searches and Actions lists.
    pub(crate) fn respond_in(&self, base: &str, field: &str, items: Vec<Value>) -> Response {
        self.respond_as(
            base,
            items,
            |page, total| serde_json::json!({"total_count": total, field: page}),
        )
    }

    fn respond_as(
        &self,
        base: &str,
        items: Vec<Value>,
        shape: impl FnOnce(Vec<Value>, usize) -> Value,
    ) -> Response {
        let total = items.len();
        let last = total.div_ceil(self.per_page).max(1);
        let page: Vec<Value> = items
            .into_iter()
            .skip((self.page - 1) * self.per_page)
            .take(self.per_page)
            .collect();
        let mut response = axum::Json(shape(page, total)).into_response();
        let link = |n: usize, rel: &str| format!("<{}>; rel=\"{rel}\"", self.url(base, n));
        let mut links = Vec::new();
        if self.page < last {
            links.push(link(self.page + 1, "next"));
            links.push(link(last, "last"));
        }
        if self.page > 1 {
            links.push(link(1, "first"));
            links.push(link(self.page - 1, "prev"));
        }
        if !links.is_empty()
            && let Ok(value) = HeaderValue::from_str(&links.join(", "))
        {
            response.headers_mut().insert("link", value);
        }
        response
    }

    fn url(&self, base: &str, page: usize) -> String {
        let mut query: Vec<String> = self
            .uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("page=") && !p.starts_with("per_page="))
            .map(str::to_string)
            .collect();
        query.push(format!("per_page={}", self.per_page));
        query.push(format!("page={page}"));
        format!("{base}{}?{}", self.uri.path(), query.join("&"))
    }
}

/// The repository `owner/name` if `caller` has at least `need` on it; GitHub
/// hides private repositories from those who cannot read them (404).
pub(crate) fn repo_for<'w>(
    world: &'w World,
    caller: &Caller,
    owner: &str,
    name: &str,
    need: Permission,
) -> Result<&'w Repo, ApiError> {
    let repo = world
        .repo(&RepoKey::new(owner, name))
        .ok_or_else(ApiError::not_found)?;
    let has = permission_of(world, caller, repo);
    if has >= need {
        return Ok(repo);
    }
    if has == Permission::None {
        return Err(ApiError::not_found());
    }
    Err(match caller {
        Caller::Installation(_) => ApiError::forbidden("Resource not accessible by integration"),
        _ if need == Permission::Admin => {
            ApiError::forbidden("Must have admin rights to Repository.")
        }
        _ => ApiError::forbidden("Resource not accessible by personal access token"),
    })
}

pub(crate) fn permission_of(world: &World, caller: &Caller, repo: &Repo) -> Permission {
    match caller {
        Caller::Installation(id) => {
            match (world.installation_for(&repo.key.owner), world.peers.get(id)) {
                (Some(i), _) if i.id == *id => Permission::Admin,
                (_, Some(peer)) if peer.account.eq_ignore_ascii_case(&repo.key.owner) => {
                    peer.permission
                }
                _ => Permission::None,
            }
        }
        Caller::User(login) => world.permission(login, repo),
        Caller::Anonymous if !repo.private => Permission::Read,
        Caller::Anonymous | Caller::App => Permission::None,
    }
}

/// The acting account's login; the App itself (JWT) and anonymous callers cannot act.
pub(crate) fn actor(world: &World, caller: &Caller) -> Result<String, ApiError> {
    match caller {
        Caller::App => Err(ApiError::forbidden(
            "A JSON web token could not be decoded. Use an installation access token.",
        )),
        _ => caller
            .login(world)
            .ok_or_else(ApiError::requires_authentication),
    }
}

/// 201 Created with `value`.
pub(crate) fn created(value: Value) -> Response {
    (axum::http::StatusCode::CREATED, axum::Json(value)).into_response()
}
