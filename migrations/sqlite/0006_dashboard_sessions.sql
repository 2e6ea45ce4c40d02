-- Dashboard sessions, so that any Uptake process sharing the store knows
-- them. Only the SHA-256 of the session token is kept; the token itself is
-- in the browser's cookie alone.
CREATE TABLE dashboard_sessions (
    token_sha256 BLOB PRIMARY KEY,
    username     TEXT NOT NULL,
    org          TEXT,
    csrf         TEXT NOT NULL,
    last_seen    INTEGER NOT NULL
);
CREATE INDEX dashboard_sessions_by_last_seen ON dashboard_sessions (last_seen);
