//! Settings from the environment, following GitHub App conventions.
//!
//! Every problem is reported as one line naming the variable and what is
//! expected, so a misconfigured deployment says exactly what to fix.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::github::{AppKey, PaceLimits, RepoName};
use crate::secret::Secret;

pub const DEFAULT_API_URL: &str = "https://api.github.com";
pub const DEFAULT_LISTEN: &str = "0.0.0.0:3000";
pub const DEFAULT_WEBHOOK_PATH: &str = "/webhook";
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;
pub const DEFAULT_RESYNC: Duration = Duration::from_secs(5 * 60);
/// A request's work is mostly waiting on GitHub, and the pacer bounds the
/// calls under way: enough requests run at once that a burst shares its
/// platform commits instead of queueing for a worker.
pub const DEFAULT_WORKERS: usize = 32;
pub const DEFAULT_GITHUB_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_GITHUB_MAX_WAIT: Duration = Duration::from_secs(60);
/// GitHub itself gives up on a delivery after 10 s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Below Kubernetes' default 30 s termination grace period.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is not set: expected {expected}")]
    Missing {
        var: &'static str,
        expected: &'static str,
    },
    #[error("{var} is invalid: expected {expected} ({detail})")]
    Invalid {
        var: &'static str,
        expected: &'static str,
        detail: String,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: expected KEY=value", path.display())]
    EnvFileSyntax { path: PathBuf, line: usize },
}

/// Everything `paved serve` needs. Secrets print as `[redacted]`.
#[derive(Debug)]
pub struct Config {
    pub app_id: u64,
    pub private_key: AppKey,
    pub webhook_secrets: Vec<Secret>,
    pub github_api_url: String,
    pub catalog_repo: RepoName,
    pub platform_repo: RepoName,
    pub listen: SocketAddr,
    pub webhook_path: String,
    pub queue_capacity: usize,
    /// How often every open request is reconciled, webhook or not.
    pub resync: Duration,
    /// How long one GitHub request may take.
    pub github_timeout: Duration,
    /// The longest rate-limit wait taken inline; a longer one parks the
    /// request until the limit resets.
    pub github_max_wait: Duration,
    /// Requests reconciled in parallel.
    pub workers: usize,
    /// The part of GitHub's secondary limits this process keeps to: its
    /// share among the `PAVED_REPLICAS` processes sharing the App; `None`
    /// with `PAVED_SECONDARY_LIMITS=false` (GitHub Enterprise Server has
    /// none by default).
    pub pace: Option<PaceLimits>,
    /// Local git caches (scaffolds, the platform clone).
    pub work_dir: PathBuf,
    /// Service templates: `PAVED_TEMPLATES`, else `./templates`, else the built-in ones.
    pub templates: crate::scaffold::TemplateSource,
    /// How long a delivery's body may take to arrive.
    pub body_timeout: Duration,
    /// How long running jobs get to finish when paved stops.
    pub shutdown_grace: Duration,
    /// Keep the fleet dashboard issue in the catalog (`PAVED_DASHBOARD`,
    /// `true` unless `false`).
    pub dashboard: bool,
}

/// Where settings come from: the environment first, then an optional env
/// file, so an operator can override a file without editing it. Deliberately
/// not `Debug`: it holds raw secrets.
#[derive(Default)]
pub struct Source {
    env: HashMap<String, String>,
    file: HashMap<String, String>,
}

impl Source {
    /// The process environment.
    pub fn from_process() -> Self {
        Self {
            env: std::env::vars().collect(),
            file: HashMap::new(),
        }
    }

    /// Explicit settings, as tests and embedders give them.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let env = pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self {
            env,
            file: HashMap::new(),
        }
    }

    /// Adds a file of `KEY=value` lines beneath the environment; blank lines and
    /// `#` comments are skipped, an `export ` prefix and surrounding quotes allowed.
    pub fn with_env_file(mut self, path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.file = parse_env_file(&text).map_err(|line| ConfigError::EnvFileSyntax {
            path: path.to_owned(),
            line,
        })?;
        Ok(self)
    }

    pub fn get(&self, var: &str) -> Option<String> {
        self.env
            .get(var)
            .or_else(|| self.file.get(var))
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }
}

/// Parses env-file text into a map; the error is the 1-based line number.
pub fn parse_env_file(text: &str) -> Result<HashMap<String, String>, usize> {
    let mut out = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = line.split_once('=').ok_or(i + 1)?;
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(i + 1);
        }
        out.insert(key.to_owned(), unquote(value.trim()).to_owned());
    }
    Ok(out)
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

impl Config {
    pub fn load(src: &Source) -> Result<Self, ConfigError> {
        Ok(Self {
            app_id: app_id(src)?,
            private_key: private_key(src)?,
            webhook_secrets: webhook_secrets(src)?,
            github_api_url: api_url(src)?,
            catalog_repo: repo(src, "PAVED_CATALOG_REPO")?,
            platform_repo: repo(src, "PAVED_PLATFORM_REPO")?,
            listen: listen(src)?,
            webhook_path: webhook_path(src)?,
            queue_capacity: number(
                src,
                "PAVED_QUEUE_CAPACITY",
                DEFAULT_QUEUE_CAPACITY,
                1_000_000,
            )?,
            resync: duration(src, "PAVED_RESYNC", DEFAULT_RESYNC)?,
            github_timeout: duration(src, "PAVED_GITHUB_TIMEOUT", DEFAULT_GITHUB_TIMEOUT)?,
            github_max_wait: duration(src, "PAVED_GITHUB_MAX_WAIT", DEFAULT_GITHUB_MAX_WAIT)?,
            workers: number(src, "PAVED_WORKERS", DEFAULT_WORKERS, 256)?,
            pace: flag(src, "PAVED_SECONDARY_LIMITS", true)?.then_some(
                PaceLimits::GITHUB.shared_by(number(src, "PAVED_REPLICAS", 1, 64)? as u32),
            ),
            work_dir: src
                .get("PAVED_WORK_DIR")
                .map_or_else(|| std::env::temp_dir().join("paved"), PathBuf::from),
            templates: crate::scaffold::TemplateSource::named(
                src.get("PAVED_TEMPLATES").map(PathBuf::from),
            ),
            body_timeout: duration(src, "PAVED_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT)?,
            shutdown_grace: duration(src, "PAVED_SHUTDOWN_GRACE", DEFAULT_SHUTDOWN_GRACE)?,
            dashboard: flag(src, "PAVED_DASHBOARD", true)?,
        })
    }
}

fn required(
    src: &Source,
    var: &'static str,
    expected: &'static str,
) -> Result<String, ConfigError> {
    src.get(var).ok_or(ConfigError::Missing { var, expected })
}

fn invalid(var: &'static str, expected: &'static str, detail: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        expected,
        detail: detail.into(),
    }
}

fn app_id(src: &Source) -> Result<u64, ConfigError> {
    const EXPECTED: &str = "the GitHub App's numeric id";
    let v = required(src, "APP_ID", EXPECTED)?;
    match v.trim().parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(invalid("APP_ID", EXPECTED, format!("got {v:?}"))),
    }
}

fn private_key(src: &Source) -> Result<AppKey, ConfigError> {
    const EXPECTED: &str = "the App's RSA private key in PEM";
    let (var, pem) = match src.get("PRIVATE_KEY") {
        // Env vars often carry the PEM with literal `\n` escapes.
        Some(text) => ("PRIVATE_KEY", text.replace("\\n", "\n")),
        None => {
            let path = src.get("PRIVATE_KEY_PATH").ok_or(ConfigError::Missing {
                var: "PRIVATE_KEY or PRIVATE_KEY_PATH",
                expected: EXPECTED,
            })?;
            let pem = std::fs::read_to_string(&path).map_err(|e| {
                invalid(
                    "PRIVATE_KEY_PATH",
                    "a readable PEM file",
                    format!("{path}: {e}"),
                )
            })?;
            ("PRIVATE_KEY_PATH", pem)
        }
    };
    // The parse error text never includes key material.
    AppKey::from_pem(&pem).map_err(|e| invalid(var, EXPECTED, e.to_string()))
}

fn webhook_secrets(src: &Source) -> Result<Vec<Secret>, ConfigError> {
    const EXPECTED: &str = "the webhook secret (a comma-separated list while rotating)";
    let v = required(src, "WEBHOOK_SECRET", EXPECTED)?;
    let secrets: Vec<Secret> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Secret::new)
        .collect();
    if secrets.is_empty() {
        return Err(invalid(
            "WEBHOOK_SECRET",
            EXPECTED,
            "only commas and spaces",
        ));
    }
    Ok(secrets)
}

fn api_url(src: &Source) -> Result<String, ConfigError> {
    const EXPECTED: &str = "an http(s) URL such as https://api.github.com";
    let v = src
        .get("GITHUB_API_URL")
        .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
    let uri: http::Uri = v
        .parse()
        .map_err(|_| invalid("GITHUB_API_URL", EXPECTED, format!("got {v:?}")))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(v.trim_end_matches('/').to_owned()),
        _ => Err(invalid("GITHUB_API_URL", EXPECTED, format!("got {v:?}"))),
    }
}

fn repo(src: &Source, var: &'static str) -> Result<RepoName, ConfigError> {
    const EXPECTED: &str = "a repository as owner/name";
    let v = required(src, var, EXPECTED)?;
    v.parse()
        .map_err(|e: crate::github::RepoNameError| invalid(var, EXPECTED, e.to_string()))
}

fn listen(src: &Source) -> Result<SocketAddr, ConfigError> {
    let v = src
        .get("PAVED_LISTEN")
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    v.parse().map_err(|_| {
        invalid(
            "PAVED_LISTEN",
            "host:port such as 0.0.0.0:3000",
            format!("got {v:?}"),
        )
    })
}

fn webhook_path(src: &Source) -> Result<String, ConfigError> {
    let v = src
        .get("PAVED_WEBHOOK_PATH")
        .unwrap_or_else(|| DEFAULT_WEBHOOK_PATH.to_owned());
    if v.starts_with('/') && v.len() > 1 && !v.contains(['?', '#', ' ']) {
        Ok(v)
    } else {
        Err(invalid(
            "PAVED_WEBHOOK_PATH",
            "a path such as /webhook",
            format!("got {v:?}"),
        ))
    }
}

fn number(
    src: &Source,
    var: &'static str,
    default: usize,
    max: usize,
) -> Result<usize, ConfigError> {
    const EXPECTED: &str = "a whole number, at least 1";
    match src.get(var) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(invalid(var, EXPECTED, format!("got {v:?}, at most {max}"))),
        },
    }
}

fn flag(src: &Source, var: &'static str, default: bool) -> Result<bool, ConfigError> {
    match src.get(var).as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(invalid(var, "true or false", other)),
    }
}

fn duration(src: &Source, var: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    match src.get(var) {
        None => Ok(default),
        Some(v) => parse_duration(&v)
            .filter(|d| *d >= Duration::from_secs(1))
            .ok_or_else(|| {
                invalid(
                    var,
                    "a duration such as 30s, 5m or 1h",
                    format!("got {v:?}"),
                )
            }),
    }
}

/// `90s`, `5m`, `1h` (a number and one unit).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: u64 = s[..s.len() - unit.len_utf8()].trim().parse().ok()?;
    let secs = match unit {
        's' => n,
        'm' => n.checked_mul(60)?,
        'h' => n.checked_mul(3600)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_syntax() {
        let map = parse_env_file("# c\n\nexport A=1\nB = \"two words\"\nC='x=y'\nD=\n").unwrap();
        assert_eq!(map["A"], "1");
        assert_eq!(map["B"], "two words");
        assert_eq!(map["C"], "x=y");
        assert_eq!(map["D"], "");
        assert_eq!(parse_env_file("A=1\nnot a pair\n"), Err(2));
        assert_eq!(parse_env_file("BAD KEY=1\n"), Err(1));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        for bad in ["", "5", "m", "5d", "-1s", "1.5m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
