-- PostgreSQL version of migrations/sqlite/0006_dashboard_sessions.sql.
-- Dashboard sessions, so that any Uptake process sharing the store knows
-- them. Only the SHA-256 of the session token is kept; the token itself is
-- in the browser's cookie alone.
CREATE TABLE dashboard_sessions (
    token_sha256 BYTEA PRIMARY KEY,
    username     TEXT COLLATE "C" NOT NULL,
    org          TEXT COLLATE "C",
    csrf         TEXT COLLATE "C" NOT NULL,
    last_seen    BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_by_last_seen ON dashboard_sessions (last_seen);
