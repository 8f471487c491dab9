//! Escaping filters, one per target syntax. Parameter values come from
//! strangers (issue text); every value that lands in a file goes through the
//! filter for that file's syntax, so it is always data, never code or markup.
//!
//! Each filter returns a complete literal (quotes included) except `md`,
//! which returns inline Markdown text.

use std::fmt::Write;

/// The filter names a template may end an expression with.
pub const FILTERS: [&str; 5] = ["yaml", "json", "py", "js", "md"];

/// A double-quoted YAML scalar. Anything outside YAML's printable set, and
/// the characters YAML 1.1 reads as line breaks, is written as an escape.
pub fn yaml(s: &str) -> String {
    quoted(s, |c, out| match c {
        '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => hex_escape(c, out),
        ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'.. => out.push(c),
        _ => hex_escape(c, out),
    })
}

/// A JSON string literal. The Unicode line separators JSON allows raw are
/// escaped too, so the literal is also safe where JSON is read as JavaScript.
pub fn json(s: &str) -> String {
    let out = serde_json::to_string(s).expect("a string always serializes");
    if out.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
        out.replace('\u{85}', "\\u0085")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    } else {
        out
    }
}

/// A Python string literal (double-quoted, no prefix).
pub fn py(s: &str) -> String {
    quoted(s, code_char)
}

/// A JavaScript string literal (double-quoted). U+2028 and U+2029 are
/// escaped because older engines end a line at them.
pub fn js(s: &str) -> String {
    quoted(s, code_char)
}

/// Inline Markdown that renders as exactly the given text: line breaks fold to
/// spaces, HTML is entity-encoded, and the characters that start links,
/// emphasis, code, mentions, tables or (at the start) blocks are escaped.
pub fn md(s: &str) -> String {
    escaped(fold_lines(s).trim())
}

/// Text from users as paved echoes it in comments on GitHub: [`md`], with
/// every word that GitHub would turn into a link or a notification (an
/// issue reference, a mention, a URL) in a code span, where GitHub links
/// nothing.
pub fn inert(s: &str) -> String {
    let folded = fold_lines(s);
    let mut out = String::with_capacity(folded.len() + 16);
    for (i, word) in folded.trim().split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if would_link(word) {
            out.push_str(&code_span(word));
        } else {
            out.push_str(&escaped(word));
        }
    }
    out
}

/// Words GitHub links: `#12`, `GH-12`, `owner/repo#12`, `@user`, URLs.
/// A word with `|` stays escaped instead, since a code span cannot hide a
/// pipe from a table.
fn would_link(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    !word.contains('|')
        && (word.contains(['#', '@'])
            || lower.contains("://")
            || lower.contains("www.")
            || lower.contains("gh-"))
}

/// `word` as a code span: fenced by one backtick more than its longest run,
/// padded when it starts or ends with one.
fn code_span(word: &str) -> String {
    let longest = word.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if word.starts_with('`') || word.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{word}{pad}{fence}")
}

/// The characters of `text` that Markdown would read as syntax, escaped.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (i, c) in text.char_indices() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '@' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '-' | '+' | '=' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            // "1." or "1)" at the start would open an ordered list.
            '.' | ')' if text[..i].bytes().all(|b| b.is_ascii_digit()) && i > 0 => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every kind of line break becomes one space, so a value cannot end a
/// Markdown paragraph or start a new block.
fn fold_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push(' ');
            }
            '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{b}' | '\u{c}' => out.push(' '),
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// `s` in double quotes, its quotes, backslashes and line breaks escaped as
/// YAML, JSON, Python and JavaScript all read them; `each` writes the rest.
pub(crate) fn quoted(s: &str, mut each: impl FnMut(char, &mut String)) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => each(c, &mut out),
        }
    }
    out.push('"');
    out
}

/// Python and JavaScript share the escapes we need: controls and the
/// Unicode line separators as `\xNN` / `\uNNNN`.
fn code_char(c: char, out: &mut String) {
    match c {
        '\u{2028}' | '\u{2029}' => hex_escape(c, out),
        c if c.is_control() => hex_escape(c, out),
        c => out.push(c),
    }
}

fn hex_escape(c: char, out: &mut String) {
    let n = c as u32;
    let _ = match n {
        0..=0xff => write!(out, "\\x{n:02x}"),
        0x100..=0xffff => write!(out, "\\u{n:04x}"),
        _ => write!(out, "\\U{n:08x}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backslashes() {
        let s = r#"say "hi" \ bye"#;
        assert_eq!(yaml(s), r#""say \"hi\" \\ bye""#);
        assert_eq!(py(s), r#""say \"hi\" \\ bye""#);
        assert_eq!(js(s), r#""say \"hi\" \\ bye""#);
        assert_eq!(json(s), r#""say \"hi\" \\ bye""#);
    }

    #[test]
    fn line_breaks_never_survive_raw() {
        let s = "a\nb\r\nc\u{2028}d\u{85}e";
        for out in [yaml(s), py(s), js(s), json(s), md(s)] {
            assert!(!out.contains(['\n', '\r', '\u{2028}', '\u{85}']), "{out:?}");
        }
        assert_eq!(md(s), "a b c d e");
        assert_eq!(yaml("\u{2028}\u{1}"), r#""\u2028\x01""#);
        assert_eq!(js("\u{2028}\u{7f}"), r#""\u2028\x7f""#);
    }

    #[test]
    fn markdown_is_inert() {
        assert_eq!(md("# Title"), r"\# Title");
        assert_eq!(md("1. item"), r"1\. item");
        assert_eq!(md("v1.2 is out"), "v1.2 is out");
        assert_eq!(md("<script>&"), "&lt;script&gt;&amp;");
        assert_eq!(
            md("[x](http://e) @team *b* `c`"),
            r"\[x\](http://e) \@team \*b\* \`c\`"
        );
        assert_eq!(md("  padded\n"), "padded");
    }
}
