//! Any text read as `services/<name>.yaml`: a request or problems.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paved_app::catalog::service_file;

fuzz_target!(|text: &str| {
    let _ = service_file::parse("services/fuzz.yaml", text);
});
