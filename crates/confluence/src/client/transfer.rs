//! Files to and from Confluence: uploads streamed from disk as multipart, downloads streamed to
//! disk. Both go through the pacing, authentication, single token refresh and typed errors of
//! [`Client::send`]; what differs is the body and what is safe to send again.
//!
//! - An upload is sent again only when the answer says nothing was stored (401 before a token
//!   refresh, 429), each time read anew from disk. After a server error or a lost connection the
//!   file may have been stored: it is not sent again, the step fails saying so.
//! - A download is written to a hidden file next to its target, hashed on the way, and moved into
//!   place only when complete; on any failure the partial file is removed, and a body cut off
//!   midway is downloaded again from the start.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use reqwest::header::ACCEPT;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use weft_action::ActionError;

use super::error::is_scope_mismatch;
use super::read::read_error_body;
use super::{status_error, transport_error, Client, ConfluenceError, Request};

/// The largest file weft uploads (Confluence Cloud's default attachment limit).
pub const MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;
/// The largest file weft downloads.
pub const MAX_DOWNLOAD_BYTES: u64 = 1024 * 1024 * 1024;
/// How long one upload or download may take, body included.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// A file to upload as the multipart part `file`, with the attachment's optional fields.
#[derive(Debug, Clone)]
pub struct Upload {
    pub path: PathBuf,
    /// The attachment's file name.
    pub file_name: String,
    pub comment: Option<String>,
    pub minor_edit: bool,
}

impl Upload {
    /// The multipart form, the file streamed from disk.
    async fn form(&self) -> Result<Form, ConfluenceError> {
        let file = Part::file(&self.path)
            .await
            .map_err(|e| local_error(format!("cannot read {}: {e}", self.path.display())))?
            .file_name(self.file_name.clone());
        let mut form = Form::new()
            .part("file", file)
            .text("minorEdit", self.minor_edit.to_string());
        if let Some(comment) = &self.comment {
            form = form.text("comment", comment.clone());
        }
        Ok(form)
    }
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// The answer's `Content-Type`.
    pub media_type: Option<String>,
}

fn local_error(message: String) -> ConfluenceError {
    ConfluenceError::Step(ActionError::failed(message))
}

impl Client<'_> {
    /// Uploads `upload` with `request` (a v1 multipart POST) and returns the answer's JSON.
    pub async fn upload(
        &self,
        request: &Request,
        upload: &Upload,
    ) -> Result<Value, ConfluenceError> {
        let answer = self.send_streamed(request, || upload.form()).await;
        let answer = answer.map_err(|error| match error {
            ConfluenceError::Network { call, detail } => ConfluenceError::Network {
                call,
                detail: format!("{detail}; the file may have been stored, so it was not sent again: list the attachments before retrying"),
            },
            ConfluenceError::Timeout { call, detail } => ConfluenceError::Timeout {
                call,
                detail: format!("{detail}; the file may have been stored, so it was not sent again: list the attachments before retrying"),
            },
            other => other,
        })?;
        let call = request.describe();
        let bytes = super::read::read_capped(answer, super::read::MAX_ANSWER_BYTES, &call).await?;
        serde_json::from_slice(&bytes).map_err(|e| ConfluenceError::InvalidAnswer {
            call,
            detail: e.to_string(),
        })
    }

    /// Downloads the answer to `request` (a GET) into the file `to`, refusing to replace an
    /// existing file unless `overwrite`; nothing is left at `to` or beside it on failure.
    pub async fn download(
        &self,
        request: &Request,
        to: &Path,
        overwrite: bool,
    ) -> Result<Downloaded, ConfluenceError> {
        if !overwrite && tokio::fs::symlink_metadata(to).await.is_ok() {
            return Err(exists(to));
        }
        let call = request.describe();
        let partial = partial_path(to)?;
        let mut failed = 0;
        loop {
            let answer = self
                .send_streamed(request, || async { Ok(Form::new()) })
                .await?;
            if answer
                .content_length()
                .is_some_and(|length| length > MAX_DOWNLOAD_BYTES)
            {
                return Err(too_large(&call));
            }
            let placed = match write_partial(answer, &partial, &call).await {
                Ok(downloaded) => place(&partial, to, overwrite).await.map(|()| downloaded),
                Err(error) => Err(error),
            };
            if placed.is_err() {
                let _ = tokio::fs::remove_file(&partial).await;
            }
            match placed {
                // A body cut off midway: the download is read again from the start.
                Err(ConfluenceError::Network { .. }) if failed + 1 < self.policy.attempts => {
                    failed += 1;
                    self.cancellable(tokio::time::sleep(self.policy.wait(failed, None)))
                        .await?;
                }
                placed => return placed,
            }
        }
    }

    /// Sends `request` with a body made fresh for each attempt by `body` (a GET sends none).
    async fn send_streamed<F, Fut>(
        &self,
        request: &Request,
        body: F,
    ) -> Result<reqwest::Response, ConfluenceError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Form, ConfluenceError>>,
    {
        let call = request.describe();
        let url = self.url(request);
        let sends_file = request.method != reqwest::Method::GET;
        let mut failed = 0;
        let mut waited = Duration::ZERO;
        let mut refreshed = false;
        loop {
            self.cancellable(self.pacer.ready()).await?;
            let token = self.token.lock().clone();
            let mut builder = self
                .connection
                .http()
                .request(request.method.clone(), &url)
                .bearer_auth(token.expose())
                .header(ACCEPT, "application/json")
                .header("X-Atlassian-Token", "no-check")
                .timeout(TRANSFER_TIMEOUT);
            if sends_file {
                builder = builder.multipart(body().await?);
            }
            let error = match self.cancellable(builder.send()).await? {
                Ok(answer) => {
                    self.pacer.observe(answer.headers());
                    let status = answer.status();
                    if status.is_success() {
                        return Ok(answer);
                    }
                    let headers = answer.headers().clone();
                    let body = read_error_body(answer).await;
                    if status == StatusCode::UNAUTHORIZED {
                        if is_scope_mismatch(&body) {
                            return Err(self.scope_mismatch(&headers));
                        }
                        if !refreshed {
                            refreshed = true;
                            let fresh = self.refresh(&token).await?;
                            *self.token.lock() = fresh;
                            continue;
                        }
                    }
                    status_error(request, &self.info.name, status, &headers, &body)
                }
                Err(error) => transport_error(&call, &error),
            };
            // A 429 stored nothing, so even a file is sent again; other failures only when
            // the request is safe to repeat.
            let again = matches!(error, ConfluenceError::RateLimited { .. })
                || (error.is_transient() && request.replayable);
            if !again || failed + 1 >= self.policy.attempts {
                return Err(error);
            }
            let asked = match &error {
                ConfluenceError::RateLimited { wait, .. } => *wait,
                _ => None,
            };
            let wait = self.policy.wait(failed + 1, asked);
            if waited + wait > self.policy.max_total_wait {
                return Err(error);
            }
            if asked.is_some() {
                self.pacer.hold(wait);
            }
            failed += 1;
            waited += wait;
            self.cancellable(tokio::time::sleep(wait)).await?;
        }
    }
}

fn exists(to: &Path) -> ConfluenceError {
    ConfluenceError::Step(ActionError::invalid_input(format!(
        "{} already exists; weft does not replace it unless the input `overwrite` is true",
        to.display()
    )))
}

fn too_large(call: &str) -> ConfluenceError {
    local_error(format!(
        "the file of {call} is larger than {MAX_DOWNLOAD_BYTES} bytes, the most weft downloads; nothing was written"
    ))
}

/// `.<name>.<random>.weft-partial` in the target's folder, so the final move stays on one disk.
fn partial_path(to: &Path) -> Result<PathBuf, ConfluenceError> {
    let name = to
        .file_name()
        .ok_or_else(|| {
            ConfluenceError::Step(ActionError::invalid_input(format!(
                "input `to` is {:?}; give the path of a file, not of a folder",
                to.display().to_string()
            )))
        })?
        .to_string_lossy();
    let suffix: u64 = rand::random();
    Ok(to.with_file_name(format!(".{name}.{suffix:016x}.weft-partial")))
}

/// Streams the answer into `partial` (created new), within [`MAX_DOWNLOAD_BYTES`].
async fn write_partial(
    answer: reqwest::Response,
    partial: &Path,
    call: &str,
) -> Result<Downloaded, ConfluenceError> {
    let folder_error = |e: std::io::Error| {
        local_error(format!(
            "cannot write {}: {e}; the folder of `to` must exist and be writable",
            partial.display()
        ))
    };
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(partial)
        .await
        .map_err(folder_error)?;
    let media_type = answer
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    let mut chunks = answer.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| transport_error(call, &e))?;
        bytes += chunk.len() as u64;
        if bytes > MAX_DOWNLOAD_BYTES {
            return Err(too_large(call));
        }
        hash.update(&chunk);
        file.write_all(&chunk).await.map_err(folder_error)?;
    }
    file.sync_all().await.map_err(folder_error)?;
    Ok(Downloaded {
        bytes,
        sha256: hex::encode(hash.finalize()),
        media_type,
    })
}

/// Moves the finished file to `to`; without `overwrite` through a hard link, which fails rather
/// than replace a file that appeared meanwhile.
async fn place(partial: &Path, to: &Path, overwrite: bool) -> Result<(), ConfluenceError> {
    let moved = if overwrite {
        tokio::fs::rename(partial, to).await
    } else {
        match tokio::fs::hard_link(partial, to).await {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists(to)),
            linked => linked.and(tokio::fs::remove_file(partial).await),
        }
    };
    moved.map_err(|e| local_error(format!("cannot write {}: {e}", to.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partial_file_is_hidden_beside_the_target() {
        let partial = partial_path(Path::new("/data/out/report.pdf")).unwrap();
        assert_eq!(partial.parent(), Some(Path::new("/data/out")));
        let name = partial.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".report.pdf.") && name.ends_with(".weft-partial"),
            "{name}"
        );
        assert!(partial_path(Path::new("/")).is_err());
    }
}
