//! Dashboard sessions: who is logged in, and the throttle on failed logins.
//!
//! Sessions are kept in the store, keyed by the SHA-256 of a random 256-bit
//! token that only the browser's cookie holds, so every Uptake process on
//! one store knows them and a restart logs nobody out. The throttle on
//! failed logins is per process, in memory. The methods touch the store:
//! call them off the async threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::event::OrgSlug;
use crate::store::{DashboardUser, Store, StoredSession};
use crate::time::Micros;

/// The cookie holding the session token.
pub const SESSION_COOKIE: &str = "uptake_session";
/// The cookie holding the login form's CSRF token (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "uptake_login_csrf";

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Failed logins for one username, or from one address, within
/// [`FAILURE_WINDOW`] before further attempts are refused.
pub const MAX_FAILURES_PER_USER: u32 = 5;
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Whoever a request's session belongs to.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub username: String,
    /// `None`: a company admin who sees every org.
    pub org: Option<OrgSlug>,
    /// The token that forms changing state must carry.
    pub csrf: String,
}

struct Failures {
    count: u32,
    since: Instant,
}

pub struct Sessions {
    store: Arc<dyn Store>,
    failures: Mutex<HashMap<String, Failures>>,
    idle: Duration,
}

/// A fresh random token, as 64 hex digits.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    pub fn new(store: Arc<dyn Store>, idle: Duration) -> Sessions {
        Sessions {
            store,
            failures: Mutex::new(HashMap::new()),
            idle,
        }
    }

    /// Sessions last seen before this have ended.
    fn expired(&self, now: Micros) -> Micros {
        Micros(now.0 - i64::try_from(self.idle.as_micros()).unwrap_or(i64::MAX))
    }

    /// Starts a session for `user`; returns the token for the cookie. A new
    /// token at every login: a token planted before login is worthless.
    pub fn create(&self, user: &DashboardUser) -> anyhow::Result<String> {
        let token = new_token();
        let now = Micros::now();
        self.store.insert_session(
            &StoredSession {
                token_sha256: digest(&token),
                username: user.username.clone(),
                org: user.org.clone(),
                csrf: new_token(),
                last_seen: now,
            },
            self.expired(now),
        )?;
        Ok(token)
    }

    /// The viewer of a live session, which this request keeps alive.
    pub fn find(&self, token: &str) -> anyhow::Result<Option<Viewer>> {
        if token.is_empty() {
            return Ok(None);
        }
        let now = Micros::now();
        let session = self
            .store
            .touch_session(&digest(token), now, self.expired(now))?;
        Ok(session.map(|s| Viewer {
            username: s.username,
            org: s.org,
            csrf: s.csrf,
        }))
    }

    pub fn remove(&self, token: &str) -> anyhow::Result<()> {
        self.store.delete_session(&digest(token))
    }

    /// How long `username` from `address` must wait before trying again,
    /// when either has failed too often lately.
    pub fn throttled(&self, username: &str, address: &str) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let wait = |key: String, max: u32| {
            failures.get(&key).and_then(|f| {
                let elapsed = now.duration_since(f.since);
                (f.count >= max && elapsed < FAILURE_WINDOW).then(|| FAILURE_WINDOW - elapsed)
            })
        };
        let by_user = wait(user_key(username), MAX_FAILURES_PER_USER);
        let by_address = wait(address_key(address), MAX_FAILURES_PER_ADDRESS);
        by_user.max(by_address)
    }

    pub fn record_failure(&self, username: &str, address: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        // Old entries go, so the map stays as small as the recent attacks.
        if failures.len() > 10_000 {
            failures.retain(|_, f| now.duration_since(f.since) < FAILURE_WINDOW);
        }
        for key in [user_key(username), address_key(address)] {
            let entry = failures.entry(key).or_insert(Failures {
                count: 0,
                since: now,
            });
            if now.duration_since(entry.since) >= FAILURE_WINDOW {
                *entry = Failures {
                    count: 0,
                    since: now,
                };
            }
            entry.count += 1;
        }
    }

    pub fn clear_failures(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&user_key(username));
    }
}

fn user_key(username: &str) -> String {
    format!("user:{}", username.to_ascii_lowercase())
}

fn address_key(address: &str) -> String {
    format!("addr:{address}")
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(org: Option<&str>) -> DashboardUser {
        DashboardUser {
            username: "ana".into(),
            password_hash: String::new(),
            org: org.map(|o| OrgSlug::parse(o).unwrap()),
            created_at: crate::time::Micros(0),
            last_login_at: None,
        }
    }

    fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
        crate::store::open(&crate::store::Location::Sqlite(
            dir.path().join("uptake.db"),
        ))
        .unwrap()
    }

    #[test]
    fn sessions_expire_when_idle_and_end_at_logout() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = Sessions::new(store(&dir), Duration::from_millis(50));
        let token = sessions.create(&user(Some("acme-eu"))).unwrap();
        let viewer = sessions.find(&token).unwrap().unwrap();
        assert_eq!(viewer.org.unwrap().as_str(), "acme-eu");
        assert!(sessions.find("nope").unwrap().is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(sessions.find(&token).unwrap().is_none(), "idle too long");

        let sessions = Sessions::new(store(&dir), IDLE_TIMEOUT);
        let a = sessions.create(&user(None)).unwrap();
        let b = sessions.create(&user(None)).unwrap();
        assert_ne!(a, b, "every login gets a new token");
        sessions.remove(&a).unwrap();
        assert!(sessions.find(&a).unwrap().is_none());
        assert!(sessions.find(&b).unwrap().is_some());
        // Another process on the same store knows the session.
        let other = Sessions::new(store(&dir), IDLE_TIMEOUT);
        assert!(other.find(&b).unwrap().is_some());
    }

    #[test]
    fn failed_logins_are_throttled_per_user_and_per_address() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = Sessions::new(store(&dir), IDLE_TIMEOUT);
        for _ in 0..MAX_FAILURES_PER_USER {
            assert!(sessions.throttled("Ana", "10.0.0.1").is_none());
            sessions.record_failure("Ana", "10.0.0.1");
        }
        assert!(sessions.throttled("ana", "10.0.0.2").is_some());
        assert!(sessions.throttled("bob", "10.0.0.1").is_none());
        sessions.clear_failures("ana");
        assert!(sessions.throttled("ana", "10.0.0.2").is_none());
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            sessions.record_failure(&format!("u{i}"), "10.0.0.3");
        }
        assert!(sessions.throttled("carol", "10.0.0.3").is_some());
    }

    #[test]
    fn cookies() {
        let header = "a=1; uptake_session=abc; b=2";
        assert_eq!(cookie(header, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(header, "c"), None);
    }
}
