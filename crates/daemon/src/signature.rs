//! The one signature of webhooks in and events out: `X-Weft-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of the raw body keyed with a shared secret, checked in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header's name.
pub const HEADER: &str = "x-weft-signature";

fn mac(secret: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(body);
    mac
}

/// The header's value for `body`: `sha256=<hex>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, body).finalize().into_bytes())
    )
}

/// What is wrong with a header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature is not of the form sha256=<hex>")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a header value against `body`, in constant time.
pub fn verify(secret: &[u8], body: &[u8], header: &[u8]) -> Result<(), SignatureError> {
    let signature = header
        .strip_prefix(b"sha256=")
        .and_then(|hex_text| hex::decode(hex_text.trim_ascii()).ok())
        .ok_or(SignatureError::Malformed)?;
    mac(secret, body)
        .verify_slice(&signature)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_its_body_only() {
        let header = sign(b"key", b"{\"a\":1}");
        // The well-known HMAC-SHA256 example: this is plain HMAC-SHA256 of the body.
        assert_eq!(
            sign(b"key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        assert_eq!(verify(b"key", b"{\"a\":1}", header.as_bytes()), Ok(()));
        assert_eq!(
            verify(b"key", b"{\"a\":2}", header.as_bytes()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", b"{\"a\":1}", header.as_bytes()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"key", b"x", b"sha1=00"),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(b"key", b"x", b"sha256=xyz"),
            Err(SignatureError::Malformed)
        );
    }
}
