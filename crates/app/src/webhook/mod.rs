//! Webhook intake: signature verification, our own event types, the axum handler.

pub mod dedupe;
pub mod event;
pub mod handler;
pub mod inflight;
pub mod signature;
