//! Conditional requests: the last answer to each `GET` an installation made,
//! with its `ETag`, so the next asks `If-None-Match` and a `304 Not
//! Modified` (which GitHub does not count against the rate limit) is served
//! from here. Bounded: the oldest entries go first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// Entries kept; a request's repeated reads (paved.yaml, a request's
/// comments, a permission) fit many times over.
const ENTRIES: usize = 1024;
/// Larger answers are not kept.
const LARGEST: usize = 256 * 1024;
/// Bytes of bodies kept in all: the memory the cache may take stays small
/// whatever the answers are.
const BYTES: usize = 8 * 1024 * 1024;

/// One remembered answer.
#[derive(Clone)]
pub(super) struct Remembered {
    pub etag: HeaderValue,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Default)]
pub(super) struct Etags {
    inner: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<(u64, String), Remembered>,
    /// Keys, oldest first.
    order: VecDeque<(u64, String)>,
    bytes: usize,
}

impl Cache {
    fn forget(&mut self, key: &(u64, String)) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= old.body.len();
            self.order.retain(|k| k != key);
        }
    }
}

impl Etags {
    /// The answer remembered for `installation`'s `GET path`.
    pub fn get(&self, installation: u64, path: &str) -> Option<Remembered> {
        let cache = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        cache.entries.get(&(installation, path.to_owned())).cloned()
    }

    /// Remembers a `200` with an `ETag`; forgets the path otherwise. The
    /// oldest answers go while there are too many, or too many bytes.
    pub fn remember(
        &self,
        installation: u64,
        path: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &Bytes,
    ) {
        let key = (installation, path.to_owned());
        let mut cache = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        cache.forget(&key);
        let etag = headers
            .get(header::ETAG)
            .filter(|_| status == StatusCode::OK && body.len() <= LARGEST);
        let Some(etag) = etag else {
            return;
        };
        let entry = Remembered {
            etag: copied(etag),
            headers: headers
                .iter()
                .map(|(name, value)| (name.clone(), copied(value)))
                .collect(),
            body: Bytes::copy_from_slice(body),
        };
        cache.bytes += body.len();
        cache.entries.insert(key.clone(), entry);
        cache.order.push_back(key);
        while cache.order.len() > ENTRIES || cache.bytes > BYTES {
            match cache.order.front().cloned() {
                Some(old) => cache.forget(&old),
                None => break,
            }
        }
    }
}

/// A header value of its own. What the HTTP client read off a connection
/// (bodies and header values alike) may be a slice of its read buffer, and
/// keeping the slice would keep the whole buffer, past what the cache
/// counts; so the cache keeps copies.
fn copied(value: &HeaderValue) -> HeaderValue {
    let mut own = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
    own.set_sensitive(value.is_sensitive());
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_answers_go_first_and_only_tagged_successes_are_kept() {
        let etags = Etags::default();
        let mut tagged = HeaderMap::new();
        tagged.insert(header::ETAG, HeaderValue::from_static("\"a\""));
        let body = Bytes::from_static(b"{}");
        for n in 0..=ENTRIES {
            etags.remember(1, &format!("/p/{n}"), StatusCode::OK, &tagged, &body);
        }
        assert!(etags.get(1, "/p/0").is_none());
        assert!(etags.get(1, &format!("/p/{ENTRIES}")).is_some());
        assert!(
            etags.get(2, &format!("/p/{ENTRIES}")).is_none(),
            "per installation"
        );
        etags.remember(1, "/p/1", StatusCode::NOT_FOUND, &tagged, &body);
        assert!(etags.get(1, "/p/1").is_none(), "a failure forgets");
        etags.remember(1, "/p/2", StatusCode::OK, &HeaderMap::new(), &body);
        assert!(etags.get(1, "/p/2").is_none(), "no ETag, nothing kept");
    }

    #[test]
    fn the_bodies_kept_stay_within_their_bytes() {
        let etags = Etags::default();
        let mut tagged = HeaderMap::new();
        tagged.insert(header::ETAG, HeaderValue::from_static("\"a\""));
        let body = Bytes::from(vec![b'x'; LARGEST]);
        let fit = BYTES / LARGEST;
        for n in 0..fit + 3 {
            etags.remember(1, &format!("/p/{n}"), StatusCode::OK, &tagged, &body);
        }
        let cache = etags.inner.lock().unwrap();
        assert_eq!(cache.bytes, fit * LARGEST);
        assert_eq!(cache.entries.len(), fit);
        assert!(cache.entries.contains_key(&(1, format!("/p/{}", fit + 2))));
        assert!(!cache.entries.contains_key(&(1, "/p/2".to_owned())));
        // Remembering a path again replaces it, counted once.
        drop(cache);
        etags.remember(
            1,
            "/p/10",
            StatusCode::OK,
            &tagged,
            &Bytes::from_static(b"{}"),
        );
        let cache = etags.inner.lock().unwrap();
        assert_eq!(cache.bytes, (fit - 1) * LARGEST + 2);
        assert_eq!(cache.order.len(), cache.entries.len());
    }

    /// An answer read off a connection may share the client's read buffer;
    /// what is kept is a copy of the answer alone, so it holds no buffer.
    #[test]
    fn what_is_kept_is_a_copy_of_the_answer_alone() {
        let read = Bytes::from(b"HTTP/1.1 200 OK\r\netag: \"a\"\r\n\r\n{\"x\":1}".repeat(100));
        let etag_at = read.windows(3).position(|w| w == b"\"a\"").unwrap();
        let etag = HeaderValue::from_maybe_shared(read.slice(etag_at..etag_at + 3)).unwrap();
        let body_at = read.windows(7).position(|w| w == b"{\"x\":1}").unwrap();
        let body = read.slice(body_at..body_at + 7);
        let mut headers = HeaderMap::new();
        headers.insert(header::ETAG, etag.clone());
        let etags = Etags::default();
        etags.remember(1, "/p", StatusCode::OK, &headers, &body);
        let kept = etags.get(1, "/p").expect("kept");
        assert_eq!(
            (&kept.body[..], kept.etag.as_bytes()),
            (&body[..], etag.as_bytes())
        );
        let in_read = |p: *const u8| read.as_ptr_range().contains(&p);
        assert!(in_read(body.as_ptr()) && in_read(etag.as_bytes().as_ptr()));
        assert!(!in_read(kept.body.as_ptr()), "the body is a copy");
        assert!(
            !in_read(kept.etag.as_bytes().as_ptr()),
            "the ETag is a copy"
        );
        let kept_etag = kept.headers.get(header::ETAG).expect("headers kept");
        assert!(
            !in_read(kept_etag.as_bytes().as_ptr()),
            "the headers are copies"
        );
    }
}
