-- PostgreSQL version of migrations/sqlite/0013_sdk_messages.sql.
CREATE TABLE sdk_messages (
    org     TEXT COLLATE "C" NOT NULL,
    source  TEXT COLLATE "C" NOT NULL,
    name    TEXT COLLATE "C" NOT NULL,
    month   BIGINT NOT NULL,
    outcome TEXT COLLATE "C" NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (org, source, month, outcome, name)
);
