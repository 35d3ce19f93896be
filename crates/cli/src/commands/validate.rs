//! `weft validate PATH...`: a line per file and every diagnostic; exit 0 valid, 1 invalid, 2 usage.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use weft_engine::diagnostic::render;
use weft_engine::workflow;
use weft_runtime::Runtime;

#[derive(clap::Args)]
pub struct Args {
    /// Workflow files, or folders searched for *.yaml and *.yml.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// The workflow files named by `paths`, folders expanded, sorted for stable output.
pub fn workflow_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = files.len();
            collect(path, &mut files)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if files.len() == before {
                return Err(format!(
                    "{} holds no workflow files (*.yaml, *.yml)",
                    path.display()
                ));
            }
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(format!("{}: no such file or folder", path.display()));
        }
    }
    Ok(files)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(path);
        }
    }
    Ok(())
}

pub fn run(args: Args, runtime: &Runtime) -> ExitCode {
    let files = match workflow_files(&args.paths) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let engine = runtime.checking_engine();
    let mut invalid = 0;
    for file in &files {
        match workflow::load_file(file, engine.catalog()) {
            Ok(loaded) => {
                println!("ok       {}", file.display());
                for warning in &loaded.warnings {
                    print!("{}", render(&loaded.source, warning));
                }
            }
            Err(problems) => {
                invalid += 1;
                let errors = problems.diagnostics.iter().filter(|d| d.is_error()).count();
                println!(
                    "invalid  {} ({errors} {})",
                    file.display(),
                    if errors == 1 { "error" } else { "errors" }
                );
                for diagnostic in &problems.diagnostics {
                    print!("{}", render(&problems.source, diagnostic));
                }
            }
        }
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
