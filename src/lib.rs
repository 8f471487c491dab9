//! paved: a GitOps-native Internal Developer Platform that lives inside GitHub.

pub mod sandbox;
pub mod secret;
pub mod webhook;
