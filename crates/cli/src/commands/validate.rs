//! `weft validate PATH...`: a line per file and every diagnostic; exit 0 valid, 1 invalid, 2 usage.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use weft_engine::diagnostic::render_shown;
use weft_engine::workflow::{self, FileProblems, LoadedWorkflow};
use weft_runtime::Runtime;

use crate::signals::{self, Stage};

#[derive(clap::Args)]
pub struct Args {
    /// Workflow files, or folders searched for *.yaml and *.yml.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// The workflow files named by `paths`, folders expanded, sorted for stable output. A folder
/// reached twice (through a symbolic link) is read once; a link back to a folder being read is
/// a loop, reported on stderr and not followed.
pub fn workflow_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut walk = Walk::default();
    for path in paths {
        if path.is_dir() {
            let before = walk.files.len();
            walk.folder(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if walk.files.len() == before {
                return Err(format!(
                    "{} holds no workflow files (*.yaml, *.yml)",
                    path.display()
                ));
            }
        } else if path.exists() {
            walk.files.push(path.clone());
        } else {
            return Err(format!("{}: no such file or folder", path.display()));
        }
    }
    for link in &walk.loops {
        eprintln!(
            "warning: {} links back to a folder it is in; not followed",
            link.display()
        );
    }
    Ok(walk.files)
}

#[derive(Default)]
struct Walk {
    files: Vec<PathBuf>,
    /// Every folder read, by canonical path.
    seen: HashSet<PathBuf>,
    /// Canonical paths of the folders being read, outermost first.
    open: Vec<PathBuf>,
    loops: Vec<PathBuf>,
}

impl Walk {
    fn folder(&mut self, dir: &Path) -> std::io::Result<()> {
        let canonical = std::fs::canonicalize(dir)?;
        if self.open.contains(&canonical) {
            self.loops.push(dir.to_path_buf());
            return Ok(());
        }
        if !self.seen.insert(canonical.clone()) {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        self.open.push(canonical);
        for path in entries {
            if path.is_dir() {
                self.folder(&path)?;
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                self.files.push(path);
            }
        }
        self.open.pop();
        Ok(())
    }
}

pub fn run(args: Args, runtime: &Runtime) -> ExitCode {
    let files = match workflow_files(&args.paths) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    signals::stop_now_on_interrupt(Stage::Checking);
    let engine = runtime.checking_engine();
    let mut invalid = 0;
    for file in &files {
        tracing::info!(file = %file.display(), "checking the workflow");
        let result = workflow::load_file(file, engine.catalog());
        invalid += usize::from(result.is_err());
        print!("{}", report(file, &result));
    }
    if files.len() > 1 {
        println!(
            "{} files: {} valid, {invalid} invalid",
            files.len(),
            files.len() - invalid
        );
    }
    if invalid == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One file's verdict as `weft validate` prints it: a status line, then every diagnostic.
pub fn report(file: &Path, result: &Result<LoadedWorkflow, FileProblems>) -> String {
    match result {
        Ok(loaded) => {
            let mut out = format!("ok       {}\n", file.display());
            out.extend(render_shown(&loaded.source, &loaded.warnings));
            out
        }
        Err(problems) => {
            let errors = problems.diagnostics.iter().filter(|d| d.is_error()).count();
            let mut out = format!(
                "invalid  {} ({errors} {})\n",
                file.display(),
                if errors == 1 { "error" } else { "errors" }
            );
            out.extend(render_shown(&problems.source, &problems.diagnostics));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symbolic_link_loop_is_read_once_and_reported() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let flows = dir.path().join("flows");
        std::fs::create_dir_all(flows.join("inner")).expect("folders");
        std::fs::write(flows.join("inner/a.yaml"), "name: a\n").expect("file");
        std::os::unix::fs::symlink(&flows, flows.join("inner/back")).expect("loop");
        std::os::unix::fs::symlink(flows.join("inner"), flows.join("again")).expect("link");
        let mut walk = Walk::default();
        walk.folder(&flows).expect("walks");
        // `again` leads to `inner`, already read: its file is listed once.
        assert_eq!(walk.files, [flows.join("again/a.yaml")]);
        assert_eq!(walk.loops, [flows.join("again/back")]);
    }
}
