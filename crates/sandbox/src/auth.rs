//! Who is calling: the App (RS256 JWT), an installation (`ghs_` token), a user
//! (`ghp_` token) or nobody. Also generates the App's RSA key.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::error::{ApiError, SandboxError};
use super::ids;
use super::state::{Grant, Time, Token, World};
use crate::secret::Secret;

/// The authenticated party behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    App,
    Installation(u64),
    User(String),
}

impl Caller {
    /// The account that acts: the App's bot for an installation, the user itself.
    pub fn login(&self, world: &World) -> Option<String> {
        match self {
            Caller::Installation(id) => Some(match world.peers.get(id) {
                Some(peer) => peer.bot_login(),
                None => world.app.bot_login(),
            }),
            Caller::User(login) => Some(login.clone()),
            Caller::Anonymous | Caller::App => None,
        }
    }

    /// How this caller appears in the request log and rate-limit messages.
    pub fn describe(&self) -> String {
        match self {
            Caller::Anonymous => "anonymous".into(),
            Caller::App => "app".into(),
            Caller::Installation(id) => format!("installation:{id}"),
            Caller::User(login) => format!("user:{login}"),
        }
    }
}

/// The App's key pair: PEM for the App (as GitHub hands it out), public half to verify JWTs.
pub struct AppKey {
    pub private_pem: Secret,
    pub verifier: DecodingKey,
}

impl AppKey {
    pub fn generate() -> Result<Self, SandboxError> {
        let key = |e: aws_lc_rs::error::Unspecified| SandboxError::Key(e.to_string());
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(key)?;
        let pkcs8: Pkcs8V1Der<'static> = pair.as_der().map_err(key)?;
        let pkcs1 = pkcs8_inner_key(pkcs8.as_ref())
            .ok_or_else(|| SandboxError::Key("unexpected PKCS#8 layout".into()))?;
        let pem = pem::encode(&pem::Pem::new("RSA PRIVATE KEY", pkcs1.to_vec()));
        let public: PublicKeyX509Der<'static> = pair.public_key().as_der().map_err(key)?;
        Ok(Self {
            private_pem: Secret::new(pem),
            verifier: DecodingKey::from_rsa_der(public.as_ref()),
        })
    }
}

/// GitHub hands out PKCS#1 (`RSA PRIVATE KEY`) PEMs; aws-lc writes PKCS#8, whose
/// third field is an OCTET STRING holding exactly that PKCS#1 key.
fn pkcs8_inner_key(der: &[u8]) -> Option<&[u8]> {
    let (tag, body, _) = der_field(der)?;
    (tag == 0x30).then_some(())?;
    let (_, _, rest) = der_field(body)?; // version
    let (_, _, rest) = der_field(rest)?; // algorithm identifier
    let (tag, key, _) = der_field(rest)?;
    (tag == 0x04).then_some(key)
}

/// Splits one DER field into (tag, contents, remainder).
fn der_field(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        let (bytes, rest) = (rest.get(..n)?, rest.get(n..)?);
        (
            bytes
                .iter()
                .fold(0usize, |acc, b| acc << 8 | usize::from(*b)),
            rest,
        )
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

#[derive(Deserialize)]
struct AppClaims {
    iss: serde_json::Value,
    exp: i64,
}

/// GitHub refuses App JWTs that live longer than ten minutes.
const MAX_JWT_LIFETIME_SECS: i64 = 600;

/// Verifies an App JWT: RS256 by the App's key, `iss` the App id (string or
/// number), not expired and expiring at most ten minutes ahead.
pub fn verify_app_jwt(key: &AppKey, app_id: u64, jwt: &str) -> Result<(), ApiError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "iat"]);
    let data = jsonwebtoken::decode::<AppClaims>(jwt, &key.verifier, &validation)
        .map_err(|_| ApiError::bad_credentials())?;
    let iss_ok = match &data.claims.iss {
        serde_json::Value::String(s) => s == &app_id.to_string(),
        serde_json::Value::Number(n) => n.as_u64() == Some(app_id),
        _ => false,
    };
    let too_long = data.claims.exp - Utc::now().timestamp() > MAX_JWT_LIFETIME_SECS + 60;
    if !iss_ok {
        return Err(ApiError::bad_credentials());
    }
    if too_long {
        return Err(ApiError::unauthorized(
            "'Expiration time' claim ('exp') is too far in the future",
        ));
    }
    Ok(())
}

/// A credential as presented: bearer/token header or basic-auth password.
fn presented(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" | "token" => Some(rest.trim().to_string()),
        "basic" => {
            let decoded = STANDARD.decode(rest.trim()).ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            decoded.split_once(':').map(|(_, pass)| pass.to_string())
        }
        _ => None,
    }
}

/// Resolves the caller from the `Authorization` header; bad or expired
/// credentials are a 401, no credentials an anonymous caller.
pub fn authenticate(
    headers: &HeaderMap,
    world: &World,
    key: &AppKey,
    now: Time,
) -> Result<Caller, ApiError> {
    let Some(credential) = presented(headers) else {
        return match headers.get(AUTHORIZATION) {
            Some(_) => Err(ApiError::bad_credentials()),
            None => Ok(Caller::Anonymous),
        };
    };
    if let Some(token) = world.tokens.get(&credential) {
        if token.expires_at.is_some_and(|at| at <= now) {
            return Err(ApiError::bad_credentials());
        }
        return Ok(match &token.grant {
            Grant::Installation(id) => Caller::Installation(*id),
            Grant::User(login) => Caller::User(login.clone()),
        });
    }
    if credential.matches('.').count() == 2 {
        verify_app_jwt(key, world.app.id, &credential)?;
        return Ok(Caller::App);
    }
    Err(ApiError::bad_credentials())
}

/// Issues a fresh token for `grant`, expiring after `lifetime` if given.
pub fn issue_token(
    world: &mut World,
    grant: Grant,
    lifetime: Option<chrono::Duration>,
) -> (Secret, Option<Time>) {
    let prefix = match grant {
        Grant::Installation(_) => "ghs_",
        Grant::User(_) => "ghp_",
    };
    let token = ids::token(prefix);
    let expires_at = lifetime.map(|l| Utc::now() + l);
    world
        .tokens
        .insert(token.clone(), Token { grant, expires_at });
    (Secret::new(token), expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_pkcs1_and_signs_verifiable_jwts() {
        let key = AppKey::generate().unwrap();
        assert!(
            key.private_pem
                .expose()
                .starts_with("-----BEGIN RSA PRIVATE KEY-----")
        );
        let signer =
            jsonwebtoken::EncodingKey::from_rsa_pem(key.private_pem.expose().as_bytes()).unwrap();
        let now = Utc::now().timestamp();
        let sign = |claims: serde_json::Value| {
            jsonwebtoken::encode(
                &jsonwebtoken::Header::new(Algorithm::RS256),
                &claims,
                &signer,
            )
            .unwrap()
        };
        let good = sign(serde_json::json!({"iat": now - 60, "exp": now + 540, "iss": "7"}));
        assert_eq!(verify_app_jwt(&key, 7, &good), Ok(()));
        let numeric = sign(serde_json::json!({"iat": now - 60, "exp": now + 540, "iss": 7}));
        assert_eq!(verify_app_jwt(&key, 7, &numeric), Ok(()));
        let expired = sign(serde_json::json!({"iat": now - 700, "exp": now - 100, "iss": 7}));
        assert_eq!(verify_app_jwt(&key, 7, &expired).unwrap_err().status, 401);
        let other_app = sign(serde_json::json!({"iat": now, "exp": now + 300, "iss": 8}));
        assert!(verify_app_jwt(&key, 7, &other_app).is_err());
        let too_long = sign(serde_json::json!({"iat": now, "exp": now + 3600, "iss": 7}));
        assert!(verify_app_jwt(&key, 7, &too_long).is_err());
    }
}
