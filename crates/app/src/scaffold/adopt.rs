//! A Cookiecutter or Copier template adopted as a paved template, without
//! touching it: what paved needs to know beyond the tool's own files (where
//! a request's name, description and owner go, where the manifests are)
//! comes from a sidecar file beside the folder, `<name>.paved.yaml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::foreign::{Foreign, Tool};
use super::template::{
    COMMON_PARAMS, DEFAULT_PORT, Engine, Files, MANIFESTS, Param, ParamType, Template,
    TemplateError, digest, located,
};
use crate::yaml;

/// No value for a foreign template's variable may be longer: such values are
/// written into files unescaped, as the tools write them.
const MAX_FOREIGN_VALUE: usize = 1024;

/// `<name>.paved.yaml`, beside a Cookiecutter or Copier template's folder.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sidecar {
    title: Option<String>,
    description: Option<String>,
    version: Option<String>,
    /// Which tool's files to read when the folder has both.
    tool: Option<Tool>,
    /// A request's fields (name, description, owner, org, domain) to the
    /// template's variables that take them.
    #[serde(default)]
    variables: BTreeMap<String, String>,
    /// The rendered folder holding the kustomize base Argo CD deploys.
    manifests: Option<String>,
    /// The port the service listens on, for paved's standard base.
    port: Option<u16>,
}

/// The sidecar's path for the template folder `dir`.
pub fn sidecar_path(dir: &Path) -> PathBuf {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    dir.with_file_name(format!("{name}.paved.yaml"))
}

/// Loads the foreign template in `files` (from the folder `origin`), with its
/// sidecar's text if there is one.
pub fn load(
    origin: &Path,
    files: Files,
    sidecar: Option<String>,
) -> Result<Template, Vec<TemplateError>> {
    let name = origin
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let sidecar_file = sidecar_path(origin);
    let one = |line, message: String| {
        vec![TemplateError {
            file: sidecar_file.clone(),
            line,
            message,
        }]
    };
    let text = sidecar.clone().unwrap_or_default();
    let sidecar: Sidecar = match &sidecar {
        Some(text) => yaml::from_str(text).map_err(|e| {
            one(
                e.location().map(|l| l.line()),
                format!("not a valid sidecar: {e}"),
            )
        })?,
        None => Sidecar::default(),
    };
    let tools = Tool::detect(&files);
    let tool = match (sidecar.tool, tools.as_slice()) {
        (Some(t), found) if found.contains(&t) => t,
        (Some(t), _) => {
            return Err(one(
                None,
                format!("tool: {} files are not in {}", t.name(), origin.display()),
            ));
        }
        (None, [only]) => *only,
        (None, _) => {
            return Err(one(None, "the folder holds both a Cookiecutter and a Copier template: say which with `tool:`".into()));
        }
    };
    let digest = digest(&files);
    let foreign = Foreign::load(tool, origin, files).map_err(|e| vec![e])?;
    let variables = foreign.variables();
    let mut errors = Vec::new();
    for (field, var) in &sidecar.variables {
        if !COMMON_PARAMS.contains(&field.as_str()) {
            errors.push(located(
                &sidecar_file,
                &text,
                &format!("{field}:"),
                format!(
                    "variables: {field} is not a request field ({})",
                    COMMON_PARAMS.join(", ")
                ),
            ));
        } else if !variables.iter().any(|v| &v.name == var) {
            errors.push(located(
                &sidecar_file,
                &text,
                &format!("{field}:"),
                format!("variables: {field} goes to {var:?}, which the template does not ask for"),
            ));
        }
    }
    if let Some(folder) = &sidecar.manifests
        && !super::is_relative_folder(folder)
    {
        errors.push(located(
            &sidecar_file,
            &text,
            "manifests:",
            format!("manifests: {folder:?} is not a folder inside the repository"),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let params = variables
        .iter()
        .map(|v| Param {
            name: v.name.clone(),
            kind: if v.kind == "boolean" {
                ParamType::Boolean
            } else {
                ParamType::String
            },
            description: v.help.clone(),
            default: None,
            required: false,
            choices: (!v.choices.is_empty()).then(|| v.choices.clone()),
            pattern: None,
            minimum: None,
            maximum: None,
            max_length: Some(MAX_FOREIGN_VALUE),
            defaulted_by_template: true,
        })
        .collect();
    Ok(Template {
        title: sidecar.title.clone().unwrap_or_else(|| name.clone()),
        description: sidecar
            .description
            .clone()
            .unwrap_or_else(|| format!("A {} template, used as it is", tool.name())),
        language: tool.name().to_owned(),
        version: sidecar
            .version
            .clone()
            .unwrap_or_else(|| format!("0.0.0+{}", &digest[..12])),
        digest,
        params,
        changelog: None,
        port: sidecar.port.unwrap_or(DEFAULT_PORT),
        manifests: sidecar
            .manifests
            .clone()
            .unwrap_or_else(|| MANIFESTS.to_owned()),
        mapping: sidecar.variables.clone(),
        engine: Engine::Foreign(Box::new(foreign)),
        name,
    })
}
