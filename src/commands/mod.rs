//! Slash-commands in comments: `/paved <command> [args]`, one per line.
//! Lines inside code blocks and quoted replies are never commands.

/// A command paved understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run a failed request again.
    Retry,
}

/// What a line starting with `/paved` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Command(Command),
    /// Not a command paved knows, or bad arguments; answered with help.
    Unknown(String),
}

/// The `/paved` lines of `body`, in order. Case and extra spaces do not matter.
pub fn parse(body: &str) -> Vec<Parsed> {
    let mut out = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for line in body.lines() {
        let t = line.trim();
        if let Some(c) = t.chars().next().filter(|c| *c == '`' || *c == '~') {
            let n = t.chars().take_while(|x| *x == c).count();
            if n >= 3 {
                fence = match fence {
                    None => Some((c, n)),
                    Some((open, len)) if open == c && n >= len => None,
                    other => other,
                };
                continue;
            }
        }
        if fence.is_some() || t.starts_with('>') {
            continue;
        }
        let words: Vec<String> = t.split_whitespace().map(str::to_lowercase).collect();
        if words.first().map(String::as_str) != Some("/paved") {
            continue;
        }
        out.push(
            match words[1..]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice()
            {
                ["retry"] => Parsed::Command(Command::Retry),
                _ => Parsed::Unknown(words[1..].join(" ")),
            },
        );
    }
    out
}

/// The commands in `body` that were not already in `previous` (an edited
/// comment runs only what the edit added).
pub fn added(body: &str, previous: Option<&str>) -> Vec<Parsed> {
    let before = previous.map(parse).unwrap_or_default();
    parse(body)
        .into_iter()
        .filter(|c| !before.contains(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_commands_outside_code_and_quotes() {
        let body = "Please\n  /PAVED   Retry \n> /paved retry\n```\n/paved retry\n```\n/paved frobnicate now";
        assert_eq!(
            parse(body),
            [
                Parsed::Command(Command::Retry),
                Parsed::Unknown("frobnicate now".into())
            ]
        );
        assert_eq!(parse("/pavedretry\nno /paved retry"), []);
    }

    #[test]
    fn an_edit_runs_only_new_commands() {
        assert_eq!(added("/paved retry", Some("/paved retry")), []);
        assert_eq!(
            added("/paved retry", Some("thanks")),
            [Parsed::Command(Command::Retry)]
        );
    }
}
