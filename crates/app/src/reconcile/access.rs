//! Who may make paved act: requesters by `policy.requesters`, admins by
//! their catalog permission or a team in `policy.admin_teams`. Always asked
//! of the person who acted, never of whoever wrote the text.

use super::provision::Request;
use super::{Reconciler, Setup, StepError};
use crate::catalog::CatalogSettings;
use crate::catalog::settings::team_name;
use crate::status::Status;

impl Reconciler {
    /// Whether `user` belongs to one of `teams` (`@org/slug` names).
    pub(super) async fn in_any_team(
        &self,
        setup: &Setup,
        teams: &[String],
        user: &str,
    ) -> Result<bool, StepError> {
        for (org, slug) in teams.iter().filter_map(|t| team_name(t)) {
            if self
                .deps
                .github
                .team_member(setup.installation, org, slug, user)
                .await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether `user` may request a service, by `policy.requesters`.
    /// Membership GitHub already showed (`shown_member`, from the issue's
    /// author association) costs no call.
    pub(super) async fn may_request(
        &self,
        setup: &Setup,
        settings: &CatalogSettings,
        user: &str,
        shown_member: bool,
    ) -> Result<bool, StepError> {
        let gh = &self.deps.github;
        let inst = setup.installation;
        let requesters = &settings.policy.requesters;
        if requesters.members_only() {
            let same_org = settings
                .organization
                .eq_ignore_ascii_case(&self.deps.catalog.owner);
            if shown_member && same_org {
                return Ok(true);
            }
            return Ok(gh.org_member(inst, &settings.organization, user).await?);
        }
        if let Some(min) = requesters.min_role() {
            let role: crate::commands::Role =
                gh.permission(inst, &self.deps.catalog, user).await?.into();
            if role >= min {
                return Ok(true);
            }
        }
        self.in_any_team(setup, &requesters.teams, user).await
    }
}

impl Request<'_> {
    /// Answers a request from (or edited by) `requester`, who may not
    /// request, once: the status comment says who may, and the request is
    /// marked invalid until someone who may edits it.
    pub(super) async fn refuse_requester(
        &mut self,
        settings: &CatalogSettings,
        requester: &str,
    ) -> Result<(), StepError> {
        let refused = Status::Refused {
            requester: requester.to_owned(),
            who: settings.policy.requesters.describe(&settings.organization),
        };
        tracing::info!(requester, "request refused: not a requester");
        self.turn_down(&refused, "unknown", "refused").await
    }
}
