//! The platform repository: one Argo CD Application per environment of each
//! service, under `apps/`, deployed by the root app-of-apps.

mod application;
pub mod history;
pub mod resource;
mod writer;

pub use application::{
    AppError, AppSpec, FINALIZER, NOTIFICATION_TRIGGERS, folder, image_of, is_tag, of_path, path,
};
pub use writer::{PlatformWriter, WriteMode, WriterConfig, Written};
