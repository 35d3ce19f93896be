//! Workflow files: the format ([`model`]), loading with positions, checking and compiling.

mod compile;
mod compiled;
pub mod connection_config;
pub mod model;
mod template;

use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use compile::Catalog;
use compile::{Checker, FirstPass, ReadAgain, TopSteps};
pub use compiled::*;
pub use template::ValueTemplate;

use crate::bounded_file::{open_bounded, read_bounded, FileReadError};
use crate::diagnostic::{Diagnostic, OnDisk, SourceFile};
use crate::yaml::{self, LoadLimits};

/// A workflow that passed every check (warnings may remain).
#[derive(Clone)]
pub struct LoadedWorkflow {
    pub workflow: Arc<CompiledWorkflow>,
    pub source: SourceFile,
    pub warnings: Vec<Diagnostic>,
}

/// A file that could not be loaded, with every problem found in it.
#[derive(Debug, Clone)]
pub struct FileProblems {
    pub source: SourceFile,
    pub diagnostics: Vec<Diagnostic>,
}

impl FileProblems {
    pub fn render(&self) -> String {
        crate::diagnostic::render_shown(&self.source, &self.diagnostics)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Reads, checks and compiles a workflow file.
pub fn load_file(path: &Path, catalog: Catalog<'_>) -> Result<LoadedWorkflow, FileProblems> {
    let limit = LoadLimits::default().max_bytes as u64;
    match read_bounded(path, limit) {
        // Text is held once while loading: the bytes read are dropped before the tree is
        // built (a 100,000-step file is 8 MB).
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => {
                let text = Arc::<str>::from(text);
                load_source(
                    SourceFile::new(path, text.clone()),
                    Text::File(text),
                    catalog,
                )
            }
            Err(invalid) => load_bytes(path, invalid.as_bytes(), catalog),
        },
        Err(e) => Err(FileProblems {
            source: SourceFile::new(path, ""),
            diagnostics: vec![unreadable(&e)],
        }),
    }
}

fn unreadable(error: &FileReadError) -> Diagnostic {
    match error {
        FileReadError::Io(io) => Diagnostic::error(format!("cannot read the file: {io}"), None),
        FileReadError::NotRegular { .. } => {
            Diagnostic::error(format!("cannot read the file: {error}"), None)
                .with_help("a workflow is read from a regular file, not from a pipe or a device")
        }
        FileReadError::TooLarge { .. } => {
            Diagnostic::error(format!("file is too large: {error}"), None)
                .with_help("split the workflow and call the parts with `workflow.call`")
        }
    }
}

/// Checks and compiles workflow text; `path` names it in messages and resolves `workflow.call`.
pub fn load_bytes(
    path: &Path,
    bytes: &[u8],
    catalog: Catalog<'_>,
) -> Result<LoadedWorkflow, FileProblems> {
    let source = SourceFile::new(path, String::from_utf8_lossy(bytes).as_ref());
    load_source(source, Text::Given(bytes), catalog)
}

/// The text of a workflow being loaded, and where its steps are read again.
enum Text<'b> {
    /// The text of the source's file, which the second reading may take the steps from again,
    /// one at a time (see `yaml::read_items_again`), so that the text is not held meanwhile.
    File(Arc<str>),
    /// Bytes given (or, when they are not UTF-8, what the source shows of them): the second
    /// reading reads them again.
    Given(&'b [u8]),
}

/// Checks and compiles the text of `source`.
///
/// The top-level steps are read twice, so that neither their YAML tree nor their models are
/// ever whole (issue 11): the first reading indexes each step's id and keeps what ordering
/// them needs, the second compiles each step as it is read. Each step's tree is freed as it
/// is read into its model, each model as it is indexed or compiled.
fn load_source(
    mut source: SourceFile,
    text: Text<'_>,
    catalog: Catalog<'_>,
) -> Result<LoadedWorkflow, FileProblems> {
    let path = source.path.clone();
    let fail = |source: &SourceFile, diagnostics| FileProblems {
        source: source.clone(),
        diagnostics,
    };
    let mut checker = Checker::new(catalog, &path);
    let mut first = FirstPass::new();
    let mut problems = Vec::new();
    let bytes = match &text {
        Text::File(text) => text.as_bytes(),
        Text::Given(bytes) => bytes,
    };
    let loaded = read_steps(bytes, &mut |step, step_problems| {
        problems.extend(step_problems);
        first.read(&mut checker, step);
    });
    let held = OnDisk {
        len: bytes.len() as u64,
        sha256: Sha256::digest(bytes).into(),
    };
    let crc = crc32fast::hash(bytes);
    let yaml::Loaded {
        root: node,
        left_out,
        item_lines,
    } = loaded.map_err(|problems| fail(&source, problems))?;
    if !matches!(node.kind, yaml::NodeKind::Map(_)) {
        return Err(fail(
            &source,
            vec![Diagnostic::error(
                format!("a workflow must be a mapping, found {}", node.type_name()),
                Some(node.span),
            )
            .with_help("start with `name:` and `steps:`")],
        ));
    }
    // The model takes what it needs of the tree, the rest is dropped before compiling.
    let (model, workflow_problems) = yaml::from_node::<model::Workflow>(node);
    problems.extend(workflow_problems);
    problems.extend(left_out);
    let Some(mut model) = model else {
        problems.sort_by_key(|d| d.span.map(|s| (s.line, s.col)));
        return Err(fail(&source, problems));
    };
    // A list of steps the loader kept whole (see `yaml::load_handing_out`) is in the model.
    let mut again: Box<ReadAgain<'_>> = match (text, item_lines) {
        (Text::File(_), Some(lines)) => {
            // The text goes before the steps compile: diagnostics read it again if they must.
            source = SourceFile::on_disk(&path, held);
            let path = path.clone();
            Box::new(move |each| read_again_from_file(&path, &lines, held, crc, each))
        }
        (Text::File(text), None) => Box::new(move |each| read_again(text.as_bytes(), 0, each)),
        (Text::Given(bytes), _) => Box::new(move |each| read_again(bytes, 0, each)),
    };
    let top_steps = match model.steps.value.is_empty() {
        true => TopSteps::ReadTwice {
            first,
            again: &mut *again,
        },
        false => TopSteps::InModel,
    };
    match compile::compile(checker, &mut model, top_steps, hex::encode(held.sha256)) {
        Ok((workflow, warnings)) if problems.is_empty() => Ok(LoadedWorkflow {
            workflow: Arc::new(workflow),
            source,
            warnings,
        }),
        Ok((_, more)) | Err(more) => {
            problems.extend(more);
            // Report in file order, as a reader goes through the file.
            problems.sort_by_key(|d| d.span.map(|s| (s.line, s.col)));
            problems.dedup();
            Err(fail(&source, problems))
        }
    }
}

/// Reads the top-level steps of `bytes` again, from the `skip`th on; their problems were
/// reported by the first reading.
fn read_again(
    bytes: &[u8],
    skip: usize,
    each: &mut dyn FnMut(Box<model::Step>),
) -> Result<(), Diagnostic> {
    let mut read = 0;
    let _ = read_steps(bytes, &mut |step, _| {
        read += 1;
        if let (true, Some(step)) = (read > skip, step) {
            each(step);
        }
    });
    Ok(())
}

/// Reads the top-level steps again from the file, one step's lines at a time; from the text
/// whole, from the step on, should one read alone not read as it did in the file. `crc` is the
/// CRC-32 of the text `held` describes: each step is checked against the step first read, and
/// the file against the text (a SHA-256 of it again took a fifth of the loading's time).
fn read_again_from_file(
    path: &Path,
    lines: &yaml::ItemLines,
    held: OnDisk,
    crc: u32,
    each: &mut dyn FnMut(Box<model::Step>),
) -> Result<(), Diagnostic> {
    let changed = || {
        Diagnostic::error("the file changed while it was being read", None)
            .with_help("read it again once it is saved")
    };
    // Grown past the text first read is changed too; gone, or no longer a file, is said so.
    let unreadable_now = |e: FileReadError| match e {
        FileReadError::TooLarge { .. } => changed(),
        e => unreadable(&e),
    };
    let (file, _) = open_bounded(path, held.len).map_err(unreadable_now)?;
    let mut reader = BufReader::new(Checksum {
        inner: file,
        crc: crc32fast::Hasher::new(),
    });
    let mut hand = |node| {
        if let (Some(step), _) = yaml::from_node::<Box<model::Step>>(node) {
            each(step);
        }
    };
    let limits = LoadLimits::default();
    match yaml::read_items_again(&mut reader, lines, limits, &mut hand) {
        Ok(()) if reader.into_inner().crc.finalize() == crc => Ok(()),
        Ok(()) => Err(changed()),
        Err(yaml::ReadAgainError::Differs { item }) => {
            let bytes = read_bounded(path, held.len).map_err(unreadable_now)?;
            if Sha256::digest(&bytes)[..] != held.sha256 {
                return Err(changed());
            }
            read_again(&bytes, item, each)
        }
        Err(yaml::ReadAgainError::Io(e)) => Err(unreadable(&FileReadError::Io(e))),
    }
}

/// A reader that checksums what it reads.
struct Checksum<R> {
    inner: R,
    crc: crc32fast::Hasher,
}

impl<R: Read> Read for Checksum<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.crc.update(&buf[..read]);
        Ok(read)
    }
}

/// Reads workflow text, handing each top-level step to `each` as its model (`None`: it did
/// not deserialize) with the problems found in it, as soon as it is read.
fn read_steps(
    bytes: &[u8],
    each: &mut dyn FnMut(Option<Box<model::Step>>, Vec<Diagnostic>),
) -> Result<yaml::Loaded, Vec<Diagnostic>> {
    let mut each_step = |node| {
        let (step, problems) = yaml::from_node::<Box<model::Step>>(node);
        each(step, problems);
    };
    let hand_out = yaml::HandOut {
        key: "steps",
        each: &mut each_step,
    };
    yaml::load_handing_out(bytes, LoadLimits::default(), Some(hand_out))
}

/// The JSON Schema of the workflow format, for editors.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(model::Workflow);
    serde_json::to_value(schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::SourceCatalog;

    fn with_catalog<T>(f: impl FnOnce(Catalog<'_>) -> T) -> T {
        let actions = crate::actions::builtin_registry().expect("built-in actions");
        let sources = SourceCatalog::default();
        f(Catalog {
            actions: &actions,
            sources: &sources,
        })
    }

    /// `count` steps, each reading the one before; `broken(i)` replaces step `i`.
    fn chain(count: usize, broken: impl Fn(usize) -> Option<String>) -> String {
        let mut text = String::from(
            "name: chain\ninputs:\n  n: {type: number, default: 1, required: true}\nsteps:\n",
        );
        for i in 0..count {
            match broken(i) {
                Some(step) => text.push_str(&step),
                None if i == 0 => text.push_str("  - {id: s0, uses: core.set, with: {n: 0}}\n"),
                None => text.push_str(&format!(
                    "  - id: s{i}\n    uses: core.set\n    with:\n      n: \"${{{{ steps.s{}.output.n + 1 }}}}\"\n",
                    i - 1
                )),
            }
        }
        text
    }

    /// What a loaded workflow shows of itself: its steps, their lines, its hash and warnings.
    fn shown(result: &Result<LoadedWorkflow, FileProblems>) -> String {
        match result {
            Ok(loaded) => {
                let steps = &loaded.workflow.steps.steps;
                let steps: Vec<_> = steps.iter().map(|s| (&*s.id, s.line)).collect();
                let warnings: Vec<_> =
                    crate::diagnostic::render_shown(&loaded.source, &loaded.warnings).collect();
                format!("{steps:?} {} {warnings:?}", loaded.workflow.hash)
            }
            Err(problems) => problems.render(),
        }
    }

    /// The file's steps are read again from the file, one at a time; the same text given in
    /// memory is read again from memory. Both give the same workflow, problems and warnings,
    /// with the same lines.
    #[test]
    fn a_file_loads_as_its_text_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.yaml");
        let late = |i: usize| match i {
            1500 => Some(
                "  - {id: s1500, uses: core.set, with: {n: \"${{ steps.nowhere.output }}\"}}\n"
                    .into(),
            ),
            2999 => {
                Some("  - id: s2999\n    uses: core.set\n    with: {n: \"${{ 1 + }}\"}\n".into())
            }
            _ => None,
        };
        for text in [chain(3000, |_| None), chain(3000, late)] {
            std::fs::write(&path, &text).unwrap();
            let (from_file, from_text) = with_catalog(|catalog| {
                (
                    load_file(&path, catalog),
                    load_bytes(&path, text.as_bytes(), catalog),
                )
            });
            assert_eq!(shown(&from_file), shown(&from_text));
            assert!(
                shown(&from_file).contains("has a default"),
                "{}",
                shown(&from_file)
            );
        }
        // Lines are the file's, though each step was read alone.
        let text = std::fs::read_to_string(&path).unwrap();
        let line = 1 + text.lines().position(|l| l.contains("id: s1500")).unwrap();
        let problems = shown(&with_catalog(|catalog| load_file(&path, catalog)));
        assert!(
            problems.contains(&format!("chain.yaml:{line}:48")),
            "{problems}"
        );
    }

    /// A file changed between the two readings is refused, whether a step changed or the rest.
    #[test]
    fn a_file_changed_while_it_was_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.yaml");
        let text = chain(10, |_| None);
        let lines = first_reading(text.as_bytes());
        let (held, crc) = (held(text.as_bytes()), crc32fast::hash(text.as_bytes()));
        for changed in [
            text.replace("s4.output.n + 1", "s4.output.n + 2"),
            text.replace("name: chain", "name: other"),
            format!("{text}  - {{id: more, uses: core.set}}\n"),
        ] {
            std::fs::write(&path, &changed).unwrap();
            let mut read = Vec::new();
            let problem = read_again_from_file(&path, &lines, held, crc, &mut |step| {
                read.push(step.id.value)
            })
            .expect_err("refused");
            assert_eq!(problem.message, "the file changed while it was being read");
        }
        // Gone, or no longer a regular file: said so.
        std::fs::remove_file(&path).unwrap();
        let problem = read_again_from_file(&path, &lines, held, crc, &mut |_| {}).unwrap_err();
        assert!(
            problem.message.starts_with("cannot read the file: "),
            "{}",
            problem.message
        );
        std::fs::create_dir(&path).unwrap();
        let problem = read_again_from_file(&path, &lines, held, crc, &mut |_| {}).unwrap_err();
        assert_eq!(
            problem.message,
            "cannot read the file: it is a folder, not a regular file"
        );
        std::fs::remove_dir(&path).unwrap();
        // Unchanged, every step is read again.
        std::fs::write(&path, &text).unwrap();
        let mut read = Vec::new();
        read_again_from_file(&path, &lines, held, crc, &mut |step| {
            read.push(step.id.value)
        })
        .unwrap();
        assert_eq!(read.len(), 10);
    }

    /// Should a step read alone not read as it did (here: lines placed by another text), the
    /// rest is read from the whole text of the file, when it is still the text first read.
    #[test]
    fn a_step_that_reads_otherwise_alone_is_read_from_the_whole_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.yaml");
        let text = chain(10, |_| None);
        let elsewhere = first_reading(format!("# one line more\n{text}").as_bytes());
        std::fs::write(&path, &text).unwrap();
        let mut read = Vec::new();
        let crc = crc32fast::hash(text.as_bytes());
        read_again_from_file(&path, &elsewhere, held(text.as_bytes()), crc, &mut |step| {
            read.push((step.id.value.to_string(), step.id.span.line))
        })
        .unwrap();
        let expected: Vec<_> = (0..10u32)
            .map(|i| (format!("s{i}"), if i == 0 { 5 } else { 6 + 4 * (i - 1) }))
            .collect();
        assert_eq!(read, expected);
    }

    /// The text of a file is read again for its diagnostics; a file changed since shows none
    /// of its lines rather than wrong ones.
    #[test]
    fn diagnostics_of_a_file_changed_since_show_no_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.yaml");
        let text = chain(3, |_| None);
        std::fs::write(&path, &text).unwrap();
        let loaded = with_catalog(|catalog| load_file(&path, catalog)).unwrap();
        let shown = |loaded: &LoadedWorkflow| {
            crate::diagnostic::render_shown(&loaded.source, &loaded.warnings).collect::<String>()
        };
        let rendered = shown(&loaded);
        assert!(rendered.contains("n: {type: number"), "{rendered}");
        // Rendered again with another line, the source reads that one too.
        let other = [Diagnostic::error(
            "here",
            Some(crate::diagnostic::Span::new(5, 5, 2)),
        )];
        let rendered: String = crate::diagnostic::render_shown(&loaded.source, &other).collect();
        assert!(rendered.contains("5 |   - {id: s0"), "{rendered}");
        std::fs::write(&path, text.replace("name: chain", "name: changed")).unwrap();
        let after = with_catalog(|catalog| load_file(&path, catalog)).unwrap();
        std::fs::write(&path, &text).unwrap();
        // `after` was loaded from the changed text, which is gone.
        let rendered = shown(&after);
        assert!(rendered.contains("has a default"), "{rendered}");
        assert!(!rendered.contains("n: {type"), "{rendered}");
    }

    /// Where the first reading placed the steps of `bytes`.
    fn first_reading(bytes: &[u8]) -> yaml::ItemLines {
        let loaded = read_steps(bytes, &mut |_, _| {}).unwrap();
        loaded
            .item_lines
            .expect("the steps can be read again alone")
    }

    fn held(bytes: &[u8]) -> OnDisk {
        OnDisk {
            len: bytes.len() as u64,
            sha256: Sha256::digest(bytes).into(),
        }
    }
}
