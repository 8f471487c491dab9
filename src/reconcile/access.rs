//! Who may make paved act: requesters by `policy.requesters`, admins by
//! their catalog permission or a team in `policy.admin_teams`. Always asked
//! of the person who acted, never of whoever wrote the text.

use super::provision::Ctx;
use super::state::RequestState;
use super::{ReconcileError, Reconciler, Setup};
use crate::catalog::CatalogSettings;
use crate::catalog::settings::team_name;
use crate::github::IssueInfo;
use crate::status::Status;

impl Reconciler {
    /// Whether `user` belongs to one of `teams` (`@org/slug` names).
    pub(super) async fn in_any_team(
        &self,
        setup: &Setup,
        teams: &[String],
        user: &str,
    ) -> Result<bool, ReconcileError> {
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

    /// Whether the author of `issue` may request a service, by
    /// `policy.requesters`. Membership that the issue already shows costs
    /// no call.
    pub(super) async fn may_request(
        &self,
        setup: &Setup,
        settings: &CatalogSettings,
        issue: &IssueInfo,
    ) -> Result<bool, ReconcileError> {
        let gh = &self.deps.github;
        let inst = setup.installation;
        let requesters = &settings.policy.requesters;
        let user = issue.author.as_str();
        if requesters.members_only() {
            let same_org = settings
                .organization
                .eq_ignore_ascii_case(&self.deps.catalog.owner);
            if issue.author_member && same_org {
                return Ok(true);
            }
            return Ok(gh.org_member(inst, &settings.organization, user).await?);
        }
        if let Some(min) = requesters.min_role() {
            let role = crate::commands::Role::from_github(
                &gh.permission(inst, &self.deps.catalog, user).await?,
            );
            if role >= min {
                return Ok(true);
            }
        }
        self.in_any_team(setup, &requesters.teams, user).await
    }

    /// Answers a request from someone who may not request, once: the
    /// status comment says who may, and the request is marked invalid.
    pub(super) async fn refuse_requester(
        &self,
        ctx: &mut Ctx<'_>,
        settings: &CatalogSettings,
    ) -> Result<(), ReconcileError> {
        let refused = Status::Refused {
            requester: ctx.issue.author.clone(),
            who: settings.policy.requesters.describe(&settings.organization),
        };
        tracing::info!(requester = %ctx.issue.author, "request refused: not a requester");
        self.show(ctx, &refused).await?;
        if RequestState::from_labels(&ctx.issue.labels) != RequestState::Invalid {
            self.labels(ctx, RequestState::Invalid, false).await?;
            self.metrics()
                .provisioning_requests
                .with_label_values(&["unknown", "refused"])
                .inc();
        }
        Ok(())
    }
}
