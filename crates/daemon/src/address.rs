//! `daemon.json` in the data folder: where the daemon that owns the folder listens, so `weft`
//! commands run while it owns the folder talk to it instead of failing on the lock.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const FILE: &str = "daemon.json";
/// A larger file is not ours.
const MAX_BYTES: u64 = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonAddress {
    pub address: SocketAddr,
    pub pid: u32,
    pub started_at: DateTime<Utc>,
    /// The file of the token its API needs (`--api-token-file`), absolute: `weft` commands of
    /// the same user read it to call the API. The token itself is never written here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("cannot {operation} {}", path.display())]
    Io {
        operation: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a daemon address file", path.display())]
    Malformed {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// Writes the file owner-only, through a rename: readers never see half of it.
pub fn write(data_dir: &Path, address: &DaemonAddress) -> Result<(), AddressError> {
    let target = path(data_dir);
    let temporary = data_dir.join(format!("{FILE}.tmp-{}", std::process::id()));
    let io = |operation| {
        let path = target.clone();
        move |source| AddressError::Io {
            operation,
            path,
            source,
        }
    };
    let bytes = serde_json::to_vec_pretty(address).expect("an address serializes");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = options
        .open(&temporary)
        .and_then(|mut file| file.write_all(&bytes).and_then(|()| file.sync_all()))
        .and_then(|()| fs::rename(&temporary, &target));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result.map_err(io("write"))
}

/// The address written by the daemon of `data_dir`, if there is one. A daemon killed with
/// -9 leaves its file: the caller checks the daemon answers.
pub fn read(data_dir: &Path) -> Result<Option<DaemonAddress>, AddressError> {
    let target = path(data_dir);
    let io = |operation, source| AddressError::Io {
        operation,
        path: target.clone(),
        source,
    };
    let file = match fs::File::open(&target) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("read", e)),
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_BYTES + 1), &mut bytes)
        .map_err(|e| io("read", e))?;
    if bytes.len() as u64 > MAX_BYTES {
        let source = serde::de::Error::custom(format!("larger than {MAX_BYTES} bytes"));
        return Err(AddressError::Malformed {
            path: target,
            source,
        });
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| AddressError::Malformed {
            path: target,
            source,
        })
}

/// Removes the file at a clean stop.
pub fn remove(data_dir: &Path) -> Result<(), AddressError> {
    match fs::remove_file(path(data_dir)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(AddressError::Io {
            operation: "remove",
            path: path(data_dir),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_owner_only_read_back_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        let address = DaemonAddress {
            address: "127.0.0.1:4567".parse().unwrap(),
            pid: 42,
            started_at: Utc::now(),
            api_token_file: Some(PathBuf::from("/etc/weft/api-token")),
        };
        write(dir.path(), &address).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(address));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path(dir.path())).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        remove(dir.path()).unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        remove(dir.path()).unwrap();
    }

    #[test]
    fn a_foreign_or_huge_file_is_refused_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(path(dir.path()), "not json").unwrap();
        assert!(matches!(
            read(dir.path()),
            Err(AddressError::Malformed { .. })
        ));
        fs::write(path(dir.path()), vec![b' '; 10_000]).unwrap();
        let error = read(dir.path()).unwrap_err();
        assert!(error.to_string().contains("is not a daemon address file"));
    }
}
