-- PostgreSQL version of migrations/sqlite/0013_sdk_ignored.sql.
CREATE TABLE sdk_ignored (
    org    TEXT COLLATE "C" NOT NULL,
    source TEXT COLLATE "C" NOT NULL,
    name   TEXT COLLATE "C" NOT NULL,
    month  BIGINT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (org, source, name, month)
);
