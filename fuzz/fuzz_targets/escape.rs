//! Any text through the YAML and JSON filters reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paved_app::scaffold::escape;

fuzz_target!(|text: &str| {
    let yaml: String = serde_yaml::from_str(&escape::yaml(text)).expect("YAML literal parses");
    assert_eq!(yaml, text);
    let json: String = serde_json::from_str(&escape::json(text)).expect("JSON literal parses");
    assert_eq!(json, text);
});
