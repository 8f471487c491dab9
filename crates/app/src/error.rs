//! Why a step did not get done: the one error that provisioning, commands,
//! deployments and the platform writer return. It keeps what the job runner
//! needs to decide what happens next (wait for the reset, try again, give
//! up and say why), so no caller turns it into text on the way up.

use std::time::SystemTime;

use http::StatusCode;

use crate::catalog::Problem;
use crate::git::GitError;
use crate::github::GitHubError;
use crate::upgrade::UpgradeError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// GitHub's rate limit is spent until `until`: nothing more can be done
    /// before then.
    #[error("GitHub's rate limit is spent until {}", clock_text(*until))]
    RateLimited {
        operation: &'static str,
        until: SystemTime,
    },
    /// May pass if tried again: no answer, a 5xx, a git exchange that kept
    /// failing, a push that kept losing the race.
    #[error("{0}")]
    Transient(String),
    /// GitHub or git refused, with its message: the same call again would
    /// be refused again.
    #[error("{0}")]
    Refused(String),
    /// The input is wrong, every problem listed: the requester or the
    /// platform team must change it.
    #[error("{}", join(.0))]
    Invalid(Vec<Problem>),
}

impl StepError {
    /// Invalid input with one problem that names no field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(vec![Problem::general(message)])
    }
}

impl From<GitHubError> for StepError {
    fn from(e: GitHubError) -> Self {
        match &e {
            GitHubError::RateLimited {
                operation,
                reset_at,
            } => Self::RateLimited {
                operation,
                until: *reset_at,
            },
            GitHubError::Transport { .. } | GitHubError::Decode { .. } => {
                Self::Transient(e.to_string())
            }
            // A token GitHub stopped accepting is dropped by the client and
            // a fresh one is taken next time.
            GitHubError::Api { status, .. }
                if status.is_server_error() || *status == StatusCode::UNAUTHORIZED =>
            {
                Self::Transient(e.to_string())
            }
            GitHubError::Api { .. } | GitHubError::Jwt(_) => Self::Refused(e.to_string()),
        }
    }
}

impl From<GitError> for StepError {
    fn from(e: GitError) -> Self {
        let transient =
            e.is_transient() || matches!(e, GitError::NotFastForward | GitError::Raced(_));
        if transient {
            Self::Transient(e.to_string())
        } else {
            Self::Refused(e.to_string())
        }
    }
}

impl From<UpgradeError> for StepError {
    fn from(e: UpgradeError) -> Self {
        match e {
            UpgradeError::Git(git) => git.into(),
            other => Self::Refused(other.to_string()),
        }
    }
}

/// A blocking task that could not finish (it panicked): trying the same
/// again would do the same.
impl From<tokio::task::JoinError> for StepError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Refused(format!("an internal task failed: {e}"))
    }
}

fn join(problems: &[Problem]) -> String {
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    text.join("; ")
}

/// `HH:MM:SS UTC`: when a rate limit resets, as people read it.
pub fn clock_text(at: SystemTime) -> String {
    let secs = crate::clock::unix_seconds(at) % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn api(status: u16) -> GitHubError {
        GitHubError::Api {
            operation: "repos/get",
            status: StatusCode::from_u16(status).unwrap(),
            message: "no".into(),
        }
    }

    #[test]
    fn githubs_answers_are_sorted_by_what_can_be_done_about_them() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(3 * 3600 + 61);
        let limited = GitHubError::RateLimited {
            operation: "issues/get",
            reset_at: at,
        };
        assert_eq!(
            StepError::from(limited),
            StepError::RateLimited {
                operation: "issues/get",
                until: at
            }
        );
        assert!(matches!(StepError::from(api(502)), StepError::Transient(_)));
        assert!(matches!(StepError::from(api(401)), StepError::Transient(_)));
        assert!(matches!(StepError::from(api(422)), StepError::Refused(m) if m.contains("no")));
        assert_eq!(
            StepError::RateLimited {
                operation: "x",
                until: at
            }
            .to_string(),
            "GitHub's rate limit is spent until 03:01:01 UTC"
        );
    }

    #[test]
    fn lost_races_may_pass_and_refused_refs_do_not() {
        assert!(matches!(
            StepError::from(GitError::Raced(10)),
            StepError::Transient(_)
        ));
        let rejected = GitError::Rejected(vec![("refs/heads/main".into(), "protected".into())]);
        assert!(matches!(StepError::from(rejected), StepError::Refused(_)));
    }

    #[test]
    fn invalid_input_lists_every_problem() {
        let e = StepError::Invalid(vec![
            Problem::new("name", "too long"),
            Problem::new("owner", "not a team"),
        ]);
        assert_eq!(e.to_string(), "name: too long; owner: not a team");
    }
}
