//! Every escaping filter's output parses back to exactly its input, checked
//! by the real parsers: serde_yaml, serde_json, pulldown-cmark, and CPython
//! and Node.js for the Python and JavaScript literals.

use std::process::Command;

use paved_app::scaffold::escape;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Strings built to hurt: quotes, escapes, line breaks of every kind,
/// template and Markdown syntax, controls, astral and RTL characters.
fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "\"",
        "'",
        "\\",
        "\\n",
        "\n",
        "\r\n",
        "\r",
        "\t",
        "\u{0}",
        "\u{1b}",
        "\u{7f}",
        "\u{85}",
        "\u{2028}",
        "\u{2029}",
        "\u{feff}",
        "\u{202e}",
        "{{ name }}",
        "{% if x %}",
        "{#",
        "#",
        ": ",
        "- ",
        "---",
        "...",
        "&amp;",
        "<script>",
        "`",
        "```",
        "*",
        "_",
        "[a](b)",
        "![i](j)",
        "@org/team",
        "|",
        "~~",
        "1. ",
        "> ",
        "    ",
        "é",
        "🚀",
        "ß",
        "\u{10ffff}",
        "${x}",
        "</",
        "%",
        "=",
        "+",
    ]);
    prop::collection::vec(
        prop_oneof![pieces.prop_map(str::to_owned), any::<String>()],
        0..12,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn yaml_scalars_read_back(s in hostile()) {
        let back: String = serde_yaml::from_str(&escape::yaml(&s)).unwrap();
        prop_assert_eq!(&back, &s);
        let doc: std::collections::BTreeMap<String, String> =
            serde_yaml::from_str(&format!("a: {}\nb: x\n", escape::yaml(&s))).unwrap();
        prop_assert_eq!(&doc["a"], &s);
    }

    #[test]
    fn json_strings_read_back(s in hostile()) {
        let back: String = serde_json::from_str(&escape::json(&s)).unwrap();
        prop_assert_eq!(back, s);
    }

    #[test]
    fn markdown_renders_as_the_plain_text(s in hostile()) {
        let md = escape::md(&s);
        prop_assert!(!md.contains('\n'));
        let mut text = String::new();
        for event in Parser::new_ext(&md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
            match event {
                Event::Text(t) => text.push_str(&t),
                Event::Start(Tag::Paragraph) | Event::End(TagEnd::Paragraph) => {}
                other => prop_assert!(false, "{:?} from {:?}", other, md),
            }
        }
        prop_assert_eq!(text, folded(&s));
    }

    #[test]
    fn echoed_text_renders_as_itself_and_links_nothing(s in hostile()) {
        let inert = escape::inert(&s);
        prop_assert!(!inert.contains('\n'));
        let mut text = String::new();
        for event in Parser::new_ext(&inert, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
            match event {
                Event::Text(t) => {
                    // Outside code, nothing GitHub would link or notify.
                    if !s.contains('|') {
                        prop_assert!(!t.contains(['#', '@']) && !t.contains("://"), "{:?} from {:?}", t, inert);
                    }
                    text.push_str(&t);
                }
                Event::Code(c) => text.push_str(&c),
                Event::Start(Tag::Paragraph) | Event::End(TagEnd::Paragraph) => {}
                other => prop_assert!(false, "{:?} from {:?}", other, inert),
            }
        }
        prop_assert_eq!(text, folded(&s));
    }
}

#[test]
fn references_mentions_and_links_are_shown_as_code() {
    assert_eq!(
        escape::inert("see #123, @admin and https://x.io <b>"),
        "see `#123,` `@admin` and `https://x.io` &lt;b&gt;"
    );
    assert_eq!(escape::inert("a`#1`"), "`` a`#1` ``");
}

/// What `md` promises to show: line breaks as spaces, other controls dropped, trimmed.
fn folded(s: &str) -> String {
    let s = s.replace("\r\n", " ");
    let s: String = s
        .chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{b}' | '\u{c}' => Some(' '),
            c if c.is_control() && c != '\t' => None,
            c => Some(c),
        })
        .collect();
    s.trim().to_owned()
}

/// A deterministic batch of hostile strings for the interpreters.
fn batch() -> Vec<String> {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    (0..300)
        .map(|_| hostile().new_tree(&mut runner).unwrap().current())
        .collect()
}

/// Runs `program` and parses the JSON array it prints.
fn interpret(cmd: &str, args: &[&str], program: String) -> Option<Vec<String>> {
    let out = match Command::new(cmd).args(args).arg(&program).output() {
        Ok(o) => o,
        Err(_) => {
            eprintln!("skipped: {cmd} is not installed");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{cmd} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn python_literals_read_back_in_cpython() {
    let values = batch();
    let literals: Vec<String> = values.iter().map(|s| escape::py(s)).collect();
    let program = format!(
        "import json,sys\nvals=[{}]\nsys.stdout.write(json.dumps(vals))",
        literals.join(",\n")
    );
    if let Some(back) = interpret("python3", &["-c"], program) {
        assert_eq!(back, values);
    }
}

#[test]
fn javascript_literals_read_back_in_node() {
    let values = batch();
    let literals: Vec<String> = values.iter().map(|s| escape::js(s)).collect();
    let program = format!(
        "const vals=[{}];\nprocess.stdout.write(JSON.stringify(vals));",
        literals.join(",\n")
    );
    if let Some(back) = interpret("node", &["-e"], program) {
        assert_eq!(back, values);
    }
}
