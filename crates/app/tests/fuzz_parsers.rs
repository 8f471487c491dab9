//! Everything that reads untrusted input, fed arbitrary and mutated input:
//! it never panics, and large input finishes. (Bounded case counts; longer
//! runs: see BENCHMARKS.md for the cargo-fuzz style loop.)

mod common;

use paved_app::catalog::form::{self, Form};
use paved_app::catalog::service_file;
use paved_app::commands;
use paved_app::secret::Secret;
use paved_app::webhook::event::{EVENTS, parse};
use paved_app::webhook::signature::{sign, verify};
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A real delivery with a few bytes changed.
fn mutated() -> impl Strategy<Value = (String, Vec<u8>)> {
    let fixtures = [
        ("issues", "issues.opened.json"),
        ("issue_comment", "issue_comment.created.json"),
        ("pull_request", "pull_request.opened.json"),
        ("push", "push.json"),
        ("workflow_run", "workflow_run.completed.json"),
        ("installation", "installation.created.json"),
    ];
    (
        prop::sample::select(fixtures.to_vec()),
        prop::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    )
        .prop_map(|((event, file), flips)| {
            let mut body = common::fixture(file);
            for (at, byte) in flips {
                let i = at % body.len();
                body[i] = byte;
            }
            (event.to_owned(), body)
        })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn signatures_never_panic_and_only_the_right_one_verifies(body in prop::collection::vec(any::<u8>(), 0..512), header in prop::collection::vec(any::<u8>(), 0..100)) {
        let secret = Secret::new("s");
        let _ = verify(std::slice::from_ref(&secret), &body, Some(&header));
        prop_assert!(verify(std::slice::from_ref(&secret), &body, Some(sign(&secret, &body).as_bytes())).is_ok());
        prop_assert!(verify(&[Secret::new("t")], &body, Some(sign(&secret, &body).as_bytes())).is_err());
    }

    #[test]
    fn event_parsing_never_panics_on_bytes(event in prop::sample::select([&EVENTS[..], &["star"]].concat()), body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(event, &body);
    }

    #[test]
    fn event_parsing_never_panics_on_mutated_deliveries((event, body) in mutated()) {
        let _ = parse(&event, &body);
    }

    #[test]
    fn issue_forms_never_panic(body in ".{0,2000}", headings in prop::collection::vec(prop::sample::select(vec!["### Service name\n", "### Template\n", "```\n", "- [X] x\n", "_No response_\n", "\r\n"]), 0..12)) {
        let text = headings.concat() + &body;
        let _ = form::request(Form::new_service(), &text);
    }

    #[test]
    fn service_files_never_panic(text in ".{0,2000}") {
        let _ = service_file::parse("services/x.yaml", &text);
    }

    #[test]
    fn commands_never_panic(text in ".{0,1000}") {
        let _ = commands::parse(&text);
        let _ = commands::parse(&format!("/paved {text}"));
    }
}

#[test]
fn large_inputs_finish() {
    let mega = "a".repeat(1 << 20);
    let _ = parse(
        "issues",
        format!("{{\"action\":\"opened\",\"x\":\"{mega}\"}}").as_bytes(),
    );
    let _ = form::request(Form::new_service(), &format!("### Service name\n\n{mega}"));
    let _ = service_file::parse("services/x.yaml", &mega);
    assert!(commands::parse(&format!("/paved {mega}")).len() == 1);
    let nested = "[".repeat(100_000);
    assert!(
        parse("issues", nested.as_bytes()).is_err(),
        "deep nesting is refused, not a stack overflow"
    );
}

proptest! {
    #![proptest_config(config(24))]

    /// Whatever a requester writes, the status comment paved sends (fitted at
    /// the client's edge) is within GitHub's 65,536-character limit.
    #[test]
    fn no_body_paved_sends_exceeds_githubs_limit(
        piece in "[ -~äé€😀|#@<>`\\n]{0,64}",
        repeat in 1usize..1_500,
        problems in 1usize..60,
    ) {
        use paved_app::github::limits::{BODY_MAX, fit};
        let value = piece.repeat(repeat);
        let status = paved_app::status::Status::Invalid {
            problems: (0..problems)
                .map(|i| paved_app::catalog::Problem::new("name", format!("{value:?} #{i}")))
                .collect(),
        };
        let body = status.render();
        let sent = fit(&body, BODY_MAX);
        prop_assert!(sent.chars().count() <= BODY_MAX && sent.len() <= BODY_MAX);
        if body.len() <= BODY_MAX {
            prop_assert_eq!(sent.as_ref(), body.as_str());
        } else {
            prop_assert!(sent.contains("paved cut this text here"));
        }
    }
}
