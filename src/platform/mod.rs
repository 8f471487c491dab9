//! The platform repository: one Argo CD Application per environment of each
//! service, under `apps/`, deployed by the root app-of-apps.

mod application;
pub mod history;
mod writer;

pub use application::{AppSpec, FINALIZER, path};
pub use writer::{PlatformError, PlatformWriter, WriteMode, WriterConfig, Written};
