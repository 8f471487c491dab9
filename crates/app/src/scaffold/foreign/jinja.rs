//! The Jinja environment a Cookiecutter or Copier template renders in:
//! minijinja set up as each tool sets up Jinja2, with the filters and tags
//! each tool adds by default. What a tool loads as Python code is not here;
//! templates that need it are refused when they are loaded.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};
use regex::Regex;

use super::python::{self, JsonStyle};
use super::pyyaml;

/// The work one render may do (minijinja's instructions): far above what any
/// real template needs, and a stop for one that loops forever.
const FUEL: u64 = 50_000_000;

/// Which tool's Jinja to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Cookiecutter,
    Copier,
}

/// The Jinja options a template may set (`_jinja2_env_vars`, `_envops`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub strict: bool,
    pub trim_blocks: bool,
    pub lstrip_blocks: bool,
    pub keep_trailing_newline: bool,
}

/// Template sources by the name `{% include %}` and `{% extends %}` use,
/// already [`prepare`]d.
pub type Sources = BTreeMap<String, String>;

/// An environment whose loader reads `sources`.
pub fn environment(
    flavor: Flavor,
    options: Options,
    sources: Arc<Sources>,
) -> Environment<'static> {
    let mut env = Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(options.keep_trailing_newline)
        .trim_blocks(options.trim_blocks)
        .lstrip_blocks(options.lstrip_blocks)
        .build()
        .expect("the default delimiters are valid");
    env.set_syntax(syntax);
    env.set_undefined_behavior(if options.strict {
        UndefinedBehavior::Strict
    } else {
        UndefinedBehavior::Lenient
    });
    env.set_fuel(Some(FUEL));
    // Jinja2 as both tools set it up escapes nothing; minijinja would escape
    // `.json` and `.html` files by their name.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // A float prints as Python prints it (`1e+20`, not minijinja's digits).
    env.set_formatter(|out, state, value| {
        if value.kind() == ValueKind::Number
            && !value.is_integer()
            && let Ok(x) = f64::try_from(value.clone())
        {
            return out.write_str(&python::float_repr(x)).map_err(Error::from);
        }
        minijinja::escape_formatter(out, state, value)
    });
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.set_loader(move |name| Ok(sources.get(name).cloned()));
    match flavor {
        Flavor::Cookiecutter => cookiecutter_extensions(&mut env),
        Flavor::Copier => ansible_filters(&mut env),
    }
    env
}

/// Template text as Jinja2 reads it: line breaks as `\n` (Jinja2's lexer
/// turns `\r\n` and `\r` into its newline sequence), and, for Cookiecutter,
/// `{% now %}` (the jinja2-time tag) as a call, since minijinja takes no new
/// tags.
pub fn prepare(flavor: Flavor, text: &str) -> String {
    let text = if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text.to_owned()
    };
    if flavor == Flavor::Cookiecutter && text.contains("now") {
        NOW_TAG
            .replace_all(&text, "{{$open __paved_now($args) $close}}")
            .into_owned()
    } else {
        text
    }
}

static NOW_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{%(?P<open>[-+]?)\s*now\s+(?P<args>.*?)\s*(?P<close>[-+]?)%\}")
        .expect("valid regex")
});

/// Cookiecutter's default extensions: jsonify, slugify, random_ascii_string,
/// uuid4 and jinja2-time's `now`.
fn cookiecutter_extensions(env: &mut Environment<'static>) {
    env.add_filter("jsonify", |value: Value, indent: Option<usize>| {
        let style = JsonStyle {
            indent: Some(indent.unwrap_or(4)),
            sort_keys: true,
        };
        python::json_dumps(&value, style).map_err(invalid)
    });
    env.add_filter("slugify", slugify);
    env.add_function("random_ascii_string", random_ascii_string);
    env.add_function("uuid4", uuid4);
    env.add_function("__paved_now", now);
}

/// python-slugify's result for ASCII text: lowercase words joined by `-`.
/// Text outside ASCII is refused: python-slugify transliterates it with
/// tables paved does not carry, and a different slug would be wrong output.
fn slugify(value: String) -> Result<String, Error> {
    if !value.is_ascii() {
        return Err(invalid(format!(
            "slugify of {value:?}: only ASCII text can be slugified here"
        )));
    }
    let lower = value.to_ascii_lowercase().replace('\'', "");
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    Ok(words.join("-"))
}

fn random_ascii_string(length: usize, kwargs: Kwargs) -> Result<String, Error> {
    let punctuation: bool = kwargs.get::<Option<bool>>("punctuation")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    if length > 4096 {
        return Err(invalid(format!(
            "random_ascii_string({length}): at most 4096"
        )));
    }
    let mut alphabet: Vec<u8> = (b'a'..=b'z').chain(b'A'..=b'Z').collect();
    if punctuation {
        alphabet.extend(b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
    }
    let bytes = random_bytes(length);
    Ok(bytes
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect())
}

fn uuid4() -> String {
    let mut b = random_bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Bytes from the operating system's generator.
fn random_bytes(n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut bytes = vec![0; n];
    if let Ok(mut urandom) = std::fs::File::open("/dev/urandom") {
        let _ = urandom.read_exact(&mut bytes);
    }
    bytes
}

/// `{% now 'utc' %}`, `{% now 'local', '%Y' %}`: the time in that zone,
/// formatted as `strftime` would (jinja2-time's default is `%Y-%m-%d`).
fn now(zone: String, format: Option<String>) -> Result<String, Error> {
    let format = format.unwrap_or_else(|| "%Y-%m-%d".into());
    let items: Vec<chrono::format::Item> = chrono::format::StrftimeItems::new(&format).collect();
    if items.contains(&chrono::format::Item::Error) {
        return Err(invalid(format!("now: {format:?} is not a strftime format")));
    }
    match zone.as_str() {
        "utc" => Ok(chrono::Utc::now()
            .format_with_items(items.into_iter())
            .to_string()),
        "local" => Ok(chrono::Local::now()
            .format_with_items(items.into_iter())
            .to_string()),
        other => Err(invalid(format!(
            "now {other:?}: only 'utc' and 'local' are supported, without offsets"
        ))),
    }
}

/// The filters of jinja2-ansible-filters that Copier templates use most.
fn ansible_filters(env: &mut Environment<'static>) {
    env.add_filter("to_json", |value: Value, kwargs: Kwargs| {
        let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
        let indent = kwargs.get::<Option<usize>>("indent")?;
        kwargs.assert_all_used()?;
        python::json_dumps(&value, JsonStyle { indent, sort_keys }).map_err(invalid)
    });
    env.add_filter("to_nice_json", |value: Value, indent: Option<usize>| {
        let style = JsonStyle {
            indent: Some(indent.unwrap_or(4)),
            sort_keys: true,
        };
        python::json_dumps(&value, style).map_err(invalid)
    });
    env.add_filter("to_yaml", |value: Value| {
        let style = pyyaml::Style {
            indent: 2,
            flow: pyyaml::Flow::Leaves,
        };
        pyyaml::dump(&value, &style).map_err(|e| invalid(e.to_string()))
    });
    env.add_filter("to_nice_yaml", |value: Value, indent: Option<usize>| {
        let style = pyyaml::Style {
            indent: indent.unwrap_or(4),
            flow: pyyaml::Flow::Block,
        };
        pyyaml::dump(&value, &style).map_err(|e| invalid(e.to_string()))
    });
    env.add_filter("bool", to_bool);
    env.add_filter(
        "ternary",
        |value: Value, yes: Value, no: Value| {
            if value.is_true() { yes } else { no }
        },
    );
    env.add_filter("b64encode", |value: String| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(value)
    });
    env.add_filter("b64decode", |value: String| {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|e| invalid(format!("b64decode: {e}")))?;
        String::from_utf8(bytes).map_err(|_| invalid("b64decode: the result is not UTF-8"))
    });
    env.add_filter("basename", |value: String| {
        value.rsplit('/').next().unwrap_or_default().to_owned()
    });
    env.add_filter("dirname", |value: String| match value.rfind('/') {
        Some(0) => "/".to_owned(),
        Some(i) => value[..i].trim_end_matches('/').to_owned(),
        None => String::new(),
    });
    env.add_filter("quote", shell_quote);
    env.add_filter("regex_replace", regex_replace);
    env.add_function("pathjoin", |parts: Rest<String>| pathjoin(&parts));
}

/// Ansible's `bool`: `yes`, `on`, `1` and `true` (any case) are true.
fn to_bool(value: Value) -> Value {
    match value.kind() {
        ValueKind::None | ValueKind::Bool => value,
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default().to_lowercase();
            Value::from(matches!(text.as_str(), "yes" | "on" | "1" | "true"))
        }
        _ => Value::from(value.as_i64() == Some(1)),
    }
}

/// Python's `shlex.quote`.
fn shell_quote(value: String) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value
    } else {
        format!("'{}'", value.replace('\'', "'\"'\"'"))
    }
}

/// `regex_replace(pattern, replacement)`. Python's `\1` back-references are
/// rewritten as `${1}`; a pattern Rust's regex cannot take is refused.
fn regex_replace(
    value: String,
    pattern: String,
    replacement: Option<String>,
) -> Result<String, Error> {
    let re =
        Regex::new(&pattern).map_err(|e| invalid(format!("regex_replace {pattern:?}: {e}")))?;
    let replacement = replacement.unwrap_or_default();
    let rust = BACKREF
        .replace_all(&replacement.replace('$', "$$"), "$${$1}")
        .into_owned();
    Ok(re.replace_all(&value, rust.as_str()).into_owned())
}

static BACKREF: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\\(\d+)").expect("valid regex"));

/// Copier's `pathjoin` in its default posix mode: `PurePosixPath(*parts)`.
fn pathjoin(parts: &[String]) -> String {
    let mut out = String::new();
    for part in parts {
        if part.starts_with('/') {
            out.clear();
        } else if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(part);
    }
    let absolute = out.starts_with('/');
    let kept: Vec<&str> = out
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    match (absolute, kept.is_empty()) {
        (true, _) => format!("/{}", kept.join("/")),
        (false, true) => ".".into(),
        (false, false) => kept.join("/"),
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(flavor: Flavor, source: &str) -> Result<String, Error> {
        let options = Options {
            strict: flavor == Flavor::Cookiecutter,
            trim_blocks: false,
            lstrip_blocks: false,
            keep_trailing_newline: true,
        };
        let env = environment(flavor, options, Arc::default());
        env.render_str(&prepare(flavor, source), minijinja::context! { x => "A b" })
    }

    #[test]
    fn now_tag_becomes_a_call_with_its_whitespace_control() {
        assert_eq!(
            prepare(Flavor::Cookiecutter, "a {%- now 'utc', '%Y' -%} b"),
            "a {{- __paved_now('utc', '%Y') -}} b"
        );
        let year = render(Flavor::Cookiecutter, "{% now 'local', '%Y' %}").unwrap();
        assert_eq!(year, chrono::Local::now().format("%Y").to_string());
        let err = render(Flavor::Cookiecutter, "{% now 'utc' + 'days=1' %}").unwrap_err();
        assert!(err.to_string().contains("only 'utc' and 'local'"), "{err}");
    }

    #[test]
    fn floats_print_as_python_prints_them() {
        assert_eq!(
            render(
                Flavor::Copier,
                "{{ 1e20 }} {{ 19.0 }} {{ 1.5e-7 }} {{ 0.1 + 0.2 }} {{ 3 }}"
            )
            .unwrap(),
            "1e+20 19.0 1.5e-07 0.30000000000000004 3"
        );
    }

    #[test]
    fn line_breaks_become_newlines_as_in_jinja2() {
        assert_eq!(prepare(Flavor::Copier, "a\r\nb\rc\n"), "a\nb\nc\n");
    }

    #[test]
    fn cookiecutter_is_strict_and_copier_lenient() {
        assert!(render(Flavor::Cookiecutter, "{{ missing }}").is_err());
        assert_eq!(render(Flavor::Copier, "[{{ missing }}]").unwrap(), "[]");
    }

    #[test]
    fn python_methods_and_the_tools_filters() {
        assert_eq!(
            render(
                Flavor::Cookiecutter,
                "{{ x.lower().replace(' ', '_') }} {{ x | slugify }}"
            )
            .unwrap(),
            "a_b a-b"
        );
        assert_eq!(
            render(
                Flavor::Cookiecutter,
                "{{ {'b': 1, 'a': [true]} | jsonify }}"
            )
            .unwrap(),
            "{\n    \"a\": [\n        true\n    ],\n    \"b\": 1\n}"
        );
        assert_eq!(
            render(
                Flavor::Cookiecutter,
                "{{ uuid4() | length }} {{ random_ascii_string(8) | length }}"
            )
            .unwrap(),
            "36 8"
        );
        assert_eq!(
            render(
                Flavor::Copier,
                "{{ 'yes' | bool }} {{ {'k': 'v'} | to_json }} {{ \"it's\" | quote }}"
            )
            .unwrap(),
            "True {\"k\": \"v\"} 'it'\"'\"'s'"
        );
        assert_eq!(
            render(
                Flavor::Copier,
                "{{ 'a-1' | regex_replace('-(\\\\d)', '_\\\\1') }} {{ pathjoin('a', 'b/', 'c') }}"
            )
            .unwrap(),
            "a_1 a/b/c"
        );
        assert_eq!(
            render(
                Flavor::Copier,
                "{{ 'x/y.txt' | basename }} {{ 'x/y.txt' | dirname }}"
            )
            .unwrap(),
            "y.txt x"
        );
    }

    #[test]
    fn slugify_refuses_what_it_cannot_transliterate() {
        assert_eq!(
            slugify("Hello, World's end".into()).unwrap(),
            "hello-worlds-end"
        );
        assert!(slugify("Grüße".into()).is_err());
    }
}
