//! GitHub issue forms: the form's definition (`.github/ISSUE_TEMPLATE/*.yml`)
//! and the body GitHub renders from a submitted form.
//!
//! A submitted form is one `### <label>` section per field, in form order;
//! an empty field reads `_No response_` (`None` for a dropdown); checkboxes
//! list `- [X] option`. Requesters edit the body later and values may hold
//! `###` themselves, so sections are found from the end: each field's
//! heading is the last one before the next field's, outside code fences.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::{Problem, ServiceRequest};
use crate::yaml;

/// The form paved ships in `catalog/`, which it reads requests with.
pub const NEW_SERVICE_FORM: &str =
    include_str!("../../../../catalog/.github/ISSUE_TEMPLATE/new-service.yml");

/// The label that marks an issue as a paved request.
pub const REQUEST_LABEL: &str = "paved:request";

/// Field ids the new-service form must have.
pub const REQUIRED_IDS: [&str; 4] = ["name", "template", "description", "owner"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    Input,
    Textarea { rendered: bool },
    Dropdown { options: Vec<String> },
    Checkboxes { options: Vec<(String, bool)> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub id: String,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
}

/// A form definition: its fields in order, without the markdown elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub labels: Vec<String>,
    pub fields: Vec<Field>,
}

#[derive(Deserialize)]
struct FormFile {
    #[serde(default)]
    labels: Vec<String>,
    body: Vec<ElementFile>,
}

#[derive(Deserialize)]
struct ElementFile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    attributes: AttributesFile,
    #[serde(default)]
    validations: ValidationsFile,
}

#[derive(Deserialize, Default)]
struct AttributesFile {
    #[serde(default)]
    label: String,
    #[serde(default)]
    render: Option<String>,
    #[serde(default)]
    options: Vec<yaml::Value>,
}

#[derive(Deserialize, Default)]
struct ValidationsFile {
    #[serde(default)]
    required: bool,
}

impl Form {
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: FormFile = yaml::from_str(text).map_err(|e| format!("not an issue form: {e}"))?;
        let mut fields = Vec::new();
        for el in file.body {
            let kind = match el.kind.as_str() {
                "markdown" => continue,
                "input" => FieldKind::Input,
                "textarea" => FieldKind::Textarea {
                    rendered: el.attributes.render.is_some(),
                },
                "dropdown" => FieldKind::Dropdown {
                    options: el
                        .attributes
                        .options
                        .iter()
                        .filter_map(option_text)
                        .collect(),
                },
                "checkboxes" => FieldKind::Checkboxes {
                    options: el
                        .attributes
                        .options
                        .iter()
                        .filter_map(|o| {
                            let required = o
                                .get("required")
                                .and_then(yaml::Value::as_bool)
                                .unwrap_or(false);
                            Some((o.get("label")?.as_str()?.to_owned(), required))
                        })
                        .collect(),
                },
                other => return Err(format!("unknown form element type {other:?}")),
            };
            let id = el
                .id
                .ok_or_else(|| format!("the {:?} field has no id", el.attributes.label))?;
            if el.attributes.label.is_empty() {
                return Err(format!("field {id:?} has no label"));
            }
            fields.push(Field {
                id,
                label: el.attributes.label,
                kind,
                required: el.validations.required,
            });
        }
        Ok(Self {
            labels: file.labels,
            fields,
        })
    }

    /// The new-service form shipped with paved.
    pub fn new_service() -> &'static Form {
        static FORM: OnceLock<Form> = OnceLock::new();
        FORM.get_or_init(|| Form::parse(NEW_SERVICE_FORM).expect("the shipped form parses"))
    }

    pub fn field(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }
}

fn option_text(v: &yaml::Value) -> Option<String> {
    match v {
        yaml::Value::String(s) => Some(s.clone()),
        yaml::Value::Number(n) => Some(n.to_string()),
        yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Values read from a submitted form, by field id. Empty fields are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submitted {
    pub text: BTreeMap<String, String>,
    pub checked: BTreeMap<String, Vec<(String, bool)>>,
}

/// Reads an issue body as GitHub renders `form`.
pub fn read(form: &Form, body: &str) -> Submitted {
    let body = body.replace("\r\n", "\n");
    let lines: Vec<&str> = body.split('\n').collect();
    let headings = heading_lines(form, &lines);
    let mut out = Submitted::default();
    let mut end = lines.len();
    for (field, start) in form.fields.iter().zip(headings).rev() {
        let Some(start) = start.filter(|s| *s < end) else {
            continue;
        };
        let value = section(&lines[start + 1..end]);
        end = start;
        store(field, &value, &mut out);
    }
    out
}

/// For each field, the last line holding exactly its heading, outside code
/// fences and before the next field's heading.
fn heading_lines(form: &Form, lines: &[&str]) -> Vec<Option<usize>> {
    let mut open: Option<(char, usize)> = None;
    let outside: Vec<bool> = lines
        .iter()
        .map(|line| match (open, fence_marker(line)) {
            (None, Some((c, n, _))) => {
                open = Some((c, n));
                false
            }
            (Some((c, n)), Some((c2, n2, true))) if c == c2 && n2 >= n => {
                open = None;
                false
            }
            (Some(_), _) => false,
            (None, None) => true,
        })
        .collect();
    let mut bound = lines.len();
    let mut found = vec![None; form.fields.len()];
    for (i, field) in form.fields.iter().enumerate().rev() {
        let heading = format!("### {}", field.label);
        let at = (0..bound)
            .rev()
            .find(|&n| outside[n] && lines[n].trim_end() == heading);
        if let Some(n) = at {
            bound = n;
        }
        found[i] = at;
    }
    found
}

/// A code fence line: its character, its length, and whether nothing follows
/// it (only such a line can close a fence).
fn fence_marker(line: &str) -> Option<(char, usize, bool)> {
    let t = line.trim_start();
    let c = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = t.chars().take_while(|x| *x == c).count();
    (n >= 3 && line.len() - t.len() <= 3).then(|| (c, n, t[n..].trim().is_empty()))
}

fn section(lines: &[&str]) -> String {
    let text = lines.join("\n");
    text.trim_matches('\n').trim_end().to_owned()
}

fn store(field: &Field, value: &str, out: &mut Submitted) {
    match &field.kind {
        FieldKind::Checkboxes { .. } => {
            let checks = value
                .lines()
                .filter_map(|l| {
                    let rest = l.trim().strip_prefix("- [")?;
                    let (mark, label) = rest.split_once("] ")?;
                    Some((label.trim().to_owned(), mark.eq_ignore_ascii_case("x")))
                })
                .collect();
            out.checked.insert(field.id.clone(), checks);
        }
        kind => {
            let mut v = value.trim().to_owned();
            if let FieldKind::Textarea { rendered: true } = kind {
                v = unfence(&v);
            }
            let empty = v.is_empty()
                || v == "_No response_"
                || (matches!(kind, FieldKind::Dropdown { .. }) && v == "None");
            if !empty {
                out.text.insert(field.id.clone(), v);
            }
        }
    }
}

/// A textarea with `render:` is wrapped in a code fence; take it off.
fn unfence(v: &str) -> String {
    let mut lines: Vec<&str> = v.lines().collect();
    if lines.len() >= 2 && lines[0].starts_with("```") && lines[lines.len() - 1].trim() == "```" {
        lines.remove(0);
        lines.pop();
    }
    lines.join("\n")
}

/// A service request from a submitted new-service form. Missing fields and
/// unticked required boxes are problems, reported together.
pub fn request(form: &Form, body: &str) -> Result<ServiceRequest, Vec<Problem>> {
    let submitted = read(form, body);
    let mut problems = Vec::new();
    let mut take = |id: &str| -> String {
        let value = submitted.text.get(id).cloned().unwrap_or_default();
        if value.is_empty() {
            let label = form.field(id).map_or(id, |f| f.label.as_str());
            problems.push(Problem::new(label, "is required"));
        }
        value
    };
    let mut request = ServiceRequest {
        name: take("name"),
        template: take("template"),
        description: take("description"),
        owner: take("owner"),
        parameters: BTreeMap::new(),
        resources: Vec::new(),
    };
    if let Some(lines) = submitted.text.get("resources") {
        request.resources = super::resources::parse_lines(lines);
    }
    if let Some(extra) = submitted.text.get("parameters") {
        match parse_parameters(extra) {
            Ok(p) => request.parameters = p,
            Err(mut e) => problems.append(&mut e),
        }
    }
    for field in &form.fields {
        let FieldKind::Checkboxes { options } = &field.kind else {
            continue;
        };
        let ticked = submitted.checked.get(&field.id);
        for (label, required) in options.iter().filter(|(_, r)| *r) {
            let ok = ticked.is_some_and(|t| t.iter().any(|(l, on)| l == label && *on));
            if *required && !ok {
                problems.push(Problem::new(&field.label, format!("tick \"{label}\"")));
            }
        }
    }
    if problems.is_empty() {
        Ok(request)
    } else {
        Err(problems)
    }
}

/// At most this many extra parameters in one form.
pub const MAX_PARAMETERS: usize = 50;
/// The longest value one extra parameter may have, in bytes.
pub const MAX_PARAMETER_BYTES: usize = 1024;

/// `key: value` (or `key=value`) per line; blank lines are skipped. Bounded
/// in count and size, so a request cannot make paved's answers large.
fn parse_parameters(text: &str) -> Result<BTreeMap<String, String>, Vec<Problem>> {
    const FIELD: &str = "Extra parameters";
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    if lines.len() > MAX_PARAMETERS {
        return Err(vec![Problem::new(
            FIELD,
            format!(
                "has {} lines; at most {MAX_PARAMETERS} parameters are accepted",
                lines.len()
            ),
        )]);
    }
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, line) in lines {
        let pair = line.split_once(':').or_else(|| line.split_once('='));
        match pair {
            Some((_, v)) if v.trim().len() > MAX_PARAMETER_BYTES => problems.push(Problem::new(
                FIELD,
                format!(
                    "line {}: the value is {} bytes; at most {MAX_PARAMETER_BYTES} are accepted",
                    i + 1,
                    v.trim().len()
                ),
            )),
            Some((k, v)) if is_param_name(k.trim()) => {
                out.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            _ => problems.push(Problem::new(
                FIELD,
                format!("line {} is not `key: value`", i + 1),
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn is_param_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
