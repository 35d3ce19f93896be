//! weft-confluence: the Confluence Cloud connector. A REST client ([`client`]: v2, and v1 where
//! v2 has no endpoint), page bodies ([`body`]), the `confluence.*` actions ([`actions`]) and
//! polling sources ([`sources`]), plugged into weft through `weft-action` alone.

pub mod actions;
pub mod body;
pub mod client;
pub mod docs;
pub mod input;
pub mod sources;

use weft_action::{Registry, RegistryError, SourceCatalog};

/// Adds every Confluence action and polling source.
pub fn register(registry: &mut Registry, sources: &mut SourceCatalog) -> Result<(), RegistryError> {
    actions::register(registry)?;
    sources::register(sources)
}
