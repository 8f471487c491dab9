//! paved's GitHub App: a GitOps-native Internal Developer Platform that
//! lives inside GitHub. It knows GitHub only through its REST API and git.

pub mod builtin;
pub mod catalog;
pub mod clock;
pub mod commands;
pub mod config;
pub mod error;
pub mod git;
pub mod github;
pub mod kustomize;
pub mod listener;
pub mod metrics;
pub mod platform;
pub mod policy;
pub mod queue;
pub mod reconcile;
pub mod scaffold;
pub mod secret;
pub mod server;
pub mod setup;
pub mod status;
pub mod upgrade;
pub mod webhook;
pub mod yaml;
