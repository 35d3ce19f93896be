//! Files holding a secret the daemon reads at start (the API token, the key that signs
//! outbound events): refused when users other than their owner may read or change them, since
//! whoever reads such a file can call the API, or sign events the receiver trusts.

use std::path::Path;

use weft_engine::bounded_file::{read_bounded, FileReadError};

/// Why a private file was not read.
#[derive(Debug, thiserror::Error)]
pub enum PrivateFileError {
    #[error("cannot read it")]
    Read(#[source] FileReadError),
    /// Its permission bits (`mode & 0o777`) give group or others some access.
    #[error("other users may read or change it (mode {mode:o})")]
    Exposed { mode: u32 },
}

/// The bytes of `path` (at most `max_bytes`), if only its owner may read or change it.
pub fn read_private(path: &Path, max_bytes: u64) -> Result<Vec<u8>, PrivateFileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata =
            std::fs::metadata(path).map_err(|e| PrivateFileError::Read(FileReadError::Io(e)))?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(PrivateFileError::Exposed { mode });
        }
    }
    read_bounded(path, max_bytes).map_err(PrivateFileError::Read)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_owner_only_file_is_read_and_one_others_may_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cr3t").unwrap();
        for (mode, readable) in [(0o600, true), (0o400, true), (0o640, false), (0o606, false)] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            match read_private(&path, 100) {
                Ok(bytes) => assert!(readable && bytes == b"s3cr3t", "{mode:o}"),
                Err(PrivateFileError::Exposed { mode: found }) => {
                    assert!(!readable && found == mode, "{mode:o}")
                }
                Err(e) => panic!("{mode:o}: {e:?}"),
            }
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            read_private(&path, 3),
            Err(PrivateFileError::Read(FileReadError::TooLarge { .. }))
        ));
    }
}
