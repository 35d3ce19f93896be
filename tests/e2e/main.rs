//! End-to-end tests of the `weft` binary.
