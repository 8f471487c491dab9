//! Parameter values: given by a requester, checked against the template's
//! declarations before anything is rendered.

use std::collections::BTreeMap;
use std::fmt;

use super::template::{Param, ParamType, Template};

/// No single value may exceed this, whatever the template declares.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Checked values for every declared parameter, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Values(BTreeMap<String, serde_json::Value>);

impl Values {
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.get(name)
    }

    pub fn as_map(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.0
    }
}

/// One thing wrong with one parameter, phrased for the person who gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub param: String,
    pub problem: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.param, self.problem)
    }
}

impl std::error::Error for ParamError {}

/// Service names are DNS-1123 labels: they become a repository, a Kubernetes
/// namespace, object names and a host name.
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Resolves `given` against `template`: defaults filled in, types converted,
/// every constraint checked. All problems are reported together.
pub fn resolve(
    template: &Template,
    given: &BTreeMap<String, String>,
) -> Result<Values, Vec<ParamError>> {
    let mut errors: Vec<ParamError> = given
        .keys()
        .filter(|k| template.param(k).is_none())
        .map(|k| ParamError {
            param: k.clone(),
            problem: format!(
                "is not a parameter of {} (it takes {})",
                template.name,
                template
                    .params
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
        .collect();
    let mut values = BTreeMap::new();
    for p in &template.params {
        let value = match given.get(&p.name) {
            Some(text) => check(p, text).map_err(|problem| ParamError {
                param: p.name.clone(),
                problem,
            }),
            None if p.defaulted_by_template => continue,
            None => match (&p.default, p.required) {
                (Some(d), _) => Ok(d.clone()),
                (None, true) => Err(ParamError {
                    param: p.name.clone(),
                    problem: "is required".into(),
                }),
                (None, false) => Ok(empty(p.kind)),
            },
        };
        match value {
            Ok(v) => {
                values.insert(p.name.clone(), v);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(Values(values))
    } else {
        Err(errors)
    }
}

/// Checks one value as typed, returning it converted to its declared type.
pub(super) fn check(p: &Param, text: &str) -> Result<serde_json::Value, String> {
    if text.len() > MAX_VALUE_BYTES {
        return Err(format!(
            "is {} bytes; at most {MAX_VALUE_BYTES} are accepted",
            text.len()
        ));
    }
    if let Some(choices) = &p.choices
        && !choices.iter().any(|c| c == text)
    {
        return Err(format!("must be one of {}", choices.join(", ")));
    }
    match p.kind {
        ParamType::String => {
            check_string(p, text).map(|()| serde_json::Value::String(text.to_owned()))
        }
        ParamType::Integer => check_integer(p, text).map(Into::into),
        ParamType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Ok(true.into()),
            "false" | "no" | "off" => Ok(false.into()),
            _ => Err("must be true or false".into()),
        },
    }
}

fn check_string(p: &Param, text: &str) -> Result<(), String> {
    // A foreign template writes values unescaped, as its tool does: keep
    // them to one line of text that cannot be read as Jinja.
    if p.defaulted_by_template {
        if text.chars().any(char::is_control) {
            return Err("must be one line of text, without control characters".into());
        }
        if ["{{", "{%", "{#"].iter().any(|d| text.contains(d)) {
            return Err("may not hold Jinja delimiters ({{, {% or {#)".into());
        }
    }
    if p.name == "name" && !p.defaulted_by_template && !is_dns_label(text) {
        return Err(format!(
            "{:?} is not a DNS-1123 label: lowercase letters, digits and '-', at most 63, starting with a letter and not ending with '-'",
            shorten(text)
        ));
    }
    if let Some(max) = p.max_length
        && text.chars().count() > max
    {
        return Err(format!(
            "is {} characters; at most {max} are accepted",
            text.chars().count()
        ));
    }
    if let Some(re) = &p.pattern
        && !re.is_match(text)
    {
        let pattern = re
            .as_str()
            .trim_start_matches("^(?:")
            .trim_end_matches(")$");
        return Err(format!(
            "{:?} does not match the pattern {pattern}",
            shorten(text)
        ));
    }
    Ok(())
}

fn check_integer(p: &Param, text: &str) -> Result<i64, String> {
    let n: i64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{:?} is not a whole number", shorten(text)))?;
    if p.minimum.is_some_and(|min| n < min) || p.maximum.is_some_and(|max| n > max) {
        let min = p.minimum.map_or("any".into(), |m| m.to_string());
        let max = p.maximum.map_or("any".into(), |m| m.to_string());
        return Err(format!("{n} is outside {min} to {max}"));
    }
    Ok(n)
}

fn empty(kind: ParamType) -> serde_json::Value {
    match kind {
        ParamType::String => "".into(),
        ParamType::Integer => 0.into(),
        ParamType::Boolean => false.into(),
    }
}

/// Long hostile values are quoted in errors only by their start.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_dns_label;

    #[test]
    fn dns_labels() {
        for ok in ["a", "user-service", "a1", &"a".repeat(63)] {
            assert!(is_dns_label(ok), "{ok}");
        }
        for bad in [
            "",
            "1a",
            "-a",
            "a-",
            "A",
            "a_b",
            "../x",
            ".git",
            "a.b",
            "ünï",
            &"a".repeat(64),
        ] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }
}
