//! Any body under any event name: parsed or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paved_app::webhook::event::{EVENTS, parse};

fuzz_target!(|data: &[u8]| {
    if let Some((first, body)) = data.split_first() {
        let _ = parse(EVENTS[usize::from(*first) % EVENTS.len()], body);
    }
});
