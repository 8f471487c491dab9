//! Any comment read for `/paved` commands: parsed or answered with help.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paved_app::commands;

fuzz_target!(|comment: &str| {
    let _ = commands::parse(comment);
});
