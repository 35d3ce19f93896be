//! Reloading the workflows folder while the daemon runs (SIGHUP, or a file of the folder
//! changed). The caller lists the folder with each file's [`Stamp`]; [`Reloader::changes`]
//! says which files to read again and which are gone; the caller loads and checks those (and
//! reports their problems as `weft validate` does); [`Reloader::apply`] then starts, replaces
//! and stops workflows. A file that does not check keeps its previous version running.
//!
//! A file whose stamp changed but whose content did not (saved again, touched, seen by both a
//! SIGHUP and the folder check) is not checked nor reported again: the caller asks
//! [`Reloader::same_content`] with the file's [`content_of`] first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use weft_engine::bounded_file::read_bounded;
use weft_engine::workflow::CompiledWorkflow;
use weft_engine::yaml::LoadLimits;

use crate::daemon::Daemon;

/// What tells a file changed without reading it: its modification time and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

impl Stamp {
    pub fn of(path: &Path) -> std::io::Result<Stamp> {
        let metadata = std::fs::metadata(path)?;
        Ok(Stamp {
            // Filesystems without modification times are told apart by size alone.
            modified: metadata.modified().ok(),
            len: metadata.len(),
        })
    }
}

/// The SHA-256 (hex) of a workflow file's bytes, as a compiled workflow's `hash` is; `None`
/// when it cannot be read (or is over the size a workflow may have).
pub fn content_of(path: &Path) -> Option<String> {
    let limit = LoadLimits::default().max_bytes as u64;
    let bytes = read_bounded(path, limit).ok()?;
    Some(hex::encode(Sha256::digest(&bytes)))
}

/// A changed file, loaded and checked by the caller.
pub enum Checked {
    Valid(Arc<CompiledWorkflow>),
    /// It has errors (the caller reported them).
    Invalid,
}

/// The files to read again, and the files gone.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub changed: Vec<PathBuf>,
    pub deleted: Vec<PathBuf>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.deleted.is_empty()
    }
}

/// What a reload did, by workflow name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// New workflows.
    pub started: Vec<String>,
    /// Workflows running a new version.
    pub replaced: Vec<String>,
    /// Workflows whose file was deleted or now defines another name.
    pub stopped: Vec<String>,
    /// Files with errors: the version they had before, if any, keeps running.
    pub kept: Vec<PathBuf>,
    /// Files defining a workflow name another file already defines: (file, the other file).
    pub duplicate_names: Vec<(PathBuf, PathBuf)>,
}

/// A file of the folder as the daemon last saw it.
struct Known {
    stamp: Stamp,
    /// The workflow of this file that runs (`None`: it never checked).
    workflow: Option<Arc<CompiledWorkflow>>,
    /// The SHA-256 of the bytes last checked, valid or not (`None`: unknown).
    content: Option<String>,
}

/// The files of the workflows folder and the workflow each runs.
#[derive(Default)]
pub struct Reloader {
    files: BTreeMap<PathBuf, Known>,
}

impl Reloader {
    /// Notes a file read at start, with its workflow when it checked, and its
    /// [`content_of`] when it did not.
    pub fn track(
        &mut self,
        path: PathBuf,
        stamp: Stamp,
        workflow: Option<Arc<CompiledWorkflow>>,
        content: Option<String>,
    ) {
        let content = workflow.as_ref().map(|w| w.hash.clone()).or(content);
        self.files.insert(
            path,
            Known {
                stamp,
                workflow,
                content,
            },
        );
    }

    /// A changed file (see [`Reloader::changes`]) whose `content` is the one last checked: its
    /// new `stamp` is noted, and the caller neither checks nor reports it again. Otherwise the
    /// content is noted (false), so that the next change back to it is one.
    pub fn same_content(&mut self, path: &Path, stamp: Stamp, content: Option<&str>) -> bool {
        let Some(content) = content else {
            return false;
        };
        match self.files.get_mut(path) {
            Some(known) if known.content.as_deref() == Some(content) => {
                known.stamp = stamp;
                true
            }
            Some(known) => {
                known.content = Some(content.to_string());
                false
            }
            None => {
                self.files.insert(
                    path.to_path_buf(),
                    Known {
                        // Not seen yet: `apply` notes it when it is checked.
                        stamp,
                        workflow: None,
                        content: Some(content.to_string()),
                    },
                );
                false
            }
        }
    }

    /// The files of `listing` that are new or changed since last seen, and the files gone.
    pub fn changes(&self, listing: &BTreeMap<PathBuf, Stamp>) -> Changes {
        let changed = listing
            .iter()
            .filter(|(path, stamp)| self.files.get(*path).is_none_or(|k| k.stamp != **stamp))
            .map(|(path, _)| path.clone())
            .collect();
        let deleted = self
            .files
            .keys()
            .filter(|path| !listing.contains_key(*path))
            .cloned()
            .collect();
        Changes { changed, deleted }
    }

    /// Stops the workflows of the deleted files, then starts or replaces the valid changed
    /// ones. `listing` gives the stamps the checked files were read at.
    pub fn apply(
        &mut self,
        daemon: &Daemon,
        listing: &BTreeMap<PathBuf, Stamp>,
        checked: Vec<(PathBuf, Checked)>,
        deleted: &[PathBuf],
    ) -> ReloadReport {
        let mut report = ReloadReport::default();
        for path in deleted {
            if let Some(workflow) = self.files.remove(path).and_then(|known| known.workflow) {
                daemon.remove_workflow(&workflow.name);
                report.stopped.push(workflow.name.clone());
            }
        }
        for (path, checked) in checked {
            let Some(&stamp) = listing.get(&path) else {
                continue;
            };
            let known = self.files.get(&path);
            let previous = known.and_then(|k| k.workflow.clone());
            let content = known.and_then(|k| k.content.clone());
            let workflow = match checked {
                Checked::Invalid => {
                    report.kept.push(path.clone());
                    previous
                }
                Checked::Valid(workflow) => match self.defined_elsewhere(&workflow.name, &path) {
                    Some(other) => {
                        report.duplicate_names.push((path.clone(), other));
                        previous
                    }
                    None => {
                        self.start(daemon, &workflow, previous.as_deref(), &mut report);
                        Some(workflow)
                    }
                },
            };
            self.files.insert(
                path,
                Known {
                    stamp,
                    workflow,
                    content,
                },
            );
        }
        report
    }

    /// Runs `workflow` in place of `previous`, the version its file had.
    fn start(
        &self,
        daemon: &Daemon,
        workflow: &Arc<CompiledWorkflow>,
        previous: Option<&CompiledWorkflow>,
        report: &mut ReloadReport,
    ) {
        match previous {
            // Saved again unchanged: its triggers go on undisturbed.
            Some(previous) if previous.name == workflow.name && previous.hash == workflow.hash => {}
            Some(previous) if previous.name == workflow.name => {
                daemon.set_workflow(workflow.clone());
                report.replaced.push(workflow.name.clone());
            }
            _ => {
                if let Some(previous) = previous {
                    daemon.remove_workflow(&previous.name);
                    report.stopped.push(previous.name.clone());
                }
                daemon.set_workflow(workflow.clone());
                report.started.push(workflow.name.clone());
            }
        }
    }

    /// The other file whose running workflow has this name.
    fn defined_elsewhere(&self, name: &str, path: &Path) -> Option<PathBuf> {
        self.files
            .iter()
            .find(|(other, known)| {
                *other != path && known.workflow.as_ref().is_some_and(|w| w.name == name)
            })
            .map(|(other, _)| other.clone())
    }
}
