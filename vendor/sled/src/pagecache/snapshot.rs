#[cfg(feature = "zstd")]
use zstd::block::{compress, decompress};

use crate::*;

use super::{
    arr_to_u32, gc_blobs, pwrite_all, raw_segment_iter_from, u32_to_arr,
    u64_to_arr, pread_exact_or_eof, BasedBuf, DiskPtr, LogIter, LogKind,
    LogOffset, Lsn,
    MessageKind,
};

/// A snapshot of the state required to quickly restart
/// the `PageCache` and `SegmentAccountant`.
#[derive(PartialEq, Debug, Default)]
#[cfg_attr(test, derive(Clone))]
pub struct Snapshot {
    /// The last read message lsn
    pub stable_lsn: Option<Lsn>,
    /// The last read message lid
    pub active_segment: Option<LogOffset>,
    /// the mapping from pages to (lsn, lid)
    pub pt: Vec<PageState>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PageState {
    /// Present signifies a page that has some data.
    ///
    /// It has two parts. The base and the fragments.
    /// `base` is separated to guarantee that it will
    /// always have at least one because it is
    /// correct by construction.
    /// The third element in each tuple is the on-log
    /// size for the corresponding write. If things
    /// are pretty large, they spill into the blobs
    /// directory, but still get a small pointer that
    /// gets written into the log. The sizes are used
    /// for the garbage collection statistics on
    /// segments. The lsn and the DiskPtr can be used
    /// for actually reading the item off the disk,
    /// and the size tells us how much storage it uses
    /// on the disk.
    Present {
        base: (Lsn, DiskPtr, u64),
        frags: Vec<(Lsn, DiskPtr, u64)>,
    },

    /// This is a free page.
    Free(Lsn, DiskPtr),
    Uninitialized,
}

impl PageState {
    fn push(&mut self, item: (Lsn, DiskPtr, u64)) {
        match *self {
            PageState::Present { base, ref mut frags } => {
                if frags.last().map_or(base.0, |f| f.0) < item.0 {
                    frags.push(item)
                } else {
                    debug!(
                        "skipping merging item {:?} into \
                        existing PageState::Present({:?})",
                        item, frags
                    );
                }
            }
            _ => panic!("pushed frags to {:?}", self),
        }
    }

    pub(crate) fn is_free(&self) -> bool {
        match *self {
            PageState::Free(_, _) => true,
            _ => false,
        }
    }

    #[cfg(feature = "testing")]
    fn offsets(&self) -> Vec<LogOffset> {
        match *self {
            PageState::Present { base, ref frags } => {
                let mut offsets = vec![base.1.lid()];
                for (_, ptr, _) in frags {
                    offsets.push(ptr.lid());
                }
                offsets
            }
            PageState::Free(_, ptr) => vec![ptr.lid()],
            PageState::Uninitialized => {
                panic!("called offsets on Uninitialized")
            }
        }
    }
}

impl Snapshot {
    pub fn recovered_coords(
        &self,
        segment_size: usize,
    ) -> (Option<LogOffset>, Option<Lsn>) {
        if self.stable_lsn.is_none() {
            return (None, None);
        }

        let stable_lsn = self.stable_lsn.unwrap();

        if let Some(base_offset) = self.active_segment {
            let progress = stable_lsn % segment_size as Lsn;
            let offset = base_offset + LogOffset::try_from(progress).unwrap();

            (Some(offset), Some(stable_lsn))
        } else {
            let lsn_idx = stable_lsn / segment_size as Lsn
                + if stable_lsn % segment_size as Lsn == 0 { 0 } else { 1 };
            let next_lsn = lsn_idx * segment_size as Lsn;
            (None, Some(next_lsn))
        }
    }

    fn apply(
        &mut self,
        log_kind: LogKind,
        pid: PageId,
        lsn: Lsn,
        disk_ptr: DiskPtr,
        sz: u64,
    ) -> Result<()> {
        trace!(
            "trying to deserialize buf for pid {} ptr {} lsn {}",
            pid,
            disk_ptr,
            lsn
        );
        let _measure = Measure::new(&M.snapshot_apply);

        let pushed = if self.pt.len() <= usize::try_from(pid).unwrap() {
            self.pt.resize(
                usize::try_from(pid + 1).unwrap(),
                PageState::Uninitialized,
            );
            true
        } else {
            false
        };

        match log_kind {
            LogKind::Replace => {
                trace!(
                    "compact of pid {} at ptr {} lsn {}",
                    pid,
                    disk_ptr,
                    lsn,
                );

                let pid_usize = usize::try_from(pid).unwrap();

                self.pt[pid_usize] = PageState::Present {
                    base: (lsn, disk_ptr, sz),
                    frags: vec![],
                };
            }
            LogKind::Link => {
                // Because we rewrite pages over time, we may have relocated
                // a page's initial Compact to a later segment. We should skip
                // over pages here unless we've encountered a Compact for them.
                if let Some(lids @ PageState::Present { .. }) =
                    self.pt.get_mut(usize::try_from(pid).unwrap())
                {
                    trace!(
                        "append of pid {} at lid {} lsn {}",
                        pid,
                        disk_ptr,
                        lsn,
                    );

                    lids.push((lsn, disk_ptr, sz));
                } else {
                    trace!(
                        "skipping dangling append of pid {} at lid {} lsn {}",
                        pid,
                        disk_ptr,
                        lsn,
                    );
                    if pushed {
                        let old = self.pt.pop().unwrap();
                        if old != PageState::Uninitialized {
                            error!("expected previous page state to be uninitialized");
                            return Err(Error::corruption(None));
                        }
                    }
                }
            }
            LogKind::Free => {
                trace!("free of pid {} at ptr {} lsn {}", pid, disk_ptr, lsn);
                self.pt[usize::try_from(pid).unwrap()] =
                    PageState::Free(lsn, disk_ptr);
            }
            LogKind::Corrupted | LogKind::Skip => {
                error!(
                    "unexpected messagekind in snapshot application for pid {}: {:?}",
                    pid, log_kind
                );
                return Err(Error::corruption(None));
            }
        }

        Ok(())
    }
}

fn advance_snapshot(
    mut iter: LogIter,
    mut snapshot: Snapshot,
    config: &RunningConfig,
) -> Result<Snapshot> {
    let _measure = Measure::new(&M.advance_snapshot);

    trace!("building on top of old snapshot: {:?}", snapshot);

    let old_stable_lsn = snapshot.stable_lsn;

    while let Some((log_kind, pid, lsn, ptr, sz)) = iter.next() {
        trace!(
            "in advance_snapshot looking at item with pid {} lsn {} ptr {}",
            pid,
            lsn,
            ptr
        );

        if lsn < snapshot.stable_lsn.unwrap_or(-1) {
            // don't process already-processed Lsn's. stable_lsn is for the last
            // item ALREADY INCLUDED lsn in the snapshot.
            trace!(
                "continuing in advance_snapshot, lsn {} ptr {} stable_lsn {:?}",
                lsn,
                ptr,
                snapshot.stable_lsn
            );
            continue;
        }

        if lsn >= iter.max_lsn.unwrap() {
            error!("lsn {} >= iter max_lsn {}", lsn, iter.max_lsn.unwrap());
            return Err(Error::corruption(None));
        }

        snapshot.apply(log_kind, pid, lsn, ptr, sz)?;
    }

    // weft: a message below the synced end of the log that could not be read dropped the
    // rest of its segment: damage (a crash tears only what was not synced). Refused before
    // anything is written.
    if let (Some((lsn, lid)), Some(durable_lsn)) = (iter.skipped, config.durable_lsn) {
        if lsn < durable_lsn {
            debug!("an unreadable message at lid {} (lsn {}) below durable lsn {}", lid, lsn, durable_lsn);
            return Err(Error::corruption(Some(DiskPtr::Inline(lid))));
        }
    }

    // `snapshot.tip_lid` can be set based on 4 possibilities for the tip of the
    // log:
    // 1. an empty DB - tip set to None, causing a fresh segment to be
    //    allocated on initialization
    // 2. the recovered tip is at the end of a
    //    segment with less space left than would fit MAX_MSG_HEADER_LEN -
    //    tip set to None, causing a fresh segment to be allocated on
    //    initialization, as in #1 above
    // 3. the recovered tip is in the middle of a segment - both set to the end
    //    of the last valid message, causing the system to be initialized to
    //    that point without allocating a new segment
    // 4. the recovered tip is at the beginning of a new segment, but without
    //    any valid messages in it yet. treat as #3 above, but also take care
    //    in te SA initialization to properly initialize any segment tracking
    //    state despite not having any pages currently residing there.

    let no_recovery_progress = iter.cur_lsn.is_none()
        || iter.cur_lsn.unwrap() <= snapshot.stable_lsn.unwrap_or(0);
    let db_is_empty = no_recovery_progress && snapshot.stable_lsn.is_none();

    #[cfg(feature = "testing")]
    let mut shred_point = None;

    let snapshot = if db_is_empty {
        trace!("db is empty, returning default snapshot");
        if snapshot != Snapshot::default() {
            error!("expected snapshot to be Snapshot::default");
            return Err(Error::corruption(None));
        }
        check_recovered(config, -1, None, &snapshot)?;
        snapshot
    } else if iter.cur_lsn.is_none() {
        trace!(
            "no recovery progress happened since the last snapshot \
            was generated, returning the previous one"
        );
        if let Some(stable_lsn) = snapshot.stable_lsn {
            check_recovered(config, stable_lsn, snapshot.active_segment, &snapshot)?;
        }
        snapshot
    } else {
        let iterated_lsn = iter.cur_lsn.unwrap();

        let segment_progress: Lsn = iterated_lsn % (config.segment_size as Lsn);

        // progress should never be below the SEG_HEADER_LEN if the segment_base
        // is set. progress can only be 0 if we've maxed out the
        // previous segment, unsetting the iterator segment_base in the
        // process.
        let monotonic = segment_progress >= SEG_HEADER_LEN as Lsn
            || (segment_progress == 0 && iter.segment_base.is_none());
        if !monotonic {
            error!("expected segment progress {} to be above SEG_HEADER_LEN or == 0, cur_lsn: {}",
                segment_progress,
                iterated_lsn,
            );
            return Err(Error::corruption(None));
        }

        let (stable_lsn, active_segment) = if segment_progress
            + MAX_MSG_HEADER_LEN as Lsn
            >= config.segment_size as Lsn
        {
            let bumped =
                config.normalize(iterated_lsn) + config.segment_size as Lsn;
            trace!("bumping snapshot.stable_lsn to {}", bumped);
            (bumped, None)
        } else {
            (iterated_lsn, iter.segment_base.as_ref().map(|bb| bb.offset))
        };

        // weft: every check that can refuse the log comes before the first write below (the
        // shredded tail), so that a refused opening leaves the file as it found it.
        if stable_lsn < snapshot.stable_lsn.unwrap_or(0) {
            // weft: `debug!`, not `error!`: the error returned says it, and a log line
            // would reach the user's terminal ahead of weft's message.
            debug!(
                "unexpected corruption encountered in storage snapshot file. \
                stable lsn {} should be >= snapshot.stable_lsn {}",
                stable_lsn,
                snapshot.stable_lsn.unwrap_or(0),
            );
            return Err(log_cut(
                config,
                stable_lsn,
                active_segment,
                snapshot.stable_lsn.unwrap_or(0),
            ));
        }
        check_recovered(config, stable_lsn, active_segment, &snapshot)?;

        if active_segment.is_some() {
            if let Some(BasedBuf { offset, .. }) = iter.segment_base {
                // either situation 3 or situation 4. we need to zero the
                // tail of the segment after the recovered tip
                let shred_len = config.segment_size
                    - usize::try_from(segment_progress).unwrap()
                    - 1;
                let shred_zone = vec![MessageKind::Corrupted.into(); shred_len];
                let shred_base =
                    offset + LogOffset::try_from(segment_progress).unwrap();

                #[cfg(feature = "testing")]
                {
                    shred_point = Some(shred_base);
                }

                debug!(
                    "zeroing the end of the recovered segment at lsn {} between lids {} and {}",
                    config.normalize(iterated_lsn),
                    shred_base,
                    shred_base + shred_len as LogOffset
                );
                // weft: a tail already shredded (by an earlier opening, which synced it) is
                // left as it is: rewriting the same bytes cost a write and a sync per opening.
                if !holds_only(&config.file, shred_base, shred_len, MessageKind::Corrupted.into())? {
                    config.note_write(shred_base);
                    pwrite_all(&config.file, &shred_zone, shred_base)?;
                    config.file.sync_all()?;
                }
            }
        }

        snapshot.stable_lsn = Some(stable_lsn);
        snapshot.active_segment = active_segment;

        snapshot
    };

    trace!("generated snapshot: {:?}", snapshot);

    if snapshot.stable_lsn < old_stable_lsn {
        error!("unexpected corruption encountered in storage snapshot file");
        return Err(Error::corruption(None));
    }

    // weft: a snapshot only shortens the next recovery's scan of the log (sled writes one
    // at recovery alone, so a crashed process's next opening always replays from an older
    // one); writing one at every opening cost a file, a sync and a rename per opening. One
    // is written once the log since the last has grown past `SNAPSHOT_AFTER_LOG_BYTES`,
    // which bounds what each opening replays.
    let log_since_snapshot = snapshot
        .stable_lsn
        .unwrap_or(0)
        .saturating_sub(old_stable_lsn.unwrap_or(0));
    if snapshot.stable_lsn > old_stable_lsn
        && (old_stable_lsn.is_none()
            || log_since_snapshot >= SNAPSHOT_AFTER_LOG_BYTES)
    {
        write_snapshot(config, &snapshot)?;
    }

    #[cfg(feature = "testing")]
    let reverse_segments = {
        use std::collections::{HashMap, HashSet};
        let shred_base = shred_point.unwrap_or(LogOffset::max_value());
        let mut reverse_segments = HashMap::new();
        for (pid, page) in snapshot.pt.iter().enumerate() {
            let offsets = page.offsets();
            for offset in offsets {
                let segment = config.normalize(offset);
                if segment == config.normalize(shred_base) {
                    assert!(
                        offset < shred_base,
                        "we shredded the location for pid {}
                        with locations {:?}
                        by zeroing the file tip after lid {}",
                        pid,
                        page,
                        shred_base
                    );
                }
                let entry = reverse_segments
                    .entry(segment)
                    .or_insert_with(HashSet::new);
                entry.insert((pid, offset));
            }
        }
        reverse_segments
    };

    for (lsn, to_zero) in &iter.segments {
        debug!("zeroing torn segment at lsn {} lid {}", lsn, to_zero);

        #[cfg(feature = "testing")]
        {
            if let Some(pids) = reverse_segments.get(to_zero) {
                assert!(
                    pids.is_empty(),
                    "expected segment that we're zeroing at lid {} \
                    lsn {} \
                    to contain no pages, but it contained pids {:?}",
                    to_zero,
                    lsn,
                    pids
                );
            }
        }

        // NB we intentionally corrupt this header to prevent any segment
        // from being allocated which would duplicate its LSN, messing
        // up recovery in the future.
        io_fail!(config, "segment initial free zero");
        // weft: a segment zeroed (and synced) by an earlier opening is not zeroed again.
        if holds_only(
            &config.file,
            *to_zero,
            config.segment_size,
            MessageKind::Corrupted.into(),
        )? {
            continue;
        }
        config.note_write(*to_zero);
        pwrite_all(
            &config.file,
            &*vec![MessageKind::Corrupted.into(); config.segment_size],
            *to_zero,
        )?;
        if !config.temporary {
            config.file.sync_all()?;
        }
    }

    // remove all blob files larger than our stable offset
    if let Some(stable_lsn) = snapshot.stable_lsn {
        gc_blobs(config, stable_lsn)?;
    }

    #[cfg(feature = "event_log")]
    config.event_log.recovered_lsn(snapshot.stable_lsn.unwrap_or(0));

    Ok(snapshot)
}

/// weft: the lsn recovery continues the log at, from where it ended (`stable_lsn`) and the
/// segment it ended in (`None`: the next write starts a new segment), as
/// `Snapshot::recovered_coords` computes it for the log's start; and the file offset there.
fn continue_at(
    config: &RunningConfig,
    stable_lsn: Lsn,
    active_segment: Option<LogOffset>,
) -> (Lsn, Option<u64>) {
    if stable_lsn < 0 {
        return (0, None);
    }
    let coords = Snapshot { stable_lsn: Some(stable_lsn), active_segment, pt: Vec::new() }
        .recovered_coords(config.segment_size);
    (coords.1.unwrap_or(0), coords.0)
}

fn log_cut(
    config: &RunningConfig,
    stable_lsn: Lsn,
    active_segment: Option<LogOffset>,
    durable_lsn: Lsn,
) -> Error {
    let (recovered_lsn, offset) = continue_at(config, stable_lsn, active_segment);
    Error::LogCut { offset, recovered_lsn, durable_lsn }
}

/// weft: refuses a recovery that ends below `Config::durable_lsn`. Everything below it was
/// synced, so a crash cannot have torn it: an unreadable message there is damage, and
/// recovering past it as a torn tail would drop it and every later record. Then, with
/// `Config::verify_pages`, reads every message of the page table.
fn check_recovered(
    config: &RunningConfig,
    stable_lsn: Lsn,
    active_segment: Option<LogOffset>,
    snapshot: &Snapshot,
) -> Result<()> {
    check_durable(config, stable_lsn, active_segment)?;
    check_page_table(config, snapshot)?;
    if config.verify_pages {
        verify_pages(config, snapshot)?;
    }
    Ok(())
}

fn check_durable(
    config: &RunningConfig,
    stable_lsn: Lsn,
    active_segment: Option<LogOffset>,
) -> Result<()> {
    let Some(durable_lsn) = config.durable_lsn else {
        return Ok(());
    };
    let (recovered_lsn, offset) = continue_at(config, stable_lsn, active_segment);
    if recovered_lsn < durable_lsn
        && !only_a_cap_left(config, recovered_lsn, offset, durable_lsn)
    {
        return Err(log_cut(config, stable_lsn, active_segment, durable_lsn));
    }
    Ok(())
}

/// weft: a synced segment ends with a cap message and padding, which the durable lsn counts;
/// a crash before the next segment's header was written leaves recovery ending at the cap.
/// No record lies past it in that segment, so that is not a cut.
fn only_a_cap_left(
    config: &RunningConfig,
    recovered_lsn: Lsn,
    offset: Option<u64>,
    durable_lsn: Lsn,
) -> bool {
    let segment_len = config.segment_size as Lsn;
    let Some(lid) = offset else {
        return false;
    };
    let segment = recovered_lsn / segment_len;
    let seg_start = lid / segment_len as u64 * segment_len as u64;
    let in_segment = lid >= seg_start + SEG_HEADER_LEN as u64
        && seg_start + segment_len as u64 - lid >= MAX_MSG_HEADER_LEN as u64;
    durable_lsn == (segment + 1) * segment_len
        && in_segment
        && matches!(
            super::read_message(
                &*config.file,
                lid,
                super::SegmentNumber(u64::try_from(segment).unwrap_or(0)),
                config,
            ),
            Ok(super::LogRead::Cap(_))
        )
}

/// weft: what the segment accountant and the page table's loading assume of every page, and
/// panicked on: a state (a page whose first message was lost has none), and messages within
/// the file (a shortened file's page table points past its end). Damage otherwise, found
/// before anything is written, without reading a message.
fn check_page_table(config: &RunningConfig, snapshot: &Snapshot) -> Result<()> {
    let file_len = config.file.metadata()?.len();
    for (pid, page) in snapshot.pt.iter().enumerate() {
        let (first, rest): (&(Lsn, DiskPtr, u64), &[(Lsn, DiskPtr, u64)]) = match page {
            PageState::Present { base, frags } => (base, frags),
            PageState::Free(lsn, ptr) => {
                if ptr.lid() >= file_len {
                    debug!("free page {} (lsn {}) past the end of the file", pid, lsn);
                    return Err(Error::corruption(Some(*ptr)));
                }
                continue;
            }
            PageState::Uninitialized => {
                debug!("page {} has no state in the recovered page table", pid);
                return Err(Error::corruption(None));
            }
        };
        for &(lsn, ptr, _) in std::iter::once(first).chain(rest) {
            if ptr.lid() >= file_len {
                debug!("page {} (lsn {}) past the end of the file at {}", pid, lsn, ptr);
                return Err(Error::corruption(Some(ptr)));
            }
        }
    }
    Ok(())
}

/// weft: reads every message a page of `snapshot` is made of, as a later read of the page
/// would (messages before the last snapshot are not read by recovery itself).
fn verify_pages(config: &RunningConfig, snapshot: &Snapshot) -> Result<()> {
    let segment_size = u64::try_from(config.segment_size).unwrap();
    for page in &snapshot.pt {
        let PageState::Present { base, frags } = page else {
            continue;
        };
        for &(lsn, ptr, _) in std::iter::once(base).chain(frags) {
            let readable = if ptr.is_inline() {
                let expected = super::SegmentNumber(
                    u64::try_from(lsn).unwrap_or(0) / segment_size,
                );
                matches!(
                    super::read_message(&*config.file, ptr.lid(), expected, config),
                    Ok(super::LogRead::Inline(..))
                )
            } else {
                super::read_blob(ptr.blob().1, config).is_ok()
            };
            if !readable {
                debug!("an unreadable message at {} (lsn {})", ptr, lsn);
                return Err(Error::corruption(Some(ptr)));
            }
        }
    }
    Ok(())
}

/// weft: a snapshot is written at recovery once the log since the last one is this long.
/// Replaying the log costs about 32 instructions a byte (callgrind: 9.7 million for the
/// ~300 KiB of 300 one-step runs), so 32 KiB is at most ~1 million an opening, and a
/// snapshot (a sync) about every 30 one-step runs.
const SNAPSHOT_AFTER_LOG_BYTES: Lsn = 32 * 1024;

/// weft: whether the `len` bytes of `file` from `offset` all exist and are `byte`.
pub(super) fn holds_only(
    file: &std::fs::File,
    offset: LogOffset,
    len: usize,
    byte: u8,
) -> Result<bool> {
    // One 64 KiB block mapped at a time (a whole segment mapped at once stayed in the
    // process's peak RSS), checked eight bytes at a time without a branch per byte (a
    // byte-wise `any` was 6% of the instructions of a one-step `weft run`).
    const BLOCK: usize = 64 * 1024;
    let word = u64::from_ne_bytes([byte; 8]);
    let mut done = 0usize;
    while done < len {
        let want = (len - done).min(BLOCK);
        let block =
            super::SegmentBytes::read(file, offset + done as LogOffset, want)?;
        let words = block.chunks_exact(8);
        let rest = words.remainder();
        let diff = words.fold(0, |diff, w| {
            diff | (u64::from_ne_bytes([
                w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7],
            ]) ^ word)
        });
        if block.len() < want || diff != 0 || rest.iter().any(|b| *b != byte)
        {
            return Ok(false);
        }
        done += want;
    }
    Ok(true)
}

/// Read a `Snapshot` or generate a default, then advance it to
/// the tip of the data file, if present.
pub fn read_snapshot_or_default(config: &RunningConfig) -> Result<Snapshot> {
    // NB we want to error out if the read snapshot was corrupted.
    // We only use a default Snapshot when there is no snapshot found.
    let last_snap = read_snapshot(config)?.unwrap_or_else(Snapshot::default);

    let log_iter =
        raw_segment_iter_from(last_snap.stable_lsn.unwrap_or(0), config)?;

    let res = advance_snapshot(log_iter, last_snap, config)?;

    Ok(res)
}

/// Read a `Snapshot` from disk.
/// Returns an error if the read snapshot was corrupted.
/// Returns `Ok(Some(snapshot))` if there was nothing written.
fn read_snapshot(config: &RunningConfig) -> Result<Option<Snapshot>> {
    let mut candidates = config.get_snapshot_files()?;
    // weft: a `.generating` file is a snapshot whose writing a crash (kill -9) interrupted:
    // never complete (it is renamed once synced), so it is not a candidate. Its name sorts
    // after the last complete snapshot's, which it would otherwise hide, refusing the opening
    // as corrupt. The next snapshot written removes it.
    candidates.retain(|path| !path.to_string_lossy().ends_with(".generating"));
    if candidates.is_empty() {
        debug!("no previous snapshot found");
        return Ok(None);
    }

    candidates.sort();
    let path = candidates.pop().unwrap();

    let mut f = std::fs::OpenOptions::new().read(true).open(&path)?;
    // weft: a snapshot that fails its checks is named as the damaged file (it was reported
    // as damage to the log), and without a log line.
    let damaged = || Error::DamagedFile(path.clone());

    let mut buf = vec![];
    let _read = f.read_to_end(&mut buf)?;
    let len = buf.len();
    if len <= 12 {
        debug!("empty/corrupt snapshot file found");
        return Err(damaged());
    }

    let mut len_expected_bytes = [0; 8];
    len_expected_bytes.copy_from_slice(&buf[len - 12..len - 4]);

    let mut crc_expected_bytes = [0; 4];
    crc_expected_bytes.copy_from_slice(&buf[len - 4..]);

    let _ = buf.split_off(len - 12);
    let crc_expected: u32 = arr_to_u32(&crc_expected_bytes);

    let crc_actual = crc32(&buf);

    if crc_expected != crc_actual {
        debug!("corrupt snapshot file found, crc does not match expected");
        return Err(damaged());
    }

    #[cfg(feature = "zstd")]
    let bytes = if config.use_compression {
        use std::convert::TryInto;

        let len_expected: u64 =
            u64::from_le_bytes(len_expected_bytes.as_ref().try_into().unwrap());

        decompress(&*buf, usize::try_from(len_expected).unwrap()).unwrap()
    } else {
        buf
    };

    #[cfg(not(feature = "zstd"))]
    let bytes = buf;

    Snapshot::deserialize(&mut bytes.as_slice()).map(Some).map_err(|_| damaged())
}

fn write_snapshot(config: &RunningConfig, snapshot: &Snapshot) -> Result<()> {
    trace!("writing snapshot {:?}", snapshot);

    let raw_bytes = snapshot.serialize();
    let decompressed_len = raw_bytes.len();

    #[cfg(feature = "zstd")]
    let bytes = if config.use_compression {
        compress(&*raw_bytes, config.compression_factor).unwrap()
    } else {
        raw_bytes
    };

    #[cfg(not(feature = "zstd"))]
    let bytes = raw_bytes;

    let crc32: [u8; 4] = u32_to_arr(crc32(&bytes));
    let len_bytes: [u8; 8] = u64_to_arr(decompressed_len as u64);

    let path_1_suffix =
        format!("snap.{:016X}.generating", snapshot.stable_lsn.unwrap_or(0));

    let mut path_1 = config.get_path();
    path_1.push(path_1_suffix);

    let path_2_suffix =
        format!("snap.{:016X}", snapshot.stable_lsn.unwrap_or(0));

    let mut path_2 = config.get_path();
    path_2.push(path_2_suffix);

    let parent = path_1.parent().unwrap();
    std::fs::create_dir_all(parent)?;
    let mut f =
        std::fs::OpenOptions::new().write(true).create(true).open(&path_1)?;

    // write the snapshot bytes, followed by a crc64 checksum at the end
    io_fail!(config, "snap write");
    f.write_all(&*bytes)?;
    io_fail!(config, "snap write len");
    f.write_all(&len_bytes)?;
    io_fail!(config, "snap write crc");
    f.write_all(&crc32)?;
    io_fail!(config, "snap write post");
    f.sync_all()?;

    trace!("wrote snapshot to {}", path_1.to_string_lossy());

    io_fail!(config, "snap write mv");
    std::fs::rename(&path_1, &path_2)?;
    io_fail!(config, "snap write mv post");
    // weft: the rename is made durable before the older snapshots are removed, so that a
    // crash of the machine right after finds one of them on disk, never neither.
    #[cfg(unix)]
    std::fs::File::open(parent)?.sync_all()?;

    trace!("renamed snapshot to {}", path_2.to_string_lossy());

    // clean up any old snapshots
    let candidates = config.get_snapshot_files()?;
    for path in candidates {
        let path_str = path.file_name().unwrap().to_str().unwrap();
        if !path_2.to_string_lossy().ends_with(&*path_str) {
            debug!("removing old snapshot file {:?}", path);

            io_fail!(config, "snap write rm old");

            if let Err(e) = std::fs::remove_file(&path) {
                // TODO should this just be a try return?
                warn!(
                    "failed to remove old snapshot file, maybe snapshot race? {}",
                    e
                );
            }
        }
    }
    Ok(())
}
