-- PostgreSQL version of migrations/sqlite/0012_migration_checksums.sql.
ALTER TABLE schema_migrations ADD COLUMN checksum TEXT;
