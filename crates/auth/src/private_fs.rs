//! Owner-only files and directories (0700 / 0600): the data directory holds the master key
//! and encrypted tokens.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{AuthError, Result};

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| AuthError::io(path, "setting owner-only permissions", e))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}

/// Creates `dir` (and parents) if needed and makes it 0700.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| AuthError::io(dir, "creating directory", e))?;
    set_mode(dir, 0o700)
}

/// Makes every file below `dir` 0600 and every directory 0700 (files written by libraries
/// that follow the umask).
pub(crate) fn restrict_tree(dir: &Path) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| AuthError::io(dir, "listing directory", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| AuthError::io(dir, "listing directory", e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| AuthError::io(&path, "reading file type", e))?;
        if kind.is_dir() {
            set_mode(&path, 0o700)?;
            restrict_tree(&path)?;
        } else if kind.is_file() {
            set_mode(&path, 0o600)?;
        }
    }
    Ok(())
}

/// Opens a new file that only the owner can read; fails if it already exists.
pub(crate) fn create_new_private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Writes `bytes` to `path` atomically (temporary file + rename), owner-only.
pub(crate) fn write_private_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        ensure_private_dir(parent)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut file =
        create_new_private_file(&tmp).map_err(|e| AuthError::io(&tmp, "creating file", e))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| AuthError::io(&tmp, "writing file", e))?;
    fs::rename(&tmp, path).map_err(|e| AuthError::io(path, "replacing file", e))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_are_0700_and_files_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("sub/config.json");
        write_private_file(&file, b"{}").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&dir.join("sub")), 0o700);
        fs::write(dir.join("loose"), b"x").unwrap();
        fs::set_permissions(dir.join("loose"), fs::Permissions::from_mode(0o644)).unwrap();
        restrict_tree(&dir).unwrap();
        assert_eq!(mode(&dir.join("loose")), 0o600);
    }
}
