//! Where a request stands, as its state label says. The one place labels are
//! parsed into a state and a state into its label: resync, reconcile and the
//! commands all ask this type.

use crate::github::DeploymentReport;

/// Beside the state: the first environment is not healthy now, by Argo CD's
/// latest report on the image that runs there.
pub const DEGRADED_LABEL: &str = "paved:degraded";

/// A committed request's `labels` as `report` (GitHub's newest on the first
/// environment's image) says: Healthy makes a deploying request ready and
/// clears `paved:degraded`; Degraded or sync failed sets it; no report yet
/// leaves them as they are.
pub fn with_health(labels: &[String], report: Option<&DeploymentReport>) -> Vec<String> {
    let healthy = match report {
        Some(DeploymentReport::Healthy { .. }) => true,
        Some(DeploymentReport::Degraded { .. } | DeploymentReport::SyncFailed { .. }) => false,
        _ => return labels.to_vec(),
    };
    let state = match RequestState::from_labels(labels) {
        RequestState::Deploying if healthy => RequestState::Ready,
        other => other,
    };
    let mut out: Vec<String> = state
        .relabel(labels)
        .into_iter()
        .filter(|l| l != DEGRADED_LABEL)
        .collect();
    if !healthy {
        out.push(DEGRADED_LABEL.into());
    }
    out
}

/// A request's state. An issue or pull request carries at most one of
/// these labels; paved writes them and reads them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    /// No state label yet: paved has not started.
    New,
    Provisioning,
    /// Committed: the service exists and its first environment is on its
    /// way, waiting for CI to build the image and Argo CD to report it Healthy.
    Deploying,
    /// The first environment has been reported Healthy.
    Ready,
    /// A step failed; waits for `/paved retry`.
    Failed,
    /// The request itself must change; waits for an edit.
    Invalid,
    /// An admin deleted the service; final.
    Deleted,
}

impl RequestState {
    const ALL: [RequestState; 6] = [
        Self::Provisioning,
        Self::Deploying,
        Self::Ready,
        Self::Failed,
        Self::Invalid,
        Self::Deleted,
    ];

    pub fn label(self) -> Option<&'static str> {
        Some(match self {
            Self::New => return None,
            Self::Provisioning => "paved:provisioning",
            Self::Deploying => "paved:deploying",
            Self::Ready => "paved:ready",
            Self::Failed => "paved:failed",
            Self::Invalid => "paved:invalid",
            Self::Deleted => "paved:deleted",
        })
    }

    /// The state `labels` say. Should several state labels be there (a
    /// person added one), the most final wins: deleted above everything.
    pub fn from_labels(labels: &[String]) -> Self {
        let has = |s: Self| labels.iter().any(|l| Some(l.as_str()) == s.label());
        [
            Self::Deleted,
            Self::Invalid,
            Self::Failed,
            Self::Ready,
            Self::Deploying,
            Self::Provisioning,
        ]
        .into_iter()
        .find(|s| has(*s))
        .unwrap_or(Self::New)
    }

    /// Whether a state label is this one's.
    pub fn is_state_label(label: &str) -> bool {
        Self::ALL.iter().any(|s| s.label() == Some(label))
    }

    /// `labels` with the state set to `self`, the requester's other labels kept.
    pub fn relabel(self, labels: &[String]) -> Vec<String> {
        let mut out: Vec<String> = labels
            .iter()
            .filter(|l| !Self::is_state_label(l))
            .cloned()
            .collect();
        out.extend(self.label().map(str::to_owned));
        out
    }

    /// Whether a resync pass should pick the request up: it was never
    /// finished. Failed and invalid requests wait for a person; deleted ones
    /// stay deleted.
    pub fn unfinished(self) -> bool {
        matches!(self, Self::New | Self::Provisioning)
    }

    /// Whether the service exists: its labels follow what Argo CD reports.
    pub fn committed(self) -> bool {
        matches!(self, Self::Deploying | Self::Ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn labels_round_trip_and_deleted_wins() {
        for s in RequestState::ALL {
            assert_eq!(RequestState::from_labels(&s.relabel(&[])), s);
        }
        let both = labels(&["paved:ready", "paved:deleted", "team"]);
        assert_eq!(RequestState::from_labels(&both), RequestState::Deleted);
        assert_eq!(
            RequestState::Ready.relabel(&both),
            labels(&["team", "paved:ready"])
        );
        assert_eq!(
            RequestState::from_labels(&labels(&["paved:request"])),
            RequestState::New
        );
    }

    #[test]
    fn health_makes_a_deploying_request_ready_and_marks_it_degraded() {
        let healthy = DeploymentReport::Healthy {
            url: String::new(),
            log: String::new(),
        };
        let degraded = DeploymentReport::Degraded { log: String::new() };
        let deploying = labels(&["paved:request", "paved:deploying"]);
        assert_eq!(
            with_health(&deploying, Some(&healthy)),
            labels(&["paved:request", "paved:ready"])
        );
        assert_eq!(
            with_health(&deploying, Some(&degraded)),
            labels(&["paved:request", "paved:deploying", "paved:degraded"])
        );
        let sick = labels(&["paved:request", "paved:ready", "paved:degraded"]);
        assert_eq!(
            with_health(&sick, Some(&healthy)),
            labels(&["paved:request", "paved:ready"])
        );
        assert_eq!(with_health(&sick, Some(&DeploymentReport::Waiting)), sick);
        assert_eq!(with_health(&deploying, None), deploying);
    }

    #[test]
    fn resync_picks_up_only_unfinished_requests() {
        let picked: Vec<RequestState> = [RequestState::New]
            .into_iter()
            .chain(RequestState::ALL)
            .filter(|s| s.unfinished())
            .collect();
        assert_eq!(
            picked,
            [RequestState::New, RequestState::Provisioning],
            "a crashed provisioning run is picked up again"
        );
    }
}
