//! Shortening a long text that came from outside (an error, a name) before it goes into a
//! message or a record: the one cut every crate uses, always on a character boundary.

use std::borrow::Cow;

/// The start of `text` with at most `max_chars` characters and at most `max_bytes` bytes;
/// `None` when `text` is within both (nothing to cut).
pub fn cut(text: &str, max_chars: usize, max_bytes: usize) -> Option<&str> {
    let by_chars = text
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(at, _)| at);
    let mut end = by_chars.min(max_bytes);
    if end >= text.len() {
        return None;
    }
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(&text[..end])
}

/// At most the first `max_chars` characters of `text`, with no mark of the cut.
pub fn first_chars(text: &str, max_chars: usize) -> &str {
    cut(text, max_chars, usize::MAX).unwrap_or(text)
}

/// Characters of a value from outside (a name, an id, a path) that a message repeats.
pub const ECHO_CHARS: usize = 64;

/// A value from outside as an error message repeats it: whole up to [`ECHO_CHARS`]
/// characters, else its start and `…` (a request may send a name of kilobytes).
pub fn echo(text: &str) -> Cow<'_, str> {
    shorten(text, ECHO_CHARS)
}

/// `text` whole when it has at most `max_chars` characters; else its first `max_chars` and
/// `…`: how a long value is shown in a message.
pub fn shorten(text: &str, max_chars: usize) -> Cow<'_, str> {
    match cut(text, max_chars, usize::MAX) {
        Some(start) => Cow::Owned(format!("{start}…")),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_within_the_limits_is_not_cut() {
        assert_eq!(cut("abc", 3, 3), None);
        assert_eq!(cut("", 0, 0), None);
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(first_chars("abc", 3), "abc");
    }

    #[test]
    fn the_cut_counts_characters_and_bytes_and_keeps_characters_whole() {
        assert_eq!(cut("ééé", 2, usize::MAX), Some("éé"));
        assert_eq!(cut("ééé", usize::MAX, 3), Some("é"), "a byte cut inside é");
        assert_eq!(cut("aéb", usize::MAX, 2), Some("a"));
        assert_eq!(cut("abcdef", 4, 2), Some("ab"), "the smaller limit wins");
        assert_eq!(shorten("ééé", 2), "éé…");
        assert_eq!(first_chars("ééé", 2), "éé");
    }

    #[test]
    fn an_echo_is_capped() {
        let long = "n".repeat(8000);
        assert_eq!(echo(&long).chars().count(), ECHO_CHARS + 1);
        assert_eq!(echo("report"), "report");
    }
}
