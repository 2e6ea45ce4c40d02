-- PostgreSQL version of migrations/sqlite/0014_browser_keys.sql.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_kind_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_kind_check CHECK (kind IN ('ingest', 'read', 'browser'));
