-- Rollups at day grain, so that a report at any instant reads rollups for
-- everything up to the end of its day and raw events only between `as_of`
-- and that day's end (see docs/ARCHITECTURE.md, "Reports at any instant").
-- The rollups are rebuilt from `events` at the next start (the settings
-- record below is removed for that).

-- The idempotency key of every event ever stored: the org and the first 16
-- bytes of the SHA-256 of the id. Kept apart from `events`, so that a row
-- deleted from `events` (erasure, retention) still makes a re-sent event a
-- duplicate, and small (about 20 bytes an event), so that its random
-- inserts stay in the page cache.
CREATE TABLE event_keys (
    org INTEGER NOT NULL,
    key BLOB    NOT NULL,
    PRIMARY KEY (org, key)
) WITHOUT ROWID;

-- Raw events in time order: live ingest appends at the end of the table,
-- and a report reads the events after its `as_of` as one range.
CREATE TABLE events_by_time (
    time    INTEGER NOT NULL,
    org     INTEGER NOT NULL,
    id      TEXT    NOT NULL,
    kind    INTEGER NOT NULL,
    user    INTEGER,
    subject INTEGER,
    label   INTEGER,
    extra   INTEGER,
    code    INTEGER NOT NULL DEFAULT 0,
    list    TEXT,
    PRIMARY KEY (time, org, id)
) WITHOUT ROWID;
INSERT INTO events_by_time (time, org, id, kind, user, subject, label, extra, code, list)
SELECT time, org, id, kind, user, subject, label, extra, code, list FROM events;
DROP TABLE events;
ALTER TABLE events_by_time RENAME TO events;

DROP TABLE month_counts;
DROP TABLE login_days;
DROP TABLE login_months;
DROP TABLE login_users;
DROP TABLE members_now;
DROP TABLE month_versions;

-- Counted events per metric, local day and cell (user, org, subject and
-- facet as string ids, 0 for none; see src/rollup/cells.rs).
CREATE TABLE cells (
    metric  INTEGER NOT NULL,
    day     INTEGER NOT NULL,
    user    INTEGER NOT NULL,
    org     INTEGER NOT NULL,
    subject INTEGER NOT NULL,
    facet   INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (metric, day, user, org, subject, facet)
) WITHOUT ROWID;

-- Each user's logins in each org over all time (src/rollup/logins.rs,
-- LoginSummary): weeks, activation, and logins up to each month's end.
CREATE TABLE login_summaries (
    org     INTEGER NOT NULL,
    user    INTEGER NOT NULL,
    summary BLOB    NOT NULL,
    PRIMARY KEY (org, user)
) WITHOUT ROWID;

-- Each user's login times per org and local month, grouped by day
-- (MonthLogins), and the number of days with a login.
CREATE TABLE month_logins (
    month INTEGER NOT NULL,
    org   INTEGER NOT NULL,
    user  INTEGER NOT NULL,
    days  INTEGER NOT NULL,
    times BLOB    NOT NULL,
    PRIMARY KEY (month, org, user)
) WITHOUT ROWID;

-- Every action run with a title, by local day: the title of the latest
-- run up to an instant inside a day (`action_titles` has whole days).
CREATE TABLE titled_runs (
    day    INTEGER NOT NULL,
    org    INTEGER NOT NULL,
    action INTEGER NOT NULL,
    time   INTEGER NOT NULL,
    id     TEXT    NOT NULL,
    user   INTEGER NOT NULL,
    title  INTEGER NOT NULL,
    PRIMARY KEY (day, org, action, time, id)
) WITHOUT ROWID;

-- A version per part of the rollups that readers keep in memory (a
-- metric's cells of one day, the login summaries, a month's logins, the
-- member log, a month's titles, a day's titled runs), raised by every
-- transaction changing it; part 0 is the epoch, raised when the rollups
-- are rebuilt or people erased. See src/store/parts.rs.
CREATE TABLE part_versions (
    part    INTEGER NOT NULL,
    period  INTEGER NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (part, period)
) WITHOUT ROWID;

DELETE FROM rollup_meta WHERE key = 'settings';
