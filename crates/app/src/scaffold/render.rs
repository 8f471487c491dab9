//! Rendering: a template and checked values become files in memory. Values
//! are data in Tera's context, never template source, so `{{ }}` in a
//! description is printed, not run.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use tera::{Context, Tera, Value};

use super::escape;
use super::foreign::hooks::Hooks;
use super::params::Values;
use super::template::{Engine, FileBody, SkeletonFile, Template, is_templated, path_template_name};

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Relative, `/`-separated, checked to stay inside the repository.
    pub path: String,
    pub contents: Vec<u8>,
    pub executable: bool,
}

/// A whole scaffold, sorted by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub files: Vec<RenderedFile>,
    /// A foreign template's own answers file, when the render did not write
    /// one: a service's repository gets it (see [`super::base::complete`]),
    /// `paved render` does not, as the tool would not.
    pub record: Option<RenderedFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("rendering {file}: {message}")]
    Template { file: String, message: String },
    #[error("{param}: {problem}")]
    Value { param: String, problem: String },
    #[error(
        "{template} runs code ({runs}); paved runs a template's hooks only when paved.yaml trusts it (templates.trusted)"
    )]
    Untrusted { template: String, runs: String },
    #[error("hook {hook} {output}")]
    Hook { hook: String, output: String },
    #[error("rendered path {0:?} would leave the repository or touch .git")]
    UnsafePath(String),
    #[error("{} is not empty; pass --force to write into it anyway", .0.display())]
    NotEmpty(PathBuf),
    #[error("writing {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub(super) fn register_filters(tera: &mut Tera) {
    fn filter(f: fn(&str) -> String) -> impl tera::Filter {
        move |value: &Value, _: &HashMap<String, Value>| Ok(Value::String(f(&text_of(value))))
    }
    tera.register_filter("yaml", filter(escape::yaml));
    tera.register_filter("json", filter(escape::json));
    tera.register_filter("py", filter(escape::py));
    tera.register_filter("js", filter(escape::js));
    tera.register_filter("md", filter(escape::md));
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Renders a template with `values` (from [`super::params::resolve`]);
/// `hooks` says whether a foreign template's code may run, and where.
pub fn render(
    template: &Template,
    values: &Values,
    hooks: &Hooks,
) -> Result<Rendered, RenderError> {
    match &template.engine {
        Engine::Native { files, tera } => render_native(tera, files, values),
        Engine::Foreign(foreign) => {
            let given = values
                .as_map()
                .iter()
                .map(|(k, v)| (k.clone(), text_of(v)))
                .collect();
            let output = foreign.render(&given, hooks)?;
            let mut files = output.files;
            files.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(Rendered {
                files,
                record: output.record,
            })
        }
    }
}

/// A service's repository as paved pushes it: [`render`], then
/// [`super::base::complete`] for `service`. Returns the render and the
/// service when paved's standard base was added.
pub fn render_service(
    template: &Template,
    values: &Values,
    hooks: &Hooks,
    service: &super::base::Service,
) -> Result<(Rendered, Option<super::base::Service>), RenderError> {
    let mut rendered = render(template, values, hooks)?;
    let base = super::base::complete(template, &mut rendered, Some(service));
    Ok((rendered, base))
}

/// paved's own format: every skeleton file through Tera.
fn render_native(
    tera: &Tera,
    skeleton: &[SkeletonFile],
    values: &Values,
) -> Result<Rendered, RenderError> {
    let mut context = Context::new();
    for (k, v) in values.as_map() {
        context.insert(k.as_str(), v);
    }
    let run = |name: &str| {
        tera.render(name, &context)
            .map_err(|e| RenderError::Template {
                file: name.trim_start_matches("path:").to_owned(),
                message: super::error_chain(&e),
            })
    };
    let mut files = Vec::with_capacity(skeleton.len());
    for file in skeleton {
        let path = if is_templated(&file.path) {
            run(&path_template_name(&file.path))?
        } else {
            file.path.clone()
        };
        if !safe_path(&path) {
            return Err(RenderError::UnsafePath(path));
        }
        let contents = match &file.body {
            FileBody::Text(name) => run(name)?.into_bytes(),
            FileBody::Binary(bytes) => bytes.clone(),
        };
        files.push(RenderedFile {
            path,
            contents,
            executable: file.executable,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Rendered {
        files,
        record: None,
    })
}

fn safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains(['\\', '\0'])
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(n) if n != ".git"))
}

impl Rendered {
    pub fn file(&self, path: &str) -> Option<&RenderedFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// Writes the files under `dir`, which must be missing or empty unless `force`.
    pub fn write_to(&self, dir: &Path, force: bool) -> Result<(), RenderError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| RenderError::Io { path, source }
        };
        if !force && std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
            return Err(RenderError::NotEmpty(dir.to_owned()));
        }
        for f in &self.files {
            let target = dir.join(&f.path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&target, &f.contents).map_err(io(&target))?;
            #[cfg(unix)]
            if f.executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
                    .map_err(io(&target))?;
            }
        }
        Ok(())
    }
}
