//! Confluence Cloud REST handlers (v2 and v1), one module per kind of object.

pub mod render;
pub mod search;
pub mod users;
