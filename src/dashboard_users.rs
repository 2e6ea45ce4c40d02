//! Dashboard users (not portal users): who may open the dashboard, with which password, and
//! which orgs they see. Passwords are kept only as Argon2id hashes (a
//! memory-hard KDF: a stolen database does not give the passwords away
//! cheaply). Knows nothing of HTTP; `web::session` uses it.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::event::OrgSlug;
use crate::store::{DashboardUser, Store};
use crate::time::Micros;

/// The shortest password `users add` accepts.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// A username: 1 to 64 letters, digits, `.`, `_`, `@` or `-`.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), the OWASP
/// recommendation for interactive logins.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let salt = SaltString::encode_b64(&bytes)
        .map_err(|e| anyhow::anyhow!("failed to encode a password salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("failed to hash the password: {e}"))
}

/// Whether `password` matches the stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// A hash of no one's password, checked when the username is unknown so
/// that a failed login takes as long whether or not the user exists.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("uptake decoy password").unwrap_or_default())
}

/// The login of `username` when `password` is right.
pub fn check(
    store: &dyn Store,
    username: &str,
    password: &str,
) -> anyhow::Result<Option<DashboardUser>> {
    let found = if valid_username(username) {
        store.find_user(username)?
    } else {
        None
    };
    match found {
        Some(user) if verify_password(password, &user.password_hash) => Ok(Some(user)),
        Some(_) => Ok(None),
        None => {
            verify_password(password, decoy_hash());
            Ok(None)
        }
    }
}

/// Creates (or resets) a login; refuses bad names and short passwords.
pub fn add(
    store: &dyn Store,
    username: &str,
    password: &str,
    org: Option<OrgSlug>,
) -> anyhow::Result<()> {
    if !valid_username(username) {
        anyhow::bail!(
            "`{username}` is not a valid username: use 1 to 64 letters, digits, `.`, `_`, `@` or `-`"
        );
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        anyhow::bail!("the password is too short: use at least {MIN_PASSWORD_CHARS} characters");
    }
    store.upsert_user(&DashboardUser {
        username: username.to_owned(),
        password_hash: hash_password(password)?,
        org,
        created_at: Micros::now(),
        last_login_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("correct horsE", &a));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn usernames() {
        assert!(valid_username("ana.lopez@acme"));
        assert!(!valid_username(""));
        assert!(!valid_username("ana lopez"));
        assert!(!valid_username(&"a".repeat(65)));
    }
}
