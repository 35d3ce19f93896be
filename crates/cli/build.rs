//! Links the release binaries of weft (`weft`, and `weft-bench`, which uses this script too)
//! position-dependent: a PIE's loader relocates ~60,000 pointers of read-only data at every
//! start (a million instructions) and the pages it writes become private memory of each
//! process; at a fixed address they stay clean pages of the file, read only where used (the
//! figures are in the root Cargo.toml, above `[profile.release]`). Debug and test builds keep
//! the toolchain's default.
fn main() {
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
