//! Who may call the API. On loopback, anyone on the machine (as for the data folder's files);
//! bound elsewhere, only requests with `Authorization: Bearer <token>`, the token read from an
//! owner-only file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use weft_engine::bounded_file::FileReadError;

use super::{ApiError, ApiState};
use crate::private_file::{read_private, PrivateFileError};

/// A token file larger than this is not a token.
const MAX_TOKEN_FILE_BYTES: u64 = 4096;
/// Shorter tokens are guessable.
pub const MIN_TOKEN_CHARS: usize = 32;

/// The API's bearer token. No `Display`, a redacted `Debug`, no `Serialize`.
#[derive(Clone)]
pub struct ApiToken(Arc<str>);

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiTokenError {
    #[error("cannot read the API token file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: FileReadError,
    },
    #[error("the API token file {} can be read or changed by other users (mode {mode:o})", path.display())]
    Exposed { path: PathBuf, mode: u32 },
    #[error("the API token in {} is shorter than {MIN_TOKEN_CHARS} characters or holds spaces or control characters", path.display())]
    Weak { path: PathBuf },
}

impl ApiToken {
    /// Reads the token from `path`: an owner-only regular file holding one token (a final
    /// newline is ignored).
    pub fn read_file(path: &Path) -> Result<ApiToken, ApiTokenError> {
        let bytes = read_private(path, MAX_TOKEN_FILE_BYTES).map_err(|e| match e {
            PrivateFileError::Read(source) => ApiTokenError::Read {
                path: path.to_path_buf(),
                source,
            },
            PrivateFileError::Exposed { mode } => ApiTokenError::Exposed {
                path: path.to_path_buf(),
                mode,
            },
        })?;
        let weak = || ApiTokenError::Weak {
            path: path.to_path_buf(),
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| weak())?;
        ApiToken::new(text.trim_end_matches(['\n', '\r'])).ok_or_else(weak)
    }

    /// A token of at least [`MIN_TOKEN_CHARS`] visible characters.
    pub fn new(token: &str) -> Option<ApiToken> {
        let visible = token.chars().all(|c| c.is_ascii_graphic());
        (visible && token.len() >= MIN_TOKEN_CHARS).then(|| ApiToken(token.into()))
    }

    /// The `Authorization` header that carries it, marked sensitive (masked in debug output).
    pub fn authorization(&self) -> axum::http::HeaderValue {
        let mut value = axum::http::HeaderValue::from_str(&format!("Bearer {}", self.0))
            .expect("a token of visible ASCII is a header value");
        value.set_sensitive(true);
        value
    }

    /// Compares in constant time (for tokens of one length): how much of a guess matched
    /// does not show in how long the answer takes.
    fn matches(&self, given: &[u8]) -> bool {
        bool::from(self.0.as_bytes().ct_eq(given))
    }
}

/// The credentials of an `Authorization: Bearer <token>` header. The scheme's name is
/// case-insensitive (RFC 9110, 11.1): `bearer` and `BEARER` are `Bearer` too.
pub(super) fn bearer_token(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at_checked(b"Bearer ".len())?;
    scheme.eq_ignore_ascii_case(b"Bearer ").then_some(token)
}

/// Lets a request through when no token is set or it carries the token.
pub(super) async fn require_token(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.api_token else {
        return next.run(request).await;
    };
    match bearer_token(request.headers()) {
        Some(given) if token.matches(given) => next.run(request).await,
        _ => {
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this API needs `Authorization: Bearer <token>` with the daemon's API token",
            )
            .into_response();
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn write(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let path = dir.join("token");
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        path
    }

    #[test]
    fn an_owner_only_file_gives_its_token_and_debug_hides_it() {
        let dir = tempfile::tempdir().unwrap();
        let token = ApiToken::read_file(&write(dir.path(), &format!("{TOKEN}\n"), 0o600)).unwrap();
        assert!(token.matches(TOKEN.as_bytes()));
        assert!(!token.matches(b"0123456789abcdef0123456789abcdeX"));
        assert!(!token.matches(b"0123"));
        assert!(!format!("{token:?}").contains("0123"));
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let error = ApiToken::read_file(&write(dir.path(), TOKEN, 0o644)).unwrap_err();
        assert!(
            matches!(error, ApiTokenError::Exposed { mode: 0o644, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn weak_huge_missing_and_folder_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let weak = ApiToken::read_file(&write(dir.path(), "short\n", 0o600)).unwrap_err();
        assert!(matches!(weak, ApiTokenError::Weak { .. }));
        let spaced = format!("{TOKEN} {TOKEN}");
        let spaced = ApiToken::read_file(&write(dir.path(), &spaced, 0o600)).unwrap_err();
        assert!(matches!(spaced, ApiTokenError::Weak { .. }));
        let huge = ApiToken::read_file(&write(dir.path(), &"a".repeat(5000), 0o600)).unwrap_err();
        assert!(matches!(
            huge,
            ApiTokenError::Read {
                source: FileReadError::TooLarge { .. },
                ..
            }
        ));
        let missing = ApiToken::read_file(&dir.path().join("none")).unwrap_err();
        assert!(matches!(missing, ApiTokenError::Read { .. }));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let folder = dir.path().join("folder");
            std::fs::create_dir(&folder).unwrap();
            std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
            let error = ApiToken::read_file(&folder).unwrap_err();
            assert!(
                matches!(
                    error,
                    ApiTokenError::Read {
                        source: FileReadError::NotRegular { .. },
                        ..
                    }
                ),
                "{error:?}"
            );
        }
    }
}
