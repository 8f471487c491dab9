//! The request log: every REST and git request the sandbox answered.

use std::sync::Mutex;

use serde::Serialize;

use super::state::Time;

#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub at: Time,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// GitHub's operation name (`issues/create`) or `git/receive-pack` and friends.
    pub operation: Option<String>,
    /// `installation:<id>`, `user:<login>`, `app` or `anonymous`.
    pub caller: String,
}

impl RequestRecord {
    /// Whether this was git over smart HTTP rather than the REST API.
    pub fn is_git(&self) -> bool {
        self.path.contains(".git/")
    }
}

#[derive(Default)]
pub struct RequestLog(Mutex<Vec<RequestRecord>>);

impl RequestLog {
    pub fn push(&self, record: RequestRecord) {
        self.0.lock().unwrap().push(record);
    }

    pub fn snapshot(&self) -> Requests {
        Requests(self.0.lock().unwrap().clone())
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// A snapshot of the log with the questions tests ask of it.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Requests(pub Vec<RequestRecord>);

impl Requests {
    /// Requests made for `operation` (e.g. `repos/create-in-org`).
    pub fn count(&self, operation: &str) -> usize {
        self.with_operation(operation).count()
    }

    /// Requests for `operation` answered `201 Created`: what was made.
    pub fn created(&self, operation: &str) -> usize {
        self.with_operation(operation)
            .filter(|r| r.status == 201)
            .count()
    }

    pub fn with_operation<'a>(
        &'a self,
        operation: &'a str,
    ) -> impl Iterator<Item = &'a RequestRecord> + 'a {
        self.0
            .iter()
            .filter(move |r| r.operation.as_deref() == Some(operation))
    }

    /// Requests made with an installation token: what the App did.
    pub fn by_installation(&self) -> impl Iterator<Item = &RequestRecord> + '_ {
        self.0
            .iter()
            .filter(|r| r.caller.starts_with("installation:"))
    }

    /// Requests made by `caller` (see [`RequestRecord::caller`]).
    pub fn by<'a>(&'a self, caller: &'a str) -> impl Iterator<Item = &'a RequestRecord> + 'a {
        self.0.iter().filter(move |r| r.caller == caller)
    }

    /// Requests for routes the sandbox does not serve: a client bug, or an
    /// endpoint the sandbox still lacks.
    pub fn unknown(&self) -> impl Iterator<Item = &RequestRecord> {
        self.0.iter().filter(|r| r.operation.is_none())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
