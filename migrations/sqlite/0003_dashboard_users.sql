-- Dashboard logins. The password is kept only as an Argon2id PHC string;
-- `org` NULL is a company admin, otherwise a viewer of that org.
CREATE TABLE dashboard_users (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    org           TEXT,
    created_at    INTEGER NOT NULL
);
