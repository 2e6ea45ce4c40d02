-- PostgreSQL version of migrations/sqlite/0002_rollups.sql: the same tables and
-- keys, with BIGINT integers and the binary ("C") collation, so that text
-- compares byte by byte as in SQLite.

-- Rollups: derived from `events` in the same transaction as each new event,
-- so that widgets read them instead of the history. Days, weeks and months
-- are local to the company time zone; `rollup_meta` records the settings
-- they were built with, and a change rebuilds them from `events`.
-- All references to strings are `strings.id`; 0 stands for "none".

-- Raw events of one kind in a time range: the corrections after `as_of`
-- and the partial days at the edges of a window.
CREATE INDEX events_by_kind_time ON events (kind, time);

CREATE TABLE rollup_meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);

-- The first event of each org (the orgs of a report without `org=`).
CREATE TABLE org_activity (
    org   BIGINT PRIMARY KEY,
    first BIGINT NOT NULL
);

-- Counted events per local month: metric, then user and two dimensions
-- (see `store::rollups::metric_code`); `last` is the latest event
-- time in the cell. Every event counts in a cell with user -1 (all users)
-- and, for metrics with a user, in its per-user cell ("user" 0: none).
CREATE TABLE month_counts (
    metric BIGINT NOT NULL,
    month  BIGINT NOT NULL,
    "user"   BIGINT NOT NULL, -- before org, so that the all-users cells of a month are one range
    org    BIGINT NOT NULL,
    a      BIGINT NOT NULL,
    b      BIGINT NOT NULL,
    n      BIGINT NOT NULL,
    last   BIGINT NOT NULL,
    PRIMARY KEY (metric, month, "user", org, a, b)
);

-- The per-user cells of `month_counts` over all months: a period is then
-- these minus the months outside it, when that is fewer months to read.
CREATE TABLE user_totals (
    metric BIGINT NOT NULL,
    org    BIGINT NOT NULL,
    "user"   BIGINT NOT NULL,
    a      BIGINT NOT NULL,
    b      BIGINT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (metric, org, "user", a, b)
);

-- The latest titled run of each action per local day.
CREATE TABLE action_titles (
    day    BIGINT NOT NULL,
    org    BIGINT NOT NULL,
    action BIGINT NOT NULL,
    time   BIGINT NOT NULL,
    id     TEXT COLLATE "C"    NOT NULL,
    title  BIGINT NOT NULL,
    PRIMARY KEY (day, org, action)
);

-- Logins per user and local day, month, and in all.
CREATE TABLE login_days (
    org   BIGINT NOT NULL,
    "user"  BIGINT NOT NULL,
    day   BIGINT NOT NULL,
    n     BIGINT NOT NULL,
    first BIGINT NOT NULL,
    last  BIGINT NOT NULL,
    PRIMARY KEY (org, "user", day)
);
CREATE INDEX login_days_by_day ON login_days (day);

CREATE TABLE login_months (
    month BIGINT NOT NULL,
    org   BIGINT NOT NULL,
    "user"  BIGINT NOT NULL,
    days  BIGINT NOT NULL, -- distinct local days with a login
    PRIMARY KEY (month, org, "user")
);

CREATE TABLE login_users (
    org    BIGINT NOT NULL,
    "user"   BIGINT NOT NULL,
    logins BIGINT NOT NULL,
    last   BIGINT NOT NULL,
    state  BYTEA    NOT NULL, -- rollup::LoginState
    PRIMARY KEY (org, "user")
);

-- Membership history, and the latest state of each (org, "user").
CREATE TABLE member_log (
    org   BIGINT NOT NULL,
    "user"  BIGINT NOT NULL,
    time  BIGINT NOT NULL,
    id    TEXT COLLATE "C"    NOT NULL,
    role  BIGINT NOT NULL, -- 0: removed
    teams TEXT COLLATE "C",
    name  BIGINT,
    email BIGINT,
    PRIMARY KEY (org, "user", time, id)
);

CREATE TABLE members_now (
    org        BIGINT NOT NULL,
    "user"       BIGINT NOT NULL,
    time       BIGINT NOT NULL,
    id         TEXT COLLATE "C"    NOT NULL,
    role       BIGINT NOT NULL, -- 0: removed
    teams      TEXT COLLATE "C",
    name       BIGINT,
    name_time  BIGINT,
    name_id    TEXT COLLATE "C",
    email      BIGINT,
    email_time BIGINT,
    email_id   TEXT COLLATE "C",
    PRIMARY KEY (org, "user")
);

CREATE TABLE snapshots (
    org    BIGINT NOT NULL,
    time   BIGINT NOT NULL,
    id     TEXT COLLATE "C"    NOT NULL,
    total  BIGINT NOT NULL, -- the sum of the counts
    counts TEXT COLLATE "C"    NOT NULL,
    PRIMARY KEY (org, time, id)
);

CREATE TABLE source_log (
    org    BIGINT NOT NULL,
    source BIGINT NOT NULL,
    time   BIGINT NOT NULL,
    id     TEXT COLLATE "C"    NOT NULL,
    kind   BIGINT, -- strings.id of the type; NULL: deleted
    name   BIGINT,
    PRIMARY KEY (org, source, time, id)
);
