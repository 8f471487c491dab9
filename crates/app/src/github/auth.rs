//! App authentication: an RS256 JWT signed with the App's private key, traded
//! for installation access tokens that are cached until shortly before expiry.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::clock::unix_seconds;
use crate::secret::Secret;

/// Tokens are refreshed this long before GitHub says they expire, so a call
/// never starts with a token that dies in flight.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The App's private key, parsed once at startup. Never printed.
#[derive(Clone)]
pub struct AppKey(EncodingKey);

impl AppKey {
    pub fn from_pem(pem: &str) -> Result<Self, jsonwebtoken::errors::Error> {
        EncodingKey::from_rsa_pem(pem.as_bytes()).map(Self)
    }

    /// A JWT for `/app/...` calls. GitHub accepts at most ten minutes of
    /// validity; issuing it a minute in the past absorbs clock drift.
    pub fn jwt(&self, app_id: u64, now: SystemTime) -> Result<Secret, jsonwebtoken::errors::Error> {
        #[derive(serde::Serialize)]
        struct Claims {
            iat: u64,
            exp: u64,
            iss: String,
        }
        let now = unix_seconds(now);
        let claims = Claims {
            iat: now.saturating_sub(60),
            exp: now + 9 * 60,
            iss: app_id.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.0).map(Secret::new)
    }
}

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppKey([redacted])")
    }
}

/// An installation access token and when GitHub says it expires.
#[derive(Debug, Clone)]
pub struct InstallationToken {
    pub token: Secret,
    pub expires_at: SystemTime,
}

impl InstallationToken {
    fn fresh_at(&self, now: SystemTime) -> bool {
        now + REFRESH_MARGIN < self.expires_at
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<InstallationToken>>>;

/// One cached token per installation. Callers for the same installation wait
/// on one async lock, so concurrent callers cause a single refresh.
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<u64, Slot>>,
}

impl TokenCache {
    /// Returns a fresh token for `installation`, calling `refresh` only when
    /// the cached one is missing or within [`REFRESH_MARGIN`] of expiry.
    pub async fn get<F, Fut, E>(
        &self,
        installation: u64,
        now: SystemTime,
        refresh: F,
    ) -> Result<Secret, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<InstallationToken, E>>,
    {
        let slot = self.slot(installation);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.fresh_at(now)) {
            return Ok(token.token.clone());
        }
        let token = refresh().await?;
        let secret = token.token.clone();
        *cached = Some(token);
        Ok(secret)
    }

    /// Drops a token GitHub no longer accepts (revoked, or the clock lied).
    pub async fn invalidate(&self, installation: u64) {
        *self.slot(installation).lock().await = None;
    }

    fn slot(&self, installation: u64) -> Slot {
        let mut slots = self.slots.lock().expect("token cache lock");
        slots.entry(installation).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn token(value: &str, expires_at: SystemTime) -> InstallationToken {
        InstallationToken {
            token: Secret::new(value),
            expires_at,
        }
    }

    #[tokio::test]
    async fn refreshes_only_near_expiry() {
        let cache = TokenCache::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = Duration::from_secs(3600);
        let calls = AtomicUsize::new(0);
        let fetch = |v: &'static str| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, ()>(token(v, t0 + hour)) }
        };
        assert_eq!(cache.get(1, t0, || fetch("a")).await.unwrap().expose(), "a");
        let later = t0 + hour - REFRESH_MARGIN - Duration::from_secs(1);
        assert_eq!(
            cache.get(1, later, || fetch("b")).await.unwrap().expose(),
            "a"
        );
        let near = t0 + hour - REFRESH_MARGIN;
        assert_eq!(
            cache.get(1, near, || fetch("c")).await.unwrap().expose(),
            "c"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
