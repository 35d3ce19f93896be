//! YAML with source positions. Workflow files are read into a [`Node`] tree that remembers where
//! every value came from, then deserialized with serde (see [`de`]) so each error points at the
//! exact key or value.

mod again;
mod de;
mod load;
mod node;
mod spanned;

pub use again::{read_items_again, ItemLines, ReadAgainError};
pub use de::{from_node, DeError};
pub use load::{load, load_handing_out, yaml11_bool_help, HandOut, LoadLimits, Loaded};
pub use node::{Node, NodeKind};
pub use spanned::{ExactList, RawNode, Recover, Spanned};
