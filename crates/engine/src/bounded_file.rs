//! Reading a file named by a user with a size cap: `/dev/zero` or a huge file must not exhaust
//! memory, and a FIFO or a terminal must not block forever.

use std::fs::File;
use std::io::{Read, Take};
use std::path::Path;

/// Files a user names (workflows, inputs, mocks, events) are read up to this size.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FileReadError {
    #[error("cannot read the file")]
    Io(#[source] std::io::Error),
    #[error("it is {kind}, not a regular file")]
    NotRegular { kind: &'static str },
    #[error("it is larger than the limit of {} MiB", limit / (1024 * 1024))]
    TooLarge { limit: u64 },
}

/// Reads a regular file of at most `limit` bytes. Devices, FIFOs and sockets are refused before
/// they are opened (opening a FIFO blocks until someone writes to it).
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FileReadError> {
    let (mut file, len) = open_bounded(path, limit)?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.read_to_end(&mut bytes).map_err(FileReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(FileReadError::TooLarge { limit });
    }
    Ok(bytes)
}

/// Opens a regular file of at most `limit` bytes as [`read_bounded`] does, with its length
/// then. What it reads stops one byte past the limit, which tells a file that grew since it
/// was opened from one that fits.
pub fn open_bounded(path: &Path, limit: u64) -> Result<(Take<File>, u64), FileReadError> {
    check_regular(&std::fs::metadata(path).map_err(FileReadError::Io)?)?;
    let file = File::open(path).map_err(FileReadError::Io)?;
    // The path may have been swapped between the two looks; the open file is what is read.
    let metadata = file.metadata().map_err(FileReadError::Io)?;
    check_regular(&metadata)?;
    if metadata.len() > limit {
        return Err(FileReadError::TooLarge { limit });
    }
    Ok((file.take(limit + 1), metadata.len()))
}

fn check_regular(metadata: &std::fs::Metadata) -> Result<(), FileReadError> {
    let file_type = metadata.file_type();
    if file_type.is_file() {
        return Ok(());
    }
    let kind = if file_type.is_dir() {
        "a folder"
    } else {
        special_kind(&file_type)
    };
    Err(FileReadError::NotRegular { kind })
}

#[cfg(unix)]
fn special_kind(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "a special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_small_file_and_refuses_a_large_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_bounded(&path, 5).unwrap(), b"12345");
        assert!(matches!(
            read_bounded(&path, 4),
            Err(FileReadError::TooLarge { limit: 4 })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_devices_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), MAX_FILE_BYTES),
            Err(FileReadError::NotRegular { kind: "a device" })
        ));
        assert!(matches!(
            read_bounded(dir.path(), MAX_FILE_BYTES),
            Err(FileReadError::NotRegular { kind: "a folder" })
        ));
    }
}
