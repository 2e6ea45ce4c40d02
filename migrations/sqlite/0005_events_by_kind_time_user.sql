-- Reports read the logins of partial days as (org, user, time) from the
-- raw events. With `user` in the (kind, time) index (which holds the key
-- (org, id) already), those reads never visit the table.
DROP INDEX events_by_kind_time;
CREATE INDEX events_by_kind_time ON events (kind, time, "user");
