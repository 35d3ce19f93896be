//! What keeps an embedded store (a sled folder) from losing data, shared by the run history
//! and the connection store.
//!
//! sled recovers from a damaged log by dropping the damaged record *and every later one*, and it
//! rewrites the log as it opens: opening a damaged folder destroys what it still held. It
//! cannot tell a damaged record from the torn tail a crash leaves (both fail their CRC). So:
//! - [`write_count`] / [`read_count`]: a sidecar file in the folder with the number of records
//!   last known durable. sled only ever loses records, so finding fewer after opening than the
//!   sidecar says is damage. Writers raise the count after a write is durable and lower it
//!   before a delete, so a crash in between never looks like damage.
//!   [`GrowingCount`]: the same file, rewritten in place, for a count that only grows, with how
//!   far the store's log was synced ([`Notes::durable_log`]). A count covers one kind of
//!   record; the log position covers every record of every tree: a crash only tears what was
//!   never synced, so a log readable less far than the position is damaged, whichever record
//!   it lost. The run history gives it to sled's recovery, which refuses such a log before it
//!   writes anything, and also refuses (vendored sled, marked `weft:`): an unreadable message
//!   below that position after which sled would skip the rest of its segment (upstream takes
//!   it for a reused segment whose new header is not yet written, and that case is told
//!   apart by the newer messages it holds); a page with no state or one past the file's end;
//!   a configuration or snapshot file failing its checksum (named, not reported as `db`).
//!   A sidecar that does not parse (any bytes) reads as no numbers: less checking, never a
//!   refusal for its own sake.
//! - [`copy_aside`]: a byte copy of the folder made before opening, next to it
//!   (`<folder>.backup-<time>`); [`backups`] lists them newest first and [`prune_backups`]
//!   keeps the last few. The store verifies a copy by opening it (opening the copy can only
//!   harm the copy) and counting its records. [`copy_aside_once`]: no second copy of files
//!   an earlier opening already copied (a damaged store opened again).
//! - [`note_clean_close`] / [`check_clean_close_mark`]: what the folder's files were when its
//!   store was last closed cleanly, so that opening it unchanged can skip the copy. The mark
//!   only ever says "unchanged since a clean close", never "damaged": files that differ from
//!   it are copied and checked (after a crash they differ too).
//! - [`record_holder`] / [`holder`]: which process has the folder open (pid and command line),
//!   so a second process refused by the lock can say who holds it.
//!
//! One risk is left to the operating system: sled's recovery reads the log through read-only
//! mappings (vendored sled, `SegmentBytes`), and a file shortened under a mapping ends the
//! process with SIGBUS when a page past the new end is read. No weft process shortens a `db`
//! it has not locked, and recovery maps only while it reads, before its first write (every
//! refusal above comes before that write too): so only another program truncating the file
//! during an opening can cause it, the process then dies before changing anything, and the
//! next opening finds the log shorter than it was synced and refuses it with the usual
//! message and a copy.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

const COUNT_FILE: &str = "record-count";
const HOLDER_FILE: &str = "holder";
const CLEAN_CLOSE_FILE: &str = "closed-cleanly";
const BACKUP_MARK: &str = ".backup-";
const TIME_FORMAT: &str = "%Y%m%dT%H%M%S%.6fZ";
/// Ends the name of a copy being made: [`backups`] does not list it, as its time does not
/// parse; it gets its name once every file is copied and synced.
const PARTIAL_MARK: &str = ".partial";
/// Command lines longer than this are cut in the holder file.
const MAX_COMMAND_CHARS: usize = 300;

#[derive(Debug, thiserror::Error)]
#[error("{operation} {}", path.display())]
pub struct GuardError {
    pub operation: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

fn io_error(operation: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> GuardError {
    let path = path.to_path_buf();
    move |source| GuardError {
        operation,
        path,
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, synced: the file is either
/// the old or the new content, never half of it, and on disk when this returns. Each write has
/// its own temporary file, so concurrent writers never rename each other's.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), GuardError> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let temporary = path.with_extension(format!(
        "tmp-{}-{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    let write = || -> std::io::Result<()> {
        let mut file = private_file(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&temporary);
        io_error("writing", path)(e)
    })
}

fn private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    private(&mut options).open(path)
}

/// Owner-only permissions for a file `options` creates.
fn private(options: &mut fs::OpenOptions) -> &mut fs::OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// The record count last written in `dir`; `None` for a store that never had one.
pub fn read_count(dir: &Path) -> Result<Option<u64>, GuardError> {
    read_notes(dir).map(|notes| notes.records)
}

/// What a store's sidecar says was durable when it was last written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Notes {
    /// How many records the store held.
    pub records: Option<u64>,
    /// How far the store's log was synced (for sled, `Db::durable_lsn`): recovering less of
    /// it is damage, not a crash's torn tail. Written by [`GrowingCount::note`] only.
    pub durable_log: Option<u64>,
}

/// The most of the sidecar read: its two numbers and a space take 41 bytes.
const MAX_NOTES_BYTES: u64 = 64;

/// The sidecar of `dir`: the count, then the durable log position when there is one,
/// separated by a space (an older sidecar has the count alone). A field that is not a
/// number (a damaged sidecar: any bytes, only its first [`MAX_NOTES_BYTES`] read) counts
/// as absent: less checking, never a refusal for the sidecar's own sake.
pub fn read_notes(dir: &Path) -> Result<Notes, GuardError> {
    use std::io::Read;
    let path = dir.join(COUNT_FILE);
    let read = fs::File::open(&path).and_then(|file| {
        let mut bytes = Vec::new();
        file.take(MAX_NOTES_BYTES).read_to_end(&mut bytes)?;
        Ok(bytes)
    });
    match read {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let mut fields = text.split_ascii_whitespace().map(|f| f.parse().ok());
            Ok(Notes {
                records: fields.next().flatten(),
                durable_log: fields.next().flatten(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Notes::default()),
        Err(e) => Err(io_error("reading", &path)(e)),
    }
}

/// Records the count, synced: for stores whose count also goes down (a lowered count lost in a
/// crash would look like loss).
pub fn write_count(dir: &Path, count: u64) -> Result<(), GuardError> {
    write_synced(&dir.join(COUNT_FILE), count.to_string().as_bytes())
}

/// Digits of a number written by [`GrowingCount`]: every `u64` fits, so each write (two
/// numbers, a space between) has the same length and covers the whole of the one before.
const COUNT_WIDTH: usize = 20;

/// The sidecar count of a store whose count only grows, kept open and rewritten in place:
/// one `pwrite` of two numbers of [`COUNT_WIDTH`] zero-padded digits at offset 0 per note, where a
/// temporary file and a rename cost a file creation and a directory change at every run's
/// end. Not synced: losing a note in a crash leaves an older, lower count, which means less
/// checking and never a false alarm. A note is never half written: it is one write of 20
/// bytes into one disk sector (a process that dies is either before or after the
/// system call; a disk writes a sector whole), and every note has the same length, so no
/// digit of an older, longer one can remain. The count a store found at opening is written
/// once by [`write_count`] (renamed, synced) before this takes over.
pub struct GrowingCount {
    file: fs::File,
    path: PathBuf,
}

impl GrowingCount {
    /// Opens the count file of `dir` for notes (created if missing).
    pub fn open(dir: &Path) -> Result<Self, GuardError> {
        let path = dir.join(COUNT_FILE);
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(io_error("opening", &path))?;
        Ok(GrowingCount { file, path })
    }

    /// Records `count` and how far the store's log is durable (see [`Notes`]), without
    /// waiting for the disk. Both only grow: a lost note leaves lower numbers, less checking.
    pub fn note(&self, count: u64, durable_log: Option<u64>) -> Result<(), GuardError> {
        let durable = match durable_log {
            Some(position) => format!("{position:0width$}", width = COUNT_WIDTH),
            None => " ".repeat(COUNT_WIDTH),
        };
        let note = format!("{count:0width$} {durable}", width = COUNT_WIDTH);
        write_all_at(&self.file, note.as_bytes(), 0).map_err(io_error("writing", &self.path))
    }
}

#[cfg(unix)]
fn write_all_at(file: &fs::File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(not(unix))]
fn write_all_at(mut file: &fs::File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)
}

/// A copy of a store folder, made before opening it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub path: PathBuf,
    pub taken_at: DateTime<Utc>,
}

fn backup_prefix(dir: &Path) -> Option<String> {
    Some(format!(
        "{}{BACKUP_MARK}",
        dir.file_name()?.to_string_lossy()
    ))
}

/// A copy for an opening: made by it, or one an earlier opening made of the same files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyForOpening {
    pub backup: Backup,
    /// Whether this call made it (then the opening removes it when the store proves whole).
    pub made: bool,
}

/// [`copy_aside`], unless the newest copy of `dir` already holds the same store files byte
/// for byte (an earlier opening refused them as damaged): then that copy. One copy per
/// damaged state, however often a damaged store is opened again.
pub fn copy_aside_once(dir: &Path, now: DateTime<Utc>) -> Result<CopyForOpening, GuardError> {
    if let Some(newest) = backups(dir).into_iter().next() {
        if same_store_files(dir, &newest.path).unwrap_or(false) {
            return Ok(CopyForOpening {
                backup: newest,
                made: false,
            });
        }
    }
    Ok(CopyForOpening {
        backup: copy_aside(dir, now)?,
        made: true,
    })
}

/// Whether the store files of two folders (as [`store_files`] lists them) are the same.
fn same_store_files(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (a, b) = (store_files(a)?, store_files(b)?);
    if a.len() != b.len()
        || a.iter()
            .zip(&b)
            .any(|((x, _), (y, _))| x.path != y.path || x.len != y.len)
    {
        return Ok(false);
    }
    let mut buffer = vec![0u8; MARK_CHUNK];
    let mut other = vec![0u8; MARK_CHUNK];
    for ((_, x), (_, y)) in a.iter().zip(&b) {
        if !same_bytes(x, y, &mut buffer, &mut other)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn same_bytes(a: &Path, b: &Path, buffer: &mut [u8], other: &mut [u8]) -> std::io::Result<bool> {
    let (mut a, mut b) = (fs::File::open(a)?, fs::File::open(b)?);
    loop {
        let filled = fill(&mut a, buffer)?;
        if fill(&mut b, other)? != filled || buffer[..filled] != other[..filled] {
            return Ok(false);
        }
        if filled < buffer.len() {
            return Ok(true);
        }
    }
}

/// Reads into `buffer` until it is full or the file ends; how many bytes it holds.
fn fill(file: &mut fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Copies the folder `dir` to `<dir>.backup-<now>`, every file synced. The copy is made
/// under another name and renamed when whole: a copy cut short (a full disk, a crash) is
/// never listed as a copy to recover from. One cut short by an error is removed; one left
/// by a crash goes at the next [`prune_backups`].
pub fn copy_aside(dir: &Path, now: DateTime<Utc>) -> Result<Backup, GuardError> {
    let prefix = backup_prefix(dir).ok_or_else(|| GuardError {
        operation: "copying",
        path: dir.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a folder name"),
    })?;
    let name = format!("{prefix}{}", now.format(TIME_FORMAT));
    let path = dir.with_file_name(&name);
    let partial = dir.with_file_name(format!("{name}{PARTIAL_MARK}"));
    let copied = copy_tree(dir, &partial).and_then(|()| {
        fs::rename(&partial, &path).map_err(io_error("naming", &path))?;
        sync_parent(&path)
    });
    if let Err(e) = copied {
        // Best effort: a copy left here is never listed, and the next prune removes it.
        let _ = fs::remove_dir_all(&partial);
        return Err(e);
    }
    Ok(Backup {
        path,
        taken_at: now,
    })
}

/// Makes the name of `path` durable (its folder's entry).
fn sync_parent(path: &Path) -> Result<(), GuardError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    #[cfg(unix)]
    fs::File::open(parent)
        .and_then(|folder| folder.sync_all())
        .map_err(io_error("syncing", parent))?;
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), GuardError> {
    create_private_dir(to)?;
    for entry in fs::read_dir(from).map_err(io_error("listing", from))? {
        let entry = entry.map_err(io_error("listing", from))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(io_error("reading", &source))?;
        if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else if kind.is_file() && entry.file_name() != HOLDER_FILE {
            let copy = || -> std::io::Result<()> {
                let mut input = fs::File::open(&source)?;
                let mut output = private_file(&target)?;
                std::io::copy(&mut input, &mut output)?;
                output.sync_all()
            };
            copy().map_err(io_error("copying", &source))?;
        }
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<(), GuardError> {
    fs::create_dir_all(dir).map_err(io_error("creating", dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(io_error("restricting", dir))?;
    }
    Ok(())
}

/// Copies of `dir` made by [`copy_aside`], newest first.
pub fn backups(dir: &Path) -> Vec<Backup> {
    let (Some(prefix), Some(parent)) = (backup_prefix(dir), dir.parent()) else {
        return Vec::new();
    };
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<Backup> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let time = name.strip_prefix(&prefix)?;
            let taken_at = NaiveDateTime::parse_from_str(time, TIME_FORMAT)
                .ok()?
                .and_utc();
            Some(Backup {
                path: entry.path(),
                taken_at,
            })
        })
        .collect();
    found.sort_by_key(|b| std::cmp::Reverse(b.taken_at));
    found
}

/// Deletes a copy (one that failed verification, or is no longer needed).
pub fn remove_backup(backup: &Backup) -> Result<(), GuardError> {
    fs::remove_dir_all(&backup.path).map_err(io_error("removing", &backup.path))
}

/// Keeps the newest `keep` copies of `dir`, and removes copies a crash cut short.
pub fn prune_backups(dir: &Path, keep: usize) -> Result<(), GuardError> {
    for old in backups(dir).iter().skip(keep) {
        remove_backup(old)?;
    }
    for partial in partial_copies(dir) {
        fs::remove_dir_all(&partial).map_err(io_error("removing", &partial))?;
    }
    Ok(())
}

/// Copies of `dir` that [`copy_aside`] did not finish.
fn partial_copies(dir: &Path) -> Vec<PathBuf> {
    let (Some(prefix), Some(parent)) = (backup_prefix(dir), dir.parent()) else {
        return Vec::new();
    };
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(PARTIAL_MARK)
        })
        .map(|entry| entry.path())
        .collect()
}

/// The bytes below `dir` (what a copy would write).
pub fn folder_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => folder_size(&entry.path()),
            Ok(_) => entry.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

/// Bytes of a file checksummed together in a clean-close mark: a store that knows the first
/// byte it wrote since its opening reads again, at its close, only the chunks from there on.
const MARK_CHUNK: usize = 64 * 1024;

/// One file of a store folder at a clean close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileMark {
    /// Below the folder, `/`-separated.
    path: String,
    len: u64,
    /// The CRC-32 of each [`MARK_CHUNK`] bytes of the file, the last chunk possibly shorter.
    chunks: Vec<u32>,
}

/// The store's own files below `dir`, sorted by path, with their lengths (no checksums yet).
/// The guard's files are left out: they change without the store (the count at each flush,
/// the holder at each opening, temporaries while they are written).
fn store_files(dir: &Path) -> std::io::Result<Vec<(FileMark, PathBuf)>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<(FileMark, PathBuf)>) -> std::io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let guard_file = prefix.is_empty()
                && (name == COUNT_FILE
                    || name == HOLDER_FILE
                    || name == CLEAN_CLOSE_FILE
                    || name.contains(".tmp-"));
            let kind = entry.file_type()?;
            if kind.is_dir() {
                walk(&entry.path(), &format!("{prefix}{name}/"), out)?;
            } else if !guard_file {
                let len = entry.metadata()?.len();
                let path = format!("{prefix}{name}");
                out.push((
                    FileMark {
                        path,
                        len,
                        chunks: Vec::new(),
                    },
                    entry.path(),
                ));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, "", &mut files)?;
    files.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    Ok(files)
}

/// The chunk checksums of the file at `path`: the first `known.len()` are taken from `known`
/// (chunks the caller knows unchanged), the others read through `buffer` ([`MARK_CHUNK`]
/// bytes, one for all the files: a zeroed 64 KiB allocation per file cost more than the
/// checksums of the small ones).
fn chunk_checksums(path: &Path, known: &[u32], buffer: &mut [u8]) -> std::io::Result<Vec<u32>> {
    use std::io::{Seek, SeekFrom};
    let mut file = fs::File::open(path)?;
    let mut chunks = known.to_vec();
    if !known.is_empty() {
        file.seek(SeekFrom::Start((known.len() * MARK_CHUNK) as u64))?;
    }
    loop {
        let filled = fill(&mut file, &mut buffer[..MARK_CHUNK])?;
        if filled == 0 {
            return Ok(chunks);
        }
        chunks.push(crc32fast::hash(&buffer[..filled]));
        if filled < MARK_CHUNK {
            return Ok(chunks);
        }
    }
}

/// What an opening proved of a store's files: byte for byte what its last clean close noted.
/// Kept by the open store for its own close (see [`Unwritten`]).
#[derive(Debug)]
pub struct Verified {
    files: Vec<FileMark>,
}

/// A file of the store whose first `below` bytes the store has not written (nor truncated)
/// since its opening verified them: its close takes their checksums from the opening instead
/// of reading them again.
pub struct Unwritten<'a> {
    pub verified: &'a Verified,
    /// Below the folder, `/`-separated.
    pub file: &'a str,
    pub below: u64,
}

impl Unwritten<'_> {
    /// The checksums of the whole chunks of `file` (now `len` bytes long) known unchanged.
    fn known_chunks(&self, file: &str, len: u64) -> &[u32] {
        if file != self.file {
            return &[];
        }
        let Some(verified) = self.verified.files.iter().find(|mark| mark.path == file) else {
            return &[];
        };
        let unchanged = self.below.min(verified.len).min(len);
        let whole = usize::try_from(unchanged / MARK_CHUNK as u64).unwrap_or(usize::MAX);
        &verified.chunks[..whole.min(verified.chunks.len())]
    }
}

/// Records what the files of `dir` are now (each one's length and chunk checksums): call it
/// when the store has been closed cleanly, its last write durable. `unwritten`: a part of a
/// file known as the opening verified it, not read again. Why that keeps the mark true: the
/// checksums taken from the opening are those of bytes nobody wrote since, so reading them
/// again would give the same numbers; and if something did change them (a disk, a person),
/// the next opening finds them different from the mark, and copies. Not synced: a mark lost
/// in a crash only costs a copy at the next opening, never a skipped one. Files of more than
/// `max_bytes` in all are not noted (the next opening would read them all to check the mark).
pub fn note_clean_close(
    dir: &Path,
    unwritten: Option<&Unwritten<'_>>,
    max_bytes: u64,
) -> Result<(), GuardError> {
    let files = store_files(dir).map_err(io_error("listing", dir))?;
    if files.iter().map(|(mark, _)| mark.len).sum::<u64>() > max_bytes {
        // An older mark would only cost the next opening a comparison that fails.
        return match fs::remove_file(dir.join(CLEAN_CLOSE_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io_error("removing", &dir.join(CLEAN_CLOSE_FILE))(e))
            }
            _ => Ok(()),
        };
    }
    let mut marks = Vec::new();
    let mut buffer = vec![0u8; MARK_CHUNK];
    for (mut mark, path) in files {
        let known = unwritten.map_or(&[][..], |u| u.known_chunks(&mark.path, mark.len));
        mark.chunks =
            chunk_checksums(&path, known, &mut buffer).map_err(io_error("reading", &path))?;
        marks.push(mark);
    }
    let bytes = serde_json::to_vec(&marks).unwrap_or_default();
    // In place, not renamed into place: a mark cut short by a crash is not a JSON list any
    // more, so it matches nothing (a copy at the next opening), like no mark at all.
    write_in_place(&dir.join(CLEAN_CLOSE_FILE), &bytes)
}

/// Replaces the content of `path` by `bytes` in place (truncated, then written): for files
/// whose reader takes a half-written content for none.
fn write_in_place(path: &Path, bytes: &[u8]) -> Result<(), GuardError> {
    private_file(path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(io_error("writing", path))
}

/// Says whether the files of `dir` are still byte for byte what the mark left by
/// [`note_clean_close`] recorded (`Some`): then the store is as it was when it was last closed
/// cleanly, and opening it needs no copy before (see the store's `open`).
///
/// Why that keeps the guarantee ("opening never destroys an intact record; a damaged store is
/// refused with a copy to recover from"): the copy exists because sled, opening a log with a
/// damaged or torn record, drops it and every later one and rewrites the files. Files that
/// match the mark are the ones a store left after its last flush and its clean close: nothing
/// in them is torn, so there is nothing for that recovery to drop. Anything else (a kill -9, a
/// crash, a full disk, a person or a disk changing a byte since) leaves files that do not
/// match, and the folder is copied, synced, as before. Every byte is read and checked here,
/// whatever the close took from its own opening. CRC-32 (per 64 KiB) misses no burst of up
/// to 32 changed bits and one random change in four billion; it is a check against
/// accidents, not against someone forging bytes (who could forge the mark too).
///
/// The mark stays: the next clean close rewrites it, and until then it matches only files
/// nobody changed (a store that wrote, then was killed, left files that differ from it). So
/// an opening that is refused leaves the folder as it found it, and the next attempt finds
/// the same mismatch.
pub fn check_clean_close_mark(dir: &Path) -> Option<Verified> {
    let bytes = fs::read(dir.join(CLEAN_CLOSE_FILE)).ok()?;
    let marks = serde_json::from_slice::<Vec<FileMark>>(&bytes).ok()?;
    let files = store_files(dir).ok()?;
    // Lengths first: a folder that grew since costs no reading.
    let mut buffer = vec![0u8; MARK_CHUNK];
    let same = files.len() == marks.len()
        && files
            .iter()
            .zip(&marks)
            .all(|((file, _), mark)| file.path == mark.path && file.len == mark.len)
        && files.iter().zip(&marks).all(|((_, path), mark)| {
            chunk_checksums(path, &[], &mut buffer).is_ok_and(|chunks| chunks == mark.chunks)
        });
    same.then_some(Verified { files: marks })
}

/// The process that has a store open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub command: String,
    pub since: DateTime<Utc>,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` (pid {}, since {} UTC)",
            self.command,
            self.pid,
            self.since.format("%Y-%m-%d %H:%M:%S")
        )
    }
}

/// Replaces the content of `path` by `bytes`: written over the old content, then cut to their
/// length. Not truncated first: on ext4 an opening that truncates a file frees its block,
/// which the write then allocates again (0.2 ms, where this costs 0.03 ms at each opening of
/// the run history). Only for the holder: a reader midway finds the new bytes followed by old
/// ones, which do not parse or name this process with an older holder's words. The mark is
/// not written so: a torn mark must never parse (see [`note_clean_close`]).
fn write_over(path: &Path, bytes: &[u8]) -> Result<(), GuardError> {
    let write = || -> std::io::Result<()> {
        let mut file = private(fs::OpenOptions::new().write(true).create(true)).open(path)?;
        file.write_all(bytes)?;
        file.set_len(bytes.len() as u64)
    };
    write().map_err(io_error("writing", path))
}

/// Notes this process as the holder of `dir`; call it once the store's lock is taken.
pub fn record_holder(dir: &Path) -> Result<(), GuardError> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let command = weft_text::shorten(&command, MAX_COMMAND_CHARS).into_owned();
    let holder = Holder {
        pid: std::process::id(),
        command,
        since: Utc::now(),
    };
    let bytes = serde_json::to_vec(&holder).unwrap_or_default();
    // In place: a process refused by the lock that reads it half written says it does not
    // know the holder, as when there is no file.
    write_over(&dir.join(HOLDER_FILE), &bytes)
}

/// Whether another process holds the lock sled takes on `<dir>/db` (an advisory `flock`), found
/// without opening the store: a copy taken while another process writes would not be
/// consistent.
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn is_locked(dir: &Path) -> bool {
    use std::os::unix::io::AsRawFd;
    let Ok(file) = fs::OpenOptions::new().read(true).open(dir.join("db")) else {
        return false;
    };
    // SAFETY: flock on a descriptor this function owns; the lock is released before returning.
    let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if taken {
        // SAFETY: as above.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
    }
    !taken
}

#[cfg(not(unix))]
pub fn is_locked(_dir: &Path) -> bool {
    false
}

/// Who holds `dir`, as recorded by [`record_holder`]; `None` when unknown.
pub fn holder(dir: &Path) -> Option<Holder> {
    let bytes = fs::read(dir.join(HOLDER_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn concurrent_count_writers_all_succeed_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|scope| {
            for writer in 0..8u64 {
                let dir = dir.path();
                scope.spawn(move || {
                    // Synced writes: a few each.
                    for n in 0..5 {
                        write_count(dir, writer * 100 + n).unwrap();
                    }
                });
            }
        });
        let count = read_count(dir.path()).unwrap().unwrap();
        assert!(count % 100 == 4, "a last write of one writer, got {count}");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(COUNT_FILE)]);
    }

    #[test]
    fn a_growing_count_is_rewritten_in_place_over_any_earlier_count() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        // A count renamed into place first (as a store's opening writes it), in the short
        // form earlier versions wrote at every note.
        write_count(dir, 301).unwrap();
        let count = GrowingCount::open(dir).unwrap();
        assert_eq!(
            read_count(dir).unwrap(),
            Some(301),
            "opening changes nothing"
        );
        for (n, durable_log) in [
            (302, Some(7)),
            (9, None),
            (u64::MAX, Some(u64::MAX)),
            (12_345, Some(0)),
        ] {
            count.note(n, durable_log).unwrap();
            assert_eq!(
                read_notes(dir).unwrap(),
                Notes {
                    records: Some(n),
                    durable_log
                }
            );
            assert_eq!(read_count(dir).unwrap(), Some(n));
            assert_eq!(
                fs::read(dir.join(COUNT_FILE)).unwrap().len(),
                2 * COUNT_WIDTH + 1
            );
        }
        let names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(COUNT_FILE)]);
        let fresh = tempfile::tempdir().unwrap();
        GrowingCount::open(fresh.path())
            .unwrap()
            .note(7, None)
            .unwrap();
        assert_eq!(
            read_count(fresh.path()).unwrap(),
            Some(7),
            "created if missing"
        );
    }

    #[test]
    fn copies_are_listed_newest_first_and_pruned() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("store.db");
        fs::create_dir_all(dir.join("blobs")).unwrap();
        fs::write(dir.join("db"), b"records").unwrap();
        fs::write(dir.join("blobs/1"), b"blob").unwrap();
        record_holder(&dir).unwrap();
        let times: Vec<_> = (1..=4)
            .map(|s| Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, s).unwrap())
            .collect();
        for &time in &times {
            copy_aside(&dir, time).unwrap();
        }
        let listed = backups(&dir);
        assert_eq!(
            listed.iter().map(|b| b.taken_at).collect::<Vec<_>>(),
            [times[3], times[2], times[1], times[0]]
        );
        assert_eq!(fs::read(listed[0].path.join("db")).unwrap(), b"records");
        assert_eq!(fs::read(listed[0].path.join("blobs/1")).unwrap(), b"blob");
        assert!(
            holder(&listed[0].path).is_none(),
            "the holder is not copied"
        );
        prune_backups(&dir, 2).unwrap();
        assert_eq!(
            backups(&dir).iter().map(|b| b.taken_at).collect::<Vec<_>>(),
            [times[3], times[2]]
        );
    }

    /// A copy cut short is never listed as one to recover from: one an error stopped is
    /// removed at once, one a crash left is removed by the next prune.
    #[test]
    fn a_copy_cut_short_is_never_listed_and_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("store.db");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("db"), b"records").unwrap();
        let at = |s| Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, s).unwrap();
        let good = copy_aside(&dir, at(1)).unwrap();
        // The copy's name is taken by a folder that is not empty: the last step fails.
        let taken = dir.with_file_name(format!(
            "{}{}",
            backup_prefix(&dir).unwrap(),
            at(2).format(TIME_FORMAT)
        ));
        fs::create_dir_all(&taken).unwrap();
        fs::write(taken.join("other"), b"kept").unwrap();
        let error = copy_aside(&dir, at(2)).unwrap_err();
        assert_eq!(error.operation, "naming");
        assert_eq!(fs::read(taken.join("other")).unwrap(), b"kept");
        assert!(!taken.join("db").exists(), "nothing copied over it");
        assert!(
            partial_copies(&dir).is_empty(),
            "the partial copy is removed"
        );
        // A crash in the middle of a copy leaves it under its partial name.
        let crashed = dir.with_file_name(format!(
            "{}{}{PARTIAL_MARK}",
            backup_prefix(&dir).unwrap(),
            at(3).format(TIME_FORMAT)
        ));
        fs::create_dir_all(&crashed).unwrap();
        fs::write(crashed.join("db"), b"rec").unwrap();
        let listed: Vec<_> = backups(&dir).into_iter().map(|b| b.path).collect();
        assert_eq!(listed, [taken.clone(), good.path.clone()]);
        prune_backups(&dir, 5).unwrap();
        assert!(!crashed.exists(), "pruned");
        assert!(good.path.join("db").exists() && taken.exists());
    }

    #[test]
    fn a_second_copy_of_the_same_files_is_the_first_one() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("store.db");
        fs::create_dir_all(dir.join("blobs")).unwrap();
        fs::write(dir.join("db"), b"damaged records").unwrap();
        fs::write(dir.join("blobs/1"), b"blob").unwrap();
        let at = |s| Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, s).unwrap();
        let first = copy_aside_once(&dir, at(1)).unwrap();
        assert!(first.made);
        // The guard's files change without the store: the same damaged state.
        write_count(&dir, 3).unwrap();
        record_holder(&dir).unwrap();
        let again = copy_aside_once(&dir, at(2)).unwrap();
        assert_eq!(again.backup, first.backup);
        assert!(!again.made, "not made by this opening: not its to remove");
        // Any byte of the store's files changed: another state, another copy.
        for (second, path, bytes) in [(3, "db", &b"damaged recordS"[..]), (4, "blobs/1", b"blub")] {
            fs::write(dir.join(path), bytes).unwrap();
            let other = copy_aside_once(&dir, at(second)).unwrap();
            assert!(other.made, "{path}");
            assert_eq!(fs::read(other.backup.path.join(path)).unwrap(), bytes);
        }
        assert_eq!(backups(&dir).len(), 3);
    }

    #[test]
    fn a_clean_close_mark_matches_only_the_files_it_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        fs::create_dir_all(dir.join("blobs")).unwrap();
        fs::write(dir.join("db"), b"records").unwrap();
        fs::write(dir.join("blobs/1"), b"blob").unwrap();
        let unchanged = |change: &dyn Fn()| {
            note_clean_close(dir, None, u64::MAX).unwrap();
            change();
            check_clean_close_mark(dir).is_some()
        };
        assert!(
            check_clean_close_mark(dir).is_none(),
            "no mark: not closed cleanly"
        );
        assert!(unchanged(&|| ()));
        assert!(
            check_clean_close_mark(dir).is_some(),
            "the mark stays for the next opening while the files match it"
        );
        // The guard's own files change without the store.
        assert!(unchanged(&|| {
            write_count(dir, 7).unwrap();
            record_holder(dir).unwrap();
        }));
        let same_length = |path: &str, bytes: &[u8]| {
            let path = dir.join(path);
            let bytes = bytes.to_vec();
            move || fs::write(&path, &bytes).unwrap()
        };
        assert!(!unchanged(&same_length("db", b"recordS")), "a changed byte");
        assert!(
            !unchanged(&same_length("blobs/1", b"blub")),
            "below a folder"
        );
        assert!(!unchanged(&same_length("db", b"records and more")));
        assert!(!unchanged(&same_length("snap.1", b"new")), "a new file");
        assert!(!unchanged(&|| fs::remove_file(dir.join("snap.1")).unwrap()));
        note_clean_close(dir, None, 10).unwrap();
        assert!(
            !dir.join(CLEAN_CLOSE_FILE).exists(),
            "files bigger than the limit are not noted"
        );
        fs::write(dir.join(CLEAN_CLOSE_FILE), b"not a mark").unwrap();
        assert!(check_clean_close_mark(dir).is_none(), "an unreadable mark");
        // A mark cut short (written in place, a crash before its last byte) matches nothing.
        note_clean_close(dir, None, u64::MAX).unwrap();
        let mark = fs::read(dir.join(CLEAN_CLOSE_FILE)).unwrap();
        fs::write(dir.join(CLEAN_CLOSE_FILE), &mark[..mark.len() - 1]).unwrap();
        assert!(check_clean_close_mark(dir).is_none(), "a mark cut short");
    }

    #[test]
    fn a_close_takes_the_unwritten_chunks_from_its_opening_and_still_sees_other_changes() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let db = dir.join("db");
        let mut bytes: Vec<u8> = (0..3 * MARK_CHUNK + 100).map(|i| (i % 251) as u8).collect();
        fs::write(&db, &bytes).unwrap();
        note_clean_close(dir, None, u64::MAX).unwrap();
        let verified = check_clean_close_mark(dir).unwrap();
        // The store writes from the middle of the third chunk on, and appends.
        let written_from = 2 * MARK_CHUNK + 10;
        bytes[written_from] ^= 1;
        bytes.extend_from_slice(b"appended");
        fs::write(&db, &bytes).unwrap();
        let unwritten = Unwritten {
            verified: &verified,
            file: "db",
            below: written_from as u64,
        };
        note_clean_close(dir, Some(&unwritten), u64::MAX).unwrap();
        let reused = fs::read(dir.join(CLEAN_CLOSE_FILE)).unwrap();
        note_clean_close(dir, None, u64::MAX).unwrap();
        assert_eq!(
            reused,
            fs::read(dir.join(CLEAN_CLOSE_FILE)).unwrap(),
            "the same mark as a close that reads every byte"
        );
        assert!(check_clean_close_mark(dir).is_some());
        // A byte below the store's first write changed by something else during the run: the
        // close does not read it, and the next opening finds it.
        note_clean_close(dir, None, u64::MAX).unwrap();
        let verified = check_clean_close_mark(dir).unwrap();
        bytes[5] ^= 1;
        fs::write(&db, &bytes).unwrap();
        let unwritten = Unwritten {
            verified: &verified,
            file: "db",
            below: u64::MAX,
        };
        note_clean_close(dir, Some(&unwritten), u64::MAX).unwrap();
        assert!(check_clean_close_mark(dir).is_none());
    }

    #[test]
    fn count_and_holder_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_count(dir.path()).unwrap(), None);
        assert_eq!(read_notes(dir.path()).unwrap(), Notes::default());
        write_count(dir.path(), 42).unwrap();
        assert_eq!(read_count(dir.path()).unwrap(), Some(42));
        assert_eq!(
            read_notes(dir.path()).unwrap(),
            Notes {
                records: Some(42),
                durable_log: None
            },
            "a count written alone has no log position"
        );
        assert_eq!(holder(dir.path()), None);
        record_holder(dir.path()).unwrap();
        let holder = holder(dir.path()).unwrap();
        assert_eq!(holder.pid, std::process::id());
        assert!(!holder.command.is_empty());
    }

    #[test]
    fn a_holder_written_over_a_longer_one_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HOLDER_FILE);
        fs::write(&path, "x".repeat(500)).unwrap();
        record_holder(dir.path()).unwrap();
        assert_eq!(holder(dir.path()).unwrap().pid, std::process::id());
        write_over(&path, b"longer than nothing").unwrap();
        write_over(&path, b"short").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"short");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::remove_file(&path).unwrap();
            write_over(&path, b"new").unwrap();
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "created owner-only");
        }
    }
}
