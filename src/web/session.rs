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

/// A session is marked seen at most this often, to spare writes.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Failed logins slow further attempts down with delays that double, per
/// username and address together, per address, and per username; none is
/// a lock that the right password cannot pass once its delay is over.
/// The first few failures of each are free (typos).
pub const PAIR_DELAYS: Delays = Delays {
    free: 3,
    first: Duration::from_secs(1),
    max: Duration::from_secs(15 * 60),
};
pub const ADDRESS_DELAYS: Delays = Delays {
    free: 20,
    first: Duration::from_secs(1),
    max: Duration::from_secs(15 * 60),
};
/// Across addresses the delay stays short, so that guesses from many
/// addresses cannot keep the person out for long; an address the person
/// logged in from before skips it.
pub const USER_DELAYS: Delays = Delays {
    free: 10,
    first: Duration::from_secs(1),
    max: Duration::from_secs(60),
};
/// Failures older than this are forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// How long a successful login makes its address known for its username.
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// How the delay grows with failures.
#[derive(Clone, Copy, Debug)]
pub struct Delays {
    pub free: u32,
    pub first: Duration,
    pub max: Duration,
}

impl Delays {
    /// The wait after the `failures`-th failure.
    pub fn after(&self, failures: u32) -> Duration {
        if failures <= self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free - 1).min(30);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }
}

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
    /// The next attempt may start then.
    next: Instant,
    last: Instant,
}

#[derive(Default)]
struct Throttle {
    failures: HashMap<String, Failures>,
    /// `user|address` pairs that logged in, and when.
    known: HashMap<String, Instant>,
}

pub struct Sessions {
    store: Arc<dyn Store>,
    throttle: Mutex<Throttle>,
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
            throttle: Mutex::default(),
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
        let hash = digest(token);
        let Some(session) = self.store.find_session(&hash)? else {
            return Ok(None);
        };
        // The writes (forgetting an ended session, marking one seen) go
        // beside the request: they may wait for the store's write lock,
        // which a writer's open transaction holds.
        if session.last_seen < self.expired(now) {
            let store = self.store.clone();
            std::thread::spawn(move || {
                if let Err(e) = store.delete_session(&hash) {
                    tracing::warn!(error = %e, "could not forget an ended session");
                }
            });
            return Ok(None);
        }
        if now.0 - session.last_seen.0 >= TOUCH_EVERY.as_micros() as i64 {
            let store = self.store.clone();
            std::thread::spawn(move || {
                if let Err(e) = store.touch_session(&hash, now) {
                    tracing::warn!(error = %e, "could not mark a session seen");
                }
            });
        }
        Ok(Some(Viewer {
            username: session.username,
            org: session.org,
            csrf: session.csrf,
        }))
    }

    pub fn remove(&self, token: &str) -> anyhow::Result<()> {
        self.store.delete_session(&digest(token))
    }

    /// Starts a login attempt of `username` from `address`: counted as a
    /// failure before the password is checked (so concurrent guesses all
    /// count), unless a delay is still running, whose remaining time is
    /// returned. [`Sessions::succeeded`] takes the count back.
    pub fn begin_attempt(&self, username: &str, address: &str) -> Result<(), Duration> {
        let mut throttle = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        // Old entries go, so the maps stay as small as the recent attacks.
        if throttle.failures.len() > 10_000 {
            throttle
                .failures
                .retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
        }
        if throttle.known.len() > 10_000 {
            throttle
                .known
                .retain(|_, at| now.duration_since(*at) < KNOWN_FOR);
        }
        let pair = pair_key(username, address);
        let known = throttle
            .known
            .get(&pair)
            .is_some_and(|at| now.duration_since(*at) < KNOWN_FOR);
        let mut keys = vec![(pair, PAIR_DELAYS), (address_key(address), ADDRESS_DELAYS)];
        if !known {
            keys.push((user_key(username), USER_DELAYS));
        }
        let mut wait = Duration::ZERO;
        for (key, _) in &keys {
            if let Some(f) = throttle.failures.get(key)
                && now.duration_since(f.last) < FORGET_AFTER
            {
                wait = wait.max(f.next.saturating_duration_since(now));
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        for (key, delays) in keys {
            let entry = throttle.failures.entry(key).or_insert(Failures {
                count: 0,
                next: now,
                last: now,
            });
            if now.duration_since(entry.last) >= FORGET_AFTER {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
            entry.next = now + delays.after(entry.count);
        }
        Ok(())
    }

    /// The attempt begun for `username` from `address` had the right
    /// password: their failures are forgotten, and the address is known.
    pub fn succeeded(&self, username: &str, address: &str) {
        let mut throttle = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let pair = pair_key(username, address);
        throttle.failures.remove(&pair);
        throttle.failures.remove(&user_key(username));
        if let Some(f) = throttle.failures.get_mut(&address_key(address)) {
            f.count = f.count.saturating_sub(1);
            f.next = now;
        }
        throttle.known.insert(pair, now);
    }
}

fn pair_key(username: &str, address: &str) -> String {
    format!("pair:{}|{address}", username.to_ascii_lowercase())
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
    fn failed_logins_slow_down_and_the_right_password_still_gets_in() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = Sessions::new(store(&dir), IDLE_TIMEOUT);
        // Free failures, then a delay from that address.
        for _ in 0..PAIR_DELAYS.free {
            assert!(sessions.begin_attempt("Ana", "10.0.0.1").is_ok());
        }
        assert!(sessions.begin_attempt("ana", "10.0.0.1").is_ok());
        let wait = sessions.begin_attempt("ana", "10.0.0.1").unwrap_err();
        assert!(wait <= PAIR_DELAYS.first, "{wait:?}");
        // Another address is not held up by it, nor another user.
        assert!(sessions.begin_attempt("ana", "10.0.0.2").is_ok());
        assert!(sessions.begin_attempt("bob", "10.0.0.1").is_ok());
        sessions.succeeded("ana", "10.0.0.2");
        // Many addresses guessing one username slow it down, but not for
        // the address that logged in before.
        for i in 0..USER_DELAYS.free + 1 {
            let _ = sessions.begin_attempt("ana", &format!("10.1.0.{i}"));
        }
        assert!(sessions.begin_attempt("ana", "10.1.1.1").is_err());
        assert!(sessions.begin_attempt("ana", "10.0.0.2").is_ok());
        // Delays double up to their bound.
        assert_eq!(PAIR_DELAYS.after(PAIR_DELAYS.free), Duration::ZERO);
        assert_eq!(
            PAIR_DELAYS.after(PAIR_DELAYS.free + 3),
            Duration::from_secs(4)
        );
        assert_eq!(PAIR_DELAYS.after(u32::MAX), PAIR_DELAYS.max);
        assert_eq!(USER_DELAYS.after(1_000), USER_DELAYS.max);
    }

    #[test]
    fn cookies() {
        let header = "a=1; uptake_session=abc; b=2";
        assert_eq!(cookie(header, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(header, "c"), None);
    }
}
