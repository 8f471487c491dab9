//! Templates and scaffolds: loading and checking templates, resolving
//! parameter values, escaping, and rendering a service's files in memory.

mod adopt;
pub mod base;
pub mod escape;
pub mod foreign;
mod params;
pub mod publish;
mod render;
mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use params::{MAX_VALUE_BYTES, ParamError, Values, is_dns_label, resolve};
pub use render::{RenderError, Rendered, RenderedFile, render, render_service};
pub use template::{
    COMMON_PARAMS, DEFAULT_PORT, MANIFESTS, Param, ParamType, Template, TemplateError,
    is_relative_folder,
};

/// Where the templates come from: a folder, or the ones built into paved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    Folder(PathBuf),
    BuiltIn,
}

impl TemplateSource {
    /// The folder `dir` if one is named, else `./templates` when there is
    /// such a folder, else the built-in templates.
    pub fn named(dir: Option<PathBuf>) -> Self {
        if let Some(dir) = dir {
            return Self::Folder(dir);
        }
        let local = PathBuf::from("templates");
        if local.is_dir() {
            Self::Folder(local)
        } else {
            Self::BuiltIn
        }
    }

    pub fn load(&self) -> Result<Templates, Vec<TemplateError>> {
        match self {
            Self::Folder(dir) => Templates::load(dir),
            Self::BuiltIn => Templates::builtin(),
        }
    }

    /// Only the template `name` (all of them when built in: they are few).
    pub fn load_one(&self, name: &str) -> Result<Templates, Vec<TemplateError>> {
        match self {
            Self::Folder(dir) => Templates::load_one(dir, name),
            Self::BuiltIn => Templates::builtin(),
        }
    }
}

impl std::fmt::Display for TemplateSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Folder(dir) => write!(f, "{}", dir.display()),
            Self::BuiltIn => f.write_str("the built-in templates"),
        }
    }
}

/// Every template in a directory, by name.
#[derive(Debug)]
pub struct Templates {
    by_name: BTreeMap<String, Template>,
}

impl Templates {
    /// Loads every template under `dir` (a folder with a `template.yaml`, a
    /// `cookiecutter.json` or a `copier.yml`); all problems in all templates
    /// are reported together.
    pub fn load(dir: &Path) -> Result<Self, Vec<TemplateError>> {
        let fail = |message: String| {
            vec![TemplateError {
                file: dir.to_owned(),
                line: None,
                message,
            }]
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| fail(format!("cannot read the templates directory: {e}")))?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| is_template_dir(p))
            .collect();
        dirs.sort();
        let loaded: Vec<_> = dirs.iter().map(|d| load_folder(d)).collect();
        Self::gather(loaded).map_err(|e| {
            e.unwrap_or_else(|| {
                fail("no templates here (each is a folder with a template.yaml, a cookiecutter.json or a copier.yml)".into())
            })
        })
    }

    /// Loads only the template `name` under `dir`: what `paved render` needs.
    pub fn load_one(dir: &Path, name: &str) -> Result<Self, Vec<TemplateError>> {
        let folder = dir.join(name);
        if name.contains(['/', '\\']) || name.starts_with('.') || !is_template_dir(&folder) {
            return Err(vec![TemplateError {
                file: dir.to_owned(),
                line: None,
                message: format!("there is no template {name:?} here"),
            }]);
        }
        Self::gather(vec![load_folder(&folder)]).map_err(Option::unwrap_or_default)
    }

    /// The templates built into paved (the workspace's `templates/`).
    pub fn builtin() -> Result<Self, Vec<TemplateError>> {
        let mut folders: BTreeMap<&str, template::Files> = BTreeMap::new();
        for (path, bytes, executable) in crate::builtin::TEMPLATES {
            if let Some((folder, rel)) = path.split_once('/') {
                let files = folders.entry(folder).or_default();
                files.insert(rel.to_owned(), (bytes.to_vec(), *executable));
            }
        }
        let origin = Path::new("<built-in>");
        let loaded: Vec<_> = folders
            .iter()
            .map(|(folder, files)| template::from_files(folder, &origin.join(folder), files))
            .collect();
        Self::gather(loaded).map_err(Option::unwrap_or_default)
    }

    /// The templates loaded, or every problem found (`None` when there were
    /// no templates at all).
    fn gather(
        loaded: Vec<Result<Template, Vec<TemplateError>>>,
    ) -> Result<Self, Option<Vec<TemplateError>>> {
        let mut by_name = BTreeMap::new();
        let mut errors = Vec::new();
        for result in loaded {
            match result {
                Ok(t) => {
                    by_name.insert(t.name.clone(), t);
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        match (by_name.is_empty(), errors.is_empty()) {
            (true, true) => Err(None),
            (_, true) => Ok(Self { by_name }),
            _ => Err(Some(errors)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Template> {
        self.by_name.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Template> {
        self.by_name.values()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

/// A folder holding a template of paved's own or of Cookiecutter or Copier.
fn is_template_dir(dir: &Path) -> bool {
    [
        "template.yaml",
        "cookiecutter.json",
        "copier.yml",
        "copier.yaml",
    ]
    .iter()
    .any(|f| dir.join(f).is_file())
}

/// The template in `dir`: paved's own when it has a `template.yaml`,
/// else adopted from Cookiecutter or Copier with its sidecar.
fn load_folder(dir: &Path) -> Result<Template, Vec<TemplateError>> {
    if dir.join("template.yaml").is_file() {
        return template::load(dir);
    }
    let files = template::read_folder(dir).map_err(|e| {
        vec![TemplateError {
            file: dir.to_owned(),
            line: None,
            message: e.to_string(),
        }]
    })?;
    let sidecar = std::fs::read_to_string(adopt::sidecar_path(dir)).ok();
    adopt::load(dir, files, sidecar)
}

/// An error and its sources, on one line: Tera puts the useful part (file,
/// line, what was expected) in the sources.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
