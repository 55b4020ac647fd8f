-- Issue 14: a migration records where its data lives, and statistics are one row per
-- migration. Never edit once released: add a new numbered file.
--
-- `blob_store` and `key_provider` name the blob store and the key provider that hold the
-- migration's blobs and its tenant's key-encryption key (`dir:/abs/path`,
-- `s3:https://endpoint/prefix-*`, `file:/abs/path`): locations, never credentials. The
-- retention sweep deletes and reports as deleted only what lives in the stores it holds.
-- Rows from before this migration have neither (NULL): the sweep treats them as unknown
-- and leaves their blobs, saying so (src/maintenance.rs).
ALTER TABLE migrations ADD COLUMN blob_store TEXT
    CHECK (blob_store IS NULL OR length(blob_store) BETWEEN 3 AND 1024);
ALTER TABLE migrations ADD COLUMN key_provider TEXT
    CHECK (key_provider IS NULL OR length(key_provider) BETWEEN 3 AND 1024);

-- Which migration a statistics row describes: a key column (never exported), so a rerun
-- replaces the row instead of adding one. Rows from before this migration have none (NULL,
-- which a unique index does not compare equal).
ALTER TABLE stats ADD COLUMN migration_id TEXT;
CREATE UNIQUE INDEX stats_one_per_migration ON stats (tenant_id, migration_id);
