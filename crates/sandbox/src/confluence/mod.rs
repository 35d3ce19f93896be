//! Confluence Cloud REST handlers (v2 and v1), one module per kind of object.

pub mod attachments;
pub mod comments;
pub mod labels;
pub mod pages;
pub mod properties;
pub mod render;
pub mod search;
pub mod spaces;
pub mod tasks;
pub mod tree;
pub mod users;
