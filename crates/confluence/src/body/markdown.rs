//! Markdown (CommonMark with tables and strikethrough) → Confluence storage format.
//!
//! What converts: paragraphs, headings `#`..`######`, emphasis, strong, ~~strikethrough~~,
//! inline code, links (autolinks too; an email address as a `mailto:` link), images (`<ac:image>` of the URL, alt text kept), bullet and numbered lists (a numbered
//! list keeps its start number), block quotes, horizontal rules, hard line breaks, tables, and
//! fenced or indented code blocks (Confluence's `code` macro, with the fence's language).
//! Raw HTML in the Markdown is not passed through: it is shown as text, escaped. Task-list
//! markers (`- [ ]`) stay text.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

use super::escape_xml;

/// Converts Markdown to storage format.
pub fn markdown_to_storage(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut out = String::with_capacity(markdown.len() + markdown.len() / 4);
    let mut code: Option<String> = None;
    let mut table_head = false;
    // An image's alt text, collected until the image ends: (URL, alt).
    let mut image: Option<(String, String)> = None;
    for event in Parser::new_ext(markdown, options) {
        if let Some((url, alt)) = image.as_mut() {
            match event {
                Event::Text(t) | Event::Code(t) => alt.push_str(&t),
                Event::End(TagEnd::Image) => {
                    out.push_str(&format!(
                        r#"<ac:image ac:alt="{}"><ri:url ri:value="{}"/></ac:image>"#,
                        escape_xml(alt),
                        escape_xml(url)
                    ));
                    image = None;
                }
                _ => {}
            }
            continue;
        }
        if let Some(text) = code.as_mut() {
            match event {
                Event::Text(t) => text.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    out.push_str(&cdata(text));
                    out.push_str("</ac:plain-text-body></ac:structured-macro>");
                    code = None;
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(tag) => match tag {
                Tag::Paragraph => out.push_str("<p>"),
                Tag::Heading { level, .. } => out.push_str(&format!("<h{}>", level_number(level))),
                Tag::BlockQuote(_) => out.push_str("<blockquote>"),
                Tag::CodeBlock(kind) => {
                    out.push_str(r#"<ac:structured-macro ac:name="code">"#);
                    if let CodeBlockKind::Fenced(info) = kind {
                        let language = info.split_whitespace().next().unwrap_or_default();
                        if !language.is_empty() {
                            out.push_str(&format!(
                                r#"<ac:parameter ac:name="language">{}</ac:parameter>"#,
                                escape_xml(language)
                            ));
                        }
                    }
                    out.push_str("<ac:plain-text-body>");
                    code = Some(String::new());
                }
                Tag::List(Some(1)) => out.push_str("<ol>"),
                Tag::List(Some(start)) => out.push_str(&format!(r#"<ol start="{start}">"#)),
                Tag::List(None) => out.push_str("<ul>"),
                Tag::Item => out.push_str("<li>"),
                Tag::Table(_) => out.push_str("<table><tbody>"),
                Tag::TableHead => {
                    table_head = true;
                    out.push_str("<tr>");
                }
                Tag::TableRow => out.push_str("<tr>"),
                Tag::TableCell => out.push_str(if table_head { "<th>" } else { "<td>" }),
                Tag::Emphasis => out.push_str("<em>"),
                Tag::Strong => out.push_str("<strong>"),
                Tag::Strikethrough => out.push_str("<del>"),
                Tag::Link {
                    link_type,
                    dest_url,
                    ..
                } => {
                    // An email autolink (`<ada@example.com>`) comes without its scheme.
                    let scheme = if link_type == LinkType::Email {
                        "mailto:"
                    } else {
                        ""
                    };
                    out.push_str(&format!(r#"<a href="{scheme}{}">"#, escape_xml(&dest_url)))
                }
                Tag::Image { dest_url, .. } => image = Some((dest_url.to_string(), String::new())),
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Paragraph => out.push_str("</p>"),
                TagEnd::Heading(level) => out.push_str(&format!("</h{}>", level_number(level))),
                TagEnd::BlockQuote(_) => out.push_str("</blockquote>"),
                TagEnd::List(true) => out.push_str("</ol>"),
                TagEnd::List(false) => out.push_str("</ul>"),
                TagEnd::Item => out.push_str("</li>"),
                TagEnd::Table => out.push_str("</tbody></table>"),
                TagEnd::TableHead => {
                    table_head = false;
                    out.push_str("</tr>");
                }
                TagEnd::TableRow => out.push_str("</tr>"),
                TagEnd::TableCell => out.push_str(if table_head { "</th>" } else { "</td>" }),
                TagEnd::Emphasis => out.push_str("</em>"),
                TagEnd::Strong => out.push_str("</strong>"),
                TagEnd::Strikethrough => out.push_str("</del>"),
                TagEnd::Link => out.push_str("</a>"),
                _ => {}
            },
            Event::Text(text) | Event::Html(text) | Event::InlineHtml(text) => {
                out.push_str(&escape_xml(&text))
            }
            Event::Code(text) => {
                out.push_str("<code>");
                out.push_str(&escape_xml(&text));
                out.push_str("</code>");
            }
            Event::SoftBreak => out.push('\n'),
            Event::HardBreak => out.push_str("<br/>"),
            Event::Rule => out.push_str("<hr/>"),
            _ => {}
        }
    }
    out
}

fn level_number(level: HeadingLevel) -> u8 {
    level as u8
}

/// Text in a CDATA section; `]]>` inside it is split across two sections.
fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_inlines_convert() {
        assert_eq!(
            markdown_to_storage(
                "# Title\n\nSome *em* **strong** ~~old~~ `x<y` [link](https://e.x/?a=1&b=2).\n"
            ),
            r#"<h1>Title</h1><p>Some <em>em</em> <strong>strong</strong> <del>old</del> <code>x&lt;y</code> <a href="https://e.x/?a=1&amp;b=2">link</a>.</p>"#
        );
        assert_eq!(
            markdown_to_storage("- a\n- b\n\n3. c\n4. d\n\n> quoted\n\n---\n"),
            r#"<ul><li>a</li><li>b</li></ul><ol start="3"><li>c</li><li>d</li></ol><blockquote><p>quoted</p></blockquote><hr/>"#
        );
    }

    #[test]
    fn autolinks_keep_their_scheme() {
        assert_eq!(
            markdown_to_storage("Write to <ada@example.com> or see <https://e.x/a>."),
            r#"<p>Write to <a href="mailto:ada@example.com">ada@example.com</a> or see <a href="https://e.x/a">https://e.x/a</a>.</p>"#
        );
    }

    #[test]
    fn code_blocks_become_the_code_macro() {
        assert_eq!(
            markdown_to_storage("```rust\nlet a = \"]]>\";\n```\n"),
            r#"<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">rust</ac:parameter><ac:plain-text-body><![CDATA[let a = "]]]]><![CDATA[>";
]]></ac:plain-text-body></ac:structured-macro>"#
        );
    }

    #[test]
    fn tables_images_and_raw_html() {
        assert_eq!(
            markdown_to_storage("| a | b |\n|---|---|\n| 1 | 2 |\n"),
            "<table><tbody><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></tbody></table>"
        );
        assert_eq!(
            markdown_to_storage("![logo](https://e.x/l.png)"),
            r#"<p><ac:image ac:alt="logo"><ri:url ri:value="https://e.x/l.png"/></ac:image></p>"#
        );
        assert_eq!(
            markdown_to_storage("<script>alert(1)</script>\n"),
            "&lt;script&gt;alert(1)&lt;/script&gt;\n"
        );
    }
}
