//! Links the release binaries of weft (`weft`, and `weft-bench`, which uses this script too):
//!
//! - position-dependent: a PIE's loader relocates ~60,000 pointers of read-only data at every
//!   start (a million instructions) and the pages it writes become private memory of each
//!   process; at a fixed address they stay clean pages of the file, read only where used (the
//!   figures are in the root Cargo.toml, above `[profile.release]`).
//! - with the functions ordinary runs execute first in the code, in the order of
//!   `link-order.txt` (made by `scripts/link-order.sh`): the kernel maps 64 KiB of the file
//!   around every page a process touches, so code run together is code mapped together
//!   (docs/performance.md, "The binary's own pages"). A name the list holds that the binary
//!   lacks (a function renamed or gone since the list was made, a function of the other binary)
//!   is skipped without a word: a stale list only costs memory.
//!
//! Debug and test builds keep the toolchain's default.
use std::path::Path;

fn main() {
    if std::env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-no-pie");
    // Both packages that use this script are in crates/, so the list is at ../cli from either.
    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/link-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    if order.is_file() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={},--no-warn-symbol-ordering",
            order.display()
        );
    }
}
