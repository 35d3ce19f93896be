//! Workflow files: the format ([`model`]), loading with positions, checking and compiling.

mod compile;
mod compiled;
pub mod connection_config;
pub mod model;
mod template;

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use compile::Catalog;
use compile::{Checker, FirstPass, TopSteps};
pub use compiled::*;
pub use template::ValueTemplate;

use crate::bounded_file::{read_bounded, FileReadError};
use crate::diagnostic::{Diagnostic, SourceFile};
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
        // Text is held once while loading, as the diagnostics' copy: the bytes read are
        // dropped before the tree is built (a 100,000-step file is 8 MB).
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => {
                let source = SourceFile::new(path, text);
                let text = source.text.clone();
                load_source(source, text.as_bytes(), catalog)
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
    load_source(source, bytes, catalog)
}

/// Checks and compiles `bytes`, the text of `source` (or, when they are not UTF-8, what the
/// source shows of them).
///
/// The top-level steps are read twice, so that neither their YAML tree nor their models are
/// ever whole (issue 11): the first reading indexes each step's id and keeps what ordering
/// them needs, the second compiles each step as it is read. Each step's tree is freed as it
/// is read into its model, each model as it is indexed or compiled.
fn load_source(
    source: SourceFile,
    bytes: &[u8],
    catalog: Catalog<'_>,
) -> Result<LoadedWorkflow, FileProblems> {
    let path = source.path.clone();
    let path = path.as_path();
    let fail = |diagnostics| FileProblems {
        source: source.clone(),
        diagnostics,
    };
    let mut checker = Checker::new(catalog, path);
    let mut first = FirstPass::new();
    let mut problems = Vec::new();
    let loaded = read_steps(bytes, &mut |step, step_problems| {
        problems.extend(step_problems);
        first.read(&mut checker, step);
    });
    let yaml::Loaded {
        root: node,
        left_out,
    } = loaded.map_err(fail)?;
    if !matches!(node.kind, yaml::NodeKind::Map(_)) {
        return Err(fail(vec![Diagnostic::error(
            format!("a workflow must be a mapping, found {}", node.type_name()),
            Some(node.span),
        )
        .with_help("start with `name:` and `steps:`")]));
    }
    // The model takes what it needs of the tree, the rest is dropped before compiling.
    let (model, workflow_problems) = yaml::from_node::<model::Workflow>(node);
    problems.extend(workflow_problems);
    problems.extend(left_out);
    let Some(mut model) = model else {
        problems.sort_by_key(|d| d.span.map(|s| (s.line, s.col)));
        return Err(fail(problems));
    };
    let hash = hex::encode(Sha256::digest(bytes));
    // A list of steps the loader kept whole (see `yaml::load_handing_out`) is in the model.
    let mut again = |each: &mut dyn FnMut(Box<model::Step>)| {
        // The same text read again: its problems were reported by the first reading.
        let _ = read_steps(bytes, &mut |step, _| {
            if let Some(step) = step {
                each(step);
            }
        });
    };
    let top_steps = match model.steps.value.is_empty() {
        true => TopSteps::ReadTwice {
            first,
            again: &mut again,
        },
        false => TopSteps::InModel,
    };
    match compile::compile(checker, &mut model, top_steps, hash) {
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
            Err(fail(problems))
        }
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
