//! Conditional requests, as GitHub answers them: a successful `GET` carries
//! an `ETag` of its body, and a `GET` whose `If-None-Match` names the
//! current one is answered `304 Not Modified` with no body, which does not
//! count against the rate limit.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Bodies larger than this are not tagged (the sandbox's answers are far
/// smaller).
const MAX_TAGGED: usize = 64 * 1024 * 1024;

/// The `If-None-Match` a `GET` came with.
pub(crate) fn asked(method: &str, headers: &HeaderMap) -> Option<HeaderValue> {
    (method == "GET")
        .then(|| headers.get(header::IF_NONE_MATCH).cloned())
        .flatten()
}

/// Tags a successful answer with the `ETag` of its body; when `asked` (a
/// `GET`'s `If-None-Match`) names that tag, the answer becomes a bodiless
/// `304`. Says whether it did.
pub(crate) async fn tag(response: Response, asked: Option<HeaderValue>) -> (Response, bool) {
    if response.status() != StatusCode::OK || response.headers().contains_key(header::ETAG) {
        return (response, false);
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_TAGGED).await else {
        return (
            (StatusCode::INTERNAL_SERVER_ERROR, "answer too large").into_response(),
            false,
        );
    };
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&bytes)[..16]));
    let value = HeaderValue::from_str(&etag).expect("hex is a valid header");
    let matches = asked.is_some_and(|a| {
        a.to_str().is_ok_and(|a| {
            a.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        })
    });
    parts.headers.insert(header::ETAG, value);
    if matches {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
        return (Response::from_parts(parts, Body::empty()), true);
    }
    (Response::from_parts(parts, Body::from(bytes)), false)
}
