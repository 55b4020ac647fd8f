-- Issue 13: an unset tenant setting must match no row, and no row may have an empty tenant.
-- Never edit once released: add a new numbered file.
--
-- `current_setting('airlock.tenant', true)` is NULL only in a session that never defined
-- the setting. Once a transaction of the session has set it with `set_config(..., true)`
-- (as every TenantScope transaction does), the setting stays defined for the rest of the
-- session with the value '' whenever no transaction sets it. The policies of 0001 compared
-- `tenant_id = current_setting(...)`, so a pooled connection of airlock_app that had served
-- a tenant and then ran a statement without setting the tenant saw every row whose
-- tenant_id is '' (and could insert one). Now:
--   1. the policies compare with NULLIF(current_setting(...), ''): unset and empty both
--      give NULL, which equals nothing, for reads (USING) and writes (WITH CHECK);
--   2. every table refuses an empty tenant_id (a CHECK constraint), whoever inserts it,
--      the owner included.
-- A database already holding an empty tenant_id is not silently patched: the migration
-- stops and names the table, since such a row can only come from outside the API.

DO $$
DECLARE
    t TEXT;
    n BIGINT;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenants', 'migrations', 'data_keys', 'objects', 'plugin_grants',
                             'stats', 'audit_log'] LOOP
        EXECUTE format('SELECT COUNT(*) FROM %I WHERE tenant_id = %L', t, '') INTO n;
        IF n > 0 THEN
            RAISE EXCEPTION 'table % holds % row(s) with an empty tenant_id, which no tenant owns; inspect and remove them as the schema owner, then migrate again', t, n;
        END IF;
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (tenant_id <> %L)',
                       t, t || '_tenant_id_not_empty', '');
        EXECUTE format('ALTER POLICY tenant_isolation ON %I '
                       'USING (tenant_id = NULLIF(current_setting(''airlock.tenant'', true), '''')) '
                       'WITH CHECK (tenant_id = NULLIF(current_setting(''airlock.tenant'', true), ''''))',
                       t);
    END LOOP;
END
$$;
