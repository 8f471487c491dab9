//! `paved check --catalog DIR`: a catalog repository checked offline, as a
//! platform team would before pushing it.

use std::path::Path;

use super::form::{FieldKind, Form, REQUEST_LABEL, REQUIRED_IDS};
use super::{CatalogSettings, service_file, validate};
use crate::policy;
use crate::scaffold::Templates;

pub const FORM_PATH: &str = ".github/ISSUE_TEMPLATE/new-service.yml";

/// Every problem in the catalog at `dir`, as `path[:line]: message`.
pub fn check_dir(dir: &Path, templates: &Templates) -> Vec<String> {
    let mut out = Vec::new();
    let read = |rel: &str| std::fs::read_to_string(dir.join(rel));
    let settings = match read("paved.yaml") {
        Ok(text) => match CatalogSettings::parse(&text) {
            Ok(s) => Some(s),
            Err(problems) => {
                out.extend(
                    problems
                        .iter()
                        .map(|p| located("paved.yaml", p.line, &p.to_string())),
                );
                None
            }
        },
        Err(e) => {
            out.push(format!("paved.yaml: {e}"));
            None
        }
    };
    match read(FORM_PATH) {
        Ok(text) => out.extend(form_problems(&text, templates, settings.as_ref())),
        Err(e) => out.push(format!("{FORM_PATH}: {e}")),
    }
    if let Some(settings) = &settings {
        out.extend(service_problems(dir, templates, settings));
        out.extend(template_problems(templates, settings));
    }
    let packages = settings.map(|s| s.policy.packages).unwrap_or_default();
    out.extend(policy_problems(dir, &packages));
    out
}

/// What a request for each allowed template would trip on: a Cookiecutter
/// or Copier template must say where a request's fields go, and its hooks
/// run only when trusted; `templates.trusted` names only templates.
fn template_problems(templates: &Templates, settings: &CatalogSettings) -> Vec<String> {
    let mut out = Vec::new();
    for t in templates
        .iter()
        .filter(|t| settings.template_allowed(&t.name))
    {
        let unmapped: Vec<&str> = ["name", "description", "owner"]
            .into_iter()
            .filter(|f| !t.mapping.contains_key(*f))
            .collect();
        if !unmapped.is_empty() {
            out.push(format!(
                "paved.yaml: template {} cannot take a request: {}.paved.yaml beside it does not say which variables take the {}",
                t.name,
                t.name,
                unmapped.join(", ")
            ));
        }
        let code = t.runs_code();
        if !code.is_empty() && !settings.templates.trusted.contains(&t.name) {
            out.push(format!(
                "paved.yaml: template {} runs code ({}), so its requests are refused until templates.trusted names it",
                t.name,
                code.join(", ")
            ));
        }
    }
    for name in &settings.templates.trusted {
        if templates.get(name).is_none() {
            out.push(format!(
                "paved.yaml: templates.trusted names {name:?}, which is not a template here"
            ));
        }
    }
    out
}

/// The policies in `policy/`: each compiles, and their own tests pass.
fn policy_problems(dir: &Path, packages: &[String]) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join(policy::FOLDER)) else {
        return vec![];
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".rego"))
        .collect();
    names.sort();
    let mut files = Vec::with_capacity(names.len());
    for name in names {
        let path = format!("{}/{name}", policy::FOLDER);
        match std::fs::read_to_string(dir.join(&path)) {
            Ok(text) => files.push((path, text)),
            Err(e) => return vec![format!("{path}: {e}")],
        }
    }
    // Path first, as every problem here is.
    let say = |e: policy::PolicyError| match e {
        policy::PolicyError::Compile(at) => at,
        other => format!("{}: {other}", policy::FOLDER),
    };
    if let Err(e) = policy::Policies::compile(&files, packages) {
        return vec![say(e)];
    }
    match policy::run_tests(&files) {
        Err(e) => vec![say(e)],
        Ok(outcomes) => outcomes
            .into_iter()
            .filter_map(|t| Some(format!("{} failed: {}", t.name, t.failure?)))
            .collect(),
    }
}

fn located(path: &str, line: Option<usize>, message: &str) -> String {
    match line {
        Some(l) => format!("{path}:{l}: {message}"),
        None => format!("{path}: {message}"),
    }
}

fn form_problems(
    text: &str,
    templates: &Templates,
    settings: Option<&CatalogSettings>,
) -> Vec<String> {
    let form = match Form::parse(text) {
        Ok(f) => f,
        Err(e) => return vec![format!("{FORM_PATH}: {e}")],
    };
    let mut out = Vec::new();
    if !form.labels.iter().any(|l| l == REQUEST_LABEL) {
        out.push(format!(
            "{FORM_PATH}: the form must set the label {REQUEST_LABEL}"
        ));
    }
    for id in REQUIRED_IDS {
        if form.field(id).is_none() {
            out.push(format!(
                "{FORM_PATH}: the form needs a field with id {id:?}"
            ));
        }
    }
    if let Some(FieldKind::Dropdown { options }) = form.field("template").map(|f| &f.kind) {
        for option in options {
            let allowed = settings.is_none_or(|s| s.template_allowed(option));
            if templates.get(option).is_none() || !allowed {
                out.push(format!("{FORM_PATH}: the template dropdown offers {option:?}, which is not an allowed template"));
            }
        }
    }
    out
}

fn service_problems(dir: &Path, templates: &Templates, settings: &CatalogSettings) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("services")) else {
        return vec![];
    };
    let mut paths: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .map(|n| format!("services/{n}"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = match std::fs::read_to_string(dir.join(&path)) {
            Ok(t) => t,
            Err(e) => {
                out.push(format!("{path}: {e}"));
                continue;
            }
        };
        let problems = service_file::parse(&path, &text)
            .and_then(|r| validate(&r, templates, settings).map(|_| ()));
        for p in problems.err().unwrap_or_default() {
            let line = p.line.or_else(|| {
                p.field
                    .as_deref()
                    .and_then(|f| service_file::line_of(&text, f))
            });
            out.push(located(&path, line, &p.to_string()));
        }
    }
    out
}
