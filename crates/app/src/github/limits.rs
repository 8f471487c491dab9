//! GitHub's limits on the text paved writes. A body over them is refused
//! with 422, so every body is fitted here, at the client's edge, with a
//! visible note where it was cut.

/// Comments, issue and pull request bodies, in characters.
pub const BODY_MAX: usize = 65_536;
/// A check run's `output.summary` and `output.text`, in characters.
pub const CHECK_TEXT_MAX: usize = 65_535;
/// A check run's `output.title`, in characters.
pub const CHECK_TITLE_MAX: usize = 255;
/// Annotations one check-run request may carry.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
/// An annotation's message; GitHub's own limit is 64 KB.
pub const ANNOTATION_MAX: usize = 4_096;
/// A deployment status's description (GitHub's limit), and paved's for a
/// deployment's own.
pub const DEPLOYMENT_DESCRIPTION_MAX: usize = 140;

const CUT_NOTE: &str = "\n\n---\n✂️ *paved cut this text here: GitHub takes at most so much.*\n";

/// `text` within `max` characters, cut at a line where one is near and
/// ending in a note that says so. Counted in bytes, which is never fewer
/// than GitHub's characters (or UTF-16 units), so the result always fits.
pub fn fit(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max.saturating_sub(CUT_NOTE.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    // A cut at a line end keeps a table row or a list item whole.
    if let Some(line) = text[..end].rfind('\n').filter(|at| end - at < 1_000) {
        end = line;
    }
    format!("{}{CUT_NOTE}", &text[..end]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched_and_long_text_fits_with_a_note() {
        assert_eq!(fit("hello", 10), "hello");
        let long = "| a | ü |\n".repeat(20_000);
        let cut = fit(&long, BODY_MAX);
        assert!(
            cut.len() <= BODY_MAX && cut.ends_with(CUT_NOTE),
            "{}",
            cut.len()
        );
        assert!(cut.trim_end_matches(CUT_NOTE).ends_with("| a | ü |"));
        let one_line = "é".repeat(BODY_MAX);
        assert!(fit(&one_line, BODY_MAX).len() <= BODY_MAX);
    }
}
