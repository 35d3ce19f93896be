//! Reads YAML text into a [`Node`] tree with positions, refusing hostile input with a clear
//! diagnostic: oversized files, deep nesting, alias bombs, duplicate keys, complex keys.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use weft_action::text::first_chars;

use super::again::ItemLines;
use super::node::{Node, NodeKind};
use crate::diagnostic::{Diagnostic, Span};

/// Bounds that keep a hostile or broken file from exhausting memory or the stack.
#[derive(Debug, Clone, Copy)]
pub struct LoadLimits {
    pub max_bytes: usize,
    pub max_depth: usize,
    /// Nodes in the tree after aliases are expanded (the defence against "billion laughs").
    pub max_nodes: usize,
}

/// The largest workflow file: room for 100,000 steps (a generated workflow of that size in
/// block style is about 12 MiB).
pub const MAX_WORKFLOW_BYTES: usize = 16 * 1024 * 1024;
/// The value cap follows the file cap: one value per this many bytes of the largest file, so
/// that raising one raises the other in proportion. Ordinary YAML spends more than 8 bytes a
/// value (a step of the benchmark's flow style: about 9 values in 75 bytes); a denser file
/// (`[1,1,1,...]`, two bytes a value) meets the value cap before the byte cap.
pub const BYTES_PER_VALUE: usize = 8;

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_bytes: MAX_WORKFLOW_BYTES,
            max_depth: 64,
            max_nodes: MAX_WORKFLOW_BYTES / BYTES_PER_VALUE,
        }
    }
}

/// Parses one YAML document. All problems found are returned; the tree only when none of them
/// stops it being read (see [`Loaded`]).
pub fn load(bytes: &[u8], limits: LoadLimits) -> Result<Loaded, Vec<Diagnostic>> {
    load_handing_out(bytes, limits, None)
}

/// The list of a document's top-level key whose items [`load_handing_out`] hands out as they
/// are read, and what takes them.
pub struct HandOut<'h> {
    pub key: &'h str,
    pub each: &'h mut dyn FnMut(Node),
}

/// [`load`], except that each item of the list at the top-level key `hand_out.key` is given to
/// `hand_out.each` as soon as it is read instead of being kept in the tree, where that list
/// stays, empty, with its position. So the tree of a workflow's steps is never whole: each
/// step's is freed as the next is read. A list under a key that is left out (a duplicate), or
/// that carries an anchor (an alias may repeat it whole), is kept in the tree as usual. Items
/// handed out before a problem stopped the reading are the caller's to drop.
pub fn load_handing_out(
    bytes: &[u8],
    limits: LoadLimits,
    hand_out: Option<HandOut<'_>>,
) -> Result<Loaded, Vec<Diagnostic>> {
    if bytes.len() > limits.max_bytes {
        return Err(vec![Diagnostic::error(
            format!(
                "file is too large: {:.1} MB (the limit for a workflow file is {} MB)",
                bytes.len() as f64 / 1_000_000.0,
                limits.max_bytes / (1024 * 1024)
            ),
            None,
        )
        .with_help(
            "split the workflow and call the parts with `workflow.call`",
        )]);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let valid = std::str::from_utf8(valid).unwrap_or_default();
            let line = valid.matches('\n').count() as u32 + 1;
            let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
            return Err(vec![Diagnostic::error(
                format!(
                    "file is not valid UTF-8 (invalid byte at offset {})",
                    e.valid_up_to()
                ),
                Some(Span::new(line, col, 1)),
            )
            .with_help("save the file as UTF-8")]);
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // YAML reads a lone `\r` as a line break and editors do not: positions would disagree.
    if let Some(at) = text
        .match_indices('\r')
        .map(|(at, _)| at)
        .find(|&at| text.as_bytes().get(at + 1) != Some(&b'\n'))
    {
        let before = &text[..at];
        let line = before.matches('\n').count() as u32 + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
        return Err(vec![Diagnostic::error(
            "carriage return (`\\r`) without a line feed",
            Some(Span::new(line, col, 1)),
        )
        .with_help(
            "save the file with `\\n` (Unix) or `\\r\\n` (Windows) line ends",
        )]);
    }
    if text.trim().is_empty() {
        return Err(vec![Diagnostic::error("file is empty", None).with_help(
            "a workflow is a mapping with at least `name` and `steps`",
        )]);
    }

    let mut builder = TreeBuilder::new(text, limits, hand_out);
    let mut parser = Parser::new_from_str(text);
    let parsed = read_events(&mut parser, &mut builder);
    // Our own limits stop the tree first; the parser's error then only repeats them.
    if builder.stopped {
        return Err(builder.errors);
    }
    if let Err(e) = parsed {
        let span = span_at(text, builder.lines, e.marker(), 1);
        let line = span.line;
        let line_text = text
            .lines()
            .nth(line.saturating_sub(1) as usize)
            .unwrap_or("");
        let help = if line_text.contains('\t') || e.info().contains("tab") {
            Some("YAML does not allow tabs for indentation: indent with spaces".to_string())
        } else {
            None
        };
        if let Some(key) = long_key(line_text, span) {
            return Err(vec![key]);
        }
        let message = if e.info().contains("recursion limit") {
            format!(
                "nesting is too deep (more than {} levels)",
                limits.max_depth
            )
        } else {
            format!("invalid YAML: {}", e.info())
        };
        return Err(vec![
            Diagnostic::error(message, Some(span)).with_optional_help(help)
        ]);
    }
    if !builder.errors.is_empty() {
        let mut problems = builder.errors;
        problems.extend(builder.left_out);
        problems.sort_by_key(|d| d.span.map(|s| (s.line, s.col)));
        return Err(problems);
    }
    let root = builder
        .root
        .ok_or_else(|| vec![Diagnostic::error("file holds no YAML document", None)])?;
    // An entry left out of an item would be left out of it read alone too, but the second
    // reading would not know: it reads such a document again whole.
    let item_lines = builder.item_lines.filter(|_| builder.left_out.is_empty());
    Ok(Loaded {
        root,
        left_out: builder.left_out,
        item_lines,
    })
}

/// A document read: its tree, and the entries left out of it (merge keys), each with its
/// problem, so that the rest is still checked and every problem reported at once.
#[derive(Debug)]
pub struct Loaded {
    pub root: Node,
    pub left_out: Vec<Diagnostic>,
    /// Where the handed-out items are, when each can be read again alone (see
    /// [`super::read_items_again`]).
    pub item_lines: Option<ItemLines>,
}

impl Loaded {
    /// The tree when nothing was left out of it, else the problems.
    pub fn whole(self) -> Result<Node, Vec<Diagnostic>> {
        if self.left_out.is_empty() {
            Ok(self.root)
        } else {
            Err(self.left_out)
        }
    }
}

/// Feeds the parser's events to the builder until the stream ends or the builder stops.
/// Every document is read, so a second one is reported instead of silently ignored.
/// `Parser::load` is not used: it recurses once per nesting level (a line of 5,000 `- `
/// overflowed the stack) and keeps reading after our limits stopped the tree, while this
/// loop stops at the first level past `max_depth`, however deep the rest of the file goes.
fn read_events(
    parser: &mut Parser<std::str::Chars<'_>>,
    builder: &mut TreeBuilder<'_, '_>,
) -> Result<(), yaml_rust2::ScanError> {
    loop {
        let (event, mark) = parser.next_token()?;
        let end = event == Event::StreamEnd;
        builder.on_event(event, mark);
        if end || builder.stopped {
            return Ok(());
        }
    }
}

/// A list or mapping being read. Its items are gathered at the end of the builder's scratch
/// lists, from `start` on, and moved into a list of exactly their number when it ends: growing
/// a list per mapping left a step's mapping of three keys room for four, its `with:` of one key
/// room for four (96 bytes a room), and the tree of every step is alive until the model is built.
enum Frame {
    Seq {
        start: usize,
        span: Span,
        anchor: usize,
        /// The items go to [`TreeBuilder::hand_out`], not into the list.
        handed_out: bool,
    },
    Map {
        start: usize,
        pending_key: Option<Node>,
        /// The pending key is left out with its value (a merge key, a duplicate).
        leaving_out: bool,
        span: Option<Span>,
        anchor: usize,
        /// The keys so far and their lines, once there are more than [`SEARCHED_KEYS`].
        keys: Option<HashMap<String, u32>>,
    },
}

/// Whether `frame` is the list whose items are handed out.
fn hands_out(frame: Option<&Frame>) -> bool {
    matches!(
        frame,
        Some(Frame::Seq {
            handed_out: true,
            ..
        })
    )
}

/// Mappings up to this many keys are searched for a duplicate key; longer ones index their
/// keys, so a mapping of a million keys is checked in one pass, not a million.
const SEARCHED_KEYS: usize = 16;

struct TreeBuilder<'t, 'h> {
    /// The text, to point at a tag (events only give the value's position).
    text: &'t str,
    hand_out: Option<HandOut<'h>>,
    /// Lines in `text`.
    lines: usize,
    limits: LoadLimits,
    stack: Vec<Frame>,
    /// The items of the open lists, innermost last (see [`Frame`]).
    items: Vec<Node>,
    /// The entries of the open mappings, innermost last.
    entries: Vec<(Node, Node)>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
    /// Whether an alias was expanded, which is what usually makes a document explode.
    aliases_expanded: bool,
    errors: Vec<Diagnostic>,
    /// Entries left out of the tree, each with its problem; the tree is still checked.
    left_out: Vec<Diagnostic>,
    /// After a fatal problem the rest of the events are ignored.
    stopped: bool,
    /// Where the last scalar was found in `text`.
    cursor: Cursor,
    /// Where the handed-out items are, while each can still be read again alone.
    item_lines: Option<ItemLines>,
    /// The line of the item being handed out, and the byte where it starts.
    item_line: (usize, usize),
    /// The last line a value was placed on.
    values_read_to: usize,
}

/// A place in the text, found by line and column. Scalars come in the order of the text, so
/// each is looked for from the one before it: the whole text is walked once, not once a
/// scalar (a file of one long line of a hundred thousand scalars).
#[derive(Default)]
struct Cursor {
    /// 1-based line, 0-based column in characters, and the byte offset of that place.
    line: usize,
    col: usize,
    byte: usize,
}

impl Cursor {
    /// The byte offset of `line` (1-based) and `col` (0-based, in characters) in `text`.
    fn seek(&mut self, text: &str, line: usize, col: usize) -> Option<usize> {
        if self.line == 0 || (line, col) < (self.line, self.col) {
            *self = Cursor {
                line: 1,
                col: 0,
                byte: 0,
            };
        }
        while self.line < line {
            let newline = text[self.byte..].find('\n')?;
            self.byte += newline + 1;
            self.line += 1;
            self.col = 0;
        }
        // Walked from the cursor only, never to the line's end: on one long line of many
        // scalars that would be the whole rest of the line for each.
        let rest = &text[self.byte..];
        let step = col - self.col;
        let mut offset = None;
        for (walked, (at, c)) in rest.char_indices().enumerate() {
            if walked == step {
                offset = Some(at);
                break;
            }
            if c == '\n' {
                return None;
            }
        }
        // `col` may be the end of the text's last line.
        let offset = offset.or_else(|| (rest.chars().count() == step).then_some(rest.len()))?;
        self.byte += offset;
        self.col = col;
        Some(self.byte)
    }
}

/// The span at a parser mark. At the end of a text without a final line break the parser
/// counts one line more than there is (`lines`): that place is the end of the last line.
fn span_at(text: &str, lines: usize, mark: &Marker, len: usize) -> Span {
    if mark.line() > lines {
        let last = text.rsplit('\n').next().unwrap_or_default();
        return Span::new(lines as u32, last.chars().count() as u32 + 1, 1);
    }
    Span::new(mark.line() as u32, mark.col() as u32 + 1, len as u32)
}

fn count_nodes(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        NodeKind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// Resolves a plain scalar the way YAML 1.2's core schema does.
fn plain_scalar(value: String, span: Span, exact: u32) -> Result<NodeKind, Diagnostic> {
    Ok(match value.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => NodeKind::Null,
        "true" | "True" | "TRUE" => NodeKind::Bool(true),
        "false" | "False" | "FALSE" => NodeKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN" => {
            return Err(
                Diagnostic::error(format!("`{value}` is not a finite number"), Some(span))
                    .with_help("quote it to use it as text"),
            )
        }
        _ => {
            if let Some(kind) = number(&value, span)? {
                kind
            } else {
                NodeKind::Str {
                    value: value.into(),
                    quoted: false,
                    exact,
                }
            }
        }
    })
}

/// The name of a YAML 1.2 standard tag (`!!str` is `str`), `None` for other tags.
fn standard_suffix(tag: &Tag) -> Option<&str> {
    (tag.handle == "tag:yaml.org,2002:").then_some(tag.suffix.as_str())
}

fn tag_text(tag: &Tag) -> String {
    match standard_suffix(tag) {
        Some(suffix) => format!("!!{suffix}"),
        None => format!("{}{}", tag.handle, tag.suffix),
    }
}

/// A tag that is unknown or does not fit its value.
fn tag_error(tag: &Tag, span: Span) -> Diagnostic {
    let text = tag_text(tag);
    match standard_suffix(tag) {
        Some("binary") => Diagnostic::error("`!!binary` values are not supported", Some(span))
            .with_help("write the base64 text without the tag and decode it with `base64_decode(...)`"),
        Some(suffix @ ("seq" | "map" | "str" | "int" | "float" | "bool" | "null")) => {
            Diagnostic::error(format!("`!!{suffix}` does not fit this value"), Some(span))
                .with_help(format!("remove `{text}`, or change the value to match it"))
        }
        _ => Diagnostic::error(format!("unknown YAML tag `{text}`"), Some(span)).with_help(
            "weft reads plain YAML: remove the tag (the standard tags `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!seq` and `!!map` are understood)",
        ),
    }
}

/// A scalar with an explicit tag: `!!str 12` is text, `!!int 12` must be an integer...
fn tagged_scalar(tag: &Tag, value: String, span: Span, exact: u32) -> Result<NodeKind, Diagnostic> {
    let text = || NodeKind::Str {
        value: value.as_str().into(),
        quoted: true,
        exact,
    };
    // `! value` (the non-specific tag) is text, as in the YAML spec.
    if tag.handle == "!" && tag.suffix.is_empty() {
        return Ok(text());
    }
    let mismatch = || {
        let shown = first_chars(&value, SHOWN_VALUE);
        Diagnostic::error(
            format!("`{shown}` is not what `{}` says it is", tag_text(tag)),
            Some(span),
        )
        .with_help(format!(
            "remove `{}`, or change the value to match it",
            tag_text(tag)
        ))
    };
    let plain = || plain_scalar(value.clone(), span, exact);
    match standard_suffix(tag) {
        Some("str") => Ok(text()),
        Some("int") => match plain()? {
            kind @ NodeKind::Int(_) => Ok(kind),
            _ => Err(mismatch()),
        },
        Some("float") => match plain()? {
            NodeKind::Int(i) => Ok(NodeKind::Float(i as f64)),
            kind @ NodeKind::Float(_) => Ok(kind),
            _ => Err(mismatch()),
        },
        Some("bool") => match plain()? {
            kind @ NodeKind::Bool(_) => Ok(kind),
            _ => Err(mismatch()),
        },
        Some("null") => match plain()? {
            NodeKind::Null => Ok(NodeKind::Null),
            _ => Err(mismatch()),
        },
        _ => Err(tag_error(tag, span)),
    }
}

/// For a YAML 1.1 boolean (`yes`, `no`, `on`, `off`, `y`, `n`, any case), which YAML 1.2
/// reads as text, what to write instead, where a boolean is expected.
pub fn yaml11_bool_help(text: &str) -> Option<String> {
    let meant = match text.to_ascii_lowercase().as_str() {
        "yes" | "on" | "y" => true,
        "no" | "off" | "n" => false,
        _ => return None,
    };
    Some(format!(
        "`{text}` is text in YAML 1.2, not a boolean: write `{meant}`"
    ))
}

fn number(text: &str, span: Span) -> Result<Option<NodeKind>, Diagnostic> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let negative = text.starts_with('-');
    let radix = if let Some(hex) = unsigned.strip_prefix("0x") {
        Some((hex, 16))
    } else {
        unsigned.strip_prefix("0o").map(|oct| (oct, 8))
    };
    if let Some((digits, radix)) = radix {
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return Ok(None);
        }
        return match i64::from_str_radix(digits, radix) {
            Ok(v) => Ok(Some(NodeKind::Int(if negative { -v } else { v }))),
            Err(_) => Err(too_large(text, span)),
        };
    }
    if !unsigned.is_empty() && unsigned.chars().all(|c| c.is_ascii_digit()) {
        return match text.parse::<i64>() {
            Ok(v) => Ok(Some(NodeKind::Int(v))),
            Err(_) => Err(too_large(text, span)),
        };
    }
    let looks_float = unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && unsigned
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        && unsigned.chars().any(|c| c.is_ascii_digit());
    if looks_float {
        if let Ok(v) = text.parse::<f64>() {
            if !v.is_finite() {
                let shown = first_chars(text, SHOWN_VALUE);
                return Err(Diagnostic::error(
                    format!("number `{shown}` is too large"),
                    Some(span),
                )
                .with_help("numbers must be within ±1.7976931348623157e308"));
            }
            return Ok(Some(NodeKind::Float(v)));
        }
    }
    Ok(None)
}

/// Characters of a value a message repeats.
const SHOWN_VALUE: usize = 40;

/// Characters of a key written on one line, at most (YAML's own limit for an implicit key).
const MAX_KEY_CHARS: usize = 1024;

/// When the parser stopped at the `:` after a key longer than YAML allows, weft's own message
/// for it (the parser's, "mapping values are not allowed in this context" or "simple key
/// expect ':'", does not say what is wrong).
fn long_key(line: &str, at: Span) -> Option<Diagnostic> {
    let before = line.get(..line.char_indices().nth(at.col.checked_sub(1)? as usize)?.0)?;
    let indent = before.len() - before.trim_start_matches([' ', '-']).len();
    let key = before[indent..].trim_end();
    let chars = key.chars().count();
    // A plain key ends at `: `, so one in it means the long text is a value, not the key.
    if chars <= MAX_KEY_CHARS || key.contains(": ") {
        return None;
    }
    let col = before[..indent].chars().count() as u32 + 1;
    Some(
        Diagnostic::error(
            format!("a key of {chars} characters is longer than YAML allows ({MAX_KEY_CHARS})"),
            Some(Span::new(at.line, col, chars as u32)),
        )
        .with_help(
            "shorten the key, or write it as an explicit key: `? <key>` on its own line, then `: <value>` on the next",
        ),
    )
}

/// A `<<` key: YAML 1.1's merge, which YAML 1.2 (what weft reads) no longer has. Read as a
/// key named `<<`, it would reach an action's input or be refused as an unknown key with no
/// word on why.
fn is_merge_key(key: &Node) -> bool {
    matches!(&key.kind, NodeKind::Str { value, quoted: false, .. } if value.as_str() == "<<")
}

fn merge_key_error(span: Span) -> Diagnostic {
    Diagnostic::error("merge keys (`<<`) are not supported", Some(span)).with_help(
        "write the keys out; an alias can stand for a whole value (`with: *common`); quote the key (`\"<<\"`) for a key named `<<`",
    )
}

/// An integer beyond 64 bits.
fn too_large(text: &str, span: Span) -> Diagnostic {
    let shown = first_chars(text, SHOWN_VALUE);
    Diagnostic::error(format!("number `{shown}` is too large"), Some(span)).with_help(
        "integers must fit in 64 bits (±9223372036854775807); quote the value to keep it as text",
    )
}

impl<'t, 'h> TreeBuilder<'t, 'h> {
    fn new(text: &'t str, limits: LoadLimits, hand_out: Option<HandOut<'h>>) -> Self {
        TreeBuilder {
            text,
            lines: text.matches('\n').count() + 1,
            limits,
            stack: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            nodes: 0,
            aliases_expanded: false,
            errors: Vec::new(),
            left_out: Vec::new(),
            stopped: false,
            cursor: Cursor::default(),
            // A directive (`%TAG`) would change how an item reads alone.
            item_lines: (hand_out.is_some() && !text.lines().any(|l| l.starts_with('%')))
                .then(ItemLines::default),
            item_line: (0, 0),
            values_read_to: 0,
            hand_out,
        }
    }

    /// Notes where the handed-out items start and end, or that one of them could not be read
    /// alone: it is anchored or aliased, or does not start a line of its own.
    fn note_item_lines(&mut self, event: &Event, mark: &Marker) {
        let anchored = match event {
            Event::Alias(_) => true,
            Event::Scalar(_, _, anchor, _)
            | Event::SequenceStart(anchor, _)
            | Event::MappingStart(anchor, _) => *anchor != 0,
            _ => false,
        };
        let handing_out = hands_out(self.stack.last());
        let readable = !anchored
            && match event {
                _ if !handing_out => true,
                Event::SequenceEnd => self.items_end(mark),
                _ => self.item_starts(mark),
            };
        // The handed-out list is the top-level mapping's value: what is read within it.
        let in_items = hands_out(self.stack.get(1));
        if let (
            true,
            Event::Scalar(..)
            | Event::Alias(_)
            | Event::SequenceStart(..)
            | Event::MappingStart(..),
        ) = (in_items, event)
        {
            self.values_read_to = self.values_read_to.max(mark.line());
        }
        if !readable {
            self.item_lines = None;
        }
    }

    /// Notes the line of the item starting at `mark` (a mapping's mark is past its first key:
    /// where the item starts on its line is known once it is read, see [`Self::place_item`]).
    fn item_starts(&mut self, mark: &Marker) -> bool {
        let line = mark.line();
        // A value read before is placed on this line (an empty value at the end of the item
        // before is placed at this one's `-`), or something on it was read: the item is not
        // alone on its lines (and seeking back would walk the text from its start).
        if self.values_read_to >= line || (line, 0) < (self.cursor.line, self.cursor.col) {
            return false;
        }
        let Some(start) = self.cursor.seek(self.text, line, 0) else {
            return false;
        };
        self.item_line = (line, start);
        true
    }

    /// Notes the item just read, if it starts its line with a `-` (`  - id: a`).
    fn place_item(&mut self, item: &Node) {
        let (line, start) = self.item_line;
        let col = item.span.col as usize - 1;
        let head = match item.span.line as usize == line {
            true => self.text.as_bytes()[start..].get(..col),
            false => None,
        };
        // Spaces, `-`, spaces, and the `{` of a flow mapping, whose place is its first key's.
        let dashed = head.is_some_and(|head| {
            let spaces = |text: &[u8]| text.iter().take_while(|&&b| b == b' ').count();
            let Some(after) = head[spaces(head)..].strip_prefix(b"-") else {
                return false;
            };
            let gap = spaces(after);
            let rest = &after[gap..];
            let rest = rest.strip_prefix(b"{").unwrap_or(rest);
            gap > 0 && rest.len() == spaces(rest)
        });
        match (&mut self.item_lines, dashed) {
            (Some(lines), true) => lines.place(line as u32, item),
            _ => self.item_lines = None,
        }
    }

    /// Whether the handed-out list ending at `mark` ends at a line's start or at the end of
    /// the text, noted if so.
    fn items_end(&mut self, mark: &Marker) -> bool {
        let end = if mark.col() == 0 {
            // The last item's values are all on the lines before.
            if self.values_read_to >= mark.line() {
                return false;
            }
            Some(mark.line() as u32)
        } else {
            match self.cursor.seek(self.text, mark.line(), mark.col()) {
                Some(at) if self.text[at..].trim().is_empty() => None,
                _ => return false,
            }
        };
        if let Some(lines) = &mut self.item_lines {
            lines.end(end);
        }
        true
    }

    /// Where `tag` is written before the value at `value`: on the same line, else the value.
    fn tag_span(&self, tag: &Tag, value: Span) -> Span {
        let written = tag_text(tag);
        let line = self.text.lines().nth(value.line.saturating_sub(1) as usize);
        let before: Option<String> = line.map(|l| {
            l.chars()
                .take(value.col.saturating_sub(1) as usize)
                .collect()
        });
        match before
            .as_deref()
            .and_then(|b| b.rfind(&written).map(|at| &b[..at]))
        {
            Some(head) => Span::new(
                value.line,
                head.chars().count() as u32 + 1,
                written.chars().count() as u32,
            ),
            None => value,
        }
    }

    /// How many bytes of the scalar `value` at `mark`, from its start, map to columns of its
    /// line (see `NodeKind::Str::exact`), plus one so that 0 can say "none".
    fn exact_prefix(&mut self, mark: &Marker, style: TScalarStyle, value: &str) -> u32 {
        let quote = match style {
            TScalarStyle::Plain => None,
            TScalarStyle::SingleQuoted => Some('\''),
            TScalarStyle::DoubleQuoted => Some('"'),
            _ => return 0,
        };
        let Some(at) = self.cursor.seek(self.text, mark.line(), mark.col()) else {
            return 0;
        };
        let source = &self.text[at..];
        let Some(source) = (match quote {
            Some(quote) => source.strip_prefix(quote),
            None => Some(source),
        }) else {
            return 0;
        };
        let mut same = value
            .char_indices()
            .zip(source.chars())
            .find(|((_, v), s)| v != s || *v == '\n')
            .map_or(value.len(), |((offset, _), _)| offset);
        let whole = same == value.len();
        // `''` is one `'`: the first quote is the value's, the second is not in it, so the
        // place where they part is one byte later than where the value's text stops mapping.
        if quote == Some('\'') && !whole && same > 0 {
            same -= 1;
        }
        // The offset where value and text part still maps: the escape or line break starts
        // there. Past the end (an error at the end of the value) maps when all of it did.
        u32::try_from(same + 1).unwrap_or(0)
    }

    /// Whether the value about to be read is that of the top-level key whose list is handed
    /// out (a key that is kept: not a duplicate, not a merge key).
    fn hands_out_next_value(&self) -> bool {
        let Some(hand_out) = &self.hand_out else {
            return false;
        };
        matches!(
            &self.stack[..],
            [Frame::Map {
                pending_key: Some(key),
                leaving_out: false,
                ..
            }] if key.as_str() == Some(hand_out.key)
        )
    }

    fn fatal(&mut self, diagnostic: Diagnostic) {
        self.errors.push(diagnostic);
        self.stopped = true;
    }

    fn add_nodes(&mut self, count: usize, span: Span) -> bool {
        self.nodes += count;
        if self.nodes <= self.limits.max_nodes {
            return true;
        }
        let limit = self.limits.max_nodes;
        let diagnostic = if self.aliases_expanded {
            Diagnostic::error(
                format!(
                    "document is too large: more than {limit} values once aliases are expanded"
                ),
                Some(span),
            )
            .with_help("this often means an alias (`*name`) is repeated many times over")
        } else {
            Diagnostic::error(
                format!("document is too large: more than {limit} values"),
                Some(span),
            )
            .with_help("split the workflow and call the parts with `workflow.call`")
        };
        self.fatal(diagnostic);
        false
    }

    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let handing_out = hands_out(self.stack.last());
        if handing_out && self.item_lines.is_some() {
            self.place_item(&node);
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq {
                handed_out: true, ..
            }) => {
                if let Some(hand_out) = &mut self.hand_out {
                    (hand_out.each)(node);
                }
            }
            Some(Frame::Seq { .. }) => self.items.push(node),
            Some(Frame::Map {
                start,
                pending_key,
                leaving_out,
                span,
                keys,
                ..
            }) => match pending_key.take() {
                None => {
                    if !matches!(
                        node.kind,
                        NodeKind::Str { .. }
                            | NodeKind::Int(_)
                            | NodeKind::Bool(_)
                            | NodeKind::Null
                    ) {
                        let diagnostic = Diagnostic::error(
                            format!("a mapping key must be text, found {}", node.type_name()),
                            Some(node.span),
                        );
                        self.fatal(diagnostic);
                        return;
                    }
                    if span.is_none() {
                        *span = Some(node.span);
                    }
                    if is_merge_key(&node) {
                        // Left out of the tree with its value: the rest is still checked.
                        self.left_out.push(merge_key_error(node.span));
                        *pending_key = Some(node);
                        *leaving_out = true;
                        return;
                    }
                    let text = node.key_str();
                    let entries = &self.entries[*start..];
                    let first_line = match keys {
                        Some(keys) => keys.get(&*text).copied(),
                        None => entries
                            .iter()
                            .find(|(k, _)| k.key_str() == text)
                            .map(|(k, _)| k.span.line),
                    };
                    if first_line.is_none() && (keys.is_some() || entries.len() >= SEARCHED_KEYS) {
                        let keys = keys.get_or_insert_with(|| {
                            let mut known = HashMap::with_capacity(entries.len() * 2);
                            for (key, _) in entries {
                                known.entry(key.key_text()).or_insert(key.span.line);
                            }
                            known
                        });
                        keys.insert(text.to_string(), node.span.line);
                    }
                    if let Some(first_line) = first_line {
                        let diagnostic = Diagnostic::error(format!("duplicate key `{text}`"), Some(node.span))
                            .with_help(format!("`{text}` is already set on line {first_line}; a key may appear once per mapping"));
                        // The first value stays: the rest of the file is still checked.
                        self.left_out.push(diagnostic);
                        *leaving_out = true;
                    }
                    *pending_key = Some(node);
                }
                Some(_) if *leaving_out => *leaving_out = false,
                Some(key) => self.entries.push((key, node)),
            },
        }
    }
}

impl MarkedEventReceiver for TreeBuilder<'_, '_> {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.stopped {
            return;
        }
        if self.item_lines.is_some() {
            self.note_item_lines(&event, &mark);
        }
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let len = value.chars().count().max(1);
                let span = span_at(
                    self.text,
                    self.lines,
                    &mark,
                    if style == TScalarStyle::Plain {
                        len
                    } else {
                        len + 2
                    },
                );
                if !self.add_nodes(1, span) {
                    return;
                }
                let exact = self.exact_prefix(&mark, style, &value);
                let resolved = match tag {
                    Some(tag) => tagged_scalar(&tag, value, self.tag_span(&tag, span), exact),
                    None if style == TScalarStyle::Plain => plain_scalar(value, span, exact),
                    None => Ok(NodeKind::Str {
                        value: value.into(),
                        quoted: true,
                        exact,
                    }),
                };
                let kind = resolved.unwrap_or_else(|diagnostic| {
                    self.errors.push(diagnostic);
                    NodeKind::Null
                });
                self.push_value(Node { kind, span }, anchor);
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                let span = span_at(self.text, self.lines, &mark, 1);
                let is_seq = matches!(event, Event::SequenceStart(..));
                if let Some(tag) = tag {
                    let fits = if is_seq { "seq" } else { "map" };
                    if standard_suffix(tag) != Some(fits) {
                        let at = self.tag_span(tag, span);
                        self.errors.push(tag_error(tag, at));
                    }
                }
                if self.stack.len() >= self.limits.max_depth {
                    self.fatal(Diagnostic::error(
                        format!(
                            "nesting is too deep (more than {} levels)",
                            self.limits.max_depth
                        ),
                        Some(span),
                    ));
                    return;
                }
                if !self.add_nodes(1, span) {
                    return;
                }
                let frame = if is_seq {
                    Frame::Seq {
                        start: self.items.len(),
                        span,
                        anchor,
                        handed_out: anchor == 0 && self.hands_out_next_value(),
                    }
                } else {
                    Frame::Map {
                        start: self.entries.len(),
                        pending_key: None,
                        leaving_out: false,
                        span: None,
                        anchor,
                        keys: None,
                    }
                };
                self.stack.push(frame);
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    start,
                    span,
                    anchor,
                    ..
                }) => {
                    let items = self.items.drain(start..).collect();
                    self.push_value(
                        Node {
                            kind: NodeKind::Seq(items),
                            span,
                        },
                        anchor,
                    )
                }
                Some(Frame::Map {
                    start,
                    span,
                    anchor,
                    ..
                }) => {
                    let entries = self.entries.drain(start..).collect();
                    let span = span.unwrap_or_else(|| span_at(self.text, self.lines, &mark, 1));
                    self.push_value(
                        Node {
                            kind: NodeKind::Map(entries),
                            span,
                        },
                        anchor,
                    )
                }
                None => {}
            },
            Event::Alias(id) => {
                let span = span_at(self.text, self.lines, &mark, 1);
                match self.anchors.get(&id).cloned() {
                    Some(mut node) => {
                        self.aliases_expanded = true;
                        if !self.add_nodes(count_nodes(&node), span) {
                            return;
                        }
                        node.span = span;
                        self.push_value(node, 0);
                    }
                    None => self.fatal(Diagnostic::error(
                        "alias refers to an unknown anchor",
                        Some(span),
                    )),
                }
            }
            Event::DocumentStart if self.root.is_some() => self.fatal(
                Diagnostic::error("the file holds a second YAML document", Some(span_at(self.text, self.lines, &mark, 3)))
                    .with_help("a workflow file holds one workflow: remove the `---` and what follows, or move it to its own file"),
            ),
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str) -> Result<Node, Vec<Diagnostic>> {
        load(text.as_bytes(), LoadLimits::default()).and_then(Loaded::whole)
    }

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let node = load_str("a: 1\nbé: \"x\"\n").unwrap();
        let b = node.get("bé").unwrap();
        assert_eq!(b.span, Span::new(2, 5, 3));
        assert_eq!(b.as_str(), Some("x"));
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let node = load_str("a: 12\nb: '12'\nc: true\nd: ~\ne: 1.5\nf: 0x1F\ng: yes\n").unwrap();
        assert_eq!(node.get("a").unwrap().kind, NodeKind::Int(12));
        assert!(matches!(
            node.get("b").unwrap().kind,
            NodeKind::Str { quoted: true, .. }
        ));
        assert_eq!(node.get("c").unwrap().kind, NodeKind::Bool(true));
        assert_eq!(node.get("d").unwrap().kind, NodeKind::Null);
        assert_eq!(node.get("e").unwrap().kind, NodeKind::Float(1.5));
        assert_eq!(node.get("f").unwrap().kind, NodeKind::Int(31));
        assert_eq!(node.get("g").unwrap().as_str(), Some("yes"));
    }

    #[test]
    fn duplicate_keys_are_reported_with_both_lines() {
        let errors = load_str("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(errors[0].message, "duplicate key `a`");
        assert_eq!(errors[0].span, Some(Span::new(3, 1, 1)));
        assert!(errors[0].help.as_deref().unwrap().contains("line 1"));
    }

    /// Loads `text` handing out the items of `steps`: the tree, and the items handed out.
    fn load_handing_out_steps(text: &str) -> (Node, Vec<Node>) {
        let mut items = Vec::new();
        let mut each = |node| items.push(node);
        let hand_out = HandOut {
            key: "steps",
            each: &mut each,
        };
        let root = load_handing_out(text.as_bytes(), LoadLimits::default(), Some(hand_out))
            .and_then(Loaded::whole)
            .unwrap();
        (root, items)
    }

    #[test]
    fn the_items_of_the_top_level_list_are_handed_out_as_read() {
        let (root, items) = load_handing_out_steps(
            "name: n\nsteps:\n  - {id: a, steps: [{id: inner}]}\n  - id: b\nother: [1]\n",
        );
        let ids: Vec<_> = items
            .iter()
            .map(|i| i.get("id").unwrap().as_str())
            .collect();
        assert_eq!(ids, [Some("a"), Some("b")]);
        // The list inside a step, and lists under other keys, stay in the tree.
        assert!(
            matches!(&items[0].get("steps").unwrap().kind, NodeKind::Seq(inner) if inner.len() == 1)
        );
        assert!(matches!(&root.get("other").unwrap().kind, NodeKind::Seq(kept) if kept.len() == 1));
        // The list itself stays, empty, where it was written.
        let steps = root.get("steps").unwrap();
        assert!(matches!(&steps.kind, NodeKind::Seq(left) if left.is_empty()));
        assert_eq!(steps.span.line, 3);
    }

    #[test]
    fn a_list_that_an_alias_may_repeat_or_a_duplicate_key_is_kept_in_the_tree() {
        // Anchored: `*all` must repeat the whole list.
        let (root, items) = load_handing_out_steps("steps: &all\n  - {id: a}\nagain: *all\n");
        assert!(items.is_empty());
        for key in ["steps", "again"] {
            assert!(matches!(&root.get(key).unwrap().kind, NodeKind::Seq(kept) if kept.len() == 1));
        }
        // A second `steps:` is left out with its value; only the first is handed out.
        let mut items = Vec::new();
        let mut each = |node| items.push(node);
        let hand_out = HandOut {
            key: "steps",
            each: &mut each,
        };
        let loaded = load_handing_out(
            b"steps: [{id: a}]\nsteps: [{id: b}, {id: c}]\n",
            LoadLimits::default(),
            Some(hand_out),
        )
        .unwrap();
        assert_eq!(loaded.left_out[0].message, "duplicate key `steps`");
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].get("id").unwrap().as_str(), Some("a"));
    }

    /// Keys are checked in one pass: 300,000 keys took minutes when each was compared with
    /// every key before it (4.5 * 10^10 comparisons; a 16 MiB file holds 1.5 million keys).
    #[test]
    fn a_mapping_of_300000_keys_is_checked_for_duplicates_in_one_pass() {
        let mut text = String::from("m:\n");
        for i in 0..300_000 {
            text.push_str(&format!("  k{i}: 1\n"));
        }
        text.push_str("  k20: 2\n  k7: 2\n  k7: 3\n");
        let errors = load_str(&text).unwrap_err();
        let found: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.message.as_str(), e.help.as_deref().unwrap_or_default()))
            .collect();
        let help =
            |line: u32| format!("already set on line {line}; a key may appear once per mapping");
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].0, "duplicate key `k20`");
        assert!(found[0].1.ends_with(&help(22)), "{}", found[0].1);
        assert_eq!(found[1].0, "duplicate key `k7`");
        assert!(found[1].1.ends_with(&help(9)), "{}", found[1].1);
        assert!(found[2].1.ends_with(&help(9)), "{}", found[2].1);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let errors = load_str(&text).unwrap_err();
        assert!(errors[0].message.contains("too large"), "{:?}", errors);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let text = "[".repeat(10_000) + &"]".repeat(10_000);
        let errors = load_str(&text).unwrap_err();
        assert!(errors[0].message.contains("nesting is too deep"));
    }

    #[test]
    fn huge_numbers_are_refused() {
        let errors = load_str("a: 123456789012345678901234567890\n").unwrap_err();
        assert!(errors[0].message.contains("too large"));
        let ok = load_str("a: 1.5e300\n").unwrap();
        assert_eq!(ok.get("a").unwrap().kind, NodeKind::Float(1.5e300));
    }

    #[test]
    fn positions_stay_within_the_text() {
        // A lone `\r` is a line break for YAML only: refused where it is.
        let errors = load_str("a: 1\nb: x\ry\n").unwrap_err();
        assert_eq!(errors[0].span, Some(Span::new(2, 5, 1)));
        // An error at the very end of a text without a final line break is on its last line.
        let errors = load_str("a: [1,").unwrap_err();
        assert_eq!(errors[0].span, Some(Span::new(1, 7, 1)));
    }

    #[test]
    fn tags_are_honoured_or_refused() {
        let node = load_str("a: !!str 12\nb: !!float 3\nc: !!null ~\nd: !!seq [1]\n").unwrap();
        assert_eq!(node.get("a").unwrap().as_str(), Some("12"));
        assert_eq!(node.get("b").unwrap().kind, NodeKind::Float(3.0));
        assert_eq!(node.get("c").unwrap().kind, NodeKind::Null);
        let errors = load_str("a: 1\nb: !Ref x\nc: !!bool maybe\n").unwrap_err();
        let places: Vec<_> = errors.iter().map(|e| e.span.unwrap()).collect();
        assert_eq!(
            places,
            [Span::new(2, 4, 4), Span::new(3, 4, 6)],
            "{errors:?}"
        );
    }

    #[test]
    fn a_big_file_without_aliases_is_too_large_for_what_it_is() {
        let limits = LoadLimits {
            max_nodes: 10,
            ..LoadLimits::default()
        };
        let plain = load(b"[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]", limits).unwrap_err();
        assert!(!plain[0].help.as_deref().unwrap().contains("alias"));
        let aliased = load(b"a: &a [1, 2, 3]\nb: [*a, *a, *a]\n", limits).unwrap_err();
        assert!(aliased[0].help.as_deref().unwrap().contains("alias"));
    }

    #[test]
    fn tabs_get_a_hint() {
        let errors = load_str("a:\n\t- b\n").unwrap_err();
        assert_eq!(errors[0].span.unwrap().line, 2);
        assert!(errors[0].help.as_deref().unwrap().contains("tabs"));
    }

    #[test]
    fn non_utf8_empty_and_oversized_files() {
        let errors = load(b"name: a\nx: \xff\n", LoadLimits::default()).unwrap_err();
        assert_eq!(errors[0].span, Some(Span::new(2, 4, 1)));
        assert_eq!(load_str("  \n").unwrap_err()[0].message, "file is empty");
        let big = vec![b'a'; MAX_WORKFLOW_BYTES + 1];
        assert!(load(&big, LoadLimits::default()).unwrap_err()[0]
            .message
            .contains("too large: 16.8 MB (the limit for a workflow file is 16 MB)"));
        // The densest YAML meets the value cap first, with its own clean error.
        let dense = format!("[{}1]", "1,".repeat(LoadLimits::default().max_nodes));
        assert!(dense.len() < MAX_WORKFLOW_BYTES);
        assert!(
            load(dense.as_bytes(), LoadLimits::default()).unwrap_err()[0]
                .message
                .contains("too large")
        );
    }
}
