-- PostgreSQL version of migrations/sqlite/0007_month_versions.sql.
-- A version for each (metric, month) of `month_counts`, raised by every
-- transaction that changes a cell of that month, and by a rebuild. Readers
-- keep the sums of complete months between reports and reuse them while
-- the versions they were read at stand (store/facts.rs). A month without
-- a row is at version 0 and has never had a cell.
CREATE TABLE month_versions (
    metric  BIGINT NOT NULL,
    month   BIGINT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (metric, month)
);
INSERT INTO month_versions (metric, month, version)
SELECT DISTINCT metric, month, 1 FROM month_counts;
