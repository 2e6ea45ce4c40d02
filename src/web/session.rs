//! Dashboard sessions: who is logged in, and the throttle on failed logins.
//!
//! Sessions live in the server's memory, keyed by the SHA-256 of a random
//! 256-bit token that only the browser's cookie holds. A restart logs
//! everyone out, which is the price of keeping no session table.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::event::OrgSlug;
use crate::store::DashboardUser;

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

struct Entry {
    viewer: Viewer,
    last_seen: Instant,
}

struct Failures {
    count: u32,
    since: Instant,
}

pub struct Sessions {
    sessions: Mutex<HashMap<[u8; 32], Entry>>,
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
    pub fn new(idle: Duration) -> Sessions {
        Sessions {
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            idle,
        }
    }

    /// Starts a session for `user`; returns the token for the cookie. A new
    /// token at every login: a token planted before login is worthless.
    pub fn create(&self, user: &DashboardUser) -> String {
        let token = new_token();
        let viewer = Viewer {
            username: user.username.clone(),
            org: user.org.clone(),
            csrf: new_token(),
        };
        let now = Instant::now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, e| now.duration_since(e.last_seen) < self.idle);
        sessions.insert(
            digest(&token),
            Entry {
                viewer,
                last_seen: now,
            },
        );
        token
    }

    /// The viewer of a live session, which this request keeps alive.
    pub fn find(&self, token: &str) -> Option<Viewer> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let key = digest(token);
        let entry = sessions.get_mut(&key)?;
        let now = Instant::now();
        if now.duration_since(entry.last_seen) >= self.idle {
            sessions.remove(&key);
            return None;
        }
        entry.last_seen = now;
        Some(entry.viewer.clone())
    }

    pub fn remove(&self, token: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.remove(&digest(token));
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
        }
    }

    #[test]
    fn sessions_expire_when_idle_and_end_at_logout() {
        let sessions = Sessions::new(Duration::from_millis(50));
        let token = sessions.create(&user(Some("acme-eu")));
        let viewer = sessions.find(&token).unwrap();
        assert_eq!(viewer.org.unwrap().as_str(), "acme-eu");
        assert!(sessions.find("nope").is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(sessions.find(&token).is_none(), "idle too long");

        let sessions = Sessions::new(IDLE_TIMEOUT);
        let a = sessions.create(&user(None));
        let b = sessions.create(&user(None));
        assert_ne!(a, b, "every login gets a new token");
        sessions.remove(&a);
        assert!(sessions.find(&a).is_none());
        assert!(sessions.find(&b).is_some());
    }

    #[test]
    fn failed_logins_are_throttled_per_user_and_per_address() {
        let sessions = Sessions::new(IDLE_TIMEOUT);
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
