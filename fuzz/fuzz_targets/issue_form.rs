//! Any issue body read as the new-service form: a request or problems.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paved_app::catalog::form::{self, Form};

fuzz_target!(|body: &str| {
    let _ = form::request(Form::new_service(), body);
});
