-- PostgreSQL version of migrations/sqlite/0005_events_by_kind_time_user.sql.
-- Reports read the logins of partial days as (org, user, time) from the
-- raw events; with both in the (kind, time) index, those reads can be
-- answered from the index alone.
DROP INDEX events_by_kind_time;
CREATE INDEX events_by_kind_time ON events (kind, time) INCLUDE (org, "user");
