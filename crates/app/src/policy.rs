//! Policy as code: Rego files from the catalog's `policy/` folder decide
//! what may be requested, evaluated in process by regorus. Conftest's
//! conventions hold: `deny`, `violation` and `warn` rules in `package main`
//! yield messages (strings, or objects with `msg`); a deny or violation
//! blocks, a warn is shown and does not block. Rego v1 is the default; a
//! file that only parses as v0 (an existing conftest policy) is read as v0.
//! A policy that does not compile or fails at evaluation never allows: the
//! error names its file and line.

use regorus::Engine;
use serde_json::Value;

/// The catalog folder policies live in.
pub const FOLDER: &str = "policy";
/// The packages evaluated when `paved.yaml` names none, as conftest's.
pub const DEFAULT_PACKAGE: &str = "main";
/// The rules that yield messages, and whether each blocks.
const RULES: [(&str, bool); 3] = [("deny", true), ("violation", true), ("warn", false)];
/// At most this many policy files, each at most this many bytes: policies
/// are input read from the catalog.
pub const MAX_FILES: usize = 100;
pub const MAX_FILE_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// A file that does not compile: its path, line and the parser's word.
    #[error("policy error in {0}")]
    Compile(String),
    /// Evaluation failed (a builtin erred, a conflict, a time-out).
    #[error("policy error in {file}: {message}")]
    Eval { file: String, message: String },
    #[error("policy error: {0}")]
    Limit(String),
}

/// One message a rule yielded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The policy files of the package that declare the rule.
    pub file: String,
    /// `deny`, `violation` or `warn`, with its package: `main.deny`.
    pub rule: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.file, self.rule, self.message)
    }
}

/// What the policies said of one input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub denied: Vec<Finding>,
    pub warned: Vec<Finding>,
}

/// What the policies said of a request and its manifests, each message
/// naming its file, rule and (for a manifest) what it is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judgement {
    pub denied: Vec<String>,
    pub warned: Vec<String>,
}

/// A policy test (`test_` rule in a `*_test.rego` file) and whether it passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    pub name: String,
    /// `None` when it passed; else why not.
    pub failure: Option<String>,
}

/// A policy file: its path and text.
type File = (String, String);

/// One message a rule yielded.
struct Yield {
    /// `package.rule`.
    rule: String,
    blocks: bool,
    message: String,
}

/// The catalog's policies, compiled.
#[derive(Clone)]
pub struct Policies {
    /// Every file: what it yields is the verdict.
    engine: Engine,
    /// For each file that declares a rule, an engine of it and the files
    /// that declare none: what it yields names the file a message came
    /// from. Never the verdict: a helper in another rule file is missing
    /// there.
    witnesses: Vec<(String, Engine)>,
    /// Each policy file's path and package (`main`), tests left out.
    files: Vec<(String, String)>,
    packages: Vec<String>,
}

impl std::fmt::Debug for Policies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policies")
            .field("files", &self.files)
            .field("packages", &self.packages)
            .finish_non_exhaustive()
    }
}

/// Whether `path` is a policy's own test file.
pub fn is_test(path: &str) -> bool {
    path.ends_with("_test.rego")
}

impl Policies {
    /// Compiles the policy files `(path, text)` (tests are left out),
    /// evaluating `packages` (`main` when empty).
    pub fn compile(files: &[(String, String)], packages: &[String]) -> Result<Self, PolicyError> {
        let own: Vec<&(String, String)> = files.iter().filter(|(p, _)| !is_test(p)).collect();
        let (engine, found) = load(&own)?;
        let declares = |path: &str| {
            RULES.iter().any(|(rule, _)| {
                engine
                    .has_declared_rule_rooted_at(path, rule)
                    .unwrap_or(true)
            })
        };
        let (rules, library): (Vec<&File>, Vec<&File>) = own.iter().partition(|(p, _)| declares(p));
        let mut witnesses = Vec::with_capacity(rules.len());
        for file in rules {
            let mut alone = library.clone();
            alone.push(file);
            witnesses.push((file.0.clone(), load(&alone)?.0));
        }
        let packages = if packages.is_empty() {
            vec![DEFAULT_PACKAGE.to_owned()]
        } else {
            packages.to_vec()
        };
        Ok(Self {
            engine,
            witnesses,
            files: found,
            packages,
        })
    }

    /// No policies: everything is allowed.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Every deny, violation and warn the policies yield for `input`, each
    /// with the file whose rule yielded it.
    pub fn evaluate(&self, input: &Value) -> Result<Verdict, PolicyError> {
        let input = regorus::Value::from_json_str(&input.to_string())
            .map_err(|e| PolicyError::Limit(format!("the input is not JSON: {e}")))?;
        let yielded = self
            .yields(&self.engine, &input)
            .map_err(|(package, message)| PolicyError::Eval {
                file: self.declaring(&package),
                message,
            })?;
        if yielded.is_empty() {
            return Ok(Verdict::default());
        }
        // Which file each message came from; an engine that errs names none.
        let witnessed: Vec<(&str, Vec<(String, String)>)> = self
            .witnesses
            .iter()
            .map(|(file, engine)| {
                let found = self.yields(engine, &input).unwrap_or_default();
                let found = found.into_iter().map(|y| (y.rule, y.message)).collect();
                (file.as_str(), found)
            })
            .collect();
        let mut verdict = Verdict::default();
        for Yield {
            rule,
            blocks,
            message,
        } in yielded
        {
            let from: Vec<&str> = witnessed
                .iter()
                .filter(|(_, found)| found.iter().any(|(r, m)| *r == rule && *m == message))
                .map(|(file, _)| *file)
                .collect();
            let package = rule.rsplit_once('.').map_or("", |(p, _)| p);
            let file = if from.is_empty() {
                self.declaring(package)
            } else {
                from.join(", ")
            };
            let finding = Finding {
                file,
                rule,
                message,
            };
            if blocks {
                verdict.denied.push(finding);
            } else {
                verdict.warned.push(finding);
            }
        }
        Ok(verdict)
    }

    /// Judges a request: `request` itself, then each of its `manifests`
    /// (path, object) alone, as conftest does, then all of them together,
    /// as conftest's `--combine` does (`[{path, contents}]`).
    pub fn judge(
        &self,
        request: &Value,
        manifests: &[(String, Value)],
    ) -> Result<Judgement, PolicyError> {
        let all: Vec<Value> = manifests
            .iter()
            .map(|(path, contents)| serde_json::json!({"path": path, "contents": contents}))
            .collect();
        let all = Value::Array(all);
        let inputs = std::iter::once((None, request))
            .chain(manifests.iter().map(|(path, m)| (Some(path.as_str()), m)))
            .chain(std::iter::once((Some("all manifests"), &all)));
        let mut judged = Judgement::default();
        for (about, input) in inputs {
            let verdict = self.evaluate(input)?;
            let say = |f: &Finding| match about {
                Some(about) => format!("{} ({}) on {about}: {}", f.file, f.rule, f.message),
                None => f.to_string(),
            };
            judged.denied.extend(verdict.denied.iter().map(say));
            judged.warned.extend(verdict.warned.iter().map(say));
        }
        Ok(judged)
    }

    /// What `engine` yields for `input`; else the package that failed, and
    /// why.
    fn yields(
        &self,
        engine: &Engine,
        input: &regorus::Value,
    ) -> Result<Vec<Yield>, (String, String)> {
        let mut engine = engine.clone();
        engine.set_input(input.clone());
        let mut out = Vec::new();
        for package in &self.packages {
            for (rule, blocks) in RULES {
                let query = format!("data.{package}.{rule}");
                let results = engine
                    .eval_query(query, false)
                    .map_err(|e| (package.clone(), e.to_string()))?;
                for value in results.result.iter().flat_map(|r| &r.expressions) {
                    for message in messages(&value.value) {
                        out.push(Yield {
                            rule: format!("{package}.{rule}"),
                            blocks,
                            message,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The files that hold `package`, for naming where a message came from.
    fn declaring(&self, package: &str) -> String {
        let files: Vec<&str> = self
            .files
            .iter()
            .filter(|(_, p)| p == package)
            .map(|(f, _)| f.as_str())
            .collect();
        if files.is_empty() {
            format!("package {package}")
        } else {
            files.join(", ")
        }
    }
}

/// Runs the policies' own tests: every `test_` rule of the `*_test.rego`
/// files, with every policy loaded, passes when it is true (OPA's rule).
pub fn run_tests(files: &[(String, String)]) -> Result<Vec<TestOutcome>, PolicyError> {
    let all: Vec<&(String, String)> = files.iter().collect();
    let (mut engine, found) = load(&all)?;
    let mut out = Vec::new();
    for (path, text) in files.iter().filter(|(p, _)| is_test(p)) {
        let package = found
            .iter()
            .find(|(f, _)| f == path)
            .map(|(_, p)| p.clone())
            .unwrap_or_default();
        for name in test_rules(text) {
            let query = format!("data.{package}.{name}");
            let failure = match engine.eval_query(query, false) {
                Err(e) => Some(e.to_string()),
                Ok(results) => {
                    let passed = results
                        .result
                        .iter()
                        .flat_map(|r| &r.expressions)
                        .any(|e| e.value == regorus::Value::from(true));
                    (!passed).then(|| "it is not true".to_owned())
                }
            };
            out.push(TestOutcome {
                name: format!("{path}: {name}"),
                failure,
            });
        }
    }
    Ok(out)
}

/// The names of a test file's `test_` rules, in order, each once.
fn test_rules(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in text.lines() {
        let head: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if head.starts_with("test_") && !names.contains(&head) {
            names.push(head);
        }
    }
    names
}

/// An engine holding `files`, each read as Rego v1 or, failing that, v0;
/// every file's path and package.
fn load(files: &[&(String, String)]) -> Result<(Engine, Vec<(String, String)>), PolicyError> {
    if files.len() > MAX_FILES {
        return Err(PolicyError::Limit(format!(
            "{} policy files; at most {MAX_FILES} are read",
            files.len()
        )));
    }
    let mut engine = Engine::new();
    let mut found = Vec::with_capacity(files.len());
    for (path, text) in files {
        if text.len() > MAX_FILE_BYTES {
            return Err(PolicyError::Compile(format!(
                "{path}: {} bytes; at most {MAX_FILE_BYTES} are read",
                text.len()
            )));
        }
        engine.set_rego_v0(false);
        let package = match engine.add_policy(path.clone(), text.clone()) {
            Ok(package) => package,
            Err(v1) if !maybe_v0(text) => {
                return Err(PolicyError::Compile(located(&v1.to_string())));
            }
            Err(v1) => {
                engine.set_rego_v0(true);
                engine
                    .add_policy(path.clone(), text.clone())
                    .map_err(|_| PolicyError::Compile(located(&v1.to_string())))?
            }
        };
        let package = package.strip_prefix("data.").unwrap_or(&package).to_owned();
        found.push((path.clone(), package));
    }
    // Compile now, so a rule error is the catalog's, not the request's.
    engine
        .eval_query("data".to_owned(), false)
        .map_err(|e| PolicyError::Compile(located(&e.to_string())))?;
    Ok((engine, found))
}

/// Whether `text` may be a Rego v0 policy: one that uses none of v1's
/// keywords without importing them. Only such a file is read again as v0,
/// so a v1 policy's mistake is reported as v1's (and the v0 parser's
/// warnings about keywords never reach stderr).
fn maybe_v0(text: &str) -> bool {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("import"))
        .map(|l| {
            // Strings and comments are not code.
            let mut out = String::new();
            let mut in_string = false;
            for c in l.chars() {
                match c {
                    '"' => in_string = !in_string,
                    '#' if !in_string => break,
                    _ if !in_string => out.push(c),
                    _ => {}
                }
            }
            out + "\n"
        })
        .collect();
    // `contains(` is the string builtin; `contains` before a term, the keyword.
    let v1_words = code
        .match_indices(|c: char| c.is_ascii_alphabetic())
        .any(|(at, _)| {
            let starts = at == 0 || !is_word(code.as_bytes()[at - 1]);
            let word: String = code[at..]
                .chars()
                .take_while(|c| is_word(*c as u8))
                .collect();
            let after = code[at + word.len()..].trim_start();
            starts
                && (matches!(word.as_str(), "if" | "every")
                    || (word == "contains" && !after.starts_with('(')))
        });
    !v1_words || text.contains("import future.keywords")
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// regorus's report (`--> file:line:col`, the source, `error: why`) as
/// one line: `file:line:col: why`.
fn located(report: &str) -> String {
    let at = report
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .map(str::trim);
    let why = report
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("error: "))
        .unwrap_or_else(|| {
            report
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or(report)
        });
    match at {
        Some(at) => format!("{at}: {}", why.trim()),
        None => why.trim().to_owned(),
    }
}

/// The messages in a rule's value: a set or array of strings, or of
/// objects carrying `msg`, as conftest reads them.
fn messages(value: &regorus::Value) -> Vec<String> {
    let Ok(json) = value.to_json_str() else {
        return Vec::new();
    };
    let Ok(json) = serde_json::from_str::<Value>(&json) else {
        return Vec::new();
    };
    let items = match json {
        Value::Array(items) => items,
        Value::Object(_) | Value::String(_) => vec![json],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|item| match item {
            Value::String(s) => Some(s),
            Value::Object(o) => o.get("msg").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
            .collect()
    }

    const NAMES: &str = r#"package main

deny contains msg if {
    startswith(input.name, "tmp-")
    msg := sprintf("%s: temporary names are not services", [input.name])
}

warn contains msg if {
    count(input.name) > 20
    msg := "long names are hard to type"
}
"#;

    /// A conftest policy of the v0 era.
    const OWNERS: &str = r#"package main

violation[{"msg": msg}] {
    not startswith(input.owner, "@acme/")
    msg := sprintf("owner %s is not an acme team", [input.owner])
}
"#;

    #[test]
    fn denies_violations_and_warnings_come_with_their_file_and_rule() {
        let set = Policies::compile(
            &files(&[("policy/names.rego", NAMES), ("policy/owners.rego", OWNERS)]),
            &[],
        )
        .unwrap();
        let fine = set
            .evaluate(&json!({"name": "orders", "owner": "@acme/payments"}))
            .unwrap();
        assert_eq!(fine, Verdict::default());
        let bad = set
            .evaluate(&json!({"name": "tmp-a-very-long-service-name", "owner": "@evil/x"}))
            .unwrap();
        let said: Vec<String> = bad.denied.iter().map(ToString::to_string).collect();
        assert_eq!(
            said,
            [
                "policy/names.rego (main.deny): tmp-a-very-long-service-name: temporary names are not services",
                "policy/owners.rego (main.violation): owner @evil/x is not an acme team",
            ]
        );
        assert_eq!(bad.warned.len(), 1);
        assert_eq!(bad.warned[0].message, "long names are hard to type");
    }

    #[test]
    fn only_a_file_without_v1_keywords_is_read_again_as_v0() {
        assert!(maybe_v0(OWNERS));
        assert!(!maybe_v0(NAMES));
        assert!(maybe_v0(
            "package main\n# deny if x\ndeny[m] { m := \"if\" }\n"
        ));
        assert!(maybe_v0(
            "package main\nimport future.keywords.if\ndeny[m] if { m := 1 }\n"
        ));
        assert!(maybe_v0(
            "package main\ndeny[m] { contains(input.image, \":\"); m := 1 }\n"
        ));
        assert!(!maybe_v0("package main\ndeny contains m if { m := 1 }\n"));
        assert!(!maybe_v0(
            "package main\nok := true if { every x in [1] { x } }\n"
        ));
    }

    #[test]
    fn the_packages_named_decide_and_no_others() {
        let services = "package policy.services\n\ndeny contains \"no\" if input.name == \"x\"\n";
        let named = Policies::compile(
            &files(&[
                ("policy/main.rego", NAMES),
                ("policy/services.rego", services),
            ]),
            &["policy.services".to_owned()],
        )
        .unwrap();
        let verdict = named.evaluate(&json!({"name": "x"})).unwrap();
        let said: Vec<String> = verdict.denied.iter().map(ToString::to_string).collect();
        assert_eq!(said, ["policy/services.rego (policy.services.deny): no"]);
        let tmp = named.evaluate(&json!({"name": "tmp-x"})).unwrap();
        assert_eq!(
            tmp,
            Verdict::default(),
            "main is not named, so it does not decide"
        );
    }

    #[test]
    fn a_policy_that_does_not_compile_names_its_file_and_line() {
        let broken = "package main\n\ndeny contains msg if {\n    msg := \n}\n";
        let err = Policies::compile(&files(&[("policy/x.rego", broken)]), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "policy error in policy/x.rego:4:9: expecting `}` while parsing set"
        );
    }

    #[test]
    fn an_evaluation_error_never_allows() {
        // A complete rule with two values is a conflict, at evaluation.
        let erring = r#"package main

level := "a" if input.a
level := "b" if input.b

deny contains level if level == "a"
"#;
        let set = Policies::compile(&files(&[("policy/level.rego", erring)]), &[]).unwrap();
        assert_eq!(set.evaluate(&json!({"a": true})).unwrap().denied.len(), 1);
        let verdict = set.evaluate(&json!({"a": true, "b": true}));
        assert!(
            matches!(&verdict, Err(PolicyError::Eval { file, .. }) if file == "policy/level.rego"),
            "{verdict:?}"
        );
    }

    #[test]
    fn policy_tests_run_as_opa_runs_them() {
        let test = r#"package main

test_tmp_is_denied if {
    count(deny) == 1 with input as {"name": "tmp-x"}
}

test_orders_is_fine if {
    count(deny) == 1 with input as {"name": "orders"}
}
"#;
        let outcomes = run_tests(&files(&[
            ("policy/names.rego", NAMES),
            ("policy/names_test.rego", test),
        ]))
        .unwrap();
        let summary: Vec<(&str, bool)> = outcomes
            .iter()
            .map(|o| (o.name.as_str(), o.failure.is_none()))
            .collect();
        assert_eq!(
            summary,
            [
                ("policy/names_test.rego: test_tmp_is_denied", true),
                ("policy/names_test.rego: test_orders_is_fine", false),
            ]
        );
    }
}
