//! The `confluence.*` polling sources: one file each, registered in [`register`]. A source
//! makes its [`crate::client::Client`] from its `SourceContext` with
//! `Client::connect(ctx, Self::INFO.scopes)` and lists with `Client::items` / `Client::collect`.

use weft_action::{RegistryError, SourceCatalog};

/// Registers every source (none yet).
pub(crate) fn register(sources: &mut SourceCatalog) -> Result<(), RegistryError> {
    let _ = sources;
    Ok(())
}
