//! `services/<name>.yaml` in the catalog repository: one file per service,
//! added by a pull request. Problems carry line numbers so they can be
//! annotated on the pull request's diff.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Problem, ServiceRequest};
use crate::yaml;

/// Larger files are refused before parsing.
pub const MAX_FILE_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    name: String,
    template: String,
    description: String,
    owner: String,
    #[serde(default)]
    parameters: BTreeMap<String, yaml::Value>,
    #[serde(default)]
    resources: Vec<super::resources::Ask>,
}

/// The service a catalog path names, if it is `services/<name>.yaml`.
pub fn service_of_path(path: &str) -> Option<&str> {
    let stem = path.strip_prefix("services/")?.strip_suffix(".yaml")?;
    (!stem.is_empty() && !stem.contains('/')).then_some(stem)
}

/// Parses the file at `path` (`services/<name>.yaml`) into a request.
pub fn parse(path: &str, text: &str) -> Result<ServiceRequest, Vec<Problem>> {
    let at = |line: Option<usize>, field: Option<&str>, message: String| Problem {
        field: field.map(str::to_owned),
        line,
        message,
    };
    let Some(stem) = service_of_path(path) else {
        return Err(vec![at(
            None,
            None,
            format!("{path}: service files are services/<name>.yaml"),
        )]);
    };
    if text.len() > MAX_FILE_BYTES {
        return Err(vec![at(
            Some(1),
            None,
            format!("the file is over {MAX_FILE_BYTES} bytes"),
        )]);
    }
    let file: ServiceFile = yaml::from_str(text).map_err(|e| {
        vec![at(
            e.location().map(|l| l.line()).or(Some(1)),
            None,
            e.to_string(),
        )]
    })?;
    let mut problems = Vec::new();
    if file.name != stem {
        problems.push(at(
            line_of(text, "name"),
            Some("name"),
            format!("{:?} must equal the file name {stem:?}", file.name),
        ));
    }
    let mut parameters = BTreeMap::new();
    for (key, value) in file.parameters {
        match value {
            yaml::Value::String(s) => {
                parameters.insert(key, s);
            }
            yaml::Value::Number(n) => {
                parameters.insert(key, n.to_string());
            }
            yaml::Value::Bool(b) => {
                parameters.insert(key, b.to_string());
            }
            _ => problems.push(at(
                line_of(text, &key),
                Some(&key),
                "must be a string, number or boolean".into(),
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ServiceRequest {
        name: file.name,
        template: file.template,
        description: file.description,
        owner: file.owner,
        parameters,
        resources: file.resources,
    })
}

/// The first line where `key:` starts (after indentation), 1-based.
pub fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.starts_with(':'))
        })
        .map(|i| i + 1)
}
