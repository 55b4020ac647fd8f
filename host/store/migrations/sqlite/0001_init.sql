-- Airlock metadata store, SQLite (the embedded default). Never edit once released: add a
-- new numbered file instead. Times are Unix seconds, UTC. `tenant_id` leads every primary key.
-- There are no roles in SQLite: tenancy is enforced by the API (every query of a
-- `TenantScope` filters by its tenant); the audit log's append-only rule is a trigger.

CREATE TABLE tenants (
    tenant_id       TEXT    NOT NULL PRIMARY KEY,
    created_at      INTEGER NOT NULL,
    licence_ends_at INTEGER
);

CREATE TABLE migrations (
    tenant_id        TEXT    NOT NULL REFERENCES tenants (tenant_id),
    migration_id     TEXT    NOT NULL,
    region           TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('created', 'running', 'succeeded', 'failed')),
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    -- Retention markers: the data key is gone / the blobs are gone.
    key_destroyed_at INTEGER,
    purged_at        INTEGER,
    PRIMARY KEY (tenant_id, migration_id)
);

-- Destroying a key is deleting its row; `PRAGMA secure_delete=ON` (set on every connection)
-- overwrites the freed bytes.
CREATE TABLE data_keys (
    tenant_id    TEXT    NOT NULL,
    migration_id TEXT    NOT NULL,
    wrapped      BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, migration_id),
    FOREIGN KEY (tenant_id, migration_id) REFERENCES migrations (tenant_id, migration_id)
);

CREATE TABLE objects (
    tenant_id    TEXT    NOT NULL,
    migration_id TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    class        TEXT    NOT NULL CHECK (class IN ('analysis', 'staging', 'output', 'report')),
    bytes        INTEGER NOT NULL CHECK (bytes >= 0),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, migration_id, name),
    FOREIGN KEY (tenant_id, migration_id) REFERENCES migrations (tenant_id, migration_id)
);

CREATE TABLE plugin_grants (
    tenant_id    TEXT    NOT NULL,
    migration_id TEXT    NOT NULL,
    app_key      TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    namespaces   TEXT    NOT NULL,
    granted_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, migration_id, app_key),
    FOREIGN KEY (tenant_id, migration_id) REFERENCES migrations (tenant_id, migration_id)
);

-- Anonymized statistics. Only the columns in `STAT_COLUMNS` (src/stats.rs) plus the keys:
-- a test compares this table with that list.
CREATE TABLE stats (
    tenant_id           TEXT    NOT NULL REFERENCES tenants (tenant_id),
    stat_id             INTEGER NOT NULL,
    recorded_at         INTEGER NOT NULL,
    phase_analyse_ms    INTEGER NOT NULL,
    phase_stage_ms      INTEGER NOT NULL,
    phase_load_ms       INTEGER NOT NULL,
    phase_verify_ms     INTEGER NOT NULL,
    records_issues      INTEGER NOT NULL,
    records_comments    INTEGER NOT NULL,
    records_worklogs    INTEGER NOT NULL,
    records_attachments INTEGER NOT NULL,
    records_other       INTEGER NOT NULL,
    batches             INTEGER NOT NULL,
    bytes_staged        INTEGER NOT NULL,
    bytes_uploaded      INTEGER NOT NULL,
    plugin_fuel         INTEGER NOT NULL,
    error_code          TEXT CHECK (error_code IS NULL OR (length(error_code) BETWEEN 1 AND 64
                                    AND error_code NOT GLOB '*[^a-z0-9-]*')),
    PRIMARY KEY (tenant_id, stat_id)
);

-- Security events. `seq` counts per tenant without gaps, so a missing row shows.
-- No foreign key to tenants: the rows outlive the tenant row for the moment of expiry.
CREATE TABLE audit_log (
    tenant_id TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    event     TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    detail    TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- A tenant's rows go only with the tenant (tenant expiry deletes the tenant row first, in
-- the same transaction); platform rows never go.
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.tenant_id = '_platform'
  OR EXISTS (SELECT 1 FROM tenants WHERE tenants.tenant_id = OLD.tenant_id)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
