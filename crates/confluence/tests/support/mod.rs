//! Shared by this crate's integration tests; each test file uses a part of it.
#![allow(dead_code)]

pub mod mock;
pub mod sandbox;
