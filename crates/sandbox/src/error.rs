//! Errors: [`ApiError`] is what a REST client sees (GitHub's error body),
//! [`SandboxError`] is what the Rust API returns when the sandbox itself fails.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

const DOCS: &str = "https://docs.github.com/rest";

/// An error answer shaped like GitHub's: `{"message", "documentation_url"}`,
/// plus `errors` on validation failures.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub errors: Vec<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    pub fn bad_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Bad credentials")
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn requires_authentication() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Requires authentication")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn bad_json() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Problems parsing JSON")
    }

    /// 422 "Validation Failed" with one `{resource, field, code}` entry.
    pub fn invalid(resource: &str, field: &str, code: &str) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "Validation Failed".into(),
            errors: vec![json!({"resource": resource, "field": field, "code": code})],
        }
    }

    /// GitHub's answer to creating a repository whose name is taken.
    pub fn repository_name_taken() -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "Repository creation failed.".into(),
            errors: vec![json!({
                "resource": "Repository", "code": "custom", "field": "name",
                "message": "name already exists on this account"
            })],
        }
    }

    /// 422 "Validation Failed" with a `custom` error carrying `message`.
    pub fn custom(resource: &str, message: &str) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "Validation Failed".into(),
            errors: vec![json!({"resource": resource, "code": "custom", "message": message})],
        }
    }

    /// GitHub's 422 for a text field over its limit.
    pub fn too_long(resource: &str, field: &str, max: usize) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "Validation Failed".into(),
            errors: vec![json!({
                "resource": resource, "code": "custom", "field": field,
                "message": format!("{field} is too long (maximum is {max} characters)"),
            })],
        }
    }

    /// Refuses `text` longer than `max` characters, as GitHub does.
    pub fn check_length(resource: &str, field: &str, text: &str, max: usize) -> Result<(), Self> {
        if text.chars().count() > max {
            Err(Self::too_long(resource, field, max))
        } else {
            Ok(())
        }
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn body(&self) -> Value {
        let mut body = json!({"message": self.message, "documentation_url": DOCS});
        if !self.errors.is_empty() {
            body["errors"] = Value::Array(self.errors.clone());
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl From<SandboxError> for ApiError {
    fn from(err: SandboxError) -> Self {
        tracing::error!(error = %err, "sandbox failure while answering a request");
        ApiError::internal(err.to_string())
    }
}

/// A failure of the sandbox itself: git, the file system, key generation.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("git {command} failed: {stderr}")]
    Git { command: String, stderr: String },
    #[error("could not generate the App's key: {0}")]
    Key(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}
