//! `paved.yaml` in the catalog repository: the organisation, its domain, its
//! environments in promotion order, and policy.

use crate::platform::resource::Deletion;
use serde::Deserialize;

use super::Problem;
use crate::commands::Role;
use crate::github::Permission;
use crate::scaffold::is_dns_label;
use crate::yaml;

/// The in-cluster API server, Argo CD's name for "the cluster I run in".
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSettings {
    pub organization: String,
    pub domain: String,
    #[serde(default = "default_environments")]
    pub environments: Vec<Environment>,
    #[serde(default)]
    pub templates: TemplatePolicy,
    #[serde(default)]
    pub policy: Policy,
    /// A link to a service's dashboard; `{service}` is replaced by its name.
    #[serde(default)]
    pub dashboard_url: Option<String>,
    /// `auto`: when paved starts with a newer template, it opens the upgrade
    /// pull requests itself.
    #[serde(default)]
    pub upgrades: Upgrades,
    /// The databases, caches and queues services may ask for.
    #[serde(default)]
    pub resources: super::resources::ResourcePolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Upgrades {
    #[default]
    Manual,
    Auto,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub name: String,
    #[serde(default = "in_cluster")]
    pub cluster: String,
    /// Changes need a pull request on the platform repository.
    #[serde(default)]
    pub review: bool,
    #[serde(default)]
    pub replicas: Replicas,
    /// What happens to a cloud resource whose definition paved removes:
    /// `orphan` (kept, unmanaged) unless this says `delete`.
    #[serde(default)]
    pub deletion: Deletion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replicas {
    #[serde(default = "one")]
    pub default: u32,
    #[serde(default = "ten")]
    pub max: u32,
}

impl Default for Replicas {
    fn default() -> Self {
        Self {
            default: 1,
            max: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatePolicy {
    /// Empty: every template is allowed.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// Cookiecutter and Copier templates whose hooks and tasks paved runs
    /// (in a child process with a clean environment); any other template
    /// with hooks is refused.
    #[serde(default)]
    pub trusted: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub name_prefixes: Vec<String>,
    #[serde(default)]
    pub reserved_names: Vec<String>,
    #[serde(default)]
    pub admin_teams: Vec<String>,
    #[serde(default = "yes")]
    pub private_repositories: bool,
    /// Who may request a service by issue.
    #[serde(default)]
    pub requesters: Requesters,
    /// The Rego packages whose `deny`, `violation` and `warn` rules the
    /// catalog's `policy/` files decide with; `main`, as conftest's, when
    /// empty.
    #[serde(default)]
    pub packages: Vec<String>,
}

/// Who may request a service. With neither set, members of the
/// organisation; otherwise anyone with at least `permission` on the catalog
/// or in one of `teams`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requesters {
    /// GitHub's name: `read`, `triage`, `write`, `maintain` or `admin`.
    #[serde(default)]
    pub permission: Option<String>,
    /// `@org/team-slug` names.
    #[serde(default)]
    pub teams: Vec<String>,
}

impl Requesters {
    /// Only organisation membership counts.
    pub fn members_only(&self) -> bool {
        self.permission.is_none() && self.teams.is_empty()
    }

    /// The least catalog permission that may request, if one is set.
    pub fn min_role(&self) -> Option<Role> {
        self.permission
            .as_deref()
            .and_then(Permission::named)
            .map(Role::from)
    }

    /// Who may request, for the reply to someone who may not.
    pub fn describe(&self, organization: &str) -> String {
        if self.members_only() {
            return format!("members of the {organization} organisation");
        }
        let mut who = Vec::new();
        if let Some(p) = &self.permission {
            who.push(format!("people with {p} permission on the catalog"));
        }
        if !self.teams.is_empty() {
            let teams: Vec<String> = self.teams.iter().map(|t| format!("`{t}`")).collect();
            who.push(format!("members of {}", teams.join(", ")));
        }
        who.join(" and ")
    }
}

/// A team named `@org/slug` (the `@` optional): its organisation and slug.
pub fn team_name(team: &str) -> Option<(&str, &str)> {
    team.trim_start_matches('@')
        .split_once('/')
        .filter(|(org, slug)| !org.is_empty() && !slug.is_empty())
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            name_prefixes: vec![],
            reserved_names: vec![],
            admin_teams: vec![],
            private_repositories: true,
            requesters: Requesters::default(),
            packages: vec![],
        }
    }
}

fn in_cluster() -> String {
    IN_CLUSTER.to_owned()
}
fn one() -> u32 {
    1
}
fn ten() -> u32 {
    10
}
fn yes() -> bool {
    true
}

/// dev and staging take direct commits; prod changes go through review.
fn default_environments() -> Vec<Environment> {
    let env = |name: &str, review, default| Environment {
        name: name.to_owned(),
        cluster: in_cluster(),
        review,
        replicas: Replicas { default, max: 10 },
        deletion: Deletion::Orphan,
    };
    vec![
        env("dev", false, 1),
        env("staging", false, 2),
        env("prod", true, 3),
    ]
}

impl CatalogSettings {
    /// Parses and checks `paved.yaml`; every problem is reported.
    pub fn parse(text: &str) -> Result<Self, Vec<Problem>> {
        let settings: Self = yaml::from_str(text).map_err(|e| {
            vec![Problem {
                field: None,
                line: e.location().map(|l| l.line()),
                message: format!("paved.yaml: {e}"),
            }]
        })?;
        let problems = settings.problems();
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(problems)
        }
    }

    /// Settings for a catalog without `paved.yaml`.
    pub fn defaults(organization: &str) -> Self {
        Self {
            organization: organization.to_owned(),
            domain: "apps.example.com".into(),
            environments: default_environments(),
            templates: TemplatePolicy::default(),
            policy: Policy::default(),
            dashboard_url: None,
            upgrades: Upgrades::Manual,
            resources: super::resources::ResourcePolicy::default(),
        }
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The first environment: where a new service is deployed.
    pub fn first_environment(&self) -> &Environment {
        &self.environments[0]
    }

    /// How a render of `template` may run its hooks, in `scratch`, for the
    /// project folder `destination`.
    pub fn hooks(
        &self,
        template: &str,
        scratch: &std::path::Path,
        destination: &str,
    ) -> crate::scaffold::foreign::hooks::Hooks {
        let mut hooks = crate::scaffold::foreign::hooks::Hooks::refused(scratch, destination);
        hooks.trusted = self.templates.trusted.iter().any(|t| t == template);
        hooks
    }

    /// What paved's standard base is made for: `name` in this organisation.
    pub fn service(&self, name: &str, port: u16) -> crate::scaffold::base::Service {
        crate::scaffold::base::Service {
            name: name.to_owned(),
            org: self.organization.clone(),
            domain: self.domain.clone(),
            port,
        }
    }

    pub fn template_allowed(&self, template: &str) -> bool {
        self.templates.allowed.is_empty() || self.templates.allowed.iter().any(|t| t == template)
    }

    fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut problem = |field: &str, message: String| out.push(Problem::new(field, message));
        if !crate::github::is_valid_owner(&self.organization) {
            problem(
                "organization",
                format!("{:?} is not a GitHub organisation name", self.organization),
            );
        }
        let domain_ok =
            self.domain.split('.').count() >= 2 && self.domain.split('.').all(is_dns_label_part);
        if !domain_ok {
            problem(
                "domain",
                format!(
                    "{:?} is not a DNS domain such as apps.example.com",
                    self.domain
                ),
            );
        }
        if self.environments.is_empty() {
            problem("environments", "name at least one environment".into());
        }
        for (i, env) in self.environments.iter().enumerate() {
            if !is_dns_label(&env.name) {
                problem(
                    "environments",
                    format!("{:?} is not a DNS-1123 label", env.name),
                );
            }
            if self.environments[..i].iter().any(|e| e.name == env.name) {
                problem("environments", format!("{:?} is named twice", env.name));
            }
            if env.replicas.max == 0 || env.replicas.default > env.replicas.max {
                problem(
                    "environments",
                    format!(
                        "{}: replicas.default must be at most replicas.max, and max at least 1",
                        env.name
                    ),
                );
            }
        }
        let requesters = &self.policy.requesters;
        if let Some(p) = requesters
            .permission
            .as_deref()
            .filter(|p| Permission::named(p).is_none())
        {
            problem(
                "policy.requesters.permission",
                format!("{p:?} is not one of {}", Permission::NAMES.join(", ")),
            );
        }
        for package in &self.policy.packages {
            let valid = package.split('.').all(|part| {
                part.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if !valid {
                problem(
                    "policy.packages",
                    format!(
                        "{package:?} is not a Rego package name such as main or policy.services"
                    ),
                );
            }
        }
        for team in requesters.teams.iter().chain(&self.policy.admin_teams) {
            if team_name(team).is_none() {
                problem(
                    "policy",
                    format!("{team:?} is not a team name such as @acme/platform-team"),
                );
            }
        }
        out
    }
}

fn is_dns_label_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
