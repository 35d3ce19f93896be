//! Diagnostics: an error or warning tied to a place in a workflow file, rendered with the source
//! line and a caret so authors see exactly what is wrong and where.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use crate::bounded_file::open_bounded;

/// A place in a source file. Lines and columns are 1-based and count characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Span {
    pub line: u32,
    pub col: u32,
    /// Length in characters on that line (at least 1 when rendered).
    pub len: u32,
}

impl Span {
    pub fn new(line: u32, col: u32, len: u32) -> Self {
        Span { line, col, len }
    }

    /// A span `offset..offset+len` characters further along the same line.
    pub fn shifted(self, offset: u32, len: u32) -> Span {
        Span {
            line: self.line,
            col: self.col + offset,
            len,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a workflow file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// `None` for problems that concern the whole file (unreadable, empty, too large).
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>, span: Option<Span>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>, span: Option<Span>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message, span)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_optional_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The text of a file, shared by every diagnostic that points into it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    text: SourceText,
    /// Where every [`LINES_PER_MARK`]th line starts, built when a diagnostic is first rendered:
    /// finding a line then reads at most that many lines, not the file up to it (50,000
    /// problems in a big file were quadratic).
    line_marks: OnceLock<Box<[usize]>>,
}

#[derive(Debug, Clone)]
enum SourceText {
    Held(Arc<str>),
    /// Left in its file: diagnostics read the lines they show (boxed: results carry a source
    /// file).
    OnDisk(Box<LeftOnDisk>),
}

/// What a file left on disk held when it was read: a file changed since shows no lines
/// rather than wrong ones.
#[derive(Debug, Clone, Copy)]
pub struct OnDisk {
    pub len: u64,
    pub sha256: [u8; 32],
}

#[derive(Debug)]
struct LeftOnDisk {
    held: OnDisk,
    /// The lines read for diagnostics so far (see [`SourceFile::read_lines`]); `None` once
    /// the file is found changed, which is not read again.
    lines: Mutex<Option<HashMap<u32, Arc<str>>>>,
}

impl Clone for LeftOnDisk {
    fn clone(&self) -> Self {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone();
        LeftOnDisk {
            held: self.held,
            lines: Mutex::new(lines),
        }
    }
}

/// Lines between two marks of [`SourceFile::line_marks`]: the index stays a small part of the
/// text (a word per 32 lines).
const LINES_PER_MARK: usize = 32;

impl SourceFile {
    pub fn new(path: impl AsRef<Path>, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            path: path.as_ref().to_path_buf(),
            text: SourceText::Held(text.into()),
            line_marks: OnceLock::new(),
        }
    }

    /// A file whose text is left on disk: its diagnostics read the lines they show (the
    /// workflow compiled from a file of 100,000 steps, alive while its warnings are shown,
    /// is 37 MB; its text 8 MB more).
    pub fn on_disk(path: impl AsRef<Path>, held: OnDisk) -> Self {
        SourceFile {
            path: path.as_ref().to_path_buf(),
            text: SourceText::OnDisk(Box::new(LeftOnDisk {
                held,
                lines: Mutex::new(Some(HashMap::new())),
            })),
            line_marks: OnceLock::new(),
        }
    }

    /// Of a file left on disk, reads the lines `wanted` not read yet, in one pass over it.
    fn read_lines(&self, wanted: impl IntoIterator<Item = u32>) {
        let SourceText::OnDisk(left) = &self.text else {
            return;
        };
        let mut lines = left.lines.lock().unwrap_or_else(|e| e.into_inner());
        let Some(read) = lines.as_mut() else {
            return;
        };
        let wanted: HashSet<u32> = wanted
            .into_iter()
            .filter(|line| !read.contains_key(line))
            .collect();
        if !wanted.is_empty() {
            match read_lines(&self.path, &left.held, &wanted) {
                Some(more) => read.extend(more),
                None => *lines = None,
            }
        }
    }

    /// Line `line` (1-based) as `str::lines` gives it.
    fn line(&self, line: u32) -> Option<Arc<str>> {
        let text = match &self.text {
            SourceText::Held(text) => text,
            SourceText::OnDisk(left) => {
                self.read_lines([line]);
                let lines = left.lines.lock().unwrap_or_else(|e| e.into_inner());
                return lines.as_ref()?.get(&line).cloned();
            }
        };
        let index = line.checked_sub(1)? as usize;
        let marks = self.line_marks.get_or_init(|| {
            let starts = std::iter::once(0).chain(
                text.bytes()
                    .enumerate()
                    .filter(|&(_, b)| b == b'\n')
                    .map(|(at, _)| at + 1),
            );
            starts.step_by(LINES_PER_MARK).collect()
        });
        let from = *marks.get(index / LINES_PER_MARK)?;
        text[from..]
            .lines()
            .nth(index % LINES_PER_MARK)
            .map(Arc::from)
    }
}

/// The lines `wanted` of the file at `path` (as `str::lines` gives them), if it is still the
/// file `held` describes.
fn read_lines(path: &Path, held: &OnDisk, wanted: &HashSet<u32>) -> Option<HashMap<u32, Arc<str>>> {
    let (file, _) = open_bounded(path, held.len).ok()?;
    let mut file = BufReader::new(file);
    let mut sha256 = Sha256::new();
    let mut lines = HashMap::new();
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        if file.read_until(b'\n', &mut line).ok()? == 0 {
            break;
        }
        sha256.update(&line);
        if wanted.contains(&number) {
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            lines.insert(number, String::from_utf8_lossy(text).into());
        }
    }
    (sha256.finalize()[..] == held.sha256).then_some(lines)
}

/// Renders diagnostics in the compiler style:
///
/// ```text
/// error: unknown action `core.lgo`
///   --> flows/a.yaml:7:11
///    |
///  7 |     uses: core.lgo
///    |           ^^^^^^^^
///    = help: did you mean `core.log`?
/// ```
pub fn render(source: &SourceFile, diagnostic: &Diagnostic) -> String {
    let mut out = String::new();
    let label = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(out, "{label}: {}", diagnostic.message);
    let path = source.path.display();
    // Gutter as wide as the line number, so the arrow, bars and help line up (as rustc does).
    let gutter = " ".repeat(diagnostic.span.map_or(1, |s| s.line.to_string().len()));
    match diagnostic.span {
        Some(span) => {
            let _ = writeln!(out, "{gutter}--> {path}:{}:{}", span.line, span.col);
            if let Some(text) = source.line(span.line) {
                let (shown, caret_at, carets) = window(&text, span);
                let _ = writeln!(out, "{gutter} |");
                let _ = writeln!(out, "{} | {shown}", span.line);
                let _ = writeln!(
                    out,
                    "{gutter} | {}{}",
                    " ".repeat(caret_at),
                    "^".repeat(carets)
                );
            }
        }
        None => {
            let _ = writeln!(out, "{gutter}--> {path}");
        }
    }
    if let Some(help) = &diagnostic.help {
        let _ = writeln!(out, "{gutter} = help: {help}");
    }
    out
}

/// Problems of one file shown at most: past them, a file with 50,000 problems would print
/// megabytes no one reads (clang stops at 20 errors for the same reason). The count of the
/// rest is printed, and every problem is still found.
pub const SHOWN_PROBLEMS: usize = 100;

/// `diagnostics` rendered one by one, the first [`SHOWN_PROBLEMS`] only, then a line that
/// counts the rest, if any.
pub fn render_shown<'a>(
    source: &'a SourceFile,
    diagnostics: &'a [Diagnostic],
) -> impl Iterator<Item = String> + 'a {
    let hidden = diagnostics.len().saturating_sub(SHOWN_PROBLEMS);
    let errors = diagnostics
        .iter()
        .skip(SHOWN_PROBLEMS)
        .filter(|d| d.is_error())
        .count();
    let rest = (hidden > 0).then(|| {
        format!(
            "note: {hidden} more {} not shown ({errors} {}); fix the ones above and check again\n",
            if hidden == 1 { "problem" } else { "problems" },
            if errors == 1 { "error" } else { "errors" },
        )
    });
    let shown = diagnostics.iter().take(SHOWN_PROBLEMS);
    source.read_lines(shown.clone().filter_map(|d| Some(d.span?.line)));
    shown.map(|d| render(source, d)).chain(rest)
}

/// Lines up to this many characters are shown whole.
const SHOWN_LINE: usize = 240;
/// Of a longer line, this many characters are shown each side of the caret's start (and the
/// carets are as many at most), so a diagnostic in a 100 KB line stays a few lines long.
const SHOWN_CONTEXT: usize = 80;
const ELLIPSIS: &str = "...";

/// The part of `line` shown under a diagnostic at `span` (tabs as spaces, a window around the
/// caret with `...` where it is cut), the caret's column in it and the number of carets.
fn window(line: &str, span: Span) -> (String, usize, usize) {
    let mut caret = span.col.saturating_sub(1) as usize;
    // Characters are counted only as far as the window can reach (a line may be megabytes).
    let total = line
        .chars()
        .take(SHOWN_LINE.max(caret.saturating_add(SHOWN_CONTEXT)) + 1)
        .count();
    let (from, to) = if total <= SHOWN_LINE {
        (0, total)
    } else {
        caret = caret.min(total);
        let from = caret.saturating_sub(SHOWN_CONTEXT);
        (from, (caret + SHOWN_CONTEXT).min(total))
    };
    let mut shown = String::new();
    if from > 0 {
        shown.push_str(ELLIPSIS);
    }
    let caret_at = shown.len() + (caret - from);
    shown.extend(
        line.chars()
            .skip(from)
            .take(to - from)
            .map(|c| if c == '\t' { ' ' } else { c }),
    );
    if to < total {
        shown.push_str(ELLIPSIS);
    }
    let carets = (span.len as usize).clamp(1, to.saturating_sub(caret).max(1));
    (shown, caret_at, carets)
}

/// Past this many candidates no near name is looked for: a file with 50,000 misspelt names
/// among 50,000 steps is checked in seconds, not hours (and the candidates of a hash map
/// come in no stable order, so comparing only some would make the output vary).
const COMPARED_CANDIDATES: usize = 1_000;
/// A list of valid names longer than this is no help: none is offered.
const LISTED_CANDIDATES: usize = 32;

/// The nearest candidate to `name`, if it is close enough to be a likely typo (and the
/// candidates are at most [`COMPARED_CANDIDATES`]).
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates
        .into_iter()
        .take(COMPARED_CANDIDATES + 1)
        .collect();
    if candidates.len() > COMPARED_CANDIDATES {
        return None;
    }
    nearest(name, candidates)
}

/// The nearest of all `candidates` to `name`, if it is close enough to be a likely typo.
fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        // A name with a hidden or look-alike character is itself a mistake: never offer it.
        .filter(|c| weft_expr::misleading_char(c).is_none())
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score >= 0.8)
        // Ties go to the alphabetically first name, so output never depends on map order.
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

/// The comparisons one file's check may spend looking for near names among more than
/// [`COMPARED_CANDIDATES`] (see [`NearNames`]): a misspelt id among 100,000 steps costs
/// 100,000 (about 85 ms of a release build), so the first five misspelt ids of such a
/// workflow are answered (fifty among 10,000), and a file of 50,000 misspelt ids among 50,000
/// steps takes at most about 0.4 s more to check.
const COMPARED_PER_FILE: usize = 500_000;

/// What one file's check has left of [`COMPARED_PER_FILE`].
pub struct NearNames {
    left: usize,
}

impl Default for NearNames {
    fn default() -> Self {
        Self::with_budget(COMPARED_PER_FILE)
    }
}

impl NearNames {
    fn with_budget(left: usize) -> Self {
        NearNames { left }
    }

    /// [`suggestion`], except that among more than [`COMPARED_CANDIDATES`] a near name is
    /// still looked for while the file's comparisons last. Each look compares every
    /// candidate or none, so the answer never depends on their order.
    pub fn suggestion<'a>(
        &mut self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Option<String> {
        // Counted only as far as could be compared: once the budget is spent, a look costs
        // what it did before there was one.
        let countable = self.left.max(COMPARED_CANDIDATES).saturating_add(1);
        let count = candidates.clone().into_iter().take(countable).count();
        if count > COMPARED_CANDIDATES && count <= self.left {
            self.left -= count;
            return nearest(name, candidates).map(|near| format!("did you mean `{near}`?"));
        }
        suggestion(name, candidates)
    }
}

/// "did you mean `x`?" or, with no near name, the list of valid names when it is short.
pub fn suggestion<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<String> {
    if let Some(near) = did_you_mean(name, candidates.clone()) {
        return Some(format!("did you mean `{near}`?"));
    }
    let mut all: Vec<String> = candidates
        .into_iter()
        .filter(|c| weft_expr::misleading_char(c).is_none())
        .take(LISTED_CANDIDATES + 1)
        .map(|c| format!("`{c}`"))
        .collect();
    all.sort();
    if all.is_empty() || all.len() > LISTED_CANDIDATES {
        None
    } else {
        Some(format!("expected one of {}", all.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Among many names, a near one is looked for while the file's comparisons last; then, as
    /// among any long list, none is offered (rather than a near name found among some).
    #[test]
    fn near_names_among_many_are_looked_for_while_the_budget_lasts() {
        let names: Vec<String> = (0..1_500).map(|i| format!("step{i}")).collect();
        let names = || names.iter().map(String::as_str);
        assert_eq!(did_you_mean("step7x", names()), None, "more than the cap");
        let mut near = NearNames::with_budget(3_100);
        for _ in 0..2 {
            assert_eq!(
                near.suggestion("step7x", names()).as_deref(),
                Some("did you mean `step7`?")
            );
        }
        assert_eq!(near.suggestion("step7x", names()), None, "budget spent");
        // Short lists cost nothing from it.
        assert_eq!(
            near.suggestion("nmae", ["name", "id"]).as_deref(),
            Some("did you mean `name`?")
        );
    }
}
