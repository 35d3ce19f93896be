pub mod actions;
pub mod daemon;
mod daemon_api;
mod daemon_connections;
pub mod demo;
pub mod run;
pub mod runs;
pub mod sandbox;
pub mod schema;
pub mod triggers;
pub mod validate;
pub mod workflow_scopes;

use std::path::Path;
use std::sync::Arc;

use weft_engine::exec::Engine;
use weft_engine::store::{close_interrupted_runs, RunStore, SledRunStore, StoreError};
use weft_runtime::{ConnectionTokens, Runtime};

/// The engine of a live run: the run history and the connections of the data folder.
pub async fn open_engine(data_dir: &Path, runtime: &Runtime) -> Result<Engine, String> {
    let store = open_store(data_dir).await?;
    Ok(runtime.engine(store, connection_tokens(data_dir)))
}

/// The connections of the data folder, for the steps that use one.
pub fn connection_tokens(data_dir: &Path) -> Arc<ConnectionTokens> {
    Arc::new(folder_tokens(data_dir))
}

/// [`connection_tokens`] before it is shared, to be told of refreshes.
pub fn folder_tokens(data_dir: &Path) -> ConnectionTokens {
    ConnectionTokens::new(
        data_dir.to_path_buf(),
        Some(crate::auth_commands::sandbox_app()),
    )
}

/// Opens the run history; runs left `running` by a process that died are closed as
/// interrupted.
pub async fn open_store(data_dir: &Path) -> Result<Arc<dyn RunStore>, String> {
    let store: Arc<dyn RunStore> =
        open_history(data_dir, crate::store_messages::run_history).await?;
    Ok(store)
}

/// [`open_store`] as the sled store itself (the daemon also keeps its trigger state in it);
/// `describe` words a store error.
pub async fn open_history(
    data_dir: &Path,
    describe: fn(&StoreError) -> String,
) -> Result<Arc<SledRunStore>, String> {
    crate::data_dir::ensure(data_dir)
        .map_err(|e| format!("cannot create the data folder {}: {e}", data_dir.display()))?;
    let store = Arc::new(
        SledRunStore::open(&data_dir.join("runs"))
            .await
            .map_err(|e| describe(&e))?,
    );
    match close_interrupted_runs(store.as_ref()).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            "{n} run(s) were interrupted by a stopped weft process; marked interrupted"
        ),
        Err(e) => return Err(describe(&e)),
    }
    Ok(store)
}
