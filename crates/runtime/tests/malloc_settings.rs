//! `keep_big_blocks_mapped` in a process of its own (malloc's settings are the process's).

/// glibc's own threshold would rise to the size of the first big block freed, and the same
/// block asked again would then come from the heap: with the threshold fixed it is mapped
/// again, and given back when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn a_big_block_freed_and_asked_again_is_mapped_again() {
    #[allow(unsafe_code)]
    // SAFETY: mallinfo2 only reads the allocator's counters.
    fn mapped_bytes() -> usize {
        unsafe { libc::mallinfo2() }.hblkhd
    }
    weft_runtime::keep_big_blocks_mapped();
    const BIG: usize = 1024 * 1024;
    for round in 0..2 {
        let before = mapped_bytes();
        let block = std::hint::black_box(vec![1u8; BIG]);
        assert!(
            mapped_bytes() >= before + BIG,
            "round {round}: the block came from the heap"
        );
        drop(block);
        assert!(
            mapped_bytes() < before + BIG,
            "round {round}: kept after free"
        );
    }
}
