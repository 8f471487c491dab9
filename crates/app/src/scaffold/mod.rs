//! Templates and scaffolds: loading and checking templates, resolving
//! parameter values, escaping, and rendering a service's files in memory.

pub mod escape;
mod params;
pub mod publish;
mod render;
mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use params::{MAX_VALUE_BYTES, ParamError, Values, is_dns_label, resolve};
pub use render::{RenderError, Rendered, RenderedFile, render};
pub use template::{COMMON_PARAMS, Param, ParamType, Template, TemplateError};

/// Every template in a directory, by name.
#[derive(Debug)]
pub struct Templates {
    by_name: BTreeMap<String, Template>,
}

impl Templates {
    /// Loads every `*/template.yaml` under `dir`; all problems in all
    /// templates are reported together.
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
            .filter(|p| p.join("template.yaml").is_file())
            .collect();
        dirs.sort();
        let mut by_name = BTreeMap::new();
        let mut errors = Vec::new();
        for d in dirs {
            match template::load(&d) {
                Ok(t) => {
                    by_name.insert(t.name.clone(), t);
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        if by_name.is_empty() && errors.is_empty() {
            errors = fail("no templates here (each is a folder with a template.yaml)".into());
        }
        if errors.is_empty() {
            Ok(Self { by_name })
        } else {
            Err(errors)
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

/// Where templates are read from when no `--templates` is given:
/// `PAVED_TEMPLATES`, else `./templates`, else the ones shipped with the source.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PAVED_TEMPLATES") {
        return dir.into();
    }
    let local = PathBuf::from("templates");
    if local.is_dir() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates")
    }
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
