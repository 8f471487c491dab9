//! What can go wrong talking to GitHub, with the operation named so that a
//! status comment can say which step failed and what GitHub said.

use std::time::SystemTime;

use http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// GitHub answered, and not with success.
    #[error("GitHub answered {status} to {operation}: {message}")]
    Api {
        operation: &'static str,
        status: StatusCode,
        message: String,
    },
    /// Rate limited for longer than we wait inline.
    #[error("GitHub rate limit reached during {operation}; it resets at {} (unix time)", crate::clock::unix_seconds(*reset_at))]
    RateLimited {
        operation: &'static str,
        reset_at: SystemTime,
    },
    /// No answer: connection refused, reset or timed out.
    #[error("could not reach GitHub for {operation}: {detail}")]
    Transport {
        operation: &'static str,
        detail: String,
    },
    /// An answer we could not read.
    #[error("unexpected answer from GitHub to {operation}: {detail}")]
    Decode {
        operation: &'static str,
        detail: String,
    },
    /// The App JWT could not be signed.
    #[error("cannot sign the App JWT: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
}

impl GitHubError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }
}

/// GitHub's error body: `{"message": ..., "documentation_url": ..., "errors": [...]}`.
#[derive(serde::Deserialize)]
struct ErrorBody {
    message: String,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

/// The most useful text from an error answer: GitHub's `message`, with the
/// `errors[].message` details where it gives them, else the start of the body.
pub(crate) fn message_of(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => {
            let details: Vec<&str> = e
                .errors
                .iter()
                .filter_map(|d| d.get("message")?.as_str())
                .collect();
            if details.is_empty() {
                e.message
            } else {
                format!("{} ({})", e.message, details.join("; "))
            }
        }
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::message_of;

    #[test]
    fn reads_githubs_error_bodies() {
        let body = br#"{"message":"Repository creation failed.","errors":[{"resource":"Repository","code":"custom","field":"name","message":"name already exists on this account"}],"documentation_url":"https://docs.github.com"}"#;
        assert_eq!(
            message_of(body),
            "Repository creation failed. (name already exists on this account)"
        );
        assert_eq!(message_of(br#"{"message":"Not Found"}"#), "Not Found");
        assert_eq!(
            message_of(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }
}
