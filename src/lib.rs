//! paved: a GitOps-native Internal Developer Platform that lives inside GitHub.

pub mod secret;
pub mod webhook;
