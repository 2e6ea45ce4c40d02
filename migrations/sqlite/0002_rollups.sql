-- Rollups: derived from `events` in the same transaction as each new event,
-- so that widgets read them instead of the history. Days, weeks and months
-- are local to the company time zone; `rollup_meta` records the settings
-- they were built with, and a change rebuilds them from `events`.
-- All references to strings are `strings.id`; 0 stands for "none".

-- Raw events of one kind in a time range: the corrections after `as_of`
-- and the partial days at the edges of a window.
CREATE INDEX events_by_kind_time ON events (kind, time);

CREATE TABLE rollup_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The first event of each org (the orgs of a report without `org=`).
CREATE TABLE org_activity (
    org   INTEGER PRIMARY KEY,
    first INTEGER NOT NULL
);

-- Counted events per local month: metric, then user and two dimensions
-- (see `store::sqlite_rollups::metric_code`); `last` is the latest event
-- time in the cell. Every event counts in a cell with user -1 (all users)
-- and, for metrics with a user, in its per-user cell (user 0: none).
CREATE TABLE month_counts (
    metric INTEGER NOT NULL,
    month  INTEGER NOT NULL,
    user   INTEGER NOT NULL, -- before org, so that the all-users cells of a month are one range
    org    INTEGER NOT NULL,
    a      INTEGER NOT NULL,
    b      INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    last   INTEGER NOT NULL,
    PRIMARY KEY (metric, month, user, org, a, b)
) WITHOUT ROWID;

-- The per-user cells of `month_counts` over all months: a period is then
-- these minus the months outside it, when that is fewer months to read.
CREATE TABLE user_totals (
    metric INTEGER NOT NULL,
    org    INTEGER NOT NULL,
    user   INTEGER NOT NULL,
    a      INTEGER NOT NULL,
    b      INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (metric, org, user, a, b)
) WITHOUT ROWID;

-- The latest titled run of each action per local day.
CREATE TABLE action_titles (
    day    INTEGER NOT NULL,
    org    INTEGER NOT NULL,
    action INTEGER NOT NULL,
    time   INTEGER NOT NULL,
    id     TEXT    NOT NULL,
    title  INTEGER NOT NULL,
    PRIMARY KEY (day, org, action)
) WITHOUT ROWID;

-- Logins per user and local day, month, and in all.
CREATE TABLE login_days (
    org   INTEGER NOT NULL,
    user  INTEGER NOT NULL,
    day   INTEGER NOT NULL,
    n     INTEGER NOT NULL,
    first INTEGER NOT NULL,
    last  INTEGER NOT NULL,
    PRIMARY KEY (org, user, day)
) WITHOUT ROWID;
CREATE INDEX login_days_by_day ON login_days (day);

CREATE TABLE login_months (
    month INTEGER NOT NULL,
    org   INTEGER NOT NULL,
    user  INTEGER NOT NULL,
    days  INTEGER NOT NULL, -- distinct local days with a login
    PRIMARY KEY (month, org, user)
) WITHOUT ROWID;

CREATE TABLE login_users (
    org    INTEGER NOT NULL,
    user   INTEGER NOT NULL,
    logins INTEGER NOT NULL,
    last   INTEGER NOT NULL,
    state  BLOB    NOT NULL, -- rollup::LoginState
    PRIMARY KEY (org, user)
) WITHOUT ROWID;

-- Membership history, and the latest state of each (org, user).
CREATE TABLE member_log (
    org   INTEGER NOT NULL,
    user  INTEGER NOT NULL,
    time  INTEGER NOT NULL,
    id    TEXT    NOT NULL,
    role  INTEGER NOT NULL, -- 0: removed
    teams TEXT,
    name  INTEGER,
    email INTEGER,
    PRIMARY KEY (org, user, time, id)
) WITHOUT ROWID;

CREATE TABLE members_now (
    org        INTEGER NOT NULL,
    user       INTEGER NOT NULL,
    time       INTEGER NOT NULL,
    id         TEXT    NOT NULL,
    role       INTEGER NOT NULL, -- 0: removed
    teams      TEXT,
    name       INTEGER,
    name_time  INTEGER,
    name_id    TEXT,
    email      INTEGER,
    email_time INTEGER,
    email_id   TEXT,
    PRIMARY KEY (org, user)
) WITHOUT ROWID;

CREATE TABLE snapshots (
    org    INTEGER NOT NULL,
    time   INTEGER NOT NULL,
    id     TEXT    NOT NULL,
    total  INTEGER NOT NULL, -- the sum of the counts
    counts TEXT    NOT NULL,
    PRIMARY KEY (org, time, id)
) WITHOUT ROWID;

CREATE TABLE source_log (
    org    INTEGER NOT NULL,
    source INTEGER NOT NULL,
    time   INTEGER NOT NULL,
    id     TEXT    NOT NULL,
    kind   INTEGER, -- strings.id of the type; NULL: deleted
    name   INTEGER,
    PRIMARY KEY (org, source, time, id)
) WITHOUT ROWID;
