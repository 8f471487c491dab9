//! Webhook intake: signature verification, our own event types, the axum handler.

pub mod signature;
