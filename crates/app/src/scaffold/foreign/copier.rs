//! Copier 9 templates: `copier.yml` (questions and `_` settings) and the
//! files under `_subdirectory`, rendered as `copier copy --defaults` renders
//! them (Copier 9.19's `_main`, `_template` and `_user_data` modules are the
//! reference).

use std::collections::BTreeSet;
use std::sync::Arc;

use minijinja::Environment;
use minijinja::value::{Value, ValueKind};

use super::jinja::{self, Flavor, Options};
use super::pattern::Wildmatch;
use super::{Failure, Given, Output, Source, Variable, pyyaml};
use crate::scaffold::RenderedFile;
use crate::scaffold::template::Files;

const CONFIGS: [&str; 2] = ["copier.yml", "copier.yaml"];
/// What Copier leaves out when the template is the whole folder.
const DEFAULT_EXCLUDE: [&str; 8] = [
    "copier.yaml",
    "copier.yml",
    "~*",
    "*.py[co]",
    "__pycache__",
    ".git",
    ".DS_Store",
    ".svn",
];
/// Settings that change nothing in a first copy.
const IGNORED: [&str; 9] = [
    "_min_copier_version",
    "_message_before_copy",
    "_message_after_copy",
    "_message_before_update",
    "_message_after_update",
    "_migrations",
    "_preserve_symlinks",
    "_secret_questions",
    "_skip_tasks",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Float,
    Bool,
    Json,
    Yaml,
    Path,
}

#[derive(Debug)]
struct Question {
    name: String,
    kind: Kind,
    default: Option<Value>,
    choices: Option<Value>,
    when: Value,
    help: String,
    secret: bool,
    validator: String,
}

/// The answers in question order, and the questions `when` left out.
type Settled = (Vec<(String, Value)>, BTreeSet<String>);

/// A loaded Copier template.
#[derive(Debug)]
pub struct Spec {
    config: String,
    questions: Vec<Question>,
    subdirectory: String,
    exclude: Vec<String>,
    suffix: String,
    answers_file: String,
    options: Options,
    /// `_skip_if_exists`: files an update never overwrites.
    keep: Wildmatch,
    /// `_tasks`, which run commands after the copy.
    pub tasks: Vec<Value>,
}

pub fn is_template(files: &Files) -> bool {
    CONFIGS.iter().any(|c| files.contains_key(*c))
}

pub fn load(source: &Source) -> Result<Spec, Failure> {
    let present: Vec<&str> = CONFIGS
        .into_iter()
        .filter(|c| source.files.contains_key(*c))
        .collect();
    let config = match present.as_slice() {
        [one] => *one,
        _ => {
            return Err(Failure::at(
                "",
                None,
                "has both copier.yml and copier.yaml; Copier refuses that".into(),
            ));
        }
    };
    let text = source.text(config)?;
    let data: Value = serde_yaml::from_str(&text).map_err(|e| {
        Failure::at(
            config,
            e.location().map(|l| l.line()),
            format!("not valid YAML for paved: {e}"),
        )
    })?;
    if data.kind() != ValueKind::Map {
        return Err(Failure::at(config, None, "must be a mapping".into()));
    }
    let at = |key: &str, message: String| {
        Failure::at(config, line_of(&text, &format!("{key}:")), message)
    };
    let get = |key: &str| data.get_attr(key).ok().filter(|v| !v.is_undefined());
    let mut questions = Vec::new();
    for key in data.try_iter().map_err(|e| at("", e.to_string()))? {
        let name = key.as_str().unwrap_or_default().to_owned();
        let value = data.get_item(&key).unwrap_or_default();
        match name.as_str() {
            "_jinja_extensions" if value.len().unwrap_or(0) > 0 => {
                let names: Vec<String> = value
                    .try_iter()
                    .into_iter()
                    .flatten()
                    .map(|v| v.to_string())
                    .collect();
                return Err(at(
                    &name,
                    format!(
                        "_jinja_extensions loads Python code ({}); paved renders in process and does not run it",
                        names.join(", ")
                    ),
                ));
            }
            "_external_data" => return Err(at(&name, "_external_data is not supported".into())),
            "_envops" | "_subdirectory" | "_exclude" | "_skip_if_exists" | "_templates_suffix"
            | "_answers_file" | "_tasks" | "_jinja_extensions" => {}
            _ if IGNORED.contains(&name.as_str()) => {}
            _ if name.starts_with('_') => {
                return Err(at(
                    &name,
                    format!("{name} is not a Copier 9 setting paved knows"),
                ));
            }
            _ => questions.push(
                question(&name, &value).map_err(|m| at(&name, format!("question {name}: {m}")))?,
            ),
        }
    }
    let text_of =
        |key: &str, default: &str| get(key).map_or_else(|| default.to_owned(), |v| v.to_string());
    let subdirectory = text_of("_subdirectory", "");
    let exclude = match get("_exclude") {
        Some(list) => list
            .try_iter()
            .into_iter()
            .flatten()
            .map(|v| v.to_string())
            .collect(),
        None if subdirectory.trim_matches(['.', '/']).is_empty() => {
            DEFAULT_EXCLUDE.map(String::from).to_vec()
        }
        None => Vec::new(),
    };
    let spec = Spec {
        config: config.to_owned(),
        questions,
        subdirectory,
        exclude,
        suffix: text_of("_templates_suffix", ".jinja"),
        answers_file: text_of("_answers_file", ".copier-answers.yml"),
        options: envops(get("_envops")).map_err(|m| at("_envops", m))?,
        keep: kept(get("_skip_if_exists")).map_err(|m| at("_skip_if_exists", m))?,
        tasks: get("_tasks")
            .map(|t| t.try_iter().into_iter().flatten().collect())
            .unwrap_or_default(),
    };
    spec.check_syntax(source)?;
    Ok(spec)
}

/// `_skip_if_exists` as patterns; one written as a template is refused, as
/// paved matches these before any answer is known.
fn kept(value: Option<Value>) -> Result<Wildmatch, String> {
    let patterns: Vec<String> = value
        .map(|list| {
            list.try_iter()
                .into_iter()
                .flatten()
                .map(|v| v.to_string())
                .collect()
        })
        .unwrap_or_default();
    if let Some(templated) = patterns
        .iter()
        .find(|p| p.contains("{{") || p.contains("{%"))
    {
        return Err(format!(
            "{templated:?}: a templated pattern is not supported"
        ));
    }
    Wildmatch::new(patterns.iter().map(String::as_str))
}

fn question(name: &str, value: &Value) -> Result<Question, String> {
    // A question written as `name: default` has only a default.
    if value.kind() != ValueKind::Map {
        return Ok(Question {
            name: name.to_owned(),
            kind: inferred(value),
            default: Some(value.clone()),
            choices: None,
            when: Value::from(true),
            help: String::new(),
            secret: false,
            validator: String::new(),
        });
    }
    let field = |key: &str| value.get_attr(key).ok().filter(|v| !v.is_undefined());
    for key in value.try_iter().map_err(|e| e.to_string())? {
        let key = key.to_string();
        if ![
            "type",
            "default",
            "choices",
            "when",
            "help",
            "secret",
            "validator",
            "placeholder",
            "multiline",
            "ask",
        ]
        .contains(&key.as_str())
        {
            return Err(format!("`{key}` is not supported"));
        }
    }
    if field("multiselect").is_some_and(|v| v.is_true()) {
        return Err("multiselect is not supported".into());
    }
    let default = field("default");
    let kind = match field("type").map(|t| t.to_string()) {
        None => default.as_ref().map_or(Kind::Yaml, inferred),
        Some(t) => match t.as_str() {
            "str" => Kind::Str,
            "int" => Kind::Int,
            "float" => Kind::Float,
            "bool" => Kind::Bool,
            "json" => Kind::Json,
            "yaml" => Kind::Yaml,
            "path" => Kind::Path,
            other => return Err(format!("type {other:?} is not one of Copier's")),
        },
    };
    Ok(Question {
        name: name.to_owned(),
        kind,
        default,
        choices: field("choices"),
        when: field("when").unwrap_or(Value::from(true)),
        help: field("help").map(|h| h.to_string()).unwrap_or_default(),
        secret: field("secret").is_some_and(|v| v.is_true()),
        validator: field("validator")
            .map(|v| v.to_string())
            .unwrap_or_default(),
    })
}

/// The type Copier gives a question from its default's Python type.
fn inferred(default: &Value) -> Kind {
    match default.kind() {
        ValueKind::String => Kind::Str,
        ValueKind::Bool => Kind::Bool,
        ValueKind::Number if default.is_integer() => Kind::Int,
        ValueKind::Number => Kind::Float,
        _ => Kind::Yaml,
    }
}

fn envops(value: Option<Value>) -> Result<Options, String> {
    let mut options = Options {
        strict: false,
        trim_blocks: false,
        lstrip_blocks: false,
        keep_trailing_newline: true,
    };
    let Some(value) = value else {
        return Ok(options);
    };
    for key in value.try_iter().map_err(|e| e.to_string())? {
        let item = value.get_item(&key).unwrap_or_default();
        match key.as_str().unwrap_or_default() {
            "trim_blocks" => options.trim_blocks = item.is_true(),
            "lstrip_blocks" => options.lstrip_blocks = item.is_true(),
            "keep_trailing_newline" => options.keep_trailing_newline = item.is_true(),
            "autoescape" if !item.is_true() => {}
            "undefined" => match item.as_str() {
                Some("jinja2.StrictUndefined") => options.strict = true,
                Some("jinja2.Undefined") => options.strict = false,
                _ => return Err(format!("undefined {item} is not one Copier takes")),
            },
            other => {
                return Err(format!(
                    "_envops.{other} is not supported (delimiters stay Jinja's)"
                ));
            }
        }
    }
    Ok(options)
}

impl Spec {
    pub fn variables(&self) -> Vec<Variable> {
        self.questions
            .iter()
            .map(|q| Variable {
                name: q.name.clone(),
                help: q.help.trim().to_owned(),
                kind: match q.kind {
                    Kind::Str | Kind::Path => "string",
                    Kind::Int => "integer",
                    Kind::Float => "float",
                    Kind::Bool => "boolean",
                    Kind::Json | Kind::Yaml => "yaml",
                },
                default: q
                    .default
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                choices: q.choices.as_ref().map(choice_names).unwrap_or_default(),
            })
            .collect()
    }

    fn environment(&self, source: &Source) -> Environment<'static> {
        let sources: jinja::Sources = source
            .files
            .iter()
            .filter_map(|(path, (bytes, _))| {
                let text = std::str::from_utf8(bytes).ok()?;
                Some((path.clone(), jinja::prepare(Flavor::Copier, text)))
            })
            .collect();
        jinja::environment(Flavor::Copier, self.options, Arc::new(sources))
    }

    /// Every template file and path under the copy root compiles.
    fn check_syntax(&self, source: &Source) -> Result<(), Failure> {
        let env = self.environment(source);
        for (path, (bytes, _)) in source.files.iter() {
            if CONFIGS.contains(&path.as_str()) {
                continue;
            }
            super::compiles(&env, Flavor::Copier, path, path)?;
            if path.ends_with(&self.suffix)
                && let Ok(text) = std::str::from_utf8(bytes)
                && !(self.suffix.is_empty() && super::is_binary(path, bytes))
            {
                super::compiles(&env, Flavor::Copier, path, text)?;
            }
        }
        Ok(())
    }

    /// The answers as `copier copy --defaults --data …` settles them, and the
    /// questions whose `when` was false (left out of the answers file).
    fn answers(
        &self,
        env: &Environment<'static>,
        given: &Given,
        base: &Value,
    ) -> Result<Settled, Failure> {
        let mut answers: Vec<(String, Value)> = Vec::new();
        let mut hidden = BTreeSet::new();
        for q in &self.questions {
            let context = merged(base, &answers, &[]);
            let fail = |m: String| Failure::value(&q.name, m);
            let when = cast_to_bool(
                &render_value(env, &q.when, &context).map_err(|e| fail(super::describe(&e)))?,
            );
            if !when {
                hidden.insert(q.name.clone());
            }
            let value = match given.get(&q.name) {
                Some(text) if when => {
                    let answer = self
                        .parse(env, q, &Value::from(text.as_str()), &context)
                        .map_err(fail)?;
                    self.validate(env, q, &answer, &answers, base)
                        .map_err(fail)?;
                    answer
                }
                _ => match &q.default {
                    None if !when => continue,
                    None => return Err(fail("is required: it has no default".into())),
                    Some(default) => {
                        let rendered = render_value(env, default, &context)
                            .map_err(|e| fail(super::describe(&e)))?;
                        let answer = self.parse(env, q, &rendered, &context).map_err(fail)?;
                        if when && !q.secret {
                            self.validate(env, q, &answer, &answers, base)
                                .map_err(fail)?;
                        }
                        answer
                    }
                },
            };
            answers.push((q.name.clone(), value));
        }
        Ok((answers, hidden))
    }

    /// An answer cast to the question's type, and one of its choices if it has them.
    fn parse(
        &self,
        env: &Environment<'static>,
        q: &Question,
        answer: &Value,
        context: &Value,
    ) -> Result<Value, String> {
        let cast = cast(q.kind, answer)?;
        let Some(choices) = &q.choices else {
            return Ok(cast);
        };
        let values = choice_values(env, choices, context)?;
        let mut allowed = Vec::new();
        for v in &values {
            allowed.push(cast_value(q.kind, v)?);
        }
        if allowed.iter().any(|a| a == &cast) {
            Ok(cast)
        } else {
            let names: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            Err(format!(
                "{cast} is not one of the choices ({})",
                names.join(", ")
            ))
        }
    }

    fn validate(
        &self,
        env: &Environment<'static>,
        q: &Question,
        answer: &Value,
        answers: &[(String, Value)],
        base: &Value,
    ) -> Result<(), String> {
        if q.validator.is_empty() {
            return Ok(());
        }
        let context = merged(base, answers, &[(q.name.clone(), answer.clone())]);
        let message = render(env, &q.validator, &context).map_err(|e| super::describe(&e))?;
        match message.trim() {
            "" => Ok(()),
            text => Err(text.to_owned()),
        }
    }

    /// Renders the template into files, as `copier copy --defaults` writes them.
    pub fn render(&self, source: &Source, given: &Given, out_dir: &str) -> Result<Output, Failure> {
        let env = self.environment(source);
        let folder_name = out_dir
            .rsplit('/')
            .find(|p| !p.is_empty())
            .unwrap_or(out_dir);
        let conf = |answers_file: &str| {
            Value::from_pairs([
                ("answers_file", Value::from(answers_file)),
                ("src_path", Value::from(source.origin.display().to_string())),
                ("dst_path", Value::from(out_dir)),
                ("vcs_ref", Value::from(())),
                ("vcs_ref_hash", Value::from(())),
                ("sep", Value::from("/")),
                ("os", Value::from("linux")),
                ("defaults", Value::from(true)),
            ])
        };
        let base_with = |answers_file: &str| {
            Value::from_pairs([
                ("_copier_conf", conf(answers_file)),
                ("_folder_name", Value::from(folder_name)),
                ("_copier_python", Value::from("python3")),
                ("_copier_phase", Value::from("render")),
                ("_copier_operation", Value::from("copy")),
            ])
        };
        let (answers, hidden) = self.answers(&env, given, &base_with(""))?;
        let answers_file = render(
            &env,
            &self.answers_file,
            &merged(&base_with(""), &answers, &[]),
        )
        .map_err(|e| Failure::render(&self.config, super::describe(&e)))?;
        let mut remembered = vec![(
            "_src_path".to_owned(),
            Value::from(source.origin.display().to_string()),
        )];
        remembered.extend(
            answers
                .iter()
                .filter(|(name, _)| {
                    !hidden.contains(name)
                        && !self.questions.iter().any(|q| &q.name == name && q.secret)
                })
                .cloned(),
        );
        let mut extra = answers.clone();
        extra.push((
            "_copier_answers".into(),
            Value::from_pairs(remembered.iter().cloned()),
        ));
        let context = merged(&base_with(&answers_file), &extra, &[]);
        fn fail(path: &str) -> impl Fn(minijinja::Error) -> Failure + '_ {
            move |e| Failure::render(path, super::describe(&e))
        }
        let root = render(&env, &self.subdirectory, &context).map_err(fail(&self.config))?;
        let root = root.trim_matches('/').trim_start_matches("./").to_owned();
        let exclude = self.patterns(&env, &context)?;
        let mut output = Output {
            files: Vec::new(),
            answers: Value::from_pairs(remembered),
            record: None,
        };
        for (path, (bytes, executable)) in source.files.iter() {
            let rel = match root.as_str() {
                "" | "." => path.as_str(),
                dir => match path.strip_prefix(dir).and_then(|r| r.strip_prefix('/')) {
                    Some(rel) => rel,
                    None => continue,
                },
            };
            let Some(target) = self.target(source, &env, &context, &root, rel, &answers_file)?
            else {
                continue;
            };
            if exclude.matches(&target) {
                continue;
            }
            let templated = rel.ends_with(&self.suffix);
            let contents = match std::str::from_utf8(bytes) {
                Ok(_) if templated => env
                    .get_template(path)
                    .and_then(|t| t.render(&context))
                    .map_err(fail(path))?
                    .into_bytes(),
                Err(_) if templated && !self.suffix.is_empty() => {
                    return Err(Failure::render(
                        path,
                        "is not UTF-8 text, yet ends in the template suffix".into(),
                    ));
                }
                _ => bytes.clone(),
            };
            output.push(path, &target, contents, *executable)?;
        }
        if !output.files.iter().any(|f| f.path == answers_file) {
            output.record = Some(answers_record(&answers_file, &output.answers)?);
        }
        Ok(output)
    }

    /// Where a file under the copy root lands, or `None` when Copier leaves it
    /// out: a part rendered empty, or a sibling with the template suffix.
    fn target(
        &self,
        source: &Source,
        env: &Environment<'static>,
        context: &Value,
        root: &str,
        rel: &str,
        answers_file: &str,
    ) -> Result<Option<String>, Failure> {
        let sibling = |p: &str| {
            let full = if root.is_empty() {
                p.to_owned()
            } else {
                format!("{root}/{p}")
            };
            source.files.contains_key(&format!("{full}{}", self.suffix))
        };
        let is_template = rel.ends_with(&self.suffix);
        if !self.suffix.is_empty() && sibling(rel) {
            return Ok(None);
        }
        let stripped = if is_template {
            &rel[..rel.len() - self.suffix.len()]
        } else {
            rel
        };
        let mut parts = Vec::new();
        for part in stripped.split('/') {
            let rendered = render(env, part, context).map_err(|e| {
                Failure::render(rel, format!("rendering the path: {}", super::describe(&e)))
            })?;
            if rendered.is_empty() {
                return Ok(None);
            }
            if rendered == answers_file {
                return Ok(Some(answers_file.to_owned()));
            }
            parts.push(rendered);
        }
        let target = parts.join("/");
        if !is_template && !self.suffix.is_empty() && sibling(&target) {
            return Ok(None);
        }
        Ok(Some(target))
    }

    /// `_exclude`, each rendered and split at line breaks.
    fn patterns(&self, env: &Environment<'static>, context: &Value) -> Result<Wildmatch, Failure> {
        let mut lines = Vec::new();
        for pattern in &self.exclude {
            let text = render(env, pattern, context)
                .map_err(|e| Failure::render(&self.config, super::describe(&e)))?;
            lines.extend(text.lines().map(str::to_owned).collect::<Vec<_>>());
        }
        Wildmatch::new(lines.iter().map(String::as_str))
            .map_err(|m| Failure::at(&self.config, None, m))
    }

    /// Whether an update leaves `path` as the project has it.
    pub fn keeps(&self, path: &str) -> bool {
        self.keep.matches(path)
    }

    /// `_tasks` as commands: each a shell line or an argv list, rendered.
    pub fn commands(&self, source: &Source, answers: &Value) -> Result<Vec<Vec<String>>, Failure> {
        let env = self.environment(source);
        let context = merged(
            answers,
            &[("_copier_operation".into(), Value::from("copy"))],
            &[],
        );
        let fail = |e: minijinja::Error| {
            Failure::render(&self.config, format!("_tasks: {}", super::describe(&e)))
        };
        let mut out = Vec::new();
        for task in &self.tasks {
            let (command, when) = match task.kind() {
                ValueKind::Map => (
                    task.get_attr("command").unwrap_or_default(),
                    task.get_attr("when").unwrap_or(Value::from(true)),
                ),
                _ => (task.clone(), Value::from(true)),
            };
            if !cast_to_bool(&render_value(&env, &when, &context).map_err(fail)?) {
                continue;
            }
            match command.kind() {
                ValueKind::String => out.push(vec![
                    "sh".into(),
                    "-c".into(),
                    render(&env, &command.to_string(), &context).map_err(fail)?,
                ]),
                ValueKind::Seq => out.push(
                    command
                        .try_iter()
                        .into_iter()
                        .flatten()
                        .map(|part| render(&env, &part.to_string(), &context))
                        .collect::<Result<_, _>>()
                        .map_err(fail)?,
                ),
                _ => {
                    return Err(Failure::at(
                        &self.config,
                        None,
                        format!("_tasks: {command} is not a command"),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The answers file Copier's documentation has templates write, for a
/// template that writes none: `copier update` needs it.
fn answers_record(path: &str, answers: &Value) -> Result<RenderedFile, Failure> {
    let style = pyyaml::Style {
        indent: 2,
        flow: pyyaml::Flow::Block,
    };
    let yaml = pyyaml::dump(answers, &style).map_err(|e| Failure::render(path, e.to_string()))?;
    Ok(RenderedFile {
        path: path.to_owned(),
        contents: format!(
            "# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY\n{yaml}"
        )
        .into_bytes(),
        executable: false,
    })
}

/// The render context: `base`, then `answers`, then `extra`, later winning.
fn merged(base: &Value, answers: &[(String, Value)], extra: &[(String, Value)]) -> Value {
    let mut pairs: Vec<(String, Value)> = base
        .try_iter()
        .into_iter()
        .flatten()
        .map(|k| (k.to_string(), base.get_item(&k).unwrap_or_default()))
        .collect();
    pairs.extend(answers.iter().cloned());
    pairs.extend(extra.iter().cloned());
    Value::from_pairs(pairs)
}

fn render(
    env: &Environment<'static>,
    text: &str,
    context: &Value,
) -> Result<String, minijinja::Error> {
    env.render_str(&jinja::prepare(Flavor::Copier, text), context)
}

/// `render_value`: a string is a template, a list is rendered item by item,
/// anything else is kept.
fn render_value(
    env: &Environment<'static>,
    value: &Value,
    context: &Value,
) -> Result<Value, minijinja::Error> {
    match value.kind() {
        ValueKind::String => {
            render(env, value.as_str().unwrap_or_default(), context).map(Value::from)
        }
        ValueKind::Seq => value
            .try_iter()?
            .map(|item| render_value(env, &item, context))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::from),
        _ => Ok(value.clone()),
    }
}

/// The values of a choice list (a list, or a mapping of label to value),
/// as written: what `--data` takes.
fn choice_names(choices: &Value) -> Vec<String> {
    match choices.kind() {
        ValueKind::Map => choices
            .try_iter()
            .into_iter()
            .flatten()
            .map(|k| choices.get_item(&k).unwrap_or_default().to_string())
            .collect(),
        _ => choices
            .try_iter()
            .into_iter()
            .flatten()
            .map(|v| v.to_string())
            .collect(),
    }
}

/// The values of a choice list, rendered.
fn choice_values(
    env: &Environment<'static>,
    choices: &Value,
    context: &Value,
) -> Result<Vec<Value>, String> {
    let raw: Vec<Value> = match choices.kind() {
        ValueKind::Map => choices
            .try_iter()
            .into_iter()
            .flatten()
            .map(|k| choices.get_item(&k).unwrap_or_default())
            .collect(),
        ValueKind::Seq => choices.try_iter().into_iter().flatten().collect(),
        _ => return Err("choices written as one templated string are not supported".into()),
    };
    raw.iter()
        .map(|v| {
            if v.kind() == ValueKind::Map {
                return Err("choices with a validator are not supported".into());
            }
            render_value(env, v, context).map_err(|e| super::describe(&e))
        })
        .collect()
}

/// Copier's cast of an answer to the question's type (`CAST_STR_TO_NATIVE`).
fn cast(kind: Kind, answer: &Value) -> Result<Value, String> {
    cast_value(kind, answer)
        .map_err(|e| format!("{answer:?} is not a valid {}: {e}", kind_label(kind)))
}

fn cast_value(kind: Kind, v: &Value) -> Result<Value, String> {
    let text = v.as_str();
    match kind {
        Kind::Bool => Ok(Value::from(cast_to_bool(v))),
        Kind::Str | Kind::Path => match v.kind() {
            ValueKind::String => Ok(v.clone()),
            ValueKind::Bool => Ok(Value::from(if v.is_true() { "True" } else { "False" })),
            ValueKind::Number if !v.is_integer() => Ok(Value::from(super::python::float_repr(
                f64::try_from(v.clone()).map_err(|e| e.to_string())?,
            ))),
            ValueKind::Number => Ok(Value::from(v.to_string())),
            _ => Err("not text".into()),
        },
        Kind::Int => match (v.kind(), text) {
            (ValueKind::Number, _) if v.is_integer() => Ok(v.clone()),
            (ValueKind::Number, _) => Ok(Value::from(
                f64::try_from(v.clone()).map_err(|e| e.to_string())?.trunc() as i64,
            )),
            (ValueKind::Bool, _) => Ok(Value::from(i64::from(v.is_true()))),
            (_, Some(t)) => t
                .trim()
                .replace('_', "")
                .parse::<i64>()
                .map(Value::from)
                .map_err(|e| e.to_string()),
            _ => Err("not a number".into()),
        },
        Kind::Float => match (v.kind(), text) {
            (ValueKind::Number | ValueKind::Bool, _) => f64::try_from(v.clone())
                .map(Value::from)
                .map_err(|e| e.to_string()),
            (_, Some(t)) => t
                .trim()
                .replace('_', "")
                .parse::<f64>()
                .map(Value::from)
                .map_err(|e| e.to_string()),
            _ => Err("not a number".into()),
        },
        Kind::Json => match text {
            Some(t) => serde_json::from_str::<Value>(t).map_err(|e| e.to_string()),
            None => Ok(v.clone()),
        },
        Kind::Yaml => match text {
            Some(t) => serde_yaml::from_str::<Value>(t).map_err(|e| e.to_string()),
            None => Ok(v.clone()),
        },
    }
}

fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Str => "str",
        Kind::Int => "int",
        Kind::Float => "float",
        Kind::Bool => "bool",
        Kind::Json => "json",
        Kind::Yaml => "yaml",
        Kind::Path => "path",
    }
}

/// Copier's `cast_to_bool`: a number is true unless zero; YAML's words for
/// true and false and null; otherwise Python's truth.
fn cast_to_bool(v: &Value) -> bool {
    if v.kind() == ValueKind::Number || v.kind() == ValueKind::Bool {
        return v.is_true();
    }
    if let Some(text) = v.as_str() {
        if let Ok(x) = text.trim().parse::<f64>() {
            return x != 0.0;
        }
        let lower = text.trim().to_lowercase();
        return match lower.as_str() {
            "" => false,
            "y" | "yes" | "t" | "true" | "on" => true,
            "n" | "no" | "f" | "false" | "off" | "~" | "null" | "none" => false,
            _ => true,
        };
    }
    v.is_true()
}

fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().starts_with(needle))
        .map(|i| i + 1)
}
