//! Validation of a request against the templates and the organisation's
//! policy. Every problem is found and reported together; nothing is created
//! for a request with any. (Whether the name is free is a question for
//! GitHub, asked by the reconciler.)

use std::collections::BTreeMap;

use super::form::MAX_PARAMETERS;
use super::{CatalogSettings, Problem, ServiceRequest};
use crate::platform::resource::Resource;
use crate::scaffold::{Templates, Values, is_dns_label, resolve};

/// A request that passed validation, with its template's values resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRequest {
    pub request: ServiceRequest,
    pub values: Values,
    pub resources: Vec<Resource>,
}

pub fn validate(
    request: &ServiceRequest,
    templates: &Templates,
    settings: &CatalogSettings,
) -> Result<ValidRequest, Vec<Problem>> {
    if request.parameters.len() > MAX_PARAMETERS {
        return Err(vec![Problem::new(
            "parameters",
            format!(
                "has {}; at most {MAX_PARAMETERS} parameters are accepted",
                request.parameters.len()
            ),
        )]);
    }
    let mut problems = name_problems(&request.name, settings);
    if request.owner.trim().is_empty() {
        problems.push(Problem::new(
            "owner",
            "is required: the owning team, as @org/team",
        ));
    }
    let Some(template) = templates.get(&request.template) else {
        let known: Vec<&str> = templates
            .names()
            .filter(|t| settings.template_allowed(t))
            .collect();
        let problem = format!(
            "{:?} is not a template here; choose one of {}",
            request.template,
            known.join(", ")
        );
        problems.push(Problem::new("template", problem));
        return Err(problems);
    };
    if !settings.template_allowed(&template.name) {
        let allowed = settings.templates.allowed.join(", ");
        problems.push(Problem::new(
            "template",
            format!(
                "{} is not allowed by paved.yaml (allowed: {allowed})",
                template.name
            ),
        ));
    }
    for key in request
        .parameters
        .keys()
        .filter(|k| template.mapping.values().any(|v| v == *k))
    {
        problems.push(Problem::new(
            key,
            "is set by its own field, not as an extra parameter",
        ));
    }
    let code = template.runs_code();
    if !code.is_empty() && !settings.templates.trusted.contains(&template.name) {
        problems.push(Problem::new(
            "template",
            format!(
                "{} runs code when it renders ({}), and paved.yaml does not trust it (templates.trusted)",
                template.name,
                code.join(", ")
            ),
        ));
    }
    let mut given: BTreeMap<String, String> = request.parameters.clone();
    let fields = [
        ("name", request.name.clone()),
        ("description", request.description.clone()),
        ("owner", request.owner.trim().to_owned()),
        ("org", settings.organization.clone()),
        ("domain", settings.domain.clone()),
    ];
    for (field, value) in fields {
        match template.mapping.get(field) {
            Some(variable) => {
                given.insert(variable.clone(), value);
            }
            // The organisation and domain are paved's settings, which a
            // foreign template may have no use for.
            None if matches!(field, "org" | "domain") => {}
            None => problems.push(Problem::new(
                field,
                format!(
                    "cannot be given to template {}: it does not say which of its variables takes the {field} (`variables:` in {}.paved.yaml beside it)",
                    template.name, template.name
                ),
            )),
        }
    }
    let resources = super::resources::check(&request.resources, &settings.resources)
        .unwrap_or_else(|mut p| {
            problems.append(&mut p);
            Vec::new()
        });
    match resolve(template, &given) {
        Ok(values) if problems.is_empty() => Ok(ValidRequest {
            request: request.clone(),
            values,
            resources,
        }),
        Ok(_) => Err(problems),
        Err(errors) => {
            for e in errors {
                // A problem with the variable a field went to is the field's.
                let field = template
                    .mapping
                    .iter()
                    .find(|(_, variable)| **variable == e.param)
                    .map_or(e.param.as_str(), |(field, _)| field.as_str());
                if !problems.iter().any(|p| p.field.as_deref() == Some(field)) {
                    problems.push(Problem::new(field, e.problem));
                }
            }
            Err(problems)
        }
    }
}

/// Names no organisation can use, whatever `paved.yaml` says.
fn always_reserved(name: &str) -> Option<&'static str> {
    // A repository by one of these names cannot be cloned on Windows.
    const DEVICES: [&str; 4] = ["con", "prn", "aux", "nul"];
    let numbered = |p: &str| {
        name.strip_prefix(p)
            .is_some_and(|n| n.len() == 1 && n.as_bytes()[0].is_ascii_digit())
    };
    if DEVICES.contains(&name) || numbered("com") || numbered("lpt") {
        Some("a Windows device name, so the repository could not be cloned on Windows")
    } else if name == "kube" || name.starts_with("kube-") {
        Some("Kubernetes keeps namespaces starting with kube- for itself")
    } else {
        None
    }
}

fn name_problems(name: &str, settings: &CatalogSettings) -> Vec<Problem> {
    let policy = &settings.policy;
    let shown: String = name.chars().take(64).collect();
    if name.is_empty() {
        return vec![Problem::new("name", "is required")];
    }
    if !is_dns_label(name) {
        return vec![Problem::new(
            "name",
            format!(
                "{shown:?} is not a DNS-1123 label: lowercase letters, digits and '-', at most 63, starting with a letter and not ending with '-'"
            ),
        )];
    }
    let mut out = Vec::new();
    // Every derived name must be a DNS-1123 label too: the namespace and the
    // Application are `<name>-<env>`, the Ingress host's first label `<name>`.
    let longest = settings
        .environments
        .iter()
        .max_by_key(|e| e.name.len())
        .map_or("", |e| e.name.as_str());
    let limit = 63usize.saturating_sub(longest.len() + 1);
    if name.len() > limit {
        out.push(Problem::new(
            "name",
            format!(
                "is {} characters; at most {limit} fit, since its namespace {name}-{longest} must be at most 63",
                name.len()
            ),
        ));
    }
    if policy.reserved_names.iter().any(|r| r == name) {
        out.push(Problem::new("name", format!("{name:?} is reserved")));
    } else if let Some(why) = always_reserved(name) {
        out.push(Problem::new("name", format!("{name:?} is reserved: {why}")));
    }
    if !policy.name_prefixes.is_empty()
        && !policy
            .name_prefixes
            .iter()
            .any(|p| name.starts_with(p.as_str()))
    {
        out.push(Problem::new(
            "name",
            format!("must start with one of {}", policy.name_prefixes.join(", ")),
        ));
    }
    out
}
