-- Keys and dashboard logins under control, and erasure.

-- When each key was last used (recorded at most once a minute) and when it
-- was revoked: a revoked key is refused by every process sharing the store.
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;

-- When each dashboard login last logged in.
ALTER TABLE dashboard_users ADD COLUMN last_login_at INTEGER;

CREATE INDEX dashboard_sessions_by_username ON dashboard_sessions (username);

-- People erased (`uptake erase`): the SHA-256 of their user id, the org
-- ('' for every org) and the instant of the erasure. An event of theirs
-- dated at or before it that arrives later is not stored. Only the hash is
-- kept, so no table holds the user id itself.
CREATE TABLE erasures (
    user_sha256 BLOB    NOT NULL,
    org         TEXT    NOT NULL,
    erased_at   INTEGER NOT NULL,
    PRIMARY KEY (user_sha256, org)
) WITHOUT ROWID;
