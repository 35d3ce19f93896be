//! Reading the items a document handed out ([`super::load_handing_out`]) again from its file,
//! one item's lines at a time, so that a second reading never holds the whole text (issue 11:
//! the text was 8 MB of the peak of loading 100,000 steps).
//!
//! The first reading records the lines of each item ([`ItemLines`]). It can do so only when an
//! item reads alone as it reads in the document: the list is a block list whose items each
//! start a line (`  - `), and the document has no anchor, alias or directive. Each item's tree
//! is fingerprinted too, so that the second reading is checked, not trusted.

use std::hash::{BuildHasher, Hash, Hasher};
use std::io::BufRead;

use super::load::{load, LoadLimits};
use super::node::{Node, NodeKind};

/// Where the items handed out by a first reading are, by line, and what each read as.
#[derive(Debug, Default)]
pub struct ItemLines {
    /// The 1-based line each item starts on (its `-`).
    starts: Vec<u32>,
    /// The line after the last item's; `None`: its lines go to the end of the text.
    end: Option<u32>,
    /// [`fingerprint`] of each item's tree.
    fingerprints: Vec<u32>,
}

impl ItemLines {
    /// Notes the next item, read whole, which starts on `line`.
    pub(super) fn place(&mut self, line: u32, item: &Node) {
        self.starts.push(line);
        self.fingerprints.push(fingerprint(item));
    }

    pub(super) fn end(&mut self, line: Option<u32>) {
        self.end = line;
    }
}

/// Why a second reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadAgainError {
    #[error("cannot read the file again")]
    Io(#[source] std::io::Error),
    /// Item `item` (0-based) does not read as it did the first time, or is missing: the items
    /// before it were handed out and are the same.
    #[error("item {item} reads differently the second time")]
    Differs { item: usize },
}

/// Items read at once by [`read_items_again`]: a parser for each item alone added a tenth to
/// the loading's time; the lines of 64 steps are a few kilobytes.
const ITEMS_AT_ONCE: usize = 64;

/// Reads `from` to its end, handing each item [`ItemLines`] places to `each` as soon as its
/// lines are read. Only the lines of [`ITEMS_AT_ONCE`] items are held at a time.
pub fn read_items_again(
    from: &mut dyn BufRead,
    lines: &ItemLines,
    limits: LoadLimits,
    each: &mut dyn FnMut(Node),
) -> Result<(), ReadAgainError> {
    let mut line = Vec::new();
    let mut items_text = Vec::new();
    // The first item whose lines are being gathered, and the next to start.
    let mut first: Option<usize> = None;
    let mut next = 0;
    let mut number = 0u32;
    loop {
        line.clear();
        if from
            .read_until(b'\n', &mut line)
            .map_err(ReadAgainError::Io)?
            == 0
        {
            break;
        }
        number += 1;
        let starts_next = lines.starts.get(next) == Some(&number);
        if (starts_next && next % ITEMS_AT_ONCE == 0) || lines.end == Some(number) {
            if let Some(first) = first.take() {
                hand_items(&items_text, first..next, lines, limits, each)?;
                items_text.clear();
            }
        }
        if starts_next {
            first.get_or_insert(next);
            next += 1;
        }
        if first.is_some() {
            items_text.extend_from_slice(&line);
        }
    }
    if let Some(first) = first {
        hand_items(&items_text, first..next, lines, limits, each)?;
    }
    match next < lines.starts.len() {
        true => Err(ReadAgainError::Differs { item: next }),
        false => Ok(()),
    }
}

/// Reads the lines of the items `indexes` alone and hands out each that is the item first
/// read there, up to the first that is not.
fn hand_items(
    text: &[u8],
    indexes: std::ops::Range<usize>,
    lines: &ItemLines,
    limits: LoadLimits,
    each: &mut dyn FnMut(Node),
) -> Result<(), ReadAgainError> {
    let differs = |item| ReadAgainError::Differs { item };
    let loaded = load(text, limits).map_err(|_| differs(indexes.start))?;
    let items = match loaded.root.kind {
        NodeKind::Seq(items) if loaded.left_out.is_empty() && items.len() == indexes.len() => items,
        _ => return Err(differs(indexes.start)),
    };
    let shift = lines.starts[indexes.start] - 1;
    for (index, mut item) in indexes.zip(items) {
        shift_lines(&mut item, shift);
        if lines.fingerprints.get(index) != Some(&fingerprint(&item)) {
            return Err(differs(index));
        }
        each(item);
    }
    Ok(())
}

/// Moves a tree read from an item's lines to where those lines are in the file.
fn shift_lines(node: &mut Node, by: u32) {
    node.span.line += by;
    match &mut node.kind {
        NodeKind::Seq(items) => items.iter_mut().for_each(|item| shift_lines(item, by)),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|(key, value)| {
            shift_lines(key, by);
            shift_lines(value, by);
        }),
        _ => {}
    }
}

/// A hash of a tree: its values, their kinds and their places.
fn fingerprint(node: &Node) -> u32 {
    fn feed(node: &Node, hasher: &mut impl Hasher) {
        node.span.hash(hasher);
        std::mem::discriminant(&node.kind).hash(hasher);
        match &node.kind {
            NodeKind::Null => {}
            NodeKind::Bool(b) => b.hash(hasher),
            NodeKind::Int(i) => i.hash(hasher),
            NodeKind::Float(f) => f.to_bits().hash(hasher),
            NodeKind::Str {
                value,
                quoted,
                exact,
            } => (value, quoted, exact).hash(hasher),
            NodeKind::Seq(items) => {
                items.len().hash(hasher);
                items.iter().for_each(|item| feed(item, hasher));
            }
            NodeKind::Map(entries) => {
                entries.len().hash(hasher);
                entries.iter().for_each(|(key, value)| {
                    feed(key, hasher);
                    feed(value, hasher);
                });
            }
        }
    }
    // Fixed, so that both readings agree; SipHash took a tenth of the loading's time.
    let mut hasher = foldhash::quality::FixedState::default().build_hasher();
    feed(node, &mut hasher);
    hasher.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{load_handing_out, HandOut};

    /// The items of `steps` as the first reading hands them out, and its [`ItemLines`].
    fn first_reading(text: &str) -> (Vec<Node>, Option<ItemLines>) {
        let mut items = Vec::new();
        let mut each = |node| items.push(node);
        let hand_out = HandOut {
            key: "steps",
            each: &mut each,
        };
        let loaded = load_handing_out(text.as_bytes(), LoadLimits::default(), Some(hand_out))
            .unwrap_or_else(|problems| panic!("{problems:?}"));
        (items, loaded.item_lines)
    }

    fn second_reading(text: &str, lines: &ItemLines) -> (Vec<Node>, Result<(), ReadAgainError>) {
        let mut items = Vec::new();
        let read = read_items_again(
            &mut text.as_bytes(),
            lines,
            LoadLimits::default(),
            &mut |node| items.push(node),
        );
        (items, read)
    }

    /// Each item read alone is the item read in the document, in place.
    #[track_caller]
    fn reads_the_same(text: &str) {
        let (first, lines) = first_reading(text);
        let lines = lines.unwrap_or_else(|| panic!("not placed: {text:?}"));
        assert_eq!(lines.starts.len(), first.len());
        let (again, read) = second_reading(text, &lines);
        read.unwrap();
        assert_eq!(again, first);
    }

    #[test]
    fn items_of_a_block_list_read_alone_as_in_the_document() {
        reads_the_same("name: n\nsteps:\n  - id: a\n    uses: core.set\n  - id: b\n");
        // At the list's own indentation, commented, with a key after it.
        reads_the_same("steps:\n- id: a\n# between\n\n-   id: b\n    with: {x: [1, 2]}\nname: n\n");
        // Block scalars, quoted lines, flow mappings over lines, nested lists, CRLF.
        reads_the_same(concat!(
            "name: n\nsteps:\n",
            "  - id: a\n    with:\n      text: |\n        one\n\n        two\n",
            "  - id: \"b\n     c\"\n    x: 'it''s'\n",
            "  - {id: d,\n     uses: e}\n",
            "  - - nested\n    - list\n",
            "  - plain\n",
        ));
        reads_the_same("name: n\r\nsteps:\r\n  - id: a\r\n    uses: b\r\n  - id: c\r\n");
        // The last line without its line break.
        reads_the_same("name: n\nsteps:\n  - id: a\n  - id: b");
    }

    #[test]
    fn items_that_may_not_read_alone_are_not_placed() {
        for text in [
            // Flow lists, on one line or over several.
            "steps: [{id: a}, {id: b}]\n",
            "steps: [\n  {id: a},\n  {id: b}]\n",
            // An alias to an anchor outside the item, or an anchor an item may repeat.
            "base: &b {uses: x}\nsteps:\n  - id: a\n    with: *b\n",
            "steps:\n  - &a {id: a}\n  - *a\n",
            // A directive changes how tags read.
            "%YAML 1.2\n---\nsteps:\n  - id: a\n",
            // An item that does not start on its `-` line.
            "steps:\n  -\n    id: a\n",
            // A duplicate key left out of an item.
            "steps:\n  - id: a\n    id: b\n",
            // An empty value at an item's end is placed at the next item's `-`, or at the
            // key after the list.
            "steps:\n  - id: a\n    with:\n  - id: b\n",
            "steps:\n  - id: a\n    with:\nname: n\n",
            "steps:\n  - id: a\n    with:\n      text: |\n  - id: b\n",
        ] {
            let (_, lines) = first_reading(text);
            assert!(lines.is_none(), "{text:?}");
        }
    }

    #[test]
    fn an_item_that_reads_otherwise_is_where_the_second_reading_stops() {
        let text = "name: n\nsteps:\n  - id: a\n  - id: b\n  - id: c\n";
        let (_, lines) = first_reading(text);
        let lines = lines.unwrap();
        // The second item changed, with the same lines.
        let changed = text.replace("id: b", "id: x");
        let (again, read) = second_reading(&changed, &lines);
        assert!(
            matches!(read, Err(ReadAgainError::Differs { item: 1 })),
            "{read:?}"
        );
        assert_eq!(again.len(), 1);
        // Lines added before the items move them: the first no longer starts where it did.
        let (again, read) = second_reading(&format!("# new\n{text}"), &lines);
        assert!(
            matches!(read, Err(ReadAgainError::Differs { item: 0 })),
            "{read:?}"
        );
        assert!(again.is_empty());
        // A text cut short is missing its last items.
        let (_, read) = second_reading("name: n\nsteps:\n  - id: a\n", &lines);
        assert!(
            matches!(read, Err(ReadAgainError::Differs { item: 1 })),
            "{read:?}"
        );
    }

    #[test]
    fn spans_of_items_read_alone_are_those_in_the_file() {
        let text = "name: n\nsteps:\n  - id: a\n  - id: b\n    uses: c\n";
        let (_, lines) = first_reading(text);
        let (again, _) = second_reading(text, &lines.unwrap());
        let uses = again[1].get("uses").unwrap();
        assert_eq!((uses.span.line, uses.span.col), (5, 11));
    }
}
