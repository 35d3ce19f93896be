//! Files: uploads streamed from disk as multipart (`X-Atlassian-Token: no-check`), never
//! replayed once their body was sent; downloads streamed to a file within a cap, with their
//! SHA-256.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use reqwest::multipart::{Form, Part};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{Answer, Client, ConfluenceError, JsonAnswer, Payload, Receiver, Request};

/// The largest file uploaded.
pub const MAX_UPLOAD_BYTES: u64 = 250 * 1024 * 1024;
/// How long one upload or download may take.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// A file to upload as the multipart field `file`, with Confluence's optional fields.
#[derive(Debug, Clone)]
pub struct Upload {
    pub path: PathBuf,
    /// The attachment's name.
    pub file_name: String,
    pub media_type: Option<String>,
    pub comment: Option<String>,
    pub minor_edit: bool,
}

impl Upload {
    /// The multipart body, the file opened anew (a retry never reuses a consumed stream).
    pub(super) async fn attach(
        &self,
        builder: reqwest::RequestBuilder,
        _call: &str,
    ) -> Result<reqwest::RequestBuilder, ConfluenceError> {
        let path = self.path.display().to_string();
        let unreadable = |source| ConfluenceError::UploadFile {
            path: path.clone(),
            source,
        };
        let file = tokio::fs::File::open(&self.path)
            .await
            .map_err(unreadable)?;
        let size = file.metadata().await.map_err(unreadable)?.len();
        if size > MAX_UPLOAD_BYTES {
            return Err(ConfluenceError::UploadTooLarge {
                path,
                size,
                limit: MAX_UPLOAD_BYTES,
            });
        }
        let stream = tokio_util::io::ReaderStream::new(file);
        let mut part = Part::stream_with_length(reqwest::Body::wrap_stream(stream), size)
            .file_name(self.file_name.clone());
        if let Some(media_type) = &self.media_type {
            part = part
                .mime_str(media_type)
                .map_err(|e| ConfluenceError::UploadFile {
                    path: path.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
                })?;
        }
        let mut form = Form::new().part("file", part);
        if let Some(comment) = &self.comment {
            form = form.text("comment", comment.clone());
        }
        form = form.text("minorEdit", self.minor_edit.to_string());
        Ok(builder
            .header("X-Atlassian-Token", "no-check")
            .multipart(form))
    }
}

/// A file written by [`Client::download`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub path: PathBuf,
    pub bytes: u64,
    pub media_type: Option<String>,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
}

/// Streams a successful answer into `to` through a partial file beside it, renamed at the end.
struct FileAnswer<'a> {
    to: &'a Path,
    limit: u64,
}

impl FileAnswer<'_> {
    fn partial(&self) -> PathBuf {
        let mut name = self.to.file_name().unwrap_or_default().to_os_string();
        name.push(".weft-partial");
        self.to.with_file_name(name)
    }

    async fn write(
        &self,
        answer: reqwest::Response,
        partial: &Path,
        call: &str,
    ) -> Result<(u64, String), ConfluenceError> {
        let failed = |source| ConfluenceError::DownloadFile {
            call: call.to_string(),
            path: self.to.display().to_string(),
            source,
        };
        let mut file = tokio::fs::File::create(partial).await.map_err(failed)?;
        let mut hash = Sha256::new();
        let mut bytes = 0u64;
        let mut chunks = answer.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| super::transport_error(call, &e))?;
            bytes += chunk.len() as u64;
            if bytes > self.limit {
                return Err(ConfluenceError::DownloadTooLarge {
                    call: call.to_string(),
                    limit: self.limit,
                });
            }
            hash.update(&chunk);
            file.write_all(&chunk).await.map_err(failed)?;
        }
        file.flush().await.map_err(failed)?;
        file.sync_all().await.map_err(failed)?;
        Ok((bytes, hex::encode(hash.finalize())))
    }
}

impl Receiver for FileAnswer<'_> {
    type Output = Downloaded;

    fn timeout(&self) -> Duration {
        TRANSFER_TIMEOUT
    }

    fn accept(&self) -> &'static str {
        "*/*"
    }

    async fn receive(
        &self,
        answer: reqwest::Response,
        call: &str,
    ) -> Result<Downloaded, ConfluenceError> {
        if answer
            .content_length()
            .is_some_and(|length| length > self.limit)
        {
            return Err(ConfluenceError::DownloadTooLarge {
                call: call.to_string(),
                limit: self.limit,
            });
        }
        let media_type = answer
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let partial = self.partial();
        match self.write(answer, &partial, call).await {
            Ok((bytes, sha256)) => {
                tokio::fs::rename(&partial, self.to)
                    .await
                    .map_err(|source| ConfluenceError::DownloadFile {
                        call: call.to_string(),
                        path: self.to.display().to_string(),
                        source,
                    })?;
                Ok(Downloaded {
                    path: self.to.to_path_buf(),
                    bytes,
                    media_type,
                    sha256,
                })
            }
            Err(error) => {
                // Nothing half-written is left behind; a retry starts over.
                let _ = tokio::fs::remove_file(&partial).await;
                Err(error)
            }
        }
    }
}

impl Client<'_> {
    /// Uploads a file with `request` (a multipart POST or PUT). It is sent again only after a
    /// 401 (the token is refreshed and the file read anew): any other failure may have stored
    /// it, so it is left to the caller to look before trying again.
    pub async fn upload(
        &self,
        request: &Request,
        upload: Upload,
    ) -> Result<Answer, ConfluenceError> {
        let request = Request {
            replayable: false,
            ..request.clone()
        };
        self.execute(&request, &Payload::File(upload), &JsonAnswer)
            .await
    }

    /// Downloads the answer to `request` (a GET) into the file `to`, at most `limit` bytes;
    /// retried like any GET, each attempt starting the file over.
    pub async fn download(
        &self,
        request: &Request,
        to: &Path,
        limit: u64,
    ) -> Result<Downloaded, ConfluenceError> {
        self.execute(request, &Payload::Empty, &FileAnswer { to, limit })
            .await
    }
}
