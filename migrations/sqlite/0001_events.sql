-- Raw events, the source of truth: every derived table can be rebuilt from
-- this one. Strings that repeat across events (orgs, users, pages, actions,
-- titles, ...) are kept once in `strings` and referred to by number, which
-- keeps an event to a few dozen bytes on disk.
CREATE TABLE strings (
    id    INTEGER PRIMARY KEY,
    value TEXT NOT NULL UNIQUE
);

-- One row per accepted event. The primary key is the idempotency key of the
-- contract, so a second event with the same (org, id) is not stored.
-- Columns by type (see src/store/row.rs):
--   user     login, page_view, action_run, ai_invocation, mcp_call, member_*
--   subject  page | action | automation | agent | tool | data_source
--   label    title | action_title | automation_title | agent_type
--            | data_source_type | member name
--   extra    ai source | data source name | member email
--   code     action trigger + 4 * status | automation status | member role
--   list     member teams | snapshot counts, as JSON
CREATE TABLE events (
    org     INTEGER NOT NULL REFERENCES strings (id),
    id      TEXT    NOT NULL,
    time    INTEGER NOT NULL, -- microseconds since 1970-01-01T00:00:00Z
    kind    INTEGER NOT NULL,
    user    INTEGER REFERENCES strings (id),
    subject INTEGER REFERENCES strings (id),
    label   INTEGER REFERENCES strings (id),
    extra   INTEGER REFERENCES strings (id),
    code    INTEGER NOT NULL DEFAULT 0,
    list    TEXT,
    PRIMARY KEY (org, id)
) WITHOUT ROWID;

-- API keys: only a SHA-256 of the secret part is kept.
CREATE TABLE api_keys (
    key_id        TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('ingest', 'read')),
    org           TEXT,
    secret_sha256 BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);
