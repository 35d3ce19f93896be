//! A file's bytes, read once for their checksums.

use std::fs;
use std::io;
use std::ops::Deref;

/// A file's bytes as they are now. On unix the file is mapped read-only, so that a checksum
/// reads the page cache where it is instead of a copy of it: checking a 1.5 MiB history at
/// each opening spent four fifths of its 0.5 ms copying 64 KiB buffers. Elsewhere the file
/// is read whole.
///
/// A mapped file that another process shortens meanwhile ends this one (SIGBUS) when a page
/// past the new end is read: the log is only mapped with its lock held, taken for the check
/// at an opening (see `check_clean_close_mark`) and held by the open store at its close.
pub(crate) struct FileBytes(Inner);

#[cfg(unix)]
struct Inner {
    /// Null for an empty file (nothing to map).
    start: *mut libc::c_void,
    len: usize,
}

#[cfg(not(unix))]
struct Inner(Vec<u8>);

impl FileBytes {
    #[cfg(unix)]
    #[allow(unsafe_code)]
    pub(crate) fn of(file: &fs::File) -> io::Result<FileBytes> {
        use std::os::unix::io::AsRawFd;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large to map"))?;
        if len == 0 {
            return Ok(FileBytes(Inner {
                start: std::ptr::null_mut(),
                len,
            }));
        }
        #[cfg(target_os = "linux")]
        let populate = libc::MAP_POPULATE;
        #[cfg(not(target_os = "linux"))]
        let populate = 0;
        // SAFETY: a new read-only private mapping of an open file; the kernel picks the
        // address. It is unmapped once, by `drop`.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | populate,
                file.as_raw_fd(),
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(FileBytes(Inner { start, len }))
    }

    #[cfg(not(unix))]
    pub(crate) fn of(file: &fs::File) -> io::Result<FileBytes> {
        use std::io::Read;
        let mut bytes = Vec::new();
        (&*file).read_to_end(&mut bytes)?;
        Ok(FileBytes(Inner(bytes)))
    }
}

impl Deref for FileBytes {
    type Target = [u8];

    #[cfg(unix)]
    #[allow(unsafe_code)]
    fn deref(&self) -> &[u8] {
        if self.0.start.is_null() {
            return &[];
        }
        // SAFETY: `len` readable bytes are mapped at `start` until `drop`, and borrowed no
        // longer than `self`.
        unsafe { std::slice::from_raw_parts(self.0.start.cast::<u8>(), self.0.len) }
    }

    #[cfg(not(unix))]
    fn deref(&self) -> &[u8] {
        &self.0 .0
    }
}

#[cfg(unix)]
impl Drop for FileBytes {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        if !self.0.start.is_null() {
            // SAFETY: the mapping made by `of`, unmapped once; no borrow of it outlives `self`.
            unsafe { libc::munmap(self.0.start, self.0.len) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_reads_as_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        for content in [&b""[..], b"x", &[7u8; 200_000][..]] {
            fs::write(&path, content).unwrap();
            let bytes = FileBytes::of(&fs::File::open(&path).unwrap()).unwrap();
            assert_eq!(&*bytes, content);
        }
    }
}
