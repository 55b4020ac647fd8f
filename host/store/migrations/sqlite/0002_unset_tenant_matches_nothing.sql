-- Issue 13: no row may have an empty tenant_id. Never edit once released: add a new
-- numbered file. SQLite cannot add a CHECK constraint to an existing table, so each table
-- gets triggers that refuse an empty tenant_id on insert and on update (length() so that
-- an empty BLOB is refused as well as ''). In PostgreSQL the same migration also makes an
-- unset tenant setting match no row; SQLite has no row-level security, the API filters.

CREATE TRIGGER tenants_tenant_id_not_empty BEFORE INSERT ON tenants
WHEN length(NEW.tenant_id) = 0
BEGIN
    SELECT RAISE(ABORT, 'tenant_id must not be empty');
END;
CREATE TRIGGER tenants_tenant_id_not_empty_update BEFORE UPDATE OF tenant_id ON tenants
WHEN length(NEW.tenant_id) = 0
BEGIN
    SELECT RAISE(ABORT, 'tenant_id must not be empty');
END;

CREATE TRIGGER migrations_tenant_id_not_empty BEFORE INSERT ON migrations
WHEN length(NEW.tenant_id) = 0
BEGIN
    SELECT RAISE(ABORT, 'tenant_id must not be empty');
END;
CREATE TRIGGER migrations_tenant_id_not_empty_update BEFORE UPDATE OF tenant_id ON migrations
WHEN length(NEW.tenant_id) = 0
BEGIN
    SELECT RAISE(ABORT, 'tenant_id must not be empty');
END;

CREATE TRIGGER data_keys_tenant_id_not_empty BEFORE INSERT ON data_keys
WHEN length(NEW.tenant_id) = 0
BEGIN
    SELECT RAISE(ABORT, 'tenant_id must not be empty');
END;
CREATE TRIGGER data_keys_tenant_id_not_empty_update BEFORE UPDATE OF tenant_id ON data_keys
WHEN length(NEW.tenant_id) = 0
BEGIN
    SELECT RAISE(ABORT, 'tenant_id must not be empty');
END;

CREATE TRIGGER objects_tenant_id_not_empty BEFORE INSERT ON objects
WHEN length(NEW.tenant_id) = 0
BEGIN
    SELECT RAISE(ABORT, 'tenant_id must not be empty');
END;
CREATE TRIGGER objects_tenant_id_not_empty_update BEFORE UPDATE OF tenant_id ON objects
WHEN length(NEW.tenant_id) = 0
BEGIN
    SELECT RAISE(ABORT, 'tenant_id must not be empty');
END;

CREATE TRIGGER plugin_grants_tenant_id_not_empty BEFORE INSERT ON plugin_grants
WHEN length(NEW.tenant_id) = 0
BEGIN
    SELECT RAISE(ABORT, 'tenant_id must not be empty');
END;
CREATE TRIGGER plugin_grants_tenant_id_not_empty_update BEFORE UPDATE OF tenant_id ON plugin_grants
WHEN length(NEW.tenant_id) = 0
BEGIN
    SELECT RAISE(ABORT, 'tenant_id must not be empty');
END;

CREATE TRIGGER stats_tenant_id_not_empty BEFORE INSERT ON stats
WHEN length(NEW.tenant_id) = 0
BEGIN
    SELECT RAISE(ABORT, 'tenant_id must not be empty');
END;
CREATE TRIGGER stats_tenant_id_not_empty_update BEFORE UPDATE OF tenant_id ON stats
WHEN length(NEW.tenant_id) = 0
BEGIN
    SELECT RAISE(ABORT, 'tenant_id must not be empty');
END;

-- The audit log refuses every update already (audit_log_no_update).
CREATE TRIGGER audit_log_tenant_id_not_empty BEFORE INSERT ON audit_log
WHEN length(NEW.tenant_id) = 0
BEGIN
    SELECT RAISE(ABORT, 'tenant_id must not be empty');
END;
