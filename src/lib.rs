//! paved, the binary's library: the wiring of paved's GitHub App
//! (`paved-app`) to its sandbox (`paved-sandbox`) for `paved demo` and
//! `paved sandbox`, and the stage the end-to-end stories play on.

pub mod demo;
pub mod standalone;
