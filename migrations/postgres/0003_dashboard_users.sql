-- PostgreSQL version of migrations/sqlite/0003_dashboard_users.sql: the same tables and
-- keys, with BIGINT integers and the binary ("C") collation, so that text
-- compares byte by byte as in SQLite.

-- Dashboard logins. The password is kept only as an Argon2id PHC string;
-- `org` NULL is a company admin, otherwise a viewer of that org.
CREATE TABLE dashboard_users (
    username      TEXT COLLATE "C" PRIMARY KEY,
    password_hash TEXT COLLATE "C" NOT NULL,
    org           TEXT COLLATE "C",
    created_at    BIGINT NOT NULL
);
