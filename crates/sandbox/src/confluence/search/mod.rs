//! CQL search (v1 `/search` and `/content/search`) over a lagging index.

pub mod index;
