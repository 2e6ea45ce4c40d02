-- Browser keys: public keys for the browser SDKs, which may send only page
-- views and logins. SQLite cannot change a CHECK constraint in place, so
-- the table is copied.
CREATE TABLE api_keys_new (
    key_id        TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('ingest', 'read', 'browser')),
    org           TEXT,
    secret_sha256 BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
INSERT INTO api_keys_new (key_id, kind, org, secret_sha256, created_at, last_used_at, revoked_at)
SELECT key_id, kind, org, secret_sha256, created_at, last_used_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
