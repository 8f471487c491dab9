//! Any body under any event name: parsed or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paved::webhook::event::parse;

const EVENTS: [&str; 8] = [
    "ping",
    "issues",
    "issue_comment",
    "pull_request",
    "push",
    "workflow_run",
    "installation",
    "installation_repositories",
];

fuzz_target!(|data: &[u8]| {
    if let Some((first, body)) = data.split_first() {
        let _ = parse(EVENTS[usize::from(*first) % EVENTS.len()], body);
    }
});
