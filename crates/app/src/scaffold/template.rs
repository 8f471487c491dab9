//! A template: `templates/<name>/template.yaml` (what it is and the
//! parameters it takes) plus `skeleton/**` (the files, rendered with Tera).
//! Loading checks everything a render could trip on, so a broken template
//! fails at startup or in `paved check`, never halfway through a request.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;
use tera::Tera;
use tera::ast::{Expr, ExprVal, Node};

use super::escape::FILTERS;
use super::foreign::{Foreign, Tool, Variable};
use crate::yaml;

/// The folder of a service repository Argo CD deploys (its kustomization),
/// unless a foreign template's mapping names another.
pub const MANIFESTS: &str = "k8s";

/// The port a service listens on unless its template says otherwise.
pub const DEFAULT_PORT: u16 = 8080;

/// A folder path inside a repository: relative, `/`-separated, no `..`,
/// no `.git` (a sidecar's `manifests`, an Application's `spec.source.path`).
pub fn is_relative_folder(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 255
        && path.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part != ".git"
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
}

/// The parameters every template takes, under these names.
pub const COMMON_PARAMS: [&str; 5] = ["name", "description", "owner", "org", "domain"];

/// Filters that only change case or spacing; allowed before an escaping filter.
const PLAIN_FILTERS: [&str; 3] = ["lower", "upper", "trim"];

/// A problem in a template, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TemplateError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Integer,
    Boolean,
}

/// One declared parameter, checked and compiled.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub kind: ParamType,
    pub description: String,
    pub default: Option<serde_json::Value>,
    pub required: bool,
    pub choices: Option<Vec<String>>,
    pub pattern: Option<Regex>,
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub max_length: Option<usize>,
    /// The template computes the default itself (Cookiecutter and Copier
    /// defaults may refer to earlier answers): a value not given is left to it.
    pub defaulted_by_template: bool,
}

impl Param {
    /// Free text: a string whose values no pattern or choice list constrains.
    /// Such a value may only reach a file through an escaping filter.
    pub fn is_free_text(&self) -> bool {
        self.kind == ParamType::String && self.pattern.is_none() && self.choices.is_none()
    }
}

/// A skeleton file: its path (which may hold variables) and how to produce it.
#[derive(Debug, Clone)]
pub struct SkeletonFile {
    pub path: String,
    pub body: FileBody,
    pub executable: bool,
}

#[derive(Debug, Clone)]
pub enum FileBody {
    /// Rendered: the name of the Tera template holding it.
    Text(String),
    /// Copied as it is (not UTF-8, so not a template).
    Binary(Vec<u8>),
}

/// A loaded, checked template.
pub struct Template {
    pub name: String,
    pub title: String,
    pub description: String,
    pub language: String,
    pub version: String,
    /// SHA-256 over every file of the template folder: changes without a
    /// version bump still show.
    pub digest: String,
    pub params: Vec<Param>,
    /// `CHANGELOG.md`, if the template has one: upgrade pull requests quote it.
    pub changelog: Option<String>,
    /// Where the service's kustomize base is in a render.
    pub manifests: String,
    /// The port paved's standard base sends traffic to, for a foreign
    /// template that renders no manifests (its sidecar's `port`).
    pub port: u16,
    /// Where a request's own fields (name, description, owner, org, domain)
    /// go among the template's variables; paved's own templates take them
    /// under those names.
    pub mapping: BTreeMap<String, String>,
    pub(super) engine: Engine,
}

/// How a template's files are made.
pub(super) enum Engine {
    /// paved's own format: a skeleton rendered with Tera.
    Native {
        files: Vec<SkeletonFile>,
        tera: Box<Tera>,
    },
    /// A Cookiecutter or Copier template, rendered as its tool renders it.
    Foreign(Box<Foreign>),
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish()
    }
}

impl Template {
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The tool a foreign template was written for; `None` for paved's own.
    pub fn tool(&self) -> Option<Tool> {
        match &self.engine {
            Engine::Native { .. } => None,
            Engine::Foreign(f) => Some(f.tool),
        }
    }

    /// A foreign template's variables, in the tool's terms.
    pub fn variables(&self) -> Vec<Variable> {
        match &self.engine {
            Engine::Native { .. } => Vec::new(),
            Engine::Foreign(f) => f.variables(),
        }
    }

    /// Whether an upgrade keeps `path` as it was (a Copier template's
    /// `_skip_if_exists`).
    pub fn keeps_on_upgrade(&self, path: &str) -> bool {
        match &self.engine {
            Engine::Native { .. } => false,
            Engine::Foreign(f) => f.keeps(path),
        }
    }

    /// What in the template runs code when it renders (hooks, tasks).
    pub fn runs_code(&self) -> Vec<String> {
        match &self.engine {
            Engine::Native { .. } => Vec::new(),
            Engine::Foreign(f) => f.runs_code(),
        }
    }
}

/// `template.yaml` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    name: String,
    title: String,
    description: String,
    language: String,
    version: String,
    parameters: yaml::Mapping,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamFile {
    #[serde(rename = "type")]
    kind: Option<ParamType>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    default: Option<yaml::Value>,
    #[serde(default)]
    required: bool,
    #[serde(default, rename = "enum")]
    choices: Option<Vec<yaml::Value>>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    minimum: Option<i64>,
    #[serde(default)]
    maximum: Option<i64>,
    #[serde(default)]
    max_length: Option<usize>,
}

/// A template's files by path inside its folder, with their executable bit.
pub type Files = BTreeMap<String, (Vec<u8>, bool)>;

/// Loads and checks the template in `dir`, reporting every problem found.
pub fn load(dir: &Path) -> Result<Template, Vec<TemplateError>> {
    let files = read_folder(dir).map_err(|e| {
        vec![TemplateError {
            file: dir.to_owned(),
            line: None,
            message: e.to_string(),
        }]
    })?;
    let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    from_files(folder, dir, &files)
}

/// Loads and checks the template held in `files`, whose folder is named
/// `folder`; `origin` stands for that folder in errors (a path on disk, or
/// `<built-in>/<name>`).
pub fn from_files(
    folder: &str,
    origin: &Path,
    files: &Files,
) -> Result<Template, Vec<TemplateError>> {
    let spec_path = origin.join("template.yaml");
    let err = |line, message: String| {
        vec![TemplateError {
            file: spec_path.clone(),
            line,
            message,
        }]
    };
    let text = files
        .get("template.yaml")
        .ok_or_else(|| err(None, "there is no template.yaml".into()))
        .and_then(|(bytes, _)| {
            String::from_utf8(bytes.clone()).map_err(|e| err(None, e.to_string()))
        })?;
    let spec: SpecFile = yaml::from_str(&text).map_err(|e| {
        err(
            e.location().map(|l| l.line()),
            format!("not a valid template.yaml: {e}"),
        )
    })?;
    if spec.name != folder {
        return Err(err(
            None,
            format!("name {:?} must equal the folder name {folder:?}", spec.name),
        ));
    }
    let mut errors = Vec::new();
    let params = params(&spec.parameters, &text, &spec_path, &mut errors);
    let skeleton_root = origin.join("skeleton");
    let (tera, skeleton) = skeleton(&skeleton_root, files, &mut errors);
    for file in &skeleton {
        let at = skeleton_root.join(&file.path);
        if let FileBody::Text(name) = &file.body {
            let source = files
                .get(&format!("{SKELETON}{name}"))
                .map(|(bytes, _)| String::from_utf8_lossy(bytes).into_owned())
                .unwrap_or_default();
            lint(&tera, name, &params, &at, &source, &mut errors);
        }
        if is_templated(&file.path) {
            let name = path_template_name(&file.path);
            lint(&tera, &name, &params, &at, &file.path, &mut errors);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Template {
        name: spec.name,
        title: spec.title,
        description: spec.description,
        language: spec.language,
        version: spec.version,
        digest: digest(files),
        params,
        changelog: files
            .get("CHANGELOG.md")
            .map(|(bytes, _)| String::from_utf8_lossy(bytes).into_owned()),
        manifests: MANIFESTS.to_owned(),
        port: DEFAULT_PORT,
        mapping: COMMON_PARAMS
            .iter()
            .map(|p| (p.to_string(), p.to_string()))
            .collect(),
        engine: Engine::Native {
            files: skeleton,
            tera: Box::new(tera),
        },
    })
}

fn params(
    map: &yaml::Mapping,
    text: &str,
    file: &Path,
    errors: &mut Vec<TemplateError>,
) -> Vec<Param> {
    let mut out = Vec::new();
    for (key, value) in map {
        let Some(name) = key.as_str() else {
            errors.push(located(
                file,
                text,
                "parameters:",
                "parameter names must be strings".into(),
            ));
            continue;
        };
        let at = |message: String| {
            located(
                file,
                text,
                &format!("{name}:"),
                format!("parameter {name}: {message}"),
            )
        };
        match param(name, value.clone()) {
            Ok(p) => out.push(p),
            Err(message) => errors.push(at(message)),
        }
    }
    for common in COMMON_PARAMS {
        match out.iter().find(|p| p.name == common) {
            None => errors.push(TemplateError {
                file: file.to_owned(),
                line: None,
                message: format!("every template must declare the parameter {common:?}"),
            }),
            Some(p) if matches!(common, "org" | "domain") && p.default.is_none() => {
                errors.push(located(
                    file,
                    text,
                    &format!("{common}:"),
                    format!("parameter {common}: needs a default"),
                ))
            }
            Some(p) if common == "name" && !p.required => errors.push(located(
                file,
                text,
                "name:",
                "parameter name: must be required".into(),
            )),
            Some(_) => {}
        }
    }
    out
}

fn param(name: &str, value: yaml::Value) -> Result<Param, String> {
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
    {
        return Err("names are lowercase letters, digits and '_', starting with a letter".into());
    }
    let f: ParamFile = serde_yaml::from_value(value).map_err(|e| e.to_string())?;
    let kind = f.kind.ok_or("has no type (string, integer or boolean)")?;
    let pattern = f
        .pattern
        .map(|p| {
            Regex::new(&format!("^(?:{p})$")).map_err(|e| format!("pattern does not compile: {e}"))
        })
        .transpose()?;
    let to_json = |v: yaml::Value| serde_json::to_value(v).map_err(|e| e.to_string());
    let choices = f
        .choices
        .map(|list| {
            list.into_iter()
                .map(|v| Ok(scalar_text(&to_json(v)?)))
                .collect::<Result<Vec<_>, String>>()
        })
        .transpose()?;
    let default = f.default.map(to_json).transpose()?;
    if kind != ParamType::String && (pattern.is_some() || f.max_length.is_some()) {
        return Err("pattern and max_length apply to strings only".into());
    }
    if kind != ParamType::Integer && (f.minimum.is_some() || f.maximum.is_some()) {
        return Err("minimum and maximum apply to integers only".into());
    }
    let p = Param {
        name: name.into(),
        kind,
        description: f.description,
        default,
        required: f.required,
        choices,
        pattern,
        minimum: f.minimum,
        maximum: f.maximum,
        max_length: f.max_length,
        defaulted_by_template: false,
    };
    if let Some(d) = &p.default {
        super::params::check(&p, &scalar_text(d)).map_err(|e| format!("default {e}"))?;
    }
    Ok(p)
}

/// A YAML/JSON scalar as the text a user would have typed.
fn scalar_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Where a template's skeleton is inside its folder.
const SKELETON: &str = "skeleton/";

/// Reads every file under `skeleton/` into one Tera instance; `root` names
/// that folder in errors.
fn skeleton(
    root: &Path,
    all: &Files,
    errors: &mut Vec<TemplateError>,
) -> (Tera, Vec<SkeletonFile>) {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![]);
    super::render::register_filters(&mut tera);
    let mut files = Vec::new();
    for (path, (bytes, executable)) in all {
        let Some(rel) = path.strip_prefix(SKELETON) else {
            continue;
        };
        let full = root.join(rel);
        let body = match String::from_utf8(bytes.clone()) {
            Ok(text) => match tera.add_raw_template(rel, &text) {
                Ok(()) => FileBody::Text(rel.to_owned()),
                Err(e) => {
                    errors.push(tera_error(&full, &e));
                    continue;
                }
            },
            Err(e) => FileBody::Binary(e.into_bytes()),
        };
        if is_templated(rel)
            && let Err(e) = tera.add_raw_template(&path_template_name(rel), rel)
        {
            errors.push(tera_error(&full, &e));
        }
        files.push(SkeletonFile {
            path: rel.to_owned(),
            body,
            executable: *executable,
        });
    }
    if files.is_empty() && errors.is_empty() {
        errors.push(TemplateError {
            file: root.to_owned(),
            line: None,
            message: "the skeleton has no files".into(),
        });
    }
    (tera, files)
}

/// SHA-256 of the folder's files, in path order, each as path, NUL, contents, NUL.
pub(super) fn digest(files: &Files) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for (path, (bytes, _)) in files {
        hash.update(path.as_bytes());
        hash.update([0]);
        hash.update(bytes);
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}

/// Every file under `dir`, by its path inside `dir` (`/`-separated).
pub(super) fn read_folder(dir: &Path) -> std::io::Result<Files> {
    let mut files = Files::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under dir");
                let rel = rel.to_string_lossy().replace('\\', "/");
                files.insert(rel, (std::fs::read(&path)?, is_executable(&path)));
            }
        }
    }
    Ok(files)
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
}

pub(super) fn is_templated(path: &str) -> bool {
    path.contains("{{") || path.contains("{%")
}

pub(super) fn path_template_name(path: &str) -> String {
    format!("path:{path}")
}

/// Tera's parse errors carry ` --> line:col`; keep the line, drop the noise.
fn tera_error(file: &Path, e: &tera::Error) -> TemplateError {
    let text = super::error_chain(e);
    let line = text
        .split_once(" --> ")
        .and_then(|(_, rest)| rest.split(':').next()?.trim().parse().ok());
    // pest draws the spot in ASCII art; keep only its "= expected ..." verdict.
    let message = match (line, text.rsplit_once("= ")) {
        (Some(_), Some((_, verdict))) => format!("cannot parse: {}", verdict.trim()),
        _ => text.replace('\n', " "),
    };
    TemplateError {
        file: file.to_owned(),
        line,
        message,
    }
}

/// An error pointing at the first line of `text` containing `needle`.
pub(super) fn located(file: &Path, text: &str, needle: &str, message: String) -> TemplateError {
    let line = text.lines().position(|l| l.contains(needle)).map(|i| i + 1);
    TemplateError {
        file: file.to_owned(),
        line,
        message,
    }
}

/// Checks what a skeleton file does with its values: only declared
/// variables, only `{{ }}`, `{% if %}` and `{% raw %}`, only known filters,
/// and free text always through an escaping filter.
fn lint(
    tera: &Tera,
    name: &str,
    params: &[Param],
    file: &Path,
    source: &str,
    errors: &mut Vec<TemplateError>,
) {
    let Ok(template) = tera.get_template(name) else {
        return;
    };
    let mut lint = Lint {
        params,
        file,
        source,
        errors,
    };
    lint.nodes(&template.ast);
}

struct Lint<'a> {
    params: &'a [Param],
    file: &'a Path,
    source: &'a str,
    errors: &'a mut Vec<TemplateError>,
}

impl<'a> Lint<'a> {
    fn fail(&mut self, needle: &str, message: String) {
        self.errors
            .push(located(self.file, self.source, needle, message));
    }

    fn nodes(&mut self, nodes: &[Node]) {
        for node in nodes {
            match node {
                Node::Text(_) | Node::Raw(..) | Node::Comment(..) => {}
                Node::VariableBlock(_, expr) => self.output(expr),
                Node::If(branches, _) => {
                    for (_, condition, body) in &branches.conditions {
                        self.condition(condition);
                        self.nodes(body);
                    }
                    if let Some((_, body)) = &branches.otherwise {
                        self.nodes(body);
                    }
                }
                other => {
                    let tag = format!("{other:?}");
                    let tag = tag.split('(').next().unwrap_or("tag").to_owned();
                    self.fail("{%", format!("{tag} is not allowed: templates use only {{{{ }}}}, {{% if %}} and {{% raw %}}"));
                }
            }
        }
    }

    /// A `{{ value | filters }}` block: a declared variable, known filters,
    /// and free text ending in an escaping filter.
    fn output(&mut self, expr: &Expr) {
        let ExprVal::Ident(var) = &expr.val else {
            self.fail("{{", "only variables may be output, e.g. {{ name }}".into());
            return;
        };
        let Some(param) = self.declared(var) else {
            return;
        };
        let mut escaped = false;
        for f in &expr.filters {
            let known =
                FILTERS.contains(&f.name.as_str()) || PLAIN_FILTERS.contains(&f.name.as_str());
            if !known || !f.args.is_empty() {
                self.fail(&f.name, format!("filter {:?} is not available (use one of {FILTERS:?} or lower, upper, trim)", f.name));
            }
            escaped = FILTERS.contains(&f.name.as_str());
        }
        if param.is_free_text() && !escaped {
            self.fail(
                var,
                format!(
                    "{{{{ {var} }}}} is free text: end it with an escaping filter ({})",
                    FILTERS.join(", ")
                ),
            );
        }
    }

    fn condition(&mut self, expr: &Expr) {
        match &expr.val {
            ExprVal::Ident(var) => {
                self.declared(var);
            }
            ExprVal::String(_) | ExprVal::Int(_) | ExprVal::Bool(_) | ExprVal::Float(_) => {}
            ExprVal::Logic(l) => {
                self.condition(&l.lhs);
                self.condition(&l.rhs);
            }
            _ => self.fail(
                "{%",
                "conditions compare variables and literals only".into(),
            ),
        }
    }

    fn declared(&mut self, var: &str) -> Option<&'a Param> {
        let params = self.params;
        let found = params.iter().find(|p| p.name == var);
        if found.is_none() {
            self.fail(var, format!("variable {var:?} is not a declared parameter"));
        }
        found
    }
}
