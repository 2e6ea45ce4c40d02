-- PostgreSQL version of migrations/sqlite/0011_people_data.sql.
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
ALTER TABLE api_keys ADD COLUMN revoked_at BIGINT;

ALTER TABLE dashboard_users ADD COLUMN last_login_at BIGINT;

CREATE INDEX dashboard_sessions_by_username ON dashboard_sessions (username);

CREATE TABLE erasures (
    user_sha256 BYTEA  NOT NULL,
    org         TEXT COLLATE "C" NOT NULL,
    erased_at   BIGINT NOT NULL,
    PRIMARY KEY (user_sha256, org)
);
