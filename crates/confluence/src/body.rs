//! Page bodies: the formats a step may write in and read in, and the conversion of plain text
//! into Confluence's storage format.
//!
//! - `storage`, `atlas_doc_format` and `wiki` are sent untouched (Confluence converts `wiki`).
//! - `markdown`: converted to storage format, see [`markdown`] for exactly what converts.
//! - `plain`: the text is XML-escaped (`&`, `<`, `>`, `"`, `'`); each paragraph (lines separated
//!   by a blank line) becomes a `<p>`, and single line breaks inside one become `<br/>`.

pub mod markdown;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

/// The format of a `body` input: Confluence storage format (XHTML-like XML, sent untouched),
/// Atlassian Document Format (JSON in a string, sent untouched), Confluence wiki markup
/// (converted by Confluence), Markdown (converted to storage format) or plain text (escaped
/// into storage-format paragraphs). Variants carry no doc comments, so that the schema is a plain
/// `enum` the checker and the docs read as the list of values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteFormat {
    #[default]
    Storage,
    AtlasDocFormat,
    Wiki,
    Markdown,
    Plain,
}

/// The format a read returns the body in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadFormat {
    #[default]
    Storage,
    AtlasDocFormat,
    View,
    ExportView,
}

impl ReadFormat {
    /// The `body-format` query value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadFormat::Storage => "storage",
            ReadFormat::AtlasDocFormat => "atlas_doc_format",
            ReadFormat::View => "view",
            ReadFormat::ExportView => "export_view",
        }
    }
}

/// The v2 `body` object of a write: `{"representation": ..., "value": ...}`.
pub fn write_body(body: &str, format: WriteFormat) -> Value {
    let (representation, value) = match format {
        WriteFormat::Storage => ("storage", body.to_string()),
        WriteFormat::AtlasDocFormat => ("atlas_doc_format", body.to_string()),
        WriteFormat::Wiki => ("wiki", body.to_string()),
        WriteFormat::Markdown => ("storage", markdown::markdown_to_storage(body)),
        WriteFormat::Plain => ("storage", plain_to_storage(body)),
    };
    json!({ "representation": representation, "value": value })
}

/// Plain text as storage-format paragraphs.
pub fn plain_to_storage(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    text.split("\n\n")
        .map(|paragraph| paragraph.trim_matches('\n'))
        .filter(|paragraph| !paragraph.trim().is_empty())
        .map(|paragraph| {
            let lines: Vec<String> = paragraph.split('\n').map(escape_xml).collect();
            format!("<p>{}</p>", lines.join("<br/>"))
        })
        .collect()
}

/// Text escaped for XML content and attribute values.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The text of a body with its markup and all white space left out, to tell whether two
/// bodies in different formats say the same: storage format without its tags and with its
/// entities read; ADF as its text nodes; wiki as written (Confluence's conversion keeps plain
/// text, and text with markup compares unequal).
pub fn bare_text(representation: &str, value: &str) -> String {
    let text = match representation {
        "atlas_doc_format" => serde_json::from_str::<Value>(value)
            .map(|document| adf_text(&document))
            .unwrap_or_default(),
        "storage" => storage_text(value),
        _ => value.to_string(),
    };
    text.split_whitespace().collect()
}

/// The text nodes of an ADF document, in order.
fn adf_text(node: &Value) -> String {
    fn walk(node: &Value, out: &mut String) {
        match node {
            Value::Object(fields) => {
                if let Some(Value::String(text)) = fields.get("text") {
                    out.push_str(text);
                }
                if let Some(content) = fields.get("content") {
                    walk(content, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    walk(node, &mut out);
    out
}

/// Storage format without its tags, its character entities read.
fn storage_text(storage: &str) -> String {
    let mut text = String::with_capacity(storage.len());
    let mut rest = storage;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        rest = rest[open..]
            .find('>')
            .map_or("", |close| &rest[open + close + 1..]);
    }
    text.push_str(rest);
    unescape_xml(&text)
}

/// XML character entities read (`&amp;`, `&#39;`, `&#x27;` ...); unknown ones kept as written.
fn unescape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let entity = rest.find(';').map(|end| (&rest[1..end], end));
        let read = entity.and_then(|(name, end)| {
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match read {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_text_tells_the_same_words_in_every_format() {
        let storage =
            "<p>Reviewed &amp; <strong>approved</strong>.</p><p>Ship it &#39;now&#x27;</p>";
        let adf = r#"{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"Reviewed & "},{"type":"text","text":"approved","marks":[{"type":"strong"}]},{"type":"text","text":"."}]},{"type":"paragraph","content":[{"type":"text","text":"Ship it 'now'"}]}]}"#;
        let wiki = "Reviewed & approved.\nShip it 'now'";
        let expected = "Reviewed&approved.Shipit'now'";
        assert_eq!(bare_text("storage", storage), expected);
        assert_eq!(bare_text("atlas_doc_format", adf), expected);
        assert_eq!(bare_text("wiki", wiki), expected);
        assert_eq!(bare_text("storage", "a &bogus; b <unclosed"), "a&bogus;b");
        assert_eq!(bare_text("atlas_doc_format", "not json"), "");
    }

    #[test]
    fn plain_text_is_escaped_into_paragraphs() {
        assert_eq!(
            plain_to_storage("a < b & c\nnext line\n\n\n'quoted' \"x\""),
            "<p>a &lt; b &amp; c<br/>next line</p><p>&#39;quoted&#39; &quot;x&quot;</p>"
        );
        assert_eq!(plain_to_storage("\n\n"), "");
    }

    #[test]
    fn storage_adf_and_wiki_pass_through() {
        let adf = r#"{"type":"doc","version":1,"content":[]}"#;
        assert_eq!(
            write_body(adf, WriteFormat::AtlasDocFormat),
            json!({"representation": "atlas_doc_format", "value": adf})
        );
        assert_eq!(
            write_body("<p>x &amp; <ac:emoticon/></p>", WriteFormat::Storage)["value"],
            "<p>x &amp; <ac:emoticon/></p>"
        );
        assert_eq!(
            write_body("h1. T", WriteFormat::Wiki)["representation"],
            "wiki"
        );
        assert_eq!(
            write_body("1 < 2", WriteFormat::Plain),
            json!({"representation": "storage", "value": "<p>1 &lt; 2</p>"})
        );
    }
}
