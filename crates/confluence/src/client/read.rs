//! Bounded reads of answer bodies: whatever a server sends, weft reads at most a cap.

use futures::StreamExt;

use super::error::ConfluenceError;

/// The most bytes read of one JSON answer (a page of 250 items with bodies fits well).
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;
/// The most bytes read of an error answer (only its message is used).
pub const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Reads the whole body, or fails cleanly past `limit` bytes.
pub async fn read_capped(
    answer: reqwest::Response,
    limit: usize,
    call: &str,
) -> Result<Vec<u8>, ConfluenceError> {
    let announced = answer.content_length().unwrap_or(0);
    if announced > limit as u64 {
        return Err(ConfluenceError::AnswerTooLarge {
            call: call.to_string(),
            limit,
        });
    }
    // Room for what the server announced (at most `limit`), so the chunks are not copied again
    // as the buffer grows.
    let mut body = Vec::with_capacity(announced as usize);
    let mut chunks = answer.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| super::transport_error(call, &e))?;
        if body.len() + chunk.len() > limit {
            return Err(ConfluenceError::AnswerTooLarge {
                call: call.to_string(),
                limit,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads an error body up to [`MAX_ERROR_BYTES`]; the rest is dropped, and a body that fails
/// midway is as good as none.
pub async fn read_error_body(answer: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    let mut chunks = answer.bytes_stream();
    while let Some(Ok(chunk)) = chunks.next().await {
        let room = MAX_ERROR_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ERROR_BYTES {
            break;
        }
    }
    body
}
