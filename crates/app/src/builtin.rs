//! What ships inside the binary, so that a `paved` copied anywhere (or run
//! in its container image) has it: the built-in templates and the sample
//! catalog, embedded at build time from the workspace's `templates/` and
//! `catalog/` by `build.rs`.

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The sample catalog's files: a new organisation's starting point, and
/// what `paved demo` and `paved sandbox` seed their catalog with.
pub fn sample_catalog() -> Vec<(String, Vec<u8>)> {
    CATALOG
        .iter()
        .map(|(path, bytes, _)| ((*path).to_owned(), bytes.to_vec()))
        .collect()
}
