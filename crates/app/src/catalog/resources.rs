//! The resources a request asks for: `resources:` in a service file, the
//! issue form's Resources field (one a line, `postgres orders-db medium
//! version=16`, `queue jobs small fifo dlq`), or `/paved add`. Checked
//! against `paved.yaml`'s `resources:` into [`Resource`]s; every problem is
//! reported, nothing is made for a request with any.

use serde::Deserialize;

use super::Problem;
use crate::platform::resource::{Resource, ResourceType};
use crate::scaffold::is_dns_label;

/// At most this many resources a service.
pub const MAX_RESOURCES: usize = 10;
/// Resource names are DNS labels short enough that `<service>-<name>` (the
/// Secret) stays one too.
const MAX_NAME: usize = 30;

/// One resource as asked for, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub fifo: bool,
    #[serde(default)]
    pub dlq: bool,
    /// Words of a form line or a command that said nothing paved knows:
    /// [`check`] reports them with every other problem.
    #[serde(skip)]
    pub unread: Vec<String>,
}

/// `paved.yaml`'s `resources:`: what may be asked for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcePolicy {
    #[serde(default = "all_types")]
    pub types: Vec<ResourceType>,
    /// The first is the default.
    #[serde(default = "sizes")]
    pub sizes: Vec<String>,
    /// Postgres major versions; the last is the default.
    #[serde(default = "postgres_versions")]
    pub postgres_versions: Vec<String>,
}

impl Default for ResourcePolicy {
    fn default() -> Self {
        Self {
            types: all_types(),
            sizes: sizes(),
            postgres_versions: postgres_versions(),
        }
    }
}

fn all_types() -> Vec<ResourceType> {
    ResourceType::ALL.to_vec()
}

fn sizes() -> Vec<String> {
    ["small", "medium", "large"].map(String::from).to_vec()
}

fn postgres_versions() -> Vec<String> {
    ["15", "16", "17"].map(String::from).to_vec()
}

/// The form field's lines: `<type> <name> [<size>] [version=<v>] [fifo] [dlq]`.
/// Whatever a line holds, [`check`] says what is wrong with it.
pub fn parse_lines(text: &str) -> Vec<Ask> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| ask_of_words(&line.split_whitespace().collect::<Vec<_>>()))
        .collect()
}

/// One resource from words (a form line, or `/paved add`'s arguments).
pub fn ask_of_words(words: &[&str]) -> Ask {
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let mut ask = Ask {
        kind: lower.first().cloned().unwrap_or_default(),
        name: lower.get(1).cloned().unwrap_or_default(),
        ..Ask::default()
    };
    for word in lower.iter().skip(2) {
        match word.as_str() {
            "fifo" => ask.fifo = true,
            "dlq" => ask.dlq = true,
            _ => match word.strip_prefix("version=") {
                Some(v) => ask.version = Some(v.to_owned()),
                None if ask.size.is_none() => ask.size = Some(word.clone()),
                None => ask.unread.push(word.clone()),
            },
        }
    }
    ask
}

/// Checks `asks` against `policy`: each a resource a service may have.
pub fn check(asks: &[Ask], policy: &ResourcePolicy) -> Result<Vec<Resource>, Vec<Problem>> {
    let mut problems = Vec::new();
    if asks.len() > MAX_RESOURCES {
        problems.push(Problem::new(
            "resources",
            format!("asks for {}; at most {MAX_RESOURCES} a service", asks.len()),
        ));
        return Err(problems);
    }
    let mut out: Vec<Resource> = Vec::new();
    for ask in asks {
        match one(ask, policy) {
            Ok(r) if out.iter().any(|o| o.name == r.name) => problems.push(Problem::new(
                "resources",
                format!(
                    "{:?} is named twice; each resource of a service needs its own name",
                    r.name
                ),
            )),
            Ok(r) => out.push(r),
            Err(why) => problems.push(Problem::new("resources", why)),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn one(ask: &Ask, policy: &ResourcePolicy) -> Result<Resource, String> {
    let short = |s: &str| s.chars().take(40).collect::<String>();
    if let Some(word) = ask.unread.first() {
        return Err(format!(
            "{}: {:?} is not a size, version=<v>, fifo or dlq",
            short(&ask.name),
            short(word)
        ));
    }
    let kind = ResourceType::named(&ask.kind)
        .filter(|k| policy.types.contains(k))
        .ok_or_else(|| {
            let allowed: Vec<&str> = policy.types.iter().map(|t| t.name()).collect();
            format!(
                "{:?} is not a resource type here ({})",
                short(&ask.kind),
                allowed.join(", ")
            )
        })?;
    if !is_dns_label(&ask.name) || ask.name.len() > MAX_NAME {
        return Err(format!(
            "{:?} is not a resource name: lowercase letters, digits and '-', starting with a letter, at most {MAX_NAME}",
            short(&ask.name)
        ));
    }
    let size = match &ask.size {
        Some(size) if policy.sizes.contains(size) => size.clone(),
        Some(size) => {
            return Err(format!(
                "{}: size {:?} is not one of {}",
                ask.name,
                short(size),
                policy.sizes.join(", ")
            ));
        }
        None => policy
            .sizes
            .first()
            .cloned()
            .ok_or("paved.yaml allows no resource sizes")?,
    };
    let version = match (kind, &ask.version) {
        (ResourceType::Postgres, Some(v)) if policy.postgres_versions.contains(v) => {
            Some(v.clone())
        }
        (ResourceType::Postgres, Some(v)) => {
            return Err(format!(
                "{}: postgres {:?} is not one of {}",
                ask.name,
                short(v),
                policy.postgres_versions.join(", ")
            ));
        }
        (ResourceType::Postgres, None) => policy.postgres_versions.last().cloned(),
        (_, Some(_)) => return Err(format!("{}: only postgres takes a version", ask.name)),
        (_, None) => None,
    };
    if kind != ResourceType::Queue && (ask.fifo || ask.dlq) {
        return Err(format!("{}: fifo and dlq are for queues", ask.name));
    }
    Ok(Resource {
        kind,
        name: ask.name.clone(),
        size,
        version,
        fifo: ask.fifo,
        dlq: ask.dlq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_resources_with_defaults() {
        let asks = parse_lines(
            "postgres orders-db medium version=16\n\nredis cache\nqueue jobs large fifo dlq\n",
        );
        let resources = check(&asks, &ResourcePolicy::default()).unwrap();
        assert_eq!(resources.len(), 3);
        assert_eq!(
            (resources[0].size.as_str(), resources[0].version.as_deref()),
            ("medium", Some("16"))
        );
        assert_eq!(
            (resources[1].size.as_str(), resources[1].version.as_deref()),
            ("small", None)
        );
        assert!(resources[2].fifo && resources[2].dlq);
    }

    #[test]
    fn hostile_and_wrong_resources_are_all_named() {
        let asks = parse_lines(
            "mongodb docs\npostgres ../etc\npostgres db huge\npostgres ok\nredis ok\nredis c version=7\npostgres db2 version=9\nredis x fifo\nqueue q small extra\nlonely",
        );
        let problems = check(&asks, &ResourcePolicy::default()).unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 9, "{text:#?}");
        for expected in [
            "not a resource type",
            "not a resource name",
            "size \"huge\"",
            "named twice",
            "only postgres takes a version",
            "postgres \"9\"",
            "fifo and dlq are for queues",
            "\"extra\" is not a size",
            "\"lonely\" is not a resource type",
        ] {
            assert!(
                text.iter().any(|t| t.contains(expected)),
                "{expected}: {text:#?}"
            );
        }
    }
}
