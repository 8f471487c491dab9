//! Any header against any body: only the right signature verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paved_app::secret::Secret;
use paved_app::webhook::signature::{sign, verify};

fuzz_target!(|data: &[u8]| {
    let split = data.len() / 2;
    let (header, body) = data.split_at(split);
    let secrets = [Secret::new("fuzz-secret")];
    let right = sign(&secrets[0], body);
    assert_eq!(verify(&secrets, body, Some(header)).is_ok(), header == right.as_bytes());
    assert!(verify(&secrets, body, Some(right.as_bytes())).is_ok());
});
