-- Airlock metadata store, PostgreSQL. Never edit once released: add a new numbered file.
-- Run as the schema owner (never as airlock_app). Times are Unix seconds, UTC.
--
-- Tenancy: row-level security is enabled and forced on every table. The application role
-- `airlock_app` (LOGIN, not owner, not superuser, no BYPASSRLS; created by the DBA before
-- this runs) sees only rows whose tenant_id equals the transaction's `airlock.tenant`
-- setting. The role that runs this file, the owner, gets a second policy that sees every
-- row: that is the maintenance path (retention, statistics export) and nothing else
-- connects as the owner.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'airlock_app') THEN
        RAISE EXCEPTION 'role airlock_app does not exist: create it first (CREATE ROLE airlock_app LOGIN NOSUPERUSER NOBYPASSRLS)';
    END IF;
    IF current_user = 'airlock_app' THEN
        RAISE EXCEPTION 'run the schema migrations as the owner, not as airlock_app';
    END IF;
END
$$;

CREATE TABLE tenants (
    tenant_id       TEXT   NOT NULL PRIMARY KEY,
    created_at      BIGINT NOT NULL,
    licence_ends_at BIGINT
);

CREATE TABLE migrations (
    tenant_id        TEXT   NOT NULL REFERENCES tenants (tenant_id),
    migration_id     TEXT   NOT NULL,
    region           TEXT   NOT NULL,
    status           TEXT   NOT NULL CHECK (status IN ('created', 'running', 'succeeded', 'failed')),
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    key_destroyed_at BIGINT,
    purged_at        BIGINT,
    PRIMARY KEY (tenant_id, migration_id)
);

CREATE TABLE data_keys (
    tenant_id    TEXT   NOT NULL,
    migration_id TEXT   NOT NULL,
    wrapped      BYTEA  NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, migration_id),
    FOREIGN KEY (tenant_id, migration_id) REFERENCES migrations (tenant_id, migration_id)
);

CREATE TABLE objects (
    tenant_id    TEXT   NOT NULL,
    migration_id TEXT   NOT NULL,
    name         TEXT   NOT NULL,
    class        TEXT   NOT NULL CHECK (class IN ('analysis', 'staging', 'output', 'report')),
    bytes        BIGINT NOT NULL CHECK (bytes >= 0),
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, migration_id, name),
    FOREIGN KEY (tenant_id, migration_id) REFERENCES migrations (tenant_id, migration_id)
);

CREATE TABLE plugin_grants (
    tenant_id    TEXT   NOT NULL,
    migration_id TEXT   NOT NULL,
    app_key      TEXT   NOT NULL,
    scopes       TEXT   NOT NULL,
    namespaces   TEXT   NOT NULL,
    granted_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, migration_id, app_key),
    FOREIGN KEY (tenant_id, migration_id) REFERENCES migrations (tenant_id, migration_id)
);

CREATE TABLE stats (
    tenant_id           TEXT   NOT NULL REFERENCES tenants (tenant_id),
    stat_id             BIGINT NOT NULL,
    recorded_at         BIGINT NOT NULL,
    phase_analyse_ms    BIGINT NOT NULL,
    phase_stage_ms      BIGINT NOT NULL,
    phase_load_ms       BIGINT NOT NULL,
    phase_verify_ms     BIGINT NOT NULL,
    records_issues      BIGINT NOT NULL,
    records_comments    BIGINT NOT NULL,
    records_worklogs    BIGINT NOT NULL,
    records_attachments BIGINT NOT NULL,
    records_other       BIGINT NOT NULL,
    batches             BIGINT NOT NULL,
    bytes_staged        BIGINT NOT NULL,
    bytes_uploaded      BIGINT NOT NULL,
    plugin_fuel         BIGINT NOT NULL,
    error_code          TEXT CHECK (error_code ~ '^[a-z0-9-]{1,64}$'),
    PRIMARY KEY (tenant_id, stat_id)
);

CREATE TABLE audit_log (
    tenant_id TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    at        BIGINT NOT NULL,
    event     TEXT   NOT NULL,
    actor     TEXT   NOT NULL,
    detail    TEXT   NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

-- Append-only for everyone. The single exception is tenant expiry, run by the owner: it
-- deletes the tenant row first and marks the transaction with airlock.retention, and only
-- then may that tenant's audit rows go. airlock_app has no UPDATE/DELETE privilege at all.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.tenant_id <> '_platform'
           AND current_setting('airlock.retention', true) = 'tenant-expiry'
           AND NOT EXISTS (SELECT 1 FROM tenants WHERE tenants.tenant_id = OLD.tenant_id) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenants', 'migrations', 'data_keys', 'objects', 'plugin_grants',
                             'stats', 'audit_log'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
                       'USING (tenant_id = current_setting(''airlock.tenant'', true)) '
                       'WITH CHECK (tenant_id = current_setting(''airlock.tenant'', true))', t);
        EXECUTE format('CREATE POLICY maintenance ON %I TO %I USING (true) WITH CHECK (true)',
                       t, current_user);
    END LOOP;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO airlock_app', current_schema());
END
$$;

-- The least the API needs. No DELETE on tenants, migrations or stats, no UPDATE or DELETE on
-- the audit log: those go only through the maintenance path.
GRANT SELECT, INSERT, UPDATE ON tenants TO airlock_app;
GRANT SELECT, INSERT, UPDATE ON migrations TO airlock_app;
GRANT SELECT, INSERT, DELETE ON data_keys TO airlock_app;
GRANT SELECT, INSERT, DELETE ON objects TO airlock_app;
GRANT SELECT, INSERT, DELETE ON plugin_grants TO airlock_app;
GRANT SELECT, INSERT ON stats TO airlock_app;
GRANT SELECT, INSERT ON audit_log TO airlock_app;
