//! Inputs shared by many actions, checked before any request is sent.

use std::fmt;

use weft_action::ActionError;

/// The longest id accepted (Confluence ids are 64-bit numbers).
const MAX_ID_DIGITS: usize = 20;

/// An id input (`page_id`, `blog_post_id`...): digits only, else an error naming the input.
pub fn content_id<'a>(value: &'a str, input: &str) -> Result<&'a str, ActionError> {
    // Digits only (no sign, no spaces), and within a 64-bit number: Confluence answers a 400
    // about its own path for a longer one.
    if value.is_empty()
        || value.len() > MAX_ID_DIGITS
        || !value.bytes().all(|b| b.is_ascii_digit())
        || value.parse::<u64>().is_err()
    {
        return Err(ActionError::invalid_input(format!(
            "input `{input}` is {value:?}; a Confluence id is a string of digits such as \"65601\""
        )));
    }
    Ok(value)
}

/// What a write does when the object changed since it was read (409): `fail` the step
/// (nothing is overwritten), or `retry`: read the object again and re-apply the change (a few
/// times at most). Variants carry no doc comments, so that the schema is a plain `enum`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnConflict {
    #[default]
    Fail,
    Retry,
}

/// The longest title Confluence accepts.
pub const MAX_TITLE_CHARS: usize = 255;

/// A title input: not blank, at most [`MAX_TITLE_CHARS`] characters.
pub fn title<'a>(value: &'a str, input: &str) -> Result<&'a str, ActionError> {
    if value.trim().is_empty() {
        return Err(ActionError::invalid_input(format!(
            "input `{input}` is empty; a page needs a title"
        )));
    }
    let chars = value.chars().count();
    if chars > MAX_TITLE_CHARS {
        return Err(ActionError::invalid_input(format!(
            "input `{input}` has {chars} characters; Confluence accepts at most {MAX_TITLE_CHARS}"
        )));
    }
    Ok(value)
}

/// A `space` input: a numeric space id, or a space key (`ENG`, `~5b10a2844c`), case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpaceRef {
    Id(String),
    Key(String),
}

impl SpaceRef {
    pub fn parse(value: &str, input: &str) -> Result<SpaceRef, ActionError> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(SpaceRef::Id(content_id(value, input)?.to_string()));
        }
        let key = value.strip_prefix('~').unwrap_or(value);
        if key.is_empty()
            || key.len() > 255
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ActionError::invalid_input(format!(
                "input `{input}` is {value:?}; give a space key such as \"ENG\" or a numeric space id"
            )));
        }
        Ok(SpaceRef::Key(value.to_string()))
    }
}

impl fmt::Display for SpaceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpaceRef::Id(id) => write!(f, "space {id}"),
            SpaceRef::Key(key) => write!(f, "space {key}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_digits() {
        assert_eq!(content_id("123", "page_id").unwrap(), "123");
        assert!(
            content_id("18446744073709551615", "page_id").is_ok(),
            "u64::MAX"
        );
        for bad in [
            "",
            "abc",
            "12x",
            "-1",
            "1 2",
            "123456789012345678901",
            "99999999999999999999",
        ] {
            let error = content_id(bad, "page_id").unwrap_err();
            assert!(error.message.contains("`page_id`"), "{bad}: {error}");
        }
    }

    #[test]
    fn spaces_are_ids_or_keys() {
        assert_eq!(
            SpaceRef::parse("42", "space").unwrap(),
            SpaceRef::Id("42".into())
        );
        assert_eq!(
            SpaceRef::parse("eng", "space").unwrap(),
            SpaceRef::Key("eng".into())
        );
        assert_eq!(
            SpaceRef::parse("~5b10a2844c", "space").unwrap(),
            SpaceRef::Key("~5b10a2844c".into())
        );
        assert!(SpaceRef::parse("E N G", "space").is_err());
        assert!(SpaceRef::parse("", "space").is_err());
    }
}

/// The kind of space.
#[derive(Debug, Clone, Copy, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpaceType {
    Global,
    Personal,
}

impl SpaceType {
    /// The value of v2 `/spaces?type=`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpaceType::Global => "global",
            SpaceType::Personal => "personal",
        }
    }
}
