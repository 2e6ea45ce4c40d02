-- What the analytics SDKs (Segment, PostHog) sent, per org ('' when
-- unknown), source, name, local month and outcome: `mapped` (a valid
-- event, handed to the store), `rejected` (mapped but refused by the
-- contract or the key), `ignored` (mapped to no event; `name` is the SDK's
-- event name), and per request `stored` and `duplicate` (name `*`). An
-- operator sees what a portal sends and which rules to add.
CREATE TABLE sdk_messages (
    org     TEXT    NOT NULL,
    source  TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    month   INTEGER NOT NULL,
    outcome TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (org, source, month, outcome, name)
) WITHOUT ROWID;
