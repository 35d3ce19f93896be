//! `weft-spec-facts SPEC_DIR OUT_FILE`: extracts the facts weft's tests need from
//! `SPEC_DIR/confluence-v1.openapi.json` and `SPEC_DIR/confluence-v2.openapi.json` into
//! `OUT_FILE` (normally `crates/atlassian/facts/confluence.json`). The output is deterministic,
//! so CI re-runs it and compares.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn read_spec(dir: &Path, name: &str) -> Result<serde_json::Value, String> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

fn run(dir: &Path, out: &Path) -> Result<(), String> {
    let v1 = read_spec(dir, "confluence-v1.openapi.json")?;
    let v2 = read_spec(dir, "confluence-v2.openapi.json")?;
    let facts = weft_atlassian::facts::extract(&v1, &v2).map_err(|e| e.to_string())?;
    std::fs::write(out, weft_atlassian::facts::render(&facts))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [dir, out] = args.as_slice() else {
        eprintln!("usage: weft-spec-facts SPEC_DIR OUT_FILE (SPEC_DIR: the spec folder of the shared reference; OUT_FILE: crates/atlassian/facts/confluence.json)");
        return ExitCode::from(2);
    };
    match run(dir, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weft-spec-facts: {e}");
            ExitCode::FAILURE
        }
    }
}
