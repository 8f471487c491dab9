//! Cookiecutter 2.x templates: `cookiecutter.json` and the one
//! `{{cookiecutter.…}}` folder, rendered as `cookiecutter --no-input` renders
//! them (Cookiecutter 2.7.1's prompt, generate and hooks modules are the
//! reference).

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::Environment;
use minijinja::value::{Value, ValueKind};
use regex::Regex;

use super::jinja::{self, Flavor, Options};
use super::{Failure, Given, Output, Source, Variable, is_binary, pattern};
use crate::scaffold::RenderedFile;
use crate::scaffold::template::Files;

const CONFIG: &str = "cookiecutter.json";
/// cruft's record of the template a project came from.
const CRUFT: &str = ".cruft.json";
/// The extensions Cookiecutter always loads; any other is Python code.
const DEFAULT_EXTENSIONS: [&str; 5] = [
    "cookiecutter.extensions.JsonifyExtension",
    "cookiecutter.extensions.RandomStringExtension",
    "cookiecutter.extensions.SlugifyExtension",
    "cookiecutter.extensions.TimeExtension",
    "cookiecutter.extensions.UUIDExtension",
];
/// The hooks Cookiecutter runs around generation.
const HOOKS: [&str; 3] = ["pre_prompt", "pre_gen_project", "post_gen_project"];

/// A loaded Cookiecutter template.
#[derive(Debug)]
pub struct Spec {
    /// `cookiecutter.json` in its order, without `__prompts__`.
    context: Vec<(String, Value)>,
    prompts: BTreeMap<String, String>,
    /// The project folder's (unrendered) name.
    project_dir: String,
    copy_without_render: Vec<Regex>,
    options: Options,
    new_lines: Option<String>,
    /// Hook scripts, by path in the template folder.
    pub hooks: Vec<String>,
}

pub fn is_template(files: &Files) -> bool {
    files.contains_key(CONFIG)
}

pub fn load(source: &Source) -> Result<Spec, Failure> {
    let text = source.text(CONFIG)?;
    let config: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::at(CONFIG, Some(e.line()), format!("not valid JSON: {e}")))?;
    if config.kind() != ValueKind::Map {
        return Err(Failure::at(CONFIG, None, "must be a JSON object".into()));
    }
    let mut context = Vec::new();
    let mut prompts = BTreeMap::new();
    for key in config
        .try_iter()
        .map_err(|e| Failure::at(CONFIG, None, e.to_string()))?
    {
        let name = key.as_str().unwrap_or_default().to_owned();
        let value = config.get_item(&key).unwrap_or_default();
        if name == "__prompts__" {
            prompts = prompt_texts(&value);
            continue;
        }
        refuse_unsupported(&name, &value, &text)?;
        context.push((name, value));
    }
    let lookup = |key: &str| {
        context
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let copy_without_render = strings(lookup("_copy_without_render"))
        .iter()
        .map(|p| {
            pattern::fnmatch(p)
                .map_err(|e| Failure::at(CONFIG, line_of(&text, "_copy_without_render"), e))
        })
        .collect::<Result<_, _>>()?;
    let (options, new_lines) = options(lookup("_jinja2_env_vars"), lookup("_new_lines"), &text)?;
    let project_dir = project_dir(source)?;
    let hooks = source
        .files
        .keys()
        .filter(|path| {
            path.strip_prefix("hooks/")
                .and_then(|name| name.split_once('.'))
                .is_some_and(|(stem, ext)| HOOKS.contains(&stem) && !ext.ends_with('~'))
        })
        .cloned()
        .collect();
    let spec = Spec {
        context,
        prompts,
        project_dir,
        copy_without_render,
        options,
        new_lines,
        hooks,
    };
    spec.check_syntax(source)?;
    Ok(spec)
}

/// Keys whose meaning is Python code or a feature paved does not carry.
fn refuse_unsupported(name: &str, value: &Value, text: &str) -> Result<(), Failure> {
    let line = line_of(text, &format!("\"{name}\""));
    match name {
        "_extensions" => {
            let foreign: Vec<String> = strings(Some(value.clone()))
                .into_iter()
                .filter(|e| !DEFAULT_EXTENSIONS.contains(&e.as_str()))
                .collect();
            if foreign.is_empty() {
                Ok(())
            } else {
                Err(Failure::at(
                    CONFIG,
                    line,
                    format!(
                        "_extensions loads Python code ({}); paved renders in process and does not run it",
                        foreign.join(", ")
                    ),
                ))
            }
        }
        "template" | "templates" => Err(Failure::at(
            CONFIG,
            line,
            "nested templates (a `templates` key) are not supported: make each its own template"
                .into(),
        )),
        _ => Ok(()),
    }
}

fn prompt_texts(value: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for key in value.try_iter().into_iter().flatten() {
        let item = value.get_item(&key).unwrap_or_default();
        let text = match item.kind() {
            ValueKind::Map => item.get_attr("__prompt__").unwrap_or_default().to_string(),
            _ => item.to_string(),
        };
        out.insert(key.to_string(), text);
    }
    out
}

/// `_jinja2_env_vars` (the Jinja options a template may set) and `_new_lines`.
fn options(
    env_vars: Option<Value>,
    new_lines: Option<Value>,
    text: &str,
) -> Result<(Options, Option<String>), Failure> {
    let mut options = Options {
        strict: true,
        trim_blocks: false,
        lstrip_blocks: false,
        keep_trailing_newline: true,
    };
    if let Some(vars) = env_vars {
        for key in vars.try_iter().into_iter().flatten() {
            let on = vars.get_item(&key).is_ok_and(|v| v.is_true());
            match key.as_str().unwrap_or_default() {
                "trim_blocks" => options.trim_blocks = on,
                "lstrip_blocks" => options.lstrip_blocks = on,
                "keep_trailing_newline" => options.keep_trailing_newline = on,
                other => {
                    return Err(Failure::at(
                        CONFIG,
                        line_of(text, "_jinja2_env_vars"),
                        format!(
                            "_jinja2_env_vars.{other} is not supported (trim_blocks, lstrip_blocks and keep_trailing_newline are)"
                        ),
                    ));
                }
            }
        }
    }
    let new_lines = new_lines
        .and_then(|v| v.as_str().map(str::to_owned))
        .filter(|s| !s.is_empty());
    Ok((options, new_lines))
}

/// The one top-level folder whose name holds `cookiecutter` inside `{{ }}`.
fn project_dir(source: &Source) -> Result<String, Failure> {
    let mut found: Vec<&str> = source
        .files
        .keys()
        .filter_map(|path| path.split_once('/').map(|(dir, _)| dir))
        .filter(|dir| dir.contains("cookiecutter") && dir.contains("{{") && dir.contains("}}"))
        .collect();
    found.dedup();
    match found.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err(Failure::at(
            "",
            None,
            "has no project folder: Cookiecutter needs one top-level folder named like {{cookiecutter.project_slug}}".into(),
        )),
        many => Err(Failure::at(
            "",
            None,
            format!("has {} project folders ({}); Cookiecutter would pick one at random", many.len(), many.join(", ")),
        )),
    }
}

impl Spec {
    pub fn variables(&self) -> Vec<Variable> {
        self.context
            .iter()
            .filter(|(name, _)| !name.starts_with('_'))
            .map(|(name, raw)| {
                let (choices, default) = match raw.kind() {
                    ValueKind::Seq => {
                        let all: Vec<String> = raw
                            .try_iter()
                            .into_iter()
                            .flatten()
                            .map(|v| v.to_string())
                            .collect();
                        (all.clone(), all.first().cloned().unwrap_or_default())
                    }
                    _ => (Vec::new(), raw.to_string()),
                };
                Variable {
                    name: name.clone(),
                    help: self.prompts.get(name).cloned().unwrap_or_default(),
                    kind: kind_name(raw),
                    default,
                    choices,
                }
            })
            .collect()
    }

    fn environment(&self, source: &Source) -> Environment<'static> {
        let mut sources = jinja::Sources::new();
        let prefix = format!("{}/", self.project_dir);
        for (path, (bytes, _)) in source.files.iter() {
            let name = path
                .strip_prefix(&prefix)
                .or_else(|| path.strip_prefix("templates/"));
            if let (Some(name), Ok(text)) = (name, std::str::from_utf8(bytes)) {
                sources
                    .entry(name.to_owned())
                    .or_insert_with(|| jinja::prepare(Flavor::Cookiecutter, text));
            }
        }
        jinja::environment(Flavor::Cookiecutter, self.options, Arc::new(sources))
    }

    /// Every text file and path of the project folder compiles: syntax
    /// errors are found when the template is loaded, with their line.
    fn check_syntax(&self, source: &Source) -> Result<(), Failure> {
        let env = self.environment(source);
        for (path, (bytes, _)) in source.files.iter() {
            let in_project = path.starts_with(&format!("{}/", self.project_dir));
            let is_hook = self.hooks.contains(path);
            if !(in_project || is_hook) {
                continue;
            }
            super::compiles(&env, Flavor::Cookiecutter, path, path)?;
            let copied = path
                .strip_prefix(&format!("{}/", self.project_dir))
                .is_some_and(|rel| self.copy_only(rel));
            if !copied
                && !is_binary(path, bytes)
                && let Ok(text) = std::str::from_utf8(bytes)
            {
                super::compiles(&env, Flavor::Cookiecutter, path, text)?;
            }
        }
        Ok(())
    }

    /// The `cookiecutter` dict as `prompt_for_config` builds it with no
    /// input, `given` standing for the extra context.
    fn answers(
        &self,
        env: &Environment<'static>,
        given: &Given,
    ) -> Result<Vec<(String, Value)>, Failure> {
        let mut done: Vec<(String, Value)> = Vec::new();
        let context = |done: &[(String, Value)]| {
            minijinja::context! { cookiecutter => Value::from_pairs(done.iter().cloned()) }
        };
        let failed = |name: &str, e: minijinja::Error| {
            Failure::render(CONFIG, format!("variable {name}: {}", super::describe(&e)))
        };
        // First every variable but dicts, which may refer to any of them.
        for (name, raw) in &self.context {
            if name.starts_with('_') && !name.starts_with("__") {
                done.push((name.clone(), raw.clone()));
                continue;
            }
            let raw = match given.get(name) {
                Some(value) => overwrite(name, raw, value)?,
                None => raw.clone(),
            };
            let value = match raw.kind() {
                _ if name.starts_with("__") => render_variable(env, &raw, &context(&done)),
                ValueKind::Map => continue,
                // A choice: every option is rendered, the first is taken.
                ValueKind::Seq => render_variable(env, &raw, &context(&done))
                    .map(|options| options.get_item_by_index(0).unwrap_or_default()),
                _ => render_variable(env, &raw, &context(&done)),
            }
            .map_err(|e| failed(name, e))?;
            set(&mut done, name, value);
        }
        for (name, raw) in &self.context {
            let private = name.starts_with('_') && !name.starts_with("__");
            if raw.kind() == ValueKind::Map && !private {
                let value =
                    render_variable(env, raw, &context(&done)).map_err(|e| failed(name, e))?;
                set(&mut done, name, value);
            }
        }
        // The dict keeps cookiecutter.json's order.
        let position = |key: &str| self.context.iter().position(|(k, _)| k == key);
        done.sort_by_key(|(k, _)| position(k));
        Ok(done)
    }

    /// Renders the project folder, as `generate_files` writes it.
    pub fn render(&self, source: &Source, given: &Given, out_dir: &str) -> Result<Output, Failure> {
        let env = self.environment(source);
        let mut answers = self.answers(&env, given)?;
        let folder = source.origin.display().to_string();
        for (key, value) in [
            ("_template", Value::from(folder.clone())),
            ("_output_dir", Value::from(parent_of(out_dir))),
            ("_repo_dir", Value::from(folder)),
            ("_checkout", Value::from(())),
        ] {
            set(&mut answers, key, value);
        }
        let originals: Vec<(String, Value)> = self
            .context
            .iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .map(|(k, v)| {
                (
                    k.clone(),
                    given
                        .get(k)
                        .map_or_else(|| v.clone(), |g| Value::from(g.as_str())),
                )
            })
            .collect();
        let cookiecutter = Value::from_pairs(answers.iter().cloned());
        let context = minijinja::context! {
            cookiecutter => cookiecutter.clone(),
            _cookiecutter => Value::from_pairs(originals),
        };
        // Cookiecutter names its project folder first: a name that does not
        // render fails the whole render, before any file.
        render_string(&env, &self.project_dir, &context)
            .map_err(|e| Failure::render(&self.project_dir, super::describe(&e)))?;
        let mut output = Output {
            files: Vec::new(),
            record: Some(cruft_record(
                &source.origin.display().to_string(),
                &cookiecutter,
            )?),
            answers: cookiecutter,
        };
        let prefix = format!("{}/", self.project_dir);
        for (path, (bytes, executable)) in source.files.iter() {
            let Some(rel) = path.strip_prefix(&prefix) else {
                continue;
            };
            let copy_only = self.copy_only(rel);
            let target = render_string(&env, rel, &context)
                .map_err(|e| Failure::render(path, super::describe(&e)))?;
            // A name rendered empty is Cookiecutter's way to leave a file out.
            if target.ends_with('/') || target.is_empty() {
                continue;
            }
            let contents = if copy_only || is_binary(rel, bytes) {
                bytes.clone()
            } else {
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| Failure::render(path, "is not UTF-8 text".into()))?;
                let template = env
                    .get_template(rel)
                    .map_err(|e| Failure::render(path, super::describe(&e)))?;
                let rendered = template
                    .render(&context)
                    .map_err(|e| Failure::render(path, super::describe(&e)))?;
                self.with_line_ends(text, rendered).into_bytes()
            };
            output.push(path, &target, contents, *executable)?;
        }
        Ok(output)
    }

    /// Cookiecutter writes a rendered file with the line end its first line
    /// had in the template (or `_new_lines`).
    fn with_line_ends(&self, source: &str, rendered: String) -> String {
        let first_end = source.find(['\r', '\n']).map(|i| {
            if source[i..].starts_with("\r\n") {
                "\r\n"
            } else if source[i..].starts_with('\r') {
                "\r"
            } else {
                "\n"
            }
        });
        match self.new_lines.as_deref().or(first_end) {
            Some(end) if end != "\n" => rendered.replace('\n', end),
            _ => rendered,
        }
    }

    /// `_copy_without_render`: a file, or any folder above it, matches.
    fn copy_only(&self, rel: &str) -> bool {
        let mut prefix = String::new();
        for part in rel.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if self
                .copy_without_render
                .iter()
                .any(|re| re.is_match(&prefix))
            {
                return true;
            }
        }
        false
    }

    /// The hook scripts, by path, each rendered as Cookiecutter renders it
    /// before running it.
    pub fn render_hooks(
        &self,
        source: &Source,
        answers: &Value,
    ) -> Result<Vec<(String, String)>, Failure> {
        let env = self.environment(source);
        let context = minijinja::context! { cookiecutter => answers.clone() };
        self.hooks
            .iter()
            .map(|path| {
                let text = source.text(path)?;
                render_string(&env, &text, &context)
                    .map(|script| (path.clone(), script))
                    .map_err(|e| Failure::render(path, super::describe(&e)))
            })
            .collect()
    }
}

/// `render_variable`: strings (and numbers, as their text) are templates;
/// lists and dicts are rendered item by item; None and booleans are kept.
fn render_variable(
    env: &Environment<'static>,
    raw: &Value,
    context: &Value,
) -> Result<Value, minijinja::Error> {
    match raw.kind() {
        ValueKind::None | ValueKind::Bool | ValueKind::Undefined => Ok(raw.clone()),
        ValueKind::Seq => raw
            .try_iter()?
            .map(|item| render_variable(env, &item, context))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::from),
        ValueKind::Map => {
            let mut pairs = Vec::new();
            for key in raw.try_iter()? {
                let value = raw.get_item(&key)?;
                pairs.push((
                    render_variable(env, &key, context)?,
                    render_variable(env, &value, context)?,
                ));
            }
            Ok(Value::from_pairs(pairs))
        }
        ValueKind::Number if !raw.is_integer() => {
            let text = super::python::float_repr(f64::try_from(raw.clone())?);
            render_string(env, &text, context).map(Value::from)
        }
        _ => render_string(env, &raw.to_string(), context).map(Value::from),
    }
}

fn render_string(
    env: &Environment<'static>,
    text: &str,
    context: &Value,
) -> Result<String, minijinja::Error> {
    env.render_str(&jinja::prepare(Flavor::Cookiecutter, text), context)
}

/// A given value in place of the template's (Cookiecutter's extra context):
/// a choice must be one of the choices and moves first; a boolean is read
/// as Cookiecutter reads yes and no.
fn overwrite(name: &str, raw: &Value, given: &str) -> Result<Value, Failure> {
    match raw.kind() {
        ValueKind::Seq => {
            let choices: Vec<Value> = raw.try_iter().into_iter().flatten().collect();
            if !choices.iter().any(|c| c.as_str() == Some(given)) {
                let all: Vec<String> = choices.iter().map(|c| c.to_string()).collect();
                return Err(Failure::value(
                    name,
                    format!("must be one of {}", all.join(", ")),
                ));
            }
            let mut ordered = vec![Value::from(given)];
            ordered.extend(choices.into_iter().filter(|c| c.as_str() != Some(given)));
            Ok(Value::from(ordered))
        }
        ValueKind::Bool => match given.trim().to_lowercase().as_str() {
            "1" | "true" | "t" | "yes" | "y" | "on" => Ok(Value::from(true)),
            "0" | "false" | "f" | "no" | "n" | "off" => Ok(Value::from(false)),
            _ => Err(Failure::value(name, "must be yes or no".into())),
        },
        ValueKind::Map => Err(Failure::value(
            name,
            "is a dict variable; paved takes its default".into(),
        )),
        _ => Ok(Value::from(given)),
    }
}

/// `.cruft.json` as cruft writes it, so `cruft update` can follow the
/// template from this repository: the template, no commit (paved renders
/// from a folder), and the context.
fn cruft_record(template: &str, cookiecutter: &Value) -> Result<RenderedFile, Failure> {
    let record = Value::from_pairs([
        ("template", Value::from(template)),
        ("commit", Value::from(())),
        ("checkout", Value::from(())),
        (
            "context",
            Value::from_pairs([("cookiecutter", cookiecutter.clone())]),
        ),
        ("directory", Value::from(())),
    ]);
    let style = super::python::JsonStyle {
        indent: Some(2),
        sort_keys: false,
    };
    let text = super::python::json_dumps(&record, style).map_err(|m| Failure::render(CRUFT, m))?;
    Ok(RenderedFile {
        path: CRUFT.into(),
        contents: format!("{text}\n").into_bytes(),
        executable: false,
    })
}

/// Cookiecutter's output folder is the one the project folder is made in.
fn parent_of(path: &str) -> String {
    match std::path::Path::new(path).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
        _ => ".".into(),
    }
}

fn set(pairs: &mut Vec<(String, Value)>, key: &str, value: Value) {
    match pairs.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => pairs.push((key.to_owned(), value)),
    }
}

fn kind_name(raw: &Value) -> &'static str {
    match raw.kind() {
        ValueKind::Bool => "boolean",
        ValueKind::Seq => "choice",
        ValueKind::Map => "dict",
        _ => "string",
    }
}

fn strings(value: Option<Value>) -> Vec<String> {
    value
        .and_then(|v| {
            v.try_iter()
                .ok()
                .map(|it| it.map(|s| s.to_string()).collect())
        })
        .unwrap_or_default()
}

fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}
