//! Optional persistence: the whole state as one JSON snapshot in the data dir, written
//! atomically (temp file + rename) by a background saver and at shutdown.

use super::auth::AuthStore;
use super::model::{SiteInfo, User};
use super::site::{Site, SiteData};
use super::Inner;
use crate::error::SandboxError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const FILE: &str = "sandbox-state.json";

#[derive(Serialize)]
struct SnapshotOut<'a> {
    clock_offset_ms: i64,
    next_id: u64,
    auth: &'a AuthStore,
    users: &'a [User],
    sites: Vec<(&'a SiteInfo, &'a SiteData)>,
}

#[derive(Deserialize)]
struct SnapshotIn {
    clock_offset_ms: i64,
    next_id: u64,
    auth: AuthStore,
    users: Vec<User>,
    sites: Vec<(SiteInfo, SiteData)>,
}

pub fn state_file(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Loads a snapshot into a fresh state. Returns false when there is none yet.
pub fn load(inner: &Inner, dir: &Path) -> Result<bool, SandboxError> {
    let path = state_file(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => return Err(SandboxError::LoadState { path, source }),
    };
    let snap: SnapshotIn =
        serde_json::from_slice(&bytes).map_err(|source| SandboxError::ParseState {
            path: path.clone(),
            source,
        })?;
    inner.clock.set_offset_ms(snap.clock_offset_ms);
    inner.ids.set_at_least(snap.next_id);
    let mut auth = snap.auth;
    auth.set_lifetimes(inner.lifetimes());
    *inner.auth.write() = auth;
    *inner.users.write() = snap.users;
    let sites = snap
        .sites
        .into_iter()
        .map(|(info, mut data)| {
            data.attach(inner.ids.clone());
            Arc::new(Site::new(info, data))
        })
        .collect();
    *inner.sites.write() = sites;
    Ok(true)
}

/// Writes a snapshot atomically.
pub fn save(inner: &Inner, dir: &Path) -> Result<(), SandboxError> {
    let path = state_file(dir);
    let io = |source| SandboxError::SaveState {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let sites = inner.sites.read().clone();
    let guards: Vec<_> = sites.iter().map(|s| (&s.info, s.data.read())).collect();
    let auth = inner.auth.read();
    let users = inner.users.read();
    let snap = SnapshotOut {
        clock_offset_ms: inner.clock.offset_ms(),
        next_id: inner.ids.peek(),
        auth: &auth,
        users: &users,
        sites: guards.iter().map(|(i, d)| (*i, &**d)).collect(),
    };
    let bytes = serde_json::to_vec(&snap).map_err(|e| io(std::io::Error::other(e)))?;
    drop(auth);
    drop(users);
    drop(guards);
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(())
}
