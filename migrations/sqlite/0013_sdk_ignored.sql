-- Messages from the analytics SDKs (Segment, PostHog) that map to no
-- Uptake event: counted per org ('' when unknown), source, event name and
-- local month, so an operator sees what a portal sends that is not used.
CREATE TABLE sdk_ignored (
    org    TEXT    NOT NULL,
    source TEXT    NOT NULL,
    name   TEXT    NOT NULL,
    month  INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (org, source, name, month)
) WITHOUT ROWID;
