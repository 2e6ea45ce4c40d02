-- The SHA-256 of each applied migration's text, so that a binary whose
-- migration files were edited after they were applied is refused at start
-- instead of running against a schema it does not describe. Filled in at
-- start for migrations applied before this one.
ALTER TABLE schema_migrations ADD COLUMN checksum TEXT;
