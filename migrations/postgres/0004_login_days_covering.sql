-- PostgreSQL version of migrations/sqlite/0004_login_days_covering.sql: the same tables and
-- keys, with BIGINT integers and the binary ("C") collation, so that text
-- compares byte by byte as in SQLite.

-- Widgets read login days by day range (the last days, this week, the
-- rest of this month); an index holding every column they read answers
-- them without a lookup into the table per row.
DROP INDEX login_days_by_day;
CREATE INDEX login_days_by_day_covering ON login_days (day, org, "user", n, first, last);
