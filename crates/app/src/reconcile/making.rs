//! Services this process is making right now, and what GitHub said of
//! their CI meanwhile. The scaffold's push sets CI off before the
//! Application is committed and before the request has its status comment:
//! following a run then would find nothing to show. Its news is handed to
//! the provisioning instead, which shows it on the card it posts, so that
//! nobody reads back what a webhook has just said.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::github::{CiRun, RepoName};

/// A run of CI on one commit, as its webhook told it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Heard {
    id: u64,
    sha: String,
    run: CiRun,
}

/// The services being made, each with the runs heard of so far, oldest
/// first.
#[derive(Default)]
pub struct Making(Mutex<HashMap<RepoName, Vec<Heard>>>);

impl Making {
    /// `repo` is being made until the returned mark is dropped.
    pub fn begin(self: &Arc<Self>, repo: &RepoName) -> Mark {
        self.0
            .lock()
            .expect("making lock")
            .entry(repo.clone())
            .or_default();
        Mark {
            making: Arc::clone(self),
            repo: repo.clone(),
        }
    }

    /// Run `id` on commit `sha` of `repo` is now `run`: kept for the
    /// provisioning when `repo` is being made (`true`), else someone has
    /// to follow it.
    pub fn hear(&self, repo: &RepoName, id: u64, sha: &str, run: &CiRun) -> bool {
        let mut making = self.0.lock().expect("making lock");
        let Some(heard) = making.get_mut(repo) else {
            return false;
        };
        heard.retain(|h| h.id != id);
        heard.push(Heard {
            id,
            sha: sha.to_owned(),
            run: run.clone(),
        });
        true
    }
}

/// A service being made; it no longer is once this is dropped.
pub struct Mark {
    making: Arc<Making>,
    repo: RepoName,
}

impl Mark {
    /// Where CI stands on `sha` by what was heard so far.
    pub fn ci(&self, sha: &str) -> Option<CiRun> {
        let making = self.making.0.lock().expect("making lock");
        standing(making.get(&self.repo), sha)
    }

    /// The service is made and shown: where CI stands on `sha` by all that
    /// was heard. What comes after is followed as for any service.
    pub fn end(self, sha: &str) -> Option<CiRun> {
        let mut making = self.making.0.lock().expect("making lock");
        standing(making.remove(&self.repo).as_ref(), sha)
    }
}

/// Where CI stands on `sha` by `heard`.
fn standing(heard: Option<&Vec<Heard>>, sha: &str) -> Option<CiRun> {
    let runs: Vec<CiRun> = heard
        .into_iter()
        .flatten()
        .rev()
        .filter(|h| h.sha == sha)
        .map(|h| h.run.clone())
        .collect();
    CiRun::standing(&runs).cloned()
}

impl Drop for Mark {
    fn drop(&mut self) {
        if let Ok(mut making) = self.making.0.lock() {
            making.remove(&self.repo);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::CiState;

    fn repo() -> RepoName {
        RepoName {
            owner: "acme".into(),
            name: "orders".into(),
        }
    }

    fn run(status: &str, conclusion: Option<&str>) -> CiRun {
        CiRun::new("ci".into(), Some(status), conclusion, "https://x/1".into())
    }

    #[test]
    fn runs_are_kept_only_while_the_service_is_being_made() {
        let making = Arc::new(Making::default());
        assert!(!making.hear(&repo(), 1, "abc", &run("queued", None)));
        let mark = making.begin(&repo());
        assert!(making.hear(&repo(), 1, "abc", &run("queued", None)));
        assert_eq!(mark.ci("abc").unwrap().state, CiState::Queued);
        // The same run moving on replaces what was heard of it.
        assert!(making.hear(&repo(), 1, "abc", &run("in_progress", None)));
        assert_eq!(mark.ci("abc").unwrap().state, CiState::Running);
        assert_eq!(mark.ci("def"), None, "another commit");
        assert!(making.hear(&repo(), 2, "abc", &run("completed", Some("failure"))));
        assert_eq!(mark.end("abc").unwrap().state, CiState::Failed);
        assert!(!making.hear(&repo(), 1, "abc", &run("completed", Some("success"))));
    }
}
