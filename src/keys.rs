//! API keys: made here, shown once, kept only as a SHA-256 of their secret.
//!
//! A key reads `uptake_<kind>_<key id>_<secret>`. The key id is public and
//! finds the stored record; the secret (256 random bits) is compared by its
//! hash in constant time. A fast hash is the right tool for a secret of
//! this entropy: there is nothing to guess that a slow KDF would protect.
//!
//! A process keeps the records it verified for [`RECHECK`] at most, then
//! reads them again: a key revoked by `uptake keys revoke` (in any process
//! sharing the store) is refused within that time. The re-read is also
//! when the key's last use is recorded, at most once a minute.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::event::OrgSlug;
use crate::store::{KeyKind, Store, StoredKey};
use crate::time::Micros;

const KEY_ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;

/// Makes a new key: the text to show the user once, and what to store.
pub fn generate(kind: KeyKind, org: Option<OrgSlug>) -> (String, StoredKey) {
    let mut rng = rand::rng();
    let mut id = [0u8; KEY_ID_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    let key_id = hex(&id);
    let secret_hex = hex(&secret);
    let text = format!("uptake_{}_{key_id}_{secret_hex}", kind.name());
    let stored = StoredKey {
        key_id,
        kind,
        org,
        secret_sha256: Sha256::digest(secret_hex.as_bytes()).into(),
        created_at: Micros::now(),
        last_used_at: None,
        revoked_at: None,
    };
    (text, stored)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Splits a presented key into (kind, key id, secret).
fn parse(text: &str) -> Option<(KeyKind, &str, &str)> {
    let rest = text.strip_prefix("uptake_")?;
    let (kind, rest) = rest.split_once('_')?;
    let (key_id, secret) = rest.split_once('_')?;
    let kind = KeyKind::from_name(kind)?;
    let well_formed = key_id.len() == 2 * KEY_ID_BYTES
        && secret.len() == 2 * SECRET_BYTES
        && key_id
            .bytes()
            .chain(secret.bytes())
            .all(|c| c.is_ascii_hexdigit());
    well_formed.then_some((kind, key_id, secret))
}

/// Checks presented keys against the store, remembering the records it has
/// seen so that a request costs no query once its key is known.
/// How long a verified key record is trusted before it is read again
/// (the contract allows 5 s for a revocation to take effect).
pub const RECHECK: Duration = Duration::from_secs(4);
/// How often a key's last use is written to the store.
const RECORD_USE: i64 = 60_000_000;

#[derive(Clone)]
pub struct Keys {
    store: Arc<dyn Store>,
    /// Key records by key id, with the instant each was read.
    known: Arc<RwLock<HashMap<String, (StoredKey, Instant)>>>,
}

impl Keys {
    pub fn new(store: Arc<dyn Store>) -> Keys {
        Keys {
            store,
            known: Arc::default(),
        }
    }

    /// The stored key matching `text` when it is of kind `kind`; `None`
    /// for any unknown, malformed or wrong-kind key.
    pub fn verify(&self, text: &str, kind: KeyKind) -> anyhow::Result<Option<StoredKey>> {
        let Some((presented_kind, key_id, secret)) = parse(text) else {
            return Ok(None);
        };
        if presented_kind != kind {
            return Ok(None);
        }
        let cached = self
            .known
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key_id)
            .filter(|(_, read)| read.elapsed() < RECHECK)
            .map(|(record, _)| record.clone());
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let record = match cached {
            Some(record) => record,
            None => {
                let Some(mut record) = self.store.find_key(key_id)? else {
                    self.known
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(key_id);
                    return Ok(None);
                };
                let now = Micros::now();
                let genuine = bool::from(presented.ct_eq(&record.secret_sha256));
                if genuine
                    && record.revoked_at.is_none()
                    && record
                        .last_used_at
                        .is_none_or(|t| now.0 - t.0 >= RECORD_USE)
                {
                    // Off the request's path and best effort: the write may
                    // wait for the store's write lock (a writer's open
                    // transaction), and a failure must not refuse the key.
                    let (store, id) = (self.store.clone(), key_id.to_owned());
                    std::thread::spawn(move || {
                        if let Err(e) = store.touch_key(&id, now) {
                            tracing::warn!(error = %e, "could not record a key's last use");
                        }
                    });
                    record.last_used_at = Some(now);
                }
                let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
                known.insert(key_id.to_owned(), (record.clone(), Instant::now()));
                record
            }
        };
        let matches = bool::from(presented.ct_eq(&record.secret_sha256));
        Ok((matches && record.kind == kind && record.revoked_at.is_none()).then_some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_hash_their_secret() {
        let (text, stored) = generate(KeyKind::Ingest, None);
        let (kind, key_id, secret) = parse(&text).unwrap();
        assert_eq!(kind, KeyKind::Ingest);
        assert_eq!(key_id, stored.key_id);
        assert!(!text.contains(&hex(&stored.secret_sha256)));
        assert_eq!(
            <[u8; 32]>::from(Sha256::digest(secret.as_bytes())),
            stored.secret_sha256
        );
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        let (text, _) = generate(KeyKind::Read, None);
        for bad in [
            &text[..text.len() - 1],
            "uptake_read_x_y",
            "",
            "Bearer",
            &text.replace("read", "admin"),
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
