//! The catalog repository: requests for services (issue forms and
//! `services/<name>.yaml`), the organisation's `paved.yaml`, and validation
//! of a request against templates and policy.

pub mod check;
pub mod form;
pub mod resources;
pub mod service_file;
pub mod settings;
mod validate;

use std::collections::BTreeMap;
use std::fmt;

pub use settings::{CatalogSettings, Environment, Requesters};
pub use validate::{ValidRequest, validate};

/// What a requester asked for, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceRequest {
    pub name: String,
    pub template: String,
    pub description: String,
    pub owner: String,
    /// Further template parameters, by name, as typed.
    pub parameters: BTreeMap<String, String>,
    /// Databases, caches and queues, as asked for.
    pub resources: Vec<resources::Ask>,
}

/// One thing wrong with a request, phrased for the person who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field it concerns, as the requester knows it.
    pub field: Option<String>,
    /// The line in a `services/*.yaml` file, for check-run annotations.
    pub line: Option<usize>,
    pub message: String,
}

impl Problem {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            line: None,
            message: message.into(),
        }
    }

    /// A problem with the request as a whole: no field, no line.
    pub fn general(message: impl Into<String>) -> Self {
        Self {
            field: None,
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}
