//! The path patterns the tools match files with: Python's `fnmatch`
//! (Cookiecutter's `_copy_without_render`) and git's wildmatch through
//! pathspec (Copier's `_exclude` and `_skip_if_exists`).

use regex::Regex;

/// `fnmatch.fnmatch` on a POSIX system: `*` and `?` cross `/` too.
pub fn fnmatch(pattern: &str) -> Result<Regex, String> {
    let mut re = String::from("(?s)^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => bracket(&mut re, &mut chars),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("pattern {pattern:?}: {e}"))
}

/// A `[...]` class; `!` negates it, and a `[` with no closing `]` is literal.
fn bracket(re: &mut String, chars: &mut std::iter::Peekable<std::str::Chars>) {
    let rest: String = chars.clone().collect();
    let body_len = rest
        .char_indices()
        .skip(usize::from(rest.starts_with(['!', '^'])) + usize::from(rest.starts_with(']')))
        .find(|(_, c)| *c == ']')
        .map(|(i, _)| i);
    let Some(end) = body_len else {
        re.push_str("\\[");
        return;
    };
    let body: String = rest[..end].to_owned();
    for _ in 0..body.chars().count() + 1 {
        chars.next();
    }
    let (negated, body) = match body.strip_prefix('!') {
        Some(b) => (true, b.to_owned()),
        None => (false, body),
    };
    re.push('[');
    if negated {
        re.push('^');
    }
    for c in body.chars() {
        if matches!(c, '\\' | '[' | ']' | '^' | '&' | '~') {
            re.push('\\');
        }
        re.push(c);
    }
    re.push(']');
}

/// A list of gitignore-style patterns, the last match deciding.
#[derive(Debug, Default)]
pub struct Wildmatch {
    rules: Vec<(Regex, bool)>,
}

impl Wildmatch {
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut rules = Vec::new();
        for line in patterns {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (include, body) = match line.strip_prefix('!') {
                Some(rest) => (false, rest),
                None => (true, line),
            };
            rules.push((wildmatch(body)?, include));
        }
        Ok(Self { rules })
    }

    /// Whether `path` (relative, `/`-separated) is matched.
    pub fn matches(&self, path: &str) -> bool {
        self.rules
            .iter()
            .rev()
            .find(|(re, _)| re.is_match(path))
            .is_some_and(|(_, include)| *include)
    }
}

/// One gitignore pattern as a regex over a file's path: a pattern with no
/// inner `/` matches at any depth, and a match on a folder covers all in it.
fn wildmatch(pattern: &str) -> Result<Regex, String> {
    let dir_only = pattern.ends_with('/');
    let body = pattern.trim_end_matches('/');
    let anchored = body.contains('/');
    let body = body.trim_start_matches('/');
    let mut re = String::from("(?s)^");
    if !anchored {
        re.push_str("(?:.*/)?");
    }
    let segments: Vec<&str> = body.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        if *segment == "**" {
            re.push_str(if last { ".*" } else { "(?:.*/)?" });
            continue;
        }
        let mut chars = segment.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                '[' => bracket(&mut re, &mut chars),
                other => re.push_str(&regex::escape(&other.to_string())),
            }
        }
        if !last {
            re.push('/');
        }
    }
    re.push_str(if dir_only { "/.*$" } else { "(?:/.*)?$" });
    Regex::new(&re).map_err(|e| format!("pattern {pattern:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_as_python() {
        let m = |p: &str, s: &str| fnmatch(p).unwrap().is_match(s);
        assert!(m("*/node_modules", "web/node_modules"));
        assert!(m("*/node_modules", "a/b/node_modules"));
        assert!(!m("*/node_modules", "node_modules"));
        assert!(m("*.py[co]", "x.pyc"));
        assert!(m("[!a]b", "cb"));
        assert!(!m("[!a]b", "ab"));
        assert!(m("a[", "a["));
        assert!(m("file?.txt", "file1.txt"));
    }

    #[test]
    fn wildmatch_as_pathspec() {
        let w = Wildmatch::new([
            "*.py[co]",
            ".git",
            "docs/",
            "/top.txt",
            "!keep.pyc",
            "a/**/z",
        ])
        .unwrap();
        assert!(w.matches(".git/config"));
        assert!(w.matches("sub/.git"));
        assert!(w.matches("docs/index.md"));
        assert!(!w.matches("docs"));
        assert!(w.matches("top.txt"));
        assert!(!w.matches("sub/top.txt"));
        assert!(!w.matches("keep.pyc"));
        assert!(w.matches("a/b/c/z"));
        assert!(w.matches("a/z"));
        assert!(!w.matches("README.md"));
    }
}
