-- PostgreSQL version of migrations/sqlite/0010_day_grain.sql: the same
-- tables and keys. `events` stays a heap in arrival order; its key moves
-- to `event_keys`, and reports read it by time.
CREATE TABLE event_keys (
    org BIGINT NOT NULL,
    key BYTEA  NOT NULL,
    PRIMARY KEY (org, key)
);

ALTER TABLE events DROP CONSTRAINT events_pkey;
DROP INDEX events_by_kind_time;
CREATE INDEX events_by_time ON events (time);

DROP TABLE month_counts;
DROP TABLE login_days;
DROP TABLE login_months;
DROP TABLE login_users;
DROP TABLE members_now;
DROP TABLE month_versions;

CREATE TABLE cells (
    metric  BIGINT NOT NULL,
    day     BIGINT NOT NULL,
    "user"  BIGINT NOT NULL,
    org     BIGINT NOT NULL,
    subject BIGINT NOT NULL,
    facet   BIGINT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (metric, day, "user", org, subject, facet)
) WITH (fillfactor = 70);

CREATE TABLE login_summaries (
    org     BIGINT NOT NULL,
    "user"  BIGINT NOT NULL,
    summary BYTEA  NOT NULL,
    PRIMARY KEY (org, "user")
) WITH (fillfactor = 70);

CREATE TABLE month_logins (
    month BIGINT NOT NULL,
    org   BIGINT NOT NULL,
    "user" BIGINT NOT NULL,
    days  BIGINT NOT NULL,
    times BYTEA  NOT NULL,
    PRIMARY KEY (month, org, "user")
) WITH (fillfactor = 70);

CREATE TABLE titled_runs (
    day    BIGINT NOT NULL,
    org    BIGINT NOT NULL,
    action BIGINT NOT NULL,
    time   BIGINT NOT NULL,
    id     TEXT COLLATE "C" NOT NULL,
    "user" BIGINT NOT NULL,
    title  BIGINT NOT NULL,
    PRIMARY KEY (day, org, action, time, id)
);

CREATE TABLE part_versions (
    part    BIGINT NOT NULL,
    period  BIGINT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (part, period)
);

DELETE FROM rollup_meta WHERE key = 'settings';
