//! A YAML writer that reproduces, byte for byte, what PyYAML 6's
//! `yaml.dump(data, allow_unicode=True, ...)` writes for plain data.
//!
//! Copier writes its answers file with PyYAML, and its templates use the
//! `to_yaml` / `to_nice_yaml` filters of `jinja2_ansible_filters`, which call
//! `yaml.dump`. A project rendered here must come out identical to one
//! rendered by Copier, so "valid YAML" is not enough: scalar styles, quoting,
//! line folding at 80 columns, indentation quirks and the `...` document end
//! marker all follow PyYAML's `Representer`, `Resolver` and `Emitter`.
//!
//! The emitter below is a recursive rendering of PyYAML's event-driven state
//! machine: the same cursor state (`column`, `whitespace`, `indention`,
//! `open_ended`, indent levels) and the same writers, so that every decision
//! PyYAML takes from that state is taken here from the same values.

use minijinja::value::{Value, ValueKind};

/// How to lay out collections, as `yaml.dump`'s `indent` and
/// `default_flow_style` arguments do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Spaces per nesting level; like PyYAML, anything outside 2..=9 means 2.
    pub indent: usize,
    pub flow: Flow,
}

/// PyYAML's `default_flow_style`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `default_flow_style=False`: every non-empty collection in block style.
    Block,
    /// `default_flow_style=None`: a collection holding only scalars is
    /// written in flow style (`[a, b]`, `{a: 1}`), any other in block style.
    Leaves,
}

/// A value this writer will not dump, because PyYAML would write something
/// plain data has no equivalent for (a `!!python/...` or `!!binary` tag, an
/// anchor for a cycle) or would fail.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("cannot dump an undefined value as YAML")]
    Undefined,
    #[error("cannot dump {0} as YAML")]
    Unsupported(String),
    #[error("cannot dump a map with a {0} key as YAML: only string keys are supported")]
    NonStringKey(ValueKind),
    #[error("cannot dump values nested more than {MAX_DEPTH} levels deep as YAML")]
    TooDeep,
    #[error("cannot read a value to dump it as YAML: {0}")]
    Read(#[from] minijinja::Error),
}

/// Deeper data is refused rather than risking the stack; PyYAML itself gives
/// up near Python's recursion limit of 1000.
const MAX_DEPTH: usize = 500;

/// PyYAML's default `width`: lines are folded once they pass this column.
const BEST_WIDTH: usize = 80;

/// Writes `value` as one YAML document, exactly as `yaml.dump` would.
pub fn dump(value: &Value, style: &Style) -> Result<String, DumpError> {
    let root = represent(value, style.flow, 0)?;
    let mut emitter = Emitter::new(style.indent);
    emitter.document(&root);
    Ok(emitter.out)
}

// ---------------------------------------------------------------------------
// Representer: minijinja values to PyYAML's node graph.

/// A scalar as PyYAML's serializer sees it.
struct Scalar {
    text: String,
    /// Written plain, the text would load back as this same value (PyYAML's
    /// `implicit[0]`); a string that reads as a number, bool, null... is not.
    implicit: bool,
}

enum Node {
    Scalar(Scalar),
    Seq {
        items: Vec<Node>,
        flow: bool,
    },
    Map {
        pairs: Vec<(Scalar, Node)>,
        flow: bool,
    },
}

impl Node {
    fn is_scalar(&self) -> bool {
        matches!(self, Node::Scalar(_))
    }
}

fn represent(value: &Value, flow: Flow, depth: usize) -> Result<Node, DumpError> {
    if depth > MAX_DEPTH {
        return Err(DumpError::TooDeep);
    }
    let typed = |text: String| {
        Ok(Node::Scalar(Scalar {
            text,
            implicit: true,
        }))
    };
    match value.kind() {
        ValueKind::Undefined => Err(DumpError::Undefined),
        ValueKind::None => typed("null".into()),
        ValueKind::Bool => typed(if value.is_true() { "true" } else { "false" }.into()),
        ValueKind::Number if value.is_integer() => typed(value.to_string()),
        ValueKind::Number => typed(float_text(f64::try_from(value.clone())?)),
        // Safe strings too: Copier renders without autoescape, where Jinja
        // hands PyYAML a plain `str`, never `Markup`.
        ValueKind::String => Ok(Node::Scalar(string_scalar(
            value.as_str().unwrap_or_default(),
        ))),
        ValueKind::Seq if value.is_tuple() => Err(DumpError::Unsupported(
            "a tuple (PyYAML tags it !!python/tuple)".into(),
        )),
        ValueKind::Seq => represent_seq(value, flow, depth),
        ValueKind::Map => represent_map(value, flow, depth),
        ValueKind::Bytes => Err(DumpError::Unsupported(
            "bytes (PyYAML tags them !!binary)".into(),
        )),
        kind => Err(DumpError::Unsupported(format!(
            "a value of kind {kind} (PyYAML would tag it as a Python object)"
        ))),
    }
}

fn string_scalar(text: &str) -> Scalar {
    Scalar {
        implicit: !resolves_implicitly(text),
        text: text.to_owned(),
    }
}

fn represent_seq(value: &Value, flow: Flow, depth: usize) -> Result<Node, DumpError> {
    let items = value
        .try_iter()?
        .map(|item| represent(&item, flow, depth + 1))
        .collect::<Result<Vec<_>, _>>()?;
    let flow = flow == Flow::Leaves && items.iter().all(Node::is_scalar);
    Ok(Node::Seq { items, flow })
}

fn represent_map(value: &Value, flow: Flow, depth: usize) -> Result<Node, DumpError> {
    let mut entries = Vec::new();
    for key in value.try_iter()? {
        if key.kind() != ValueKind::String {
            return Err(DumpError::NonStringKey(key.kind()));
        }
        let item = value.get_item(&key)?;
        entries.push((key.as_str().unwrap_or_default().to_owned(), item));
    }
    // PyYAML's sort_keys=True; Rust orders strings by code point as Python does.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let pairs = entries
        .iter()
        .map(|(key, item)| Ok((string_scalar(key), represent(item, flow, depth + 1)?)))
        .collect::<Result<Vec<_>, DumpError>>()?;
    let flow = flow == Flow::Leaves && pairs.iter().all(|(_, item)| item.is_scalar());
    Ok(Node::Map { pairs, flow })
}

/// PyYAML's `represent_float`: Python's `repr`, lower-cased, with `.0`
/// added to a mantissa without a dot so the text still reads as a float.
fn float_text(x: f64) -> String {
    if x.is_nan() {
        return ".nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let repr = super::python::float_repr(x);
    if !repr.contains('.') && repr.contains('e') {
        repr.replacen('e', ".0e", 1)
    } else {
        repr
    }
}

// ---------------------------------------------------------------------------
// Resolver: would this text, written plain, load as something else than a
// string? These are PyYAML's implicit resolver regexes, matched by hand.
// (Python's `$` also matches before a final newline, but text with a line
// break is never written plain, so that case cannot change the output.)

fn resolves_implicitly(s: &str) -> bool {
    matches!(
        s,
        // null
        "" | "~" | "null" | "Null" | "NULL"
        // bool (YAML 1.1 without the single letters)
        | "yes" | "Yes" | "YES" | "no" | "No" | "NO"
        | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        | "on" | "On" | "ON" | "off" | "Off" | "OFF"
        // merge, value, and the documentation-only `yaml` resolver
        | "<<" | "=" | "!" | "&" | "*"
    ) || is_int(s)
        || is_float(s)
        || is_timestamp(s)
}

fn strip_sign(s: &[u8]) -> &[u8] {
    match s {
        [b'-' | b'+', rest @ ..] => rest,
        _ => s,
    }
}

/// Skips `[0-9_]*`.
fn skip_digits(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'_')
        .count();
    &s[n..]
}

/// Skips `(?::[0-5]?[0-9])+`, if at least one group is there.
fn skip_sexagesimal(mut s: &[u8]) -> Option<&[u8]> {
    let mut groups = 0;
    while let [b':', rest @ ..] = s {
        let len = match rest {
            [b'0'..=b'5', b'0'..=b'9', ..] => 2,
            [b'0'..=b'9', ..] => 1,
            _ => break,
        };
        s = &rest[len..];
        groups += 1;
    }
    (groups > 0).then_some(s)
}

/// `0b[0-1_]+ | 0[0-7_]+ | 0 | [1-9][0-9_]* | 0x[0-9a-fA-F_]+ |
/// [1-9][0-9_]*(?::[0-5]?[0-9])+`, each with an optional sign.
fn is_int(s: &str) -> bool {
    let all = |s: &[u8], ok: fn(&u8) -> bool| !s.is_empty() && s.iter().all(ok);
    match strip_sign(s.as_bytes()) {
        [b'0', b'b', rest @ ..] => all(rest, |c| matches!(c, b'0' | b'1' | b'_')),
        [b'0', b'x', rest @ ..] => all(rest, |c| c.is_ascii_hexdigit() || *c == b'_'),
        [b'0'] => true,
        [b'0', rest @ ..] => all(rest, |c| matches!(c, b'0'..=b'7' | b'_')),
        [b'1'..=b'9', rest @ ..] => {
            let tail = skip_digits(rest);
            tail.is_empty() || skip_sexagesimal(tail).is_some_and(<[u8]>::is_empty)
        }
        _ => false,
    }
}

/// `[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)? | \.[0-9][0-9_]*(exp)? |
/// [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(inf|Inf|INF) |
/// \.(nan|NaN|NAN)`.
fn is_float(s: &str) -> bool {
    let bytes = s.as_bytes();
    let unsigned = strip_sign(bytes);
    if matches!(s, ".nan" | ".NaN" | ".NAN") || matches!(unsigned, b".inf" | b".Inf" | b".INF") {
        return true;
    }
    match unsigned {
        // Only this form takes no sign.
        [b'.', b'0'..=b'9', rest @ ..] => {
            unsigned.len() == bytes.len() && is_exponent(skip_digits(rest))
        }
        [b'0'..=b'9', rest @ ..] => match skip_digits(rest) {
            [b'.', fraction @ ..] => is_exponent(skip_digits(fraction)),
            tail => match skip_sexagesimal(tail) {
                Some([b'.', fraction @ ..]) => skip_digits(fraction).is_empty(),
                _ => false,
            },
        },
        _ => false,
    }
}

/// `(?:[eE][-+][0-9]+)?$`.
fn is_exponent(s: &[u8]) -> bool {
    match s {
        [] => true,
        [b'e' | b'E', b'-' | b'+', digits @ ..] => {
            !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// `YYYY-MM-DD`, or `YYYY-M-D` followed by a time:
/// `(?:[Tt]|[ \t]+)H:MM:SS(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+]H(?::MM)?))?`.
fn is_timestamp(s: &str) -> bool {
    let mut c = Cursor(s.as_bytes());
    if !(c.digits(4, 4) && c.byte(b'-')) {
        return false;
    }
    if let [m1, m2, b'-', d1, d2] = c.0 {
        // Too short to hold a time: only `YYYY-MM-DD` can match.
        return [m1, m2, d1, d2].iter().all(|d| d.is_ascii_digit());
    }
    c.digits(1, 2) && c.byte(b'-') && c.digits(1, 2) && c.time() && c.fraction_and_zone()
}

/// A position in text matched by the timestamp pattern.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn byte(&mut self, want: u8) -> bool {
        self.eat(|c| c == want) == 1
    }

    /// Consumes up to `max` bytes matching `ok`; returns how many.
    fn eat_while(&mut self, max: usize, ok: impl Fn(u8) -> bool) -> usize {
        let n = self.0.iter().take(max).take_while(|c| ok(**c)).count();
        self.0 = &self.0[n..];
        n
    }

    fn eat(&mut self, ok: impl Fn(u8) -> bool) -> usize {
        self.eat_while(1, ok)
    }

    /// `[0-9]{min,max}`, greedy: in this pattern a digit run is always
    /// followed by a non-digit, so greedy matching never needs to back off.
    fn digits(&mut self, min: usize, max: usize) -> bool {
        self.eat_while(max, |c| c.is_ascii_digit()) >= min
    }

    /// `(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9]`.
    fn time(&mut self) -> bool {
        let separated = self.eat(|c| c == b'T' || c == b't') == 1
            || self.eat_while(usize::MAX, |c| c == b' ' || c == b'\t') > 0;
        separated
            && self.digits(1, 2)
            && self.byte(b':')
            && self.digits(2, 2)
            && self.byte(b':')
            && self.digits(2, 2)
    }

    /// `(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?$`.
    fn fraction_and_zone(&mut self) -> bool {
        if self.byte(b'.') {
            self.eat_while(usize::MAX, |c| c.is_ascii_digit());
        }
        let blanks = self.eat_while(usize::MAX, |c| c == b' ' || c == b'\t');
        if self.0.is_empty() {
            // Blanks are only allowed in front of a zone.
            return blanks == 0;
        }
        let zoned = self.byte(b'Z')
            || (self.eat(|c| c == b'-' || c == b'+') == 1
                && self.digits(1, 2)
                && (!self.byte(b':') || self.digits(2, 2)));
        zoned && self.0.is_empty()
    }
}

// ---------------------------------------------------------------------------
// Scalar analysis: PyYAML's `analyze_scalar`, for allow_unicode=True.

/// The styles a scalar's characters allow.
struct Analysis {
    empty: bool,
    multiline: bool,
    allow_flow_plain: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_break(c: char) -> bool {
    matches!(c, '\0' | ' ' | '\t' | '\r') || is_break(c)
}

/// Characters that may appear unescaped, with allow_unicode=True.
fn is_printable(c: char) -> bool {
    let unicode = matches!(c, '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        || ('\u{10000}'..'\u{10ffff}').contains(&c);
    matches!(c, '\n' | ' '..='~') || (unicode && c != '\u{feff}')
}

fn analyze(text: &[char]) -> Analysis {
    if text.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_flow_plain: false,
            allow_block_plain: true,
            allow_single_quoted: true,
        };
    }
    let doc_marker = text.starts_with(&['-'; 3]) || text.starts_with(&['.'; 3]);
    let (mut flow_indicators, mut block_indicators) = (doc_marker, doc_marker);
    let (mut line_breaks, mut special) = (false, false);
    let (mut edge_space, mut edge_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let last = text.len() - 1;
    for (index, &ch) in text.iter().enumerate() {
        let preceded_by_blank = index == 0 || is_blank_or_break(text[index - 1]);
        let followed_by_blank = text.get(index + 1).is_none_or(|&c| is_blank_or_break(c));
        let (flow, block) = indicator_kind(ch, index == 0, preceded_by_blank, followed_by_blank);
        flow_indicators |= flow;
        block_indicators |= block;
        line_breaks |= is_break(ch);
        special |= !is_printable(ch);
        let at_edge = index == 0 || index == last;
        if ch == ' ' {
            edge_space |= at_edge;
            break_space |= previous_break;
        } else if is_break(ch) {
            edge_break |= at_edge;
            space_break |= previous_space;
        }
        previous_space = ch == ' ';
        previous_break = is_break(ch);
    }
    let plain = !(edge_space || edge_break || break_space || space_break || special || line_breaks);
    Analysis {
        empty: false,
        multiline: line_breaks,
        allow_flow_plain: plain && !flow_indicators,
        allow_block_plain: plain && !block_indicators,
        allow_single_quoted: !(break_space || space_break || special),
    }
}

/// Whether `ch` is a flow and/or a block indicator where it stands.
fn indicator_kind(
    ch: char,
    first: bool,
    preceded_by_blank: bool,
    followed_by_blank: bool,
) -> (bool, bool) {
    if first {
        match ch {
            '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
            | '@' | '`' => (true, true),
            '?' | ':' => (true, followed_by_blank),
            '-' => (followed_by_blank, followed_by_blank),
            _ => (false, false),
        }
    } else {
        match ch {
            ',' | '?' | '[' | ']' | '{' | '}' => (true, false),
            ':' => (true, followed_by_blank),
            '#' => (preceded_by_blank, preceded_by_blank),
            _ => (false, false),
        }
    }
}

/// Keys written inline before `:`; any other key gets the `? ` form.
/// PyYAML counts the key's (unwritten) `!!str` tag into its 128 limit.
fn is_simple_key(key: &Scalar) -> bool {
    let len = key.text.chars().count();
    len > 0 && len + "!!str".len() < 128 && !key.text.contains(is_break)
}

// ---------------------------------------------------------------------------
// Emitter.

/// Where a node stands, as PyYAML's `expect_node` flags record it.
#[derive(Clone, Copy)]
struct Context {
    root: bool,
    mapping: bool,
    simple_key: bool,
}

const ROOT: Context = Context {
    root: true,
    mapping: false,
    simple_key: false,
};
const IN_SEQUENCE: Context = Context {
    root: false,
    mapping: false,
    simple_key: false,
};
const MAPPING_VALUE: Context = Context {
    root: false,
    mapping: true,
    simple_key: false,
};
const SIMPLE_KEY: Context = Context {
    root: false,
    mapping: true,
    simple_key: true,
};

enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
}

struct Emitter {
    out: String,
    best_indent: usize,
    /// `None` at document level, until the root node sets the first one.
    indent: Option<usize>,
    flow_level: usize,
    /// Counted in characters, as Python's `len`.
    column: usize,
    /// The last character written was a space or a line break.
    whitespace: bool,
    /// Only indentation and `-`, `?`, `:` indicators are on this line so far.
    indention: bool,
    /// A plain root scalar could run on, so the stream ends with `...`.
    open_ended: bool,
}

impl Emitter {
    fn new(indent: usize) -> Self {
        Emitter {
            out: String::new(),
            best_indent: if (2..10).contains(&indent) { indent } else { 2 },
            indent: None,
            flow_level: 0,
            column: 0,
            whitespace: true,
            indention: true,
            open_ended: false,
        }
    }

    fn document(&mut self, root: &Node) {
        self.node(root, ROOT);
        self.write_indent();
        if self.open_ended {
            self.write_indicator("...", true, false, false);
            self.write_indent();
        }
    }

    fn node(&mut self, node: &Node, context: Context) {
        match node {
            Node::Scalar(scalar) => self.scalar(scalar, context),
            Node::Seq { items, flow } => {
                if self.flow_level > 0 || *flow || items.is_empty() {
                    self.flow_sequence(items);
                } else {
                    self.block_sequence(items, context);
                }
            }
            Node::Map { pairs, flow } => {
                if self.flow_level > 0 || *flow || pairs.is_empty() {
                    self.flow_mapping(pairs);
                } else {
                    self.block_mapping(pairs);
                }
            }
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indent = match self.indent {
            None if flow => Some(self.best_indent),
            None => Some(0),
            Some(indent) if indentless => Some(indent),
            Some(indent) => Some(indent + self.best_indent),
        };
    }

    fn flow_sequence(&mut self, items: &[Node]) {
        self.write_indicator("[", true, true, false);
        self.flow_level += 1;
        let saved = self.indent;
        self.increase_indent(true, false);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.write_indicator(",", false, false, false);
            }
            self.wrap_flow_line();
            self.node(item, IN_SEQUENCE);
        }
        self.indent = saved;
        self.flow_level -= 1;
        self.write_indicator("]", false, false, false);
    }

    fn flow_mapping(&mut self, pairs: &[(Scalar, Node)]) {
        self.write_indicator("{", true, true, false);
        self.flow_level += 1;
        let saved = self.indent;
        self.increase_indent(true, false);
        for (i, (key, value)) in pairs.iter().enumerate() {
            if i > 0 {
                self.write_indicator(",", false, false, false);
            }
            self.wrap_flow_line();
            if is_simple_key(key) {
                self.scalar(key, SIMPLE_KEY);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, false);
                self.scalar(key, MAPPING_VALUE);
                self.wrap_flow_line();
                self.write_indicator(":", true, false, false);
            }
            self.node(value, MAPPING_VALUE);
        }
        self.indent = saved;
        self.flow_level -= 1;
        self.write_indicator("}", false, false, false);
    }

    /// Flow collections start a new line once past the width.
    fn wrap_flow_line(&mut self) {
        if self.column > BEST_WIDTH {
            self.write_indent();
        }
    }

    fn block_sequence(&mut self, items: &[Node], context: Context) {
        // PyYAML's quirk: a sequence that is a mapping value starts on the
        // next line at its key's indentation (`key:\n- a`).
        let indentless = context.mapping && !self.indention;
        let saved = self.indent;
        self.increase_indent(false, indentless);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, IN_SEQUENCE);
        }
        self.indent = saved;
    }

    fn block_mapping(&mut self, pairs: &[(Scalar, Node)]) {
        let saved = self.indent;
        self.increase_indent(false, false);
        for (key, value) in pairs {
            self.write_indent();
            if is_simple_key(key) {
                self.scalar(key, SIMPLE_KEY);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.scalar(key, MAPPING_VALUE);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(value, MAPPING_VALUE);
        }
        self.indent = saved;
    }

    fn scalar(&mut self, scalar: &Scalar, context: Context) {
        let saved = self.indent;
        self.increase_indent(true, false);
        let text: Vec<char> = scalar.text.chars().collect();
        let analysis = analyze(&text);
        // Keys are never folded: a key must stay on one line.
        let split = !context.simple_key;
        match self.choose_style(scalar, &analysis, context) {
            ScalarStyle::Plain => {
                if context.root {
                    self.open_ended = true;
                }
                self.write_plain(&text, split);
            }
            ScalarStyle::SingleQuoted => self.write_single_quoted(&text, split),
            ScalarStyle::DoubleQuoted => self.write_double_quoted(&text, split),
        }
        self.indent = saved;
    }

    /// PyYAML's `choose_scalar_style` for style-less scalars: plain when
    /// safe, else single quotes, else double quotes (never a block scalar).
    fn choose_style(&self, scalar: &Scalar, analysis: &Analysis, context: Context) -> ScalarStyle {
        let plain_allowed = if self.flow_level > 0 {
            analysis.allow_flow_plain
        } else {
            analysis.allow_block_plain
        };
        let awkward_key = context.simple_key && (analysis.empty || analysis.multiline);
        if scalar.implicit && plain_allowed && !awkward_key {
            ScalarStyle::Plain
        } else if analysis.allow_single_quoted && !(context.simple_key && analysis.multiline) {
            ScalarStyle::SingleQuoted
        } else {
            ScalarStyle::DoubleQuoted
        }
    }

    // Writers, following PyYAML's `write_*` methods.

    fn write_str(&mut self, data: &str) {
        self.column += data.chars().count();
        self.out.push_str(data);
    }

    fn write_chars(&mut self, data: &[char]) {
        self.column += data.len();
        self.out.extend(data);
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        whitespace: bool,
        indention: bool,
    ) {
        if !self.whitespace && need_whitespace {
            self.write_str(" ");
        }
        self.write_str(indicator);
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
        self.open_ended = false;
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break('\n');
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = indent - self.column;
            self.write_str(&" ".repeat(pad));
        }
    }

    fn write_line_break(&mut self, line_break: char) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push(line_break);
    }

    /// Folds at a single space once past the width; plain text never holds
    /// line breaks (analysis forbids it), so only spaces need care.
    fn write_plain(&mut self, text: &[char], split: bool) {
        if !self.whitespace {
            self.write_str(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let mut spaces = false;
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > BEST_WIDTH && split {
                        self.write_indent();
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        self.write_chars(&text[start..end]);
                    }
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ') {
                self.write_chars(&text[start..end]);
                start = end;
            }
            spaces = ch == Some(' ');
        }
    }

    /// Doubles quotes, folds at single inner spaces past the width.
    fn write_single_quoted(&mut self, text: &[char], split: bool) {
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    let inner = start != 0 && end != text.len();
                    if start + 1 == end && self.column > BEST_WIDTH && split && inner {
                        self.write_indent();
                    } else {
                        self.write_chars(&text[start..end]);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    self.write_breaks(&text[start..end]);
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || c == '\'' || is_break(c)) && start < end {
                self.write_chars(&text[start..end]);
                start = end;
            }
            if ch == Some('\'') {
                self.write_str("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
        }
        self.write_indicator("'", false, false, false);
    }

    /// A run of line breaks inside a single-quoted scalar, then the
    /// indentation. A leading `\n` is doubled: a lone one folds to a space.
    fn write_breaks(&mut self, breaks: &[char]) {
        if breaks.first() == Some(&'\n') {
            self.write_line_break('\n');
        }
        for &line_break in breaks {
            self.write_line_break(line_break);
        }
        self.write_indent();
    }

    /// Escapes what is not printable; past the width, breaks the line with
    /// a trailing `\` (and escapes a space that would start the next line).
    fn write_double_quoted(&mut self, text: &[char], split: bool) {
        self.write_indicator("\"", true, false, false);
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            if ch.is_none_or(needs_escape) {
                if start < end {
                    self.write_chars(&text[start..end]);
                    start = end;
                }
                if let Some(c) = ch {
                    self.write_str(&escape(c));
                    start = end + 1;
                }
            }
            // `start` may be `end + 1` just after an escape.
            let past_width = self.column + end > BEST_WIDTH + start;
            if 0 < end
                && end + 1 < text.len()
                && (ch == Some(' ') || start >= end)
                && past_width
                && split
            {
                if start < end {
                    self.write_chars(&text[start..end]);
                    start = end;
                }
                self.write_str("\\");
                self.write_indent();
                self.whitespace = false;
                self.indention = false;
                if text[start] == ' ' {
                    self.write_str("\\");
                }
            }
        }
        self.write_indicator("\"", false, false, false);
    }
}

/// Characters PyYAML escapes in double quotes with allow_unicode=True
/// (astral characters included: its printable test stops at U+FFFD here).
fn needs_escape(c: char) -> bool {
    let printable = matches!(c, ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}');
    !printable
        || matches!(
            c,
            '"' | '\\' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}'
        )
}

/// PyYAML's short escapes, else `\xXX`, `\uXXXX` or `\UXXXXXXXX`. (Its
/// `\_` for NO-BREAK SPACE never applies: allow_unicode prints it raw.)
fn escape(c: char) -> String {
    let short = match c {
        '\0' => '0',
        '\u{7}' => 'a',
        '\u{8}' => 'b',
        '\t' => 't',
        '\n' => 'n',
        '\u{b}' => 'v',
        '\u{c}' => 'f',
        '\r' => 'r',
        '\u{1b}' => 'e',
        '"' => '"',
        '\\' => '\\',
        '\u{85}' => 'N',
        '\u{2028}' => 'L',
        '\u{2029}' => 'P',
        _ => {
            let code = u32::from(c);
            return match code {
                0..=0xff => format!("\\x{code:02X}"),
                0x100..=0xffff => format!("\\u{code:04X}"),
                _ => format!("\\U{code:08X}"),
            };
        }
    };
    format!("\\{short}")
}

#[cfg(test)]
mod tests {
    //! Every expected string below was produced by PyYAML 6.0.4.

    use super::*;

    const TO_YAML: Style = Style {
        indent: 2,
        flow: Flow::Leaves,
    };
    const TO_NICE_YAML: Style = Style {
        indent: 4,
        flow: Flow::Block,
    };

    fn to_yaml(value: &Value) -> String {
        dump(value, &TO_YAML).unwrap()
    }

    fn to_nice_yaml(value: &Value) -> String {
        dump(value, &TO_NICE_YAML).unwrap()
    }

    /// A value from a template expression; dict literals keep their order.
    fn expr(source: &str) -> Value {
        let env = minijinja::Environment::new();
        env.compile_expression(source).unwrap().eval(()).unwrap()
    }

    fn strings(items: &[&str]) -> Value {
        Value::from(items.iter().map(|s| Value::from(*s)).collect::<Vec<_>>())
    }

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::from_object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn plain_root_scalars_end_the_document_with_dots() {
        assert_eq!(to_yaml(&Value::from("hello")), "hello\n...\n");
        assert_eq!(to_yaml(&Value::from(())), "null\n...\n");
        assert_eq!(to_yaml(&Value::from(1)), "1\n...\n");
        assert_eq!(to_yaml(&Value::from(true)), "true\n...\n");
        assert_eq!(to_yaml(&Value::from(1.0)), "1.0\n...\n");
        let words = vec!["word"; 25].join(" ");
        assert_eq!(
            to_yaml(&Value::from(words)),
            "word word word word word word word word word word word word word word word word word\n  word word word word word word word word\n...\n"
        );
    }

    #[test]
    fn quoted_root_scalars_do_not() {
        assert_eq!(to_yaml(&Value::from("")), "''\n");
        assert_eq!(to_yaml(&Value::from("yes")), "'yes'\n");
        assert_eq!(to_yaml(&Value::from("a\nb")), "'a\n\n  b'\n");
        assert_eq!(to_yaml(&Value::from("\t")), "\"\\t\"\n");
        assert_eq!(to_yaml(&expr("[]")), "[]\n");
    }

    #[test]
    fn strings_that_would_read_as_other_types_are_quoted() {
        let value = strings(&[
            "yes",
            "No",
            "y",
            "n",
            "~",
            "null",
            "NULL",
            "nUll",
            "0x1F",
            "0o17",
            "1_000",
            "1:20",
            "1:60",
            "1e3",
            "1.5e+3",
            "1.5e3",
            ".inf",
            "-.Inf",
            ".nan",
            "2002-12-14",
            "2002-1-14",
            "2001-12-14 21:59:43.10 -5",
            "<<",
            "=",
            "09",
            "012",
            "0b1",
            "True",
            "tRUE",
            "on",
            "ON",
            "Off",
        ]);
        assert_eq!(
            to_yaml(&value),
            "['yes', 'No', y, n, '~', 'null', 'NULL', nUll, '0x1F', 0o17, '1_000', '1:20', '1:60',\n  1e3, '1.5e+3', 1.5e3, '.inf', '-.Inf', '.nan', '2002-12-14', 2002-1-14, '2001-12-14\n    21:59:43.10 -5', '<<', '=', 09, '012', '0b1', 'True', tRUE, 'on', 'ON', 'Off']\n"
        );
    }

    #[test]
    fn indicators_force_quotes_in_block_context() {
        let value = strings(&[
            "- a", "-a", "? a", "?a", ":a", "a: b", "a:b", "a #b", "a#b", "#a", "@a", "`a", "%a",
            "!a", "&a", "*a", "|a", ">a", "'a", "\"a", "[a", "{a", ",a", " a", "a ", "---", "...x",
            "a,b", "a]", "a[b",
        ]);
        assert_eq!(
            to_nice_yaml(&value),
            "- '- a'\n- -a\n- '? a'\n- ?a\n- :a\n- 'a: b'\n- a:b\n- 'a #b'\n- a#b\n- '#a'\n- '@a'\n- '`a'\n- '%a'\n- '!a'\n- '&a'\n- '*a'\n- '|a'\n- '>a'\n- '''a'\n- '\"a'\n- '[a'\n- '{a'\n- ',a'\n- ' a'\n- 'a '\n- '---'\n- '...x'\n- a,b\n- a]\n- a[b\n"
        );
    }

    #[test]
    fn flow_indicators_force_quotes_in_flow_context() {
        let value = strings(&["a,b", "a]", "?a", "a:b", "a?b", "-a"]);
        assert_eq!(to_yaml(&value), "['a,b', 'a]', '?a', 'a:b', 'a?b', -a]\n");
    }

    #[test]
    fn floats_follow_python_repr() {
        let floats = [
            1.0,
            1e17,
            1e16,
            1e15,
            1e-5,
            0.0001,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            0.1,
            1.5e-7,
            1420662254727060.2,
            5e-324,
            1.7976931348623157e308,
            123456789.123,
            1e22,
            12345678901234567890.0,
        ];
        let value = Value::from(floats.map(Value::from).to_vec());
        assert_eq!(
            to_yaml(&value),
            "[1.0, 1.0e+17, 1.0e+16, 1000000000000000.0, 1.0e-05, 0.0001, -0.0, .inf, -.inf, .nan,\n  0.1, 1.5e-07, 1420662254727060.2, 5.0e-324, 1.7976931348623157e+308, 123456789.123,\n  1.0e+22, 1.2345678901234567e+19]\n"
        );
    }

    #[test]
    fn float_ties_round_to_even_like_python() {
        // Exactly ...5.25 and ...5.75: both neighbours round-trip.
        assert_eq!(float_text(1701110372269125.2), "1701110372269125.2");
        assert_eq!(float_text(1701110372269125.8), "1701110372269125.8");
        assert_eq!(float_text(-583309915826246.2), "-583309915826246.2");
    }

    #[test]
    fn integers_are_decimal() {
        let value = Value::from(vec![
            Value::from(0),
            Value::from(-7),
            Value::from(i64::MAX),
            Value::from(u64::MAX),
            Value::from(i128::MIN),
        ]);
        assert_eq!(
            to_yaml(&value),
            "[0, -7, 9223372036854775807, 18446744073709551615, -170141183460469231731687303715884105728]\n"
        );
    }

    fn nested() -> Value {
        expr(
            "{'key': ['a', 'b'], 'm': {'x': 1, 'y': [1, {'z': none}]}, 'l': [{'a': 1, 'b': [2]}], 's': [[1, 2], [3, [4]]]}",
        )
    }

    #[test]
    fn to_yaml_writes_leaf_collections_in_flow_style() {
        assert_eq!(
            to_yaml(&nested()),
            "key: [a, b]\nl:\n- a: 1\n  b: [2]\nm:\n  x: 1\n  y:\n  - 1\n  - {z: null}\ns:\n- [1, 2]\n- - 3\n  - [4]\n"
        );
    }

    #[test]
    fn block_sequences_in_mappings_are_not_indented() {
        assert_eq!(
            to_nice_yaml(&nested()),
            "key:\n- a\n- b\nl:\n-   a: 1\n    b:\n    - 2\nm:\n    x: 1\n    y:\n    - 1\n    -   z: null\ns:\n-   - 1\n    - 2\n-   - 3\n    -   - 4\n"
        );
    }

    #[test]
    fn indent_outside_two_to_nine_means_two() {
        let value = expr("{'a': [{'b': 1, 'c': 2}], 'd': {'e': [1]}}");
        let style = |indent| Style {
            indent,
            flow: Flow::Block,
        };
        assert_eq!(
            dump(&value, &style(3)).unwrap(),
            "a:\n-  b: 1\n   c: 2\nd:\n   e:\n   - 1\n"
        );
        assert_eq!(
            dump(&value, &style(1)).unwrap(),
            "a:\n- b: 1\n  c: 2\nd:\n  e:\n  - 1\n"
        );
    }

    #[test]
    fn empty_collections_are_flow() {
        let value = expr("{'a': [], 'b': {}}");
        assert_eq!(to_yaml(&value), "a: []\nb: {}\n");
        assert_eq!(to_nice_yaml(&value), "a: []\nb: {}\n");
        assert_eq!(to_yaml(&expr("[[], {}]")), "- []\n- {}\n");
    }

    #[test]
    fn long_plain_scalars_fold_at_80() {
        let value = map(&[("k", Value::from(vec!["word"; 30].join(" ")))]);
        assert_eq!(
            to_yaml(&value),
            "{k: word word word word word word word word word word word word word word word word\n    word word word word word word word word word word word word word word}\n"
        );
    }

    #[test]
    fn single_quoted_scalars_fold_and_keep_breaks() {
        let text = format!("it's {}\nnext\n\nline", vec!["word"; 30].join(" "));
        assert_eq!(
            to_nice_yaml(&map(&[("k", Value::from(text))])),
            "k: 'it''s word word word word word word word word word word word word word word word\n    word word word word word word word word word word word word word word word\n\n    next\n\n\n    line'\n"
        );
    }

    #[test]
    fn double_quoted_scalars_escape_and_fold() {
        let text = format!("tab\t{} \u{1F600}é", vec!["word"; 30].join(" "));
        assert_eq!(
            to_nice_yaml(&map(&[("k", Value::from(text))])),
            "k: \"tab\\tword word word word word word word word word word word word word word word\\\n    \\ word word word word word word word word word word word word word word word \\U0001F600\\\n    é\"\n"
        );
    }

    #[test]
    fn long_flow_collections_wrap() {
        let items: Vec<Value> = (0..30).map(|i| Value::from(format!("item{i}"))).collect();
        assert_eq!(
            to_yaml(&map(&[("k", Value::from(items))])),
            "k: [item0, item1, item2, item3, item4, item5, item6, item7, item8, item9, item10,\n  item11, item12, item13, item14, item15, item16, item17, item18, item19, item20,\n  item21, item22, item23, item24, item25, item26, item27, item28, item29]\n"
        );
    }

    fn awkward_keys() -> Value {
        map(&[
            (&"k".repeat(122), Value::from(1)),
            (&"j".repeat(123), Value::from(2)),
            ("a\nb", Value::from(3)),
            ("", Value::from(4)),
        ])
    }

    #[test]
    fn long_multiline_and_empty_keys_are_explicit() {
        let (j, k) = ("j".repeat(123), "k".repeat(122));
        assert_eq!(
            to_nice_yaml(&awkward_keys()),
            format!("? ''\n: 4\n? 'a\n\n    b'\n: 3\n? {j}\n: 2\n{k}: 1\n")
        );
        assert_eq!(
            to_yaml(&awkward_keys()),
            format!("{{? '' : 4, ? 'a\n\n    b' : 3, ? {j}\n  : 2, {k}: 1}}\n")
        );
    }

    #[test]
    fn unicode_is_written_raw_where_pyyaml_allows_it() {
        let value = strings(&[
            "é中😀",
            "\u{2028}",
            "a\u{85}b",
            "😀\t",
            "\u{feff}",
            "\u{a0}",
            "\0\u{7}\u{1b}\u{7f}\u{9f}",
            "\u{e000}\u{fffe}",
        ]);
        assert_eq!(
            to_yaml(&value),
            "[é中😀, '\u{2028}    ', 'a\u{85}    b', \"\\U0001F600\\t\", \"\\uFEFF\", \u{a0}, \"\\0\\a\\e\\x7F\\x9F\", \"\u{e000}\\uFFFE\"]\n"
        );
    }

    #[test]
    fn keys_sort_by_code_point() {
        let value =
            expr("{'b': 1, 'B': 2, 'a': 3, 'é': 4, '_': 5, 'aa': 6, '😀': 7, '\u{ffff}': 8}");
        assert_eq!(
            to_yaml(&value),
            "{B: 2, _: 5, a: 3, aa: 6, b: 1, é: 4, \"\\uFFFF\": 8, 😀: 7}\n"
        );
    }

    #[test]
    fn values_without_plain_yaml_form_are_refused() {
        let error = |value: &Value| dump(value, &TO_YAML).unwrap_err().to_string();
        assert!(matches!(
            dump(&Value::UNDEFINED, &TO_YAML),
            Err(DumpError::Undefined)
        ));
        assert!(error(&map(&[("a", Value::UNDEFINED)])).contains("undefined"));
        assert!(error(&expr("{1: 'a'}")).contains("number key"));
        assert!(error(&expr("(1, 2)")).contains("tuple"));
        assert!(error(&expr("range(3)")).contains("iterator"));
        assert!(error(&Value::from_bytes(vec![1])).contains("bytes"));
        assert!(error(&Value::from_function(|| 1)).contains("plain object"));
    }

    #[test]
    fn overly_deep_values_are_refused() {
        let nest = |depth| (0..depth).fold(Value::from(1), |inner, _| Value::from(vec![inner]));
        assert!(dump(&nest(MAX_DEPTH), &TO_YAML).is_ok());
        assert!(matches!(
            dump(&nest(MAX_DEPTH + 1), &TO_YAML),
            Err(DumpError::TooDeep)
        ));
    }
}
