//! paved: a GitOps-native Internal Developer Platform that lives inside GitHub.

pub mod catalog;
pub mod clock;
pub mod config;
pub mod github;
pub mod metrics;
pub mod platform;
pub mod queue;
pub mod sandbox;
pub mod scaffold;
pub mod secret;
pub mod server;
pub mod webhook;
pub mod yaml;
