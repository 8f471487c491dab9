//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, hex-encoded, prefixed `sha256=`.
//!
//! Verification happens before anything else reads the body. Several secrets
//! may be configured so that a secret can be rotated without dropping deliveries.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "sha256=";

/// Why a delivery's signature was refused. The text is safe to return to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    #[error("X-Hub-Signature-256 must be 'sha256=' followed by 64 hex digits")]
    Malformed,
    #[error("signature does not match the payload")]
    Mismatch,
}

/// Signs `body` the way GitHub does, returning the full header value.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    let mut mac = mac_for(secret);
    mac.update(body);
    let mut out = String::with_capacity(PREFIX.len() + 64);
    out.push_str(PREFIX);
    out.push_str(&hex::encode(mac.finalize().into_bytes()));
    out
}

/// Checks `header` (the value of `X-Hub-Signature-256`, if any) against every
/// configured secret, in constant time per comparison.
pub fn verify(
    secrets: &[Secret],
    body: &[u8],
    header: Option<&[u8]>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let digest = header
        .strip_prefix(PREFIX.as_bytes())
        .ok_or(SignatureError::Malformed)?;
    let mut expected = [0u8; 32];
    if digest.len() != 64 || hex::decode_to_slice(digest, &mut expected).is_err() {
        return Err(SignatureError::Malformed);
    }
    let matched = secrets.iter().any(|secret| {
        let mut mac = mac_for(secret);
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn mac_for(secret: &Secret) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    HmacSha256::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(list: &[&str]) -> Vec<Secret> {
        list.iter().map(|s| Secret::new(*s)).collect()
    }

    #[test]
    fn matches_githubs_documented_example() {
        // The worked example from GitHub's "Validating webhook deliveries" page.
        let secret = Secret::new("It's a Secret to Everybody");
        let header = sign(&secret, b"Hello, World!");
        assert_eq!(
            header,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert_eq!(
            verify(&[secret], b"Hello, World!", Some(header.as_bytes())),
            Ok(())
        );
    }

    #[test]
    fn any_configured_secret_is_accepted_for_rotation() {
        let header = sign(&Secret::new("new"), b"{}");
        assert_eq!(
            verify(&secrets(&["old", "new"]), b"{}", Some(header.as_bytes())),
            Ok(())
        );
        assert_eq!(
            verify(&secrets(&["old"]), b"{}", Some(header.as_bytes())),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn refuses_missing_malformed_sha1_and_tampered() {
        let s = secrets(&["k"]);
        let good = sign(&s[0], b"body");
        assert_eq!(verify(&s, b"body", None), Err(SignatureError::Missing));
        assert_eq!(
            verify(
                &s,
                b"body",
                Some(b"sha1=0123456789abcdef0123456789abcdef01234567")
            ),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(&s, b"body", Some(b"sha256=zz")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(&s, b"body", Some(&good.as_bytes()[..good.len() - 1])),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(&s, b"bodY", Some(good.as_bytes())),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&[], b"body", Some(good.as_bytes())),
            Err(SignatureError::Mismatch)
        );
    }
}
