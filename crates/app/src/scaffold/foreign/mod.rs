//! Templates written for Cookiecutter or Copier, used unmodified: loaded
//! from the folder as the tool would read it, and rendered to the bytes the
//! tool itself writes. What needs Python in process (Jinja extensions) is
//! refused when the template is loaded; hooks and tasks run only for a
//! template the organisation trusts (see [`hooks`]).

mod cookiecutter;
mod copier;
pub mod hooks;
mod jinja;
mod pattern;
mod python;
mod pyyaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::Environment;
use minijinja::value::Value;

use super::render::{RenderError, RenderedFile};
use super::template::{Files, TemplateError};

/// Which tool a template was written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    Cookiecutter,
    Copier,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Self::Cookiecutter => "cookiecutter",
            Self::Copier => "copier",
        }
    }

    /// The tools a folder holds a template for (both, for some).
    pub fn detect(files: &Files) -> Vec<Tool> {
        let mut found = Vec::new();
        if cookiecutter::is_template(files) {
            found.push(Self::Cookiecutter);
        }
        if copier::is_template(files) {
            found.push(Self::Copier);
        }
        found
    }
}

/// Values given for a template's variables, by the template's own names.
pub type Given = BTreeMap<String, String>;

/// One variable a template asks for, as `paved templates` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub help: String,
    /// `string`, `boolean`, `choice`, …, in the tool's terms.
    pub kind: &'static str,
    /// The default as written (it may be a template over earlier variables).
    pub default: String,
    pub choices: Vec<String>,
}

/// A loaded Cookiecutter or Copier template.
#[derive(Debug)]
pub struct Foreign {
    pub tool: Tool,
    source: Source,
    spec: Spec,
}

#[derive(Debug)]
enum Spec {
    Cookiecutter(cookiecutter::Spec),
    Copier(copier::Spec),
}

/// What a render produced: the files (paths inside the project), the
/// answers the tool records,
/// and the tool's own answers file when the render did not write one
/// (`.cruft.json`, `.copier-answers.yml`): a service's repository gets it,
/// so a team can go on with cruft or copier by hand.
#[derive(Debug)]
pub struct Output {
    pub files: Vec<RenderedFile>,
    pub answers: Value,
    pub record: Option<RenderedFile>,
}

impl Foreign {
    /// Loads the template for `tool` from `files`, read from `origin`, which
    /// stands for the folder in errors and in what the tools record.
    pub fn load(tool: Tool, origin: &Path, files: Files) -> Result<Self, TemplateError> {
        let source = Source {
            origin: origin.to_owned(),
            files: Arc::new(files),
        };
        let spec = match tool {
            Tool::Cookiecutter => cookiecutter::load(&source).map(Spec::Cookiecutter),
            Tool::Copier => copier::load(&source).map(Spec::Copier),
        }
        .map_err(|f| f.into_template_error(origin))?;
        Ok(Self { tool, source, spec })
    }

    pub fn variables(&self) -> Vec<Variable> {
        match &self.spec {
            Spec::Cookiecutter(s) => s.variables(),
            Spec::Copier(s) => s.variables(),
        }
    }

    /// Whether an upgrade keeps `path` as the service has it (Copier's
    /// `_skip_if_exists`).
    pub fn keeps(&self, path: &str) -> bool {
        match &self.spec {
            Spec::Cookiecutter(_) => false,
            Spec::Copier(s) => s.keeps(path),
        }
    }

    /// What in the template runs code: its hook scripts or its `_tasks`.
    pub fn runs_code(&self) -> Vec<String> {
        match &self.spec {
            Spec::Cookiecutter(s) => s.hooks.clone(),
            Spec::Copier(s) if s.tasks.is_empty() => Vec::new(),
            Spec::Copier(s) => vec![format!("_tasks ({})", s.tasks.len())],
        }
    }

    /// Renders with `given` in place of defaults into files, as the tool
    /// writes them into `hooks.destination`. Hooks and tasks run only when
    /// `hooks` allows them.
    pub fn render(&self, given: &Given, hooks: &hooks::Hooks) -> Result<Output, RenderError> {
        let out_dir = hooks.destination.as_str();
        let code = self.runs_code();
        if !code.is_empty() && !hooks.trusted {
            // The folder's name, not its path: this may reach an issue.
            let name = self.source.origin.file_name().unwrap_or_default();
            return Err(RenderError::Untrusted {
                template: name.to_string_lossy().into_owned(),
                runs: code.join(", "),
            });
        }
        let output = match &self.spec {
            Spec::Cookiecutter(s) => s.render(&self.source, given, out_dir),
            Spec::Copier(s) => s.render(&self.source, given, out_dir),
        }
        .map_err(Failure::into_render_error)?;
        if code.is_empty() {
            return Ok(output);
        }
        match &self.spec {
            Spec::Cookiecutter(s) => {
                let scripts = s
                    .render_hooks(&self.source, &output.answers)
                    .map_err(Failure::into_render_error)?;
                hooks.run_cookiecutter(output, &scripts)
            }
            Spec::Copier(s) => {
                let commands = s
                    .commands(&self.source, &output.answers)
                    .map_err(Failure::into_render_error)?;
                hooks.run_copier(output, &commands)
            }
        }
    }
}

/// A template folder's files and where they were read from.
#[derive(Debug, Clone)]
struct Source {
    origin: PathBuf,
    files: Arc<Files>,
}

impl Source {
    fn text(&self, path: &str) -> Result<String, Failure> {
        let (bytes, _) = self
            .files
            .get(path)
            .ok_or_else(|| Failure::at(path, None, "is missing".into()))?;
        String::from_utf8(bytes.clone())
            .map_err(|_| Failure::at(path, None, "is not UTF-8 text".into()))
    }
}

/// Something wrong, found while loading or rendering, before it becomes a
/// [`TemplateError`] or a [`RenderError`].
#[derive(Debug)]
enum Failure {
    /// In the template: a file (inside the folder) and line.
    At {
        file: String,
        line: Option<usize>,
        message: String,
    },
    /// A render failed in a file.
    Render { file: String, message: String },
    /// A given value was refused.
    Value { name: String, message: String },
}

impl Failure {
    fn at(file: &str, line: Option<usize>, message: String) -> Self {
        Self::At {
            file: file.to_owned(),
            line,
            message,
        }
    }

    fn render(file: &str, message: String) -> Self {
        Self::Render {
            file: file.to_owned(),
            message,
        }
    }

    fn value(name: &str, message: String) -> Self {
        Self::Value {
            name: name.to_owned(),
            message,
        }
    }

    fn into_template_error(self, origin: &Path) -> TemplateError {
        let (file, line, message) = match self {
            Self::At {
                file,
                line,
                message,
            } => (file, line, message),
            Self::Render { file, message } => (file, None, message),
            Self::Value { name, message } => (String::new(), None, format!("{name}: {message}")),
        };
        TemplateError {
            file: if file.is_empty() {
                origin.to_owned()
            } else {
                origin.join(file)
            },
            line,
            message,
        }
    }

    fn into_render_error(self) -> RenderError {
        match self {
            Self::At {
                file,
                line,
                message,
            } => RenderError::Template {
                file: match line {
                    Some(line) => format!("{file}:{line}"),
                    None => file,
                },
                message,
            },
            Self::Render { file, message } => RenderError::Template { file, message },
            Self::Value { name, message } => RenderError::Value {
                param: name,
                problem: message,
            },
        }
    }
}

impl Output {
    /// Adds a file at `target` (rendered, relative), from `source` in the
    /// template; a path that would leave the folder or touch `.git` is refused.
    fn push(
        &mut self,
        source: &str,
        target: &str,
        contents: Vec<u8>,
        executable: bool,
    ) -> Result<(), Failure> {
        let parts: Vec<&str> = target
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        if target.starts_with('/')
            || parts
                .iter()
                .any(|p| *p == ".." || *p == ".git" || p.contains(['\\', '\0']))
        {
            return Err(Failure::render(
                source,
                format!("renders to {target:?}, outside the project"),
            ));
        }
        let path = parts.join("/");
        if self.files.iter().any(|f| f.path == path) {
            return Err(Failure::render(
                source,
                format!("renders to {path:?}, which another file also renders to"),
            ));
        }
        self.files.push(RenderedFile {
            path,
            contents,
            executable,
        });
        Ok(())
    }
}

/// Whether a file is copied as bytes rather than rendered: a binary file
/// type by its name, or content with NUL bytes or that is not UTF-8 (the
/// cases binaryornot, which Cookiecutter asks, calls binary).
fn is_binary(path: &str, bytes: &[u8]) -> bool {
    const BINARY: [&str; 48] = [
        "png", "jpg", "jpeg", "gif", "bmp", "ico", "icns", "webp", "tif", "tiff", "psd", "pdf",
        "zip", "gz", "tgz", "bz2", "xz", "7z", "rar", "tar", "jar", "war", "whl", "egg", "woff",
        "woff2", "ttf", "otf", "eot", "mp3", "mp4", "wav", "ogg", "flac", "avi", "mov", "webm",
        "exe", "dll", "so", "dylib", "o", "a", "pyc", "pyo", "class", "wasm", "db",
    ];
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    extension.is_some_and(|e| BINARY.contains(&e.as_str()))
        || bytes.iter().take(512).any(|b| *b == 0)
        || std::str::from_utf8(bytes).is_err()
}

/// `text` parses as a template of `flavor`; the error names the line.
fn compiles(
    env: &Environment<'static>,
    flavor: jinja::Flavor,
    file: &str,
    text: &str,
) -> Result<(), Failure> {
    let prepared = jinja::prepare(flavor, text);
    match env.template_from_str(&prepared) {
        Ok(_) => Ok(()),
        Err(e) => Err(Failure::at(file, e.line(), describe(&e))),
    }
}

/// A minijinja error on one line: what went wrong and where.
fn describe(e: &minijinja::Error) -> String {
    let mut text = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    if let (Some(name), Some(line)) = (e.name(), e.line())
        && name != "<string>"
    {
        text.push_str(&format!(" (in {name}:{line})"));
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
