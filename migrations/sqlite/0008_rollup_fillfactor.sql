-- PostgreSQL only (migrations/postgres/0008_rollup_fillfactor.sql): room
-- on rollup pages for in-place updates. SQLite updates a row in its B-tree
-- page and has no such setting; the number is kept so that both engines
-- share one history.
SELECT 1;
