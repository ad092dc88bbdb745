//! A JWKS kept in memory: loaded once, fetched again in the background every `refresh`, and at once
//! (at most every `min_refresh`) when a token names a `kid` it does not hold. A failed fetch keeps the
//! last good keys, so a key server's outage does not log everyone out; a key removed from the JWKS
//! stops verifying once the next fetch succeeds.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;

use super::https_get::HttpsGet;
use super::keys::{Keys, LoadedKey};
use super::keyset::{JwksSource, JwksSpec, KeySetError};

enum Fetcher {
    File(std::path::PathBuf),
    Https(HttpsGet),
}

struct State {
    keys: Keys,
    /// Bumped on every successful fetch: a caller that waited for another's fetch sees it happened.
    generation: u64,
    loaded_at: Option<Instant>,
    attempted_at: Option<Instant>,
    background: bool,
}

pub struct JwksCache {
    spec: JwksSpec,
    name: String,
    fetcher: Fetcher,
    state: RwLock<State>,
    /// One fetch at a time per JWKS.
    fetching: tokio::sync::Mutex<()>,
}

impl JwksCache {
    /// A file is read now (a bad one is a build error); a URL is only checked, and fetched on first use
    /// or by [`JwksCache::refresh`].
    pub fn new(spec: JwksSpec) -> Result<Arc<Self>, KeySetError> {
        let (name, fetcher) = match &spec.source {
            JwksSource::File(path) => (path.display().to_string(), Fetcher::File(path.clone())),
            JwksSource::Url { url, ca_pem } => {
                let get = HttpsGet::new(url, ca_pem.as_deref())
                    .map_err(|reason| KeySetError::BadJwks { source_name: url.clone(), reason })?;
                (get.url().to_owned(), Fetcher::Https(get))
            }
        };
        let cache = Arc::new(Self {
            spec,
            name,
            fetcher,
            state: RwLock::new(State {
                keys: Arc::new(Vec::new()),
                generation: 0,
                loaded_at: None,
                attempted_at: None,
                background: false,
            }),
            fetching: tokio::sync::Mutex::new(()),
        });
        if let Fetcher::File(path) = &cache.fetcher {
            let bytes = std::fs::read(path)
                .map_err(|e| KeySetError::BadJwks { source_name: cache.name.clone(), reason: e.to_string() })?;
            cache.install(&bytes).map_err(|reason| KeySetError::BadJwks { source_name: cache.name.clone(), reason })?;
        }
        Ok(cache)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The keys held now, and whether any fetch ever succeeded. Starts a background fetch when the
    /// copy is older than `refresh`.
    pub fn current(self: &Arc<Self>) -> (Keys, u64, bool) {
        let (keys, generation, loaded, due) = {
            let state = self.state.read();
            let due = !state.background
                && state.loaded_at.is_some_and(|at| at.elapsed() >= self.spec.refresh)
                && state.attempted_at.is_none_or(|at| at.elapsed() >= self.spec.min_refresh);
            (state.keys.clone(), state.generation, state.loaded_at.is_some(), due)
        };
        if due {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                self.state.write().background = true;
                let cache = self.clone();
                runtime.spawn(async move {
                    let _ = cache.refresh_after(None).await;
                    cache.state.write().background = false;
                });
            }
        }
        (keys, generation, loaded)
    }

    /// Fetches now unless a fetch was tried within `min_refresh`; returns whether the keys changed
    /// since `seen` (the generation the caller looked at). `None` forces the fetch (the periodic one).
    pub async fn refresh_after(&self, seen: Option<u64>) -> bool {
        let _one = self.fetching.lock().await;
        if let Some(seen) = seen {
            let state = self.state.read();
            if state.generation != seen {
                return true;
            }
            if state.attempted_at.is_some_and(|at| at.elapsed() < self.spec.min_refresh) {
                return false;
            }
        }
        self.state.write().attempted_at = Some(Instant::now());
        let fetched = match &self.fetcher {
            Fetcher::File(path) => tokio::fs::read(path).await.map_err(|e| e.to_string()),
            Fetcher::Https(get) => get.get(self.spec.timeout).await.map_err(|e| e.to_string()),
        };
        match fetched.and_then(|bytes| self.install(&bytes)) {
            Ok(count) => {
                tracing::debug!(jwks = %self.name, keys = count, "JWKS fetched");
                true
            }
            Err(reason) => {
                tracing::warn!(jwks = %self.name, %reason, "could not refresh the JWKS; keeping the keys held");
                false
            }
        }
    }

    /// Replaces the keys with the document's; refuses a document with no usable key (a key server
    /// answering `{"keys":[]}` by mistake would otherwise refuse every token).
    fn install(&self, document: &[u8]) -> Result<usize, String> {
        let (keys, skipped) = LoadedKey::from_jwks(document)?;
        for reason in &skipped {
            tracing::warn!(jwks = %self.name, "JWKS {reason}; skipped");
        }
        if keys.is_empty() {
            return Err("no usable signing key in the document".into());
        }
        let count = keys.len();
        let mut state = self.state.write();
        state.keys = Arc::new(keys.into_iter().map(Arc::new).collect());
        state.generation += 1;
        state.loaded_at = Some(Instant::now());
        Ok(count)
    }
}
