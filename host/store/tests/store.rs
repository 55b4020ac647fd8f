//! The metadata store against both backends: every test runs on SQLite (a temp file) and on
//! PostgreSQL (a fresh database per test from `airlock_store::testing::TestPostgres`:
//! migrations as the owner, queries as airlock_app). Without a reachable server the
//! PostgreSQL half is skipped loudly, or fails in CI / with `AIRLOCK_REQUIRE_POSTGRES=1`.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use airlock_model::{AppKey, DataScope, MigrationId, Namespace, Region, TenantId};
use airlock_store::testing::TestPostgres;
use airlock_store::{
    BlobSweep, ErrorCode, KekShredder, LeftReason, MigrationStatus, ObjectClass, PLATFORM_TENANT,
    Placement, PluginGrant, STAT_COLUMNS, STAT_KEY_COLUMNS, SimClock, Stat, StatsExporter, Store,
    StoreError,
};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};
use time::macros::datetime;

// ---------------------------------------------------------------------------------------
// Harness

struct Harness {
    backend: &'static str,
    store: Store,
    clock: Arc<SimClock>,
    /// SQLite: the database file.
    sqlite_path: Option<PathBuf>,
    /// PostgreSQL: the throwaway database, dropped with the harness.
    pg: Option<TestPostgres>,
    _dir: Option<tempfile::TempDir>,
}

impl Harness {
    /// A pool as the owner (SQLite: the file; PostgreSQL: the superuser that migrated).
    async fn owner_pool(&self) -> AnyPool {
        let url = match (&self.sqlite_path, &self.pg) {
            (Some(path), _) => format!("sqlite://{}", path.display()),
            (_, Some(pg)) => pg.owner_url().to_owned(),
            _ => unreachable!(),
        };
        AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("owner connection")
    }

    /// PostgreSQL only: a pool logged in as airlock_app.
    async fn app_pool(&self) -> AnyPool {
        let pg = self.pg.as_ref().expect("postgres only");
        AnyPoolOptions::new()
            .max_connections(1)
            .connect(pg.app_url())
            .await
            .expect("airlock_app connection")
    }

    /// A second store on the same database, e.g. to check that migrating again is a no-op.
    async fn reopen(&self) -> Result<Store, StoreError> {
        match (&self.sqlite_path, &self.pg) {
            (Some(path), _) => Store::open_sqlite(path, self.clock.clone()).await,
            (_, Some(pg)) => pg.store(self.clock.clone()).await,
            _ => unreachable!(),
        }
    }
}

fn new_clock() -> Arc<SimClock> {
    Arc::new(SimClock::new(datetime!(2026-01-01 0:00 UTC)))
}

/// SQLite always; PostgreSQL when reachable (or required).
async fn harnesses(test: &str) -> Vec<Harness> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let clock = new_clock();
    let store = Store::open_sqlite(&path, clock.clone())
        .await
        .expect("open sqlite");
    out.push(Harness {
        backend: "sqlite",
        store,
        clock,
        sqlite_path: Some(path),
        pg: None,
        _dir: Some(dir),
    });
    if let Some(pg) = TestPostgres::start(test).await {
        let clock = new_clock();
        let store = pg.store(clock.clone()).await.expect("open postgres");
        out.push(Harness {
            backend: "postgres",
            store,
            clock,
            sqlite_path: None,
            pg: Some(pg),
            _dir: None,
        });
    }
    out
}

fn t(id: &str) -> TenantId {
    TenantId::new(id)
}

fn m(id: &str) -> MigrationId {
    MigrationId::new(id)
}

/// Where the fakes below keep blobs and keys.
const FAKE_BLOBS: &str = "dir:/srv/airlock/blobs";
const FAKE_KEYS: &str = "file:/srv/airlock/keys";

/// The placement the fakes hold.
fn here() -> Placement {
    Placement::new(FAKE_BLOBS, FAKE_KEYS).unwrap()
}

/// A tenant with one migration `m1` holding a key, objects of every class and a grant.
async fn seed(store: &Store, tenant: &str, key: &[u8]) {
    let scope = store.tenant(&t(tenant));
    scope.create().await.unwrap();
    scope
        .create_migration(&m("m1"), Region::EuCentral1, &here())
        .await
        .unwrap();
    scope.put_data_key(&m("m1"), key).await.unwrap();
    for (name, class) in [
        ("analysis/summary.rec", ObjectClass::Analysis),
        ("staging/issues.rec", ObjectClass::Staging),
        ("output/issues.rec", ObjectClass::Output),
        ("report/analysis.html", ObjectClass::Report),
    ] {
        scope
            .record_object(&m("m1"), name, class, 100)
            .await
            .unwrap();
    }
    scope
        .grant_plugin(
            &m("m1"),
            &PluginGrant {
                app_key: AppKey::new("com.example.timesheets"),
                scopes: vec![DataScope::AppDataOther],
                namespaces: vec![Namespace::ISSUE],
            },
        )
        .await
        .unwrap();
}

fn events(log: &[airlock_store::AuditEntry]) -> Vec<&str> {
    log.iter().map(|e| e.event.as_str()).collect()
}

// ---------------------------------------------------------------------------------------
// 1. Schema migrations

#[tokio::test]
async fn migrations_apply_twice_and_are_recorded() {
    for h in harnesses("migrations_apply_twice_and_are_recorded").await {
        assert_eq!(
            h.store.migrate().await.unwrap(),
            vec![1, 2, 3],
            "{}",
            h.backend
        );
        assert_eq!(
            h.store.migrate().await.unwrap(),
            vec![1, 2, 3],
            "{}",
            h.backend
        );
        let again = h.reopen().await.expect("opening again migrates again");
        assert_eq!(again.migrate().await.unwrap(), vec![1, 2, 3]);
        let owner = h.owner_pool().await;
        let descriptions: Vec<(String,)> =
            sqlx::query_as("SELECT description FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&owner)
                .await
                .unwrap();
        let descriptions: Vec<&str> = descriptions.iter().map(|(d,)| d.as_str()).collect();
        assert_eq!(
            descriptions,
            [
                "init",
                "unset tenant matches nothing",
                "placement and one stat per migration"
            ],
            "{}",
            h.backend
        );
    }
}

// ---------------------------------------------------------------------------------------
// 2. CRUD through the API

#[tokio::test]
async fn crud_through_the_api() {
    for h in harnesses("crud_through_the_api").await {
        let b = h.backend;
        let a = h.store.tenant(&t("acme"));
        assert!(matches!(
            a.create_migration(&m("m1"), Region::UsEast1, &here()).await,
            Err(StoreError::NotFound { what: "tenant" })
        ));
        a.create().await.unwrap();
        assert!(matches!(
            a.create().await,
            Err(StoreError::AlreadyExists { .. })
        ));
        let info = a.info().await.unwrap().expect("tenant");
        assert_eq!(info.licence_ends_at, None);
        let end = datetime!(2027-01-01 0:00 UTC);
        a.set_licence_end(Some(end)).await.unwrap();
        assert_eq!(a.info().await.unwrap().unwrap().licence_ends_at, Some(end));
        assert!(h.store.tenant(&t("_platform")).create().await.is_err());

        let rec = a
            .create_migration(&m("m1"), Region::EuWest1, &here())
            .await
            .unwrap();
        assert_eq!(rec.status, MigrationStatus::Created);
        assert_eq!(rec.placement, Some(here()));
        assert!(matches!(
            a.finish_migration(&m("nope"), true).await,
            Err(StoreError::NotFound { .. })
        ));
        a.start_migration(&m("m1")).await.unwrap();
        assert!(matches!(
            a.start_migration(&m("m1")).await,
            Err(StoreError::WrongStatus { .. })
        ));

        a.put_data_key(&m("m1"), b"wrapped-key").await.unwrap();
        assert!(matches!(
            a.put_data_key(&m("m1"), b"another").await,
            Err(StoreError::AlreadyExists { .. })
        ));
        assert_eq!(
            a.data_key(&m("m1")).await.unwrap().as_deref(),
            Some(&b"wrapped-key"[..])
        );

        a.record_object(&m("m1"), "staging/issues.rec", ObjectClass::Staging, 42)
            .await
            .unwrap();
        assert!(matches!(
            a.record_object(&m("m1"), "../etc/passwd", ObjectClass::Staging, 1)
                .await,
            Err(StoreError::Invalid { .. })
        ));
        assert!(matches!(
            a.record_object(&m("m1"), "Quarterly report.pdf", ObjectClass::Report, 1)
                .await,
            Err(StoreError::Invalid { .. })
        ));
        let objects = a.objects(&m("m1")).await.unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(
            (objects[0].name.as_str(), objects[0].class, objects[0].bytes),
            ("staging/issues.rec", ObjectClass::Staging, 42)
        );

        let grant = PluginGrant {
            app_key: AppKey::new("com.example.timesheets"),
            scopes: vec![DataScope::AppDataOther, DataScope::ProductDataOther],
            namespaces: vec![Namespace::ISSUE, Namespace::WORKLOG],
        };
        a.grant_plugin(&m("m1"), &grant).await.unwrap();
        let grants = a.plugin_grants(&m("m1")).await.unwrap();
        assert_eq!(grants.len(), 1);
        assert_eq!(grants[0].grant, grant);

        a.record_batch_decrypted(&m("m1"), "staging/issues.rec", "worker-1")
            .await
            .unwrap();
        assert!(
            a.record_batch_decrypted(&m("m1"), "staging/issues.rec", "Jane Doe")
                .await
                .is_err()
        );

        let stat = Stat {
            phase_analyse_ms: 1200,
            records_issues: 5000,
            batches: 10,
            plugin_fuel: 123_456,
            error_code: Some(ErrorCode::new("cloud-rate-limited").unwrap()),
            ..Stat::default()
        };
        // One row per migration: a rerun's statistics replace the first run's.
        a.record_stat(&m("m1"), &Stat::default()).await.unwrap();
        a.record_stat(&m("m1"), &stat).await.unwrap();
        let stats = a.stats().await.unwrap();
        assert_eq!(stats.len(), 1, "{b}");
        assert_eq!(stats[0].1, stat, "{b}");
        assert!(matches!(
            a.record_stat(&m("nope"), &stat).await,
            Err(StoreError::NotFound { .. })
        ));

        a.finish_migration(&m("m1"), true).await.unwrap();
        let rec = a.migration(&m("m1")).await.unwrap().unwrap();
        assert_eq!(rec.status, MigrationStatus::Succeeded);
        assert_eq!(rec.region, Region::EuWest1);
        assert!(rec.started_at.is_some() && rec.finished_at.is_some());
        assert_eq!(rec.placement, Some(here()), "{b}");
        assert_eq!(a.migrations().await.unwrap().len(), 1);

        let log = a.audit_log().await.unwrap();
        assert_eq!(
            events(&log),
            [
                "migration-created",
                "migration-started",
                "plugin-enabled",
                "batch-decrypted",
                "migration-finished"
            ],
            "{b}"
        );
        assert_eq!(
            log.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(log[0].detail, "migration=m1 region=eu-west-1");
        assert_eq!(
            log[2].detail,
            "migration=m1 app=com.example.timesheets scopes=app-data-other,product-data-other \
             namespaces=jira:issue,jira:worklog"
        );
        assert_eq!(
            log[3].detail,
            "migration=m1 object=staging/issues.rec worker=worker-1"
        );
        assert_eq!(log[4].detail, "migration=m1 status=succeeded");
    }
}

// ---------------------------------------------------------------------------------------
// 3. Tenancy

#[tokio::test]
async fn tenants_cannot_reach_each_other() {
    for h in harnesses("tenants_cannot_reach_each_other").await {
        seed(&h.store, "tenant-a", b"key-of-a").await;
        seed(&h.store, "tenant-b", b"key-of-b").await;
        let b = h.store.tenant(&t("tenant-b"));
        b.create_migration(&m("only-b"), Region::UsWest2, &here())
            .await
            .unwrap();
        b.put_data_key(&m("only-b"), b"key-only-b").await.unwrap();

        // Through the API, A sees its own rows and nothing of B's.
        let a = h.store.tenant(&t("tenant-a"));
        assert_eq!(
            a.data_key(&m("m1")).await.unwrap().as_deref(),
            Some(&b"key-of-a"[..])
        );
        assert_eq!(a.migration(&m("only-b")).await.unwrap(), None);
        assert_eq!(a.data_key(&m("only-b")).await.unwrap(), None);
        assert!(a.objects(&m("only-b")).await.unwrap().is_empty());
        assert!(a.plugin_grants(&m("only-b")).await.unwrap().is_empty());
        assert_eq!(a.migrations().await.unwrap().len(), 1);
        assert!(matches!(
            a.put_data_key(&m("only-b"), b"x").await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            a.start_migration(&m("only-b")).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(
            a.audit_log()
                .await
                .unwrap()
                .iter()
                .all(|e| !e.detail.contains("only-b"))
        );

        if h.pg.is_none() {
            continue;
        }
        // In PostgreSQL, the database refuses too, whatever SQL the application sends.
        let app = h.app_pool().await;
        let (is_super, bypass): (bool, bool) = sqlx::query_as(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&app)
        .await
        .unwrap();
        assert!(!is_super && !bypass);

        let mut tx = app.begin().await.unwrap();
        sqlx::query("SELECT set_config('airlock.tenant', 'tenant-a', true)")
            .execute(&mut *tx)
            .await
            .unwrap();
        for table in [
            "tenants",
            "migrations",
            "data_keys",
            "objects",
            "plugin_grants",
            "audit_log",
        ] {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT tenant_id FROM {table}"
            )))
            .fetch_all(&mut *tx)
            .await
            .unwrap();
            assert!(!rows.is_empty(), "{table}: A sees its own rows");
            for row in rows {
                let tenant: String = row.get(0);
                assert_eq!(tenant, "tenant-a", "{table}");
            }
        }
        let updated =
            sqlx::query("UPDATE migrations SET status = 'failed' WHERE tenant_id = 'tenant-b'")
                .execute(&mut *tx)
                .await
                .unwrap();
        assert_eq!(updated.rows_affected(), 0);
        let deleted = sqlx::query("DELETE FROM data_keys WHERE tenant_id = 'tenant-b'")
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(deleted.rows_affected(), 0);
        let deleted = sqlx::query("DELETE FROM objects")
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(deleted.rows_affected(), 4, "only A's four objects");
        tx.rollback().await.unwrap();

        // Inserting B's tenant_id in A's context is refused by the policy's WITH CHECK.
        let mut tx = app.begin().await.unwrap();
        sqlx::query("SELECT set_config('airlock.tenant', 'tenant-a', true)")
            .execute(&mut *tx)
            .await
            .unwrap();
        let err = sqlx::query(
            "INSERT INTO audit_log (tenant_id, seq, at, event, actor, detail) \
             VALUES ('tenant-b', 999, 0, 'forged', 'engine', '')",
        )
        .execute(&mut *tx)
        .await
        .expect_err("insert for another tenant");
        assert!(
            err.to_string().contains("row-level security"),
            "unexpected error: {err}"
        );
        tx.rollback().await.unwrap();

        // With no tenant set, nothing is visible.
        for table in ["tenants", "migrations", "data_keys", "audit_log", "stats"] {
            let (n,): (i64,) =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(&app)
                    .await
                    .unwrap();
            assert_eq!(n, 0, "{table} with no tenant set");
        }
        app.close().await;

        // B is untouched.
        assert_eq!(
            b.data_key(&m("m1")).await.unwrap().as_deref(),
            Some(&b"key-of-b"[..])
        );
        assert_eq!(
            b.migration(&m("m1")).await.unwrap().unwrap().status,
            MigrationStatus::Created
        );
    }
}

/// Every table with a tenant_id, and an insert of a row for tenant `tenant` into it that
/// needs no other row (tenants and the audit log have no foreign key).
fn insert_for(table: &str, tenant: &str) -> String {
    match table {
        "tenants" => format!("INSERT INTO tenants (tenant_id, created_at) VALUES ('{tenant}', 0)"),
        "audit_log" => format!(
            "INSERT INTO audit_log (tenant_id, seq, at, event, actor, detail) \
             VALUES ('{tenant}', 1, 0, 'orphan', 'test', 'orphan-row')"
        ),
        _ => unreachable!(),
    }
}

/// Issue 13: no row may have an empty tenant_id, in either backend, whoever inserts it (the
/// owner too), and no API call runs for an empty tenant. Fails on a store without
/// migration 0002 (the inserts succeed).
#[tokio::test]
async fn an_empty_tenant_id_is_refused() {
    for h in harnesses("an_empty_tenant_id_is_refused").await {
        seed(&h.store, "tenant-a", b"key-of-a").await;
        let owner = h.owner_pool().await;
        for table in ["tenants", "audit_log"] {
            let err = sqlx::query(sqlx::AssertSqlSafe(insert_for(table, "")))
                .execute(&owner)
                .await
                .expect_err(table);
            let text = err.to_string();
            assert!(
                text.contains("tenant_id must not be empty")
                    || text.contains("tenant_id_not_empty"),
                "{}: {table}: {text}",
                h.backend
            );
        }
        // An existing row cannot be renamed to the empty tenant either.
        let err = sqlx::query("UPDATE tenants SET tenant_id = '' WHERE tenant_id = 'tenant-a'")
            .execute(&owner)
            .await
            .expect_err("update to an empty tenant");
        let text = err.to_string();
        assert!(
            text.contains("tenant_id must not be empty") || text.contains("tenant_id_not_empty"),
            "{}: {text}",
            h.backend
        );
        owner.close().await;

        // Through the API: a scope for an empty (or the platform's) tenant id does nothing.
        for id in ["", PLATFORM_TENANT] {
            let scope = h.store.tenant(&t(id));
            assert!(
                matches!(
                    scope.audit_log().await,
                    Err(StoreError::Invalid {
                        what: "tenant id",
                        ..
                    })
                ),
                "{}: {id:?}",
                h.backend
            );
            assert!(matches!(
                scope.data_key(&m("m1")).await,
                Err(StoreError::Invalid { .. })
            ));
        }
    }
}

/// Issue 13: in PostgreSQL a connection of airlock_app that has not set the tenant sees no
/// row, even a row whose tenant_id is '' (put there before the constraint existed, or by
/// the owner): neither in a fresh session, where the setting is NULL, nor in a session
/// whose earlier transaction set it, where it reads ''. On main (policies comparing
/// `tenant_id = current_setting(...)`) the second session saw those rows and could insert
/// more.
#[tokio::test]
async fn an_unset_tenant_setting_matches_no_row() {
    for h in harnesses("an_unset_tenant_setting_matches_no_row").await {
        if h.pg.is_none() {
            continue;
        }
        seed(&h.store, "tenant-a", b"key-of-a").await;
        // As the owner: rows of the empty tenant, as a database could hold them before
        // migration 0002 (its constraints dropped for the purpose).
        let owner = h.owner_pool().await;
        for table in ["tenants", "audit_log"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_tenant_id_not_empty"
            )))
            .execute(&owner)
            .await
            .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(insert_for(table, "")))
                .execute(&owner)
                .await
                .unwrap();
        }

        let count_empty = |table: &str| {
            format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = '' OR tenant_id IS NULL")
        };
        // A session that never set the tenant: the setting is NULL.
        let app = h.app_pool().await;
        let mut conn = app.acquire().await.unwrap();
        let (unset,): (Option<String>,) =
            sqlx::query_as("SELECT current_setting('airlock.tenant', true)")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert_eq!(unset, None, "a fresh session");
        for table in ["tenants", "audit_log"] {
            let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(count_empty(table)))
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(
                n, 0,
                "{table}: a fresh session sees no row of the empty tenant"
            );
        }

        // The same session after a tenant's transaction: the setting now reads ''.
        let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
        sqlx::query("SELECT set_config('airlock.tenant', 'tenant-a', true)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let (after,): (Option<String>,) =
            sqlx::query_as("SELECT current_setting('airlock.tenant', true)")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert_eq!(after.as_deref(), Some(""), "the case the fix is about");
        for table in [
            "tenants",
            "migrations",
            "data_keys",
            "objects",
            "plugin_grants",
            "stats",
            "audit_log",
        ] {
            let (n,): (i64,) =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
            assert_eq!(n, 0, "{table}: the setting reads '' and must match no row");
        }
        // Nor can it write a row for the empty tenant: the policy's WITH CHECK refuses it
        // (the constraint is dropped here, so this is the policy alone).
        let err = sqlx::query(sqlx::AssertSqlSafe(insert_for("audit_log", "")))
            .execute(&mut *conn)
            .await
            .expect_err("insert for the empty tenant");
        assert!(
            err.to_string().contains("row-level security"),
            "unexpected error: {err}"
        );
        // Set explicitly to '' for the session: the same.
        sqlx::query("SELECT set_config('airlock.tenant', '', false)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(count_empty("audit_log")))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(n, 0, "set to '' for the session");
        drop(conn);
        app.close().await;

        // The owner still sees them (the maintenance path), and the tenant's own rows are
        // still the tenant's.
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(count_empty("audit_log")))
            .fetch_one(&owner)
            .await
            .unwrap();
        assert_eq!(n, 1);
        owner.close().await;
        let a = h.store.tenant(&t("tenant-a"));
        assert_eq!(
            a.data_key(&m("m1")).await.unwrap().as_deref(),
            Some(&b"key-of-a"[..])
        );
        assert!(
            a.audit_log()
                .await
                .unwrap()
                .iter()
                .all(|e| e.event != "orphan")
        );
    }
}

// ---------------------------------------------------------------------------------------
// 4. The audit log is append-only

/// Two processes (two stores on one database) auditing at once, as a migration's workers
/// do: every event is kept, none fails with "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_audit_writes_are_all_kept() {
    for h in harnesses("concurrent_audit_writes_are_all_kept").await {
        seed(&h.store, "tenant-a", b"key").await;
        let other = h.reopen().await.unwrap();
        let before = h
            .store
            .tenant(&t("tenant-a"))
            .audit_log()
            .await
            .unwrap()
            .len();
        let mut tasks = Vec::new();
        for i in 0..64 {
            let store = if i % 2 == 0 {
                h.store.clone()
            } else {
                other.clone()
            };
            tasks.push(tokio::spawn(async move {
                let scope = store.tenant(&t("tenant-a"));
                // A read in the same process between writes, as the migration's phases do.
                scope.objects(&m("m1")).await?;
                scope
                    .record_batch_decrypted(&m("m1"), "staging/issues.rec", &format!("worker-{i}"))
                    .await
            }));
        }
        for task in tasks {
            task.await
                .unwrap()
                .unwrap_or_else(|e| panic!("{}: {e}", h.backend));
        }
        let log = h.store.tenant(&t("tenant-a")).audit_log().await.unwrap();
        let decrypted = log[before..]
            .iter()
            .filter(|e| e.event == "batch-decrypted")
            .count();
        assert_eq!(decrypted, 64, "{}", h.backend);
        // The sequence has no gap and no duplicate.
        for (i, e) in log.iter().enumerate() {
            assert_eq!(e.seq, i as i64 + 1, "{}", h.backend);
        }
    }
}

#[tokio::test]
async fn audit_log_is_append_only() {
    for h in harnesses("audit_log_is_append_only").await {
        seed(&h.store, "tenant-a", b"key").await;
        let update = "UPDATE audit_log SET detail = 'rewritten' WHERE tenant_id = 'tenant-a'";
        let delete = "DELETE FROM audit_log WHERE tenant_id = 'tenant-a'";

        // The owner (SQLite: anyone with the file) is refused by the trigger.
        let owner = h.owner_pool().await;
        for sql in [update, delete] {
            let err = sqlx::query(sql).execute(&owner).await.expect_err(sql);
            assert!(
                err.to_string().contains("audit_log is append-only"),
                "{}: {err}",
                h.backend
            );
        }
        if h.pg.is_some() {
            let err = sqlx::query("TRUNCATE audit_log")
                .execute(&owner)
                .await
                .expect_err("truncate");
            assert!(err.to_string().contains("append-only"), "{err}");

            // The application role lacks the privilege altogether.
            let app = h.app_pool().await;
            for sql in [update, delete] {
                let mut tx = app.begin().await.unwrap();
                sqlx::query("SELECT set_config('airlock.tenant', 'tenant-a', true)")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                let err = sqlx::query(sql).execute(&mut *tx).await.expect_err(sql);
                let code = err
                    .as_database_error()
                    .and_then(|e| e.code())
                    .map(|c| c.into_owned());
                assert_eq!(code.as_deref(), Some("42501"), "{sql}: {err}");
                assert!(err.to_string().contains("permission denied"), "{err}");
            }
            app.close().await;
        }
        owner.close().await;
        let log = h.store.tenant(&t("tenant-a")).audit_log().await.unwrap();
        assert_eq!(log.len(), 2);
        assert!(log.iter().all(|e| e.detail != "rewritten"));
    }
}

// ---------------------------------------------------------------------------------------
// 5. Retention

#[derive(Default)]
struct FakeBlobs {
    /// Set once the store exists, to look at the key row during a call.
    store: Mutex<Option<Store>>,
    /// (tenant, migration, the key row was still there)
    calls: Mutex<Vec<(String, String, bool)>>,
    fail: std::sync::atomic::AtomicBool,
}

impl BlobSweep for FakeBlobs {
    fn location(&self) -> String {
        FAKE_BLOBS.to_owned()
    }

    fn abort_incomplete(&self, _started_before: time::OffsetDateTime) -> Result<u64, String> {
        Ok(0)
    }

    fn delete_migration(
        &self,
        tenant: &TenantId,
        migration: &MigrationId,
        _region: Region,
    ) -> Result<u64, String> {
        let store = self.store.lock().unwrap().clone().expect("store set");
        let key = tokio::runtime::Handle::current()
            .block_on(store.tenant(tenant).data_key(migration))
            .expect("read key");
        self.calls
            .lock()
            .unwrap()
            .push((tenant.to_string(), migration.to_string(), key.is_some()));
        if self.fail.load(Ordering::SeqCst) {
            return Err("bucket unavailable".into());
        }
        Ok(4)
    }
}

#[derive(Default)]
struct FakeKek {
    destroyed: Mutex<Vec<String>>,
}

impl KekShredder for FakeKek {
    fn location(&self) -> String {
        FAKE_KEYS.to_owned()
    }

    fn destroy_tenant(&self, tenant: &TenantId) -> Result<bool, String> {
        self.destroyed.lock().unwrap().push(tenant.to_string());
        Ok(true)
    }
}

fn fakes(store: &Store) -> (Arc<FakeBlobs>, Arc<FakeKek>) {
    let blobs = Arc::new(FakeBlobs::default());
    *blobs.store.lock().unwrap() = Some(store.clone());
    (blobs, Arc::new(FakeKek::default()))
}

async fn sweep(
    h: &Harness,
    blobs: &Arc<FakeBlobs>,
    kek: &Arc<FakeKek>,
) -> airlock_store::SweepReport {
    let blobs: Arc<dyn BlobSweep> = blobs.clone();
    let kek: Arc<dyn KekShredder> = kek.clone();
    h.store.maintenance().sweep(&blobs, &kek).await.unwrap()
}

const SECRET_KEY: &[u8] = b"\x01WRAPPED-DATA-KEY-0123456789abcdef0123456789abcdef\x02";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_migration_expires_after_30_days_key_first() {
    for h in harnesses("failed_migration_expires_after_30_days_key_first").await {
        let (blobs, kek) = fakes(&h.store);
        seed(&h.store, "tenant-a", SECRET_KEY).await;
        let a = h.store.tenant(&t("tenant-a"));
        a.start_migration(&m("m1")).await.unwrap();
        a.finish_migration(&m("m1"), false).await.unwrap();

        h.clock.advance_days(29);
        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(report.keys_destroyed, 0);
        assert!(blobs.calls.lock().unwrap().is_empty());
        assert!(a.data_key(&m("m1")).await.unwrap().is_some());
        assert_eq!(a.objects(&m("m1")).await.unwrap().len(), 4);

        h.clock.advance_days(2);
        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(
            (
                report.keys_destroyed,
                report.migrations_purged,
                report.blobs_deleted
            ),
            (1, 1, 4)
        );
        assert_eq!(
            *blobs.calls.lock().unwrap(),
            [("tenant-a".to_owned(), "m1".to_owned(), false)],
            "{}: the key row must be gone before the blobs are deleted",
            h.backend
        );
        assert_eq!(a.data_key(&m("m1")).await.unwrap(), None);
        assert!(a.objects(&m("m1")).await.unwrap().is_empty());
        let rec = a.migration(&m("m1")).await.unwrap().unwrap();
        assert!(rec.key_destroyed_at.is_some() && rec.purged_at.is_some());
        let log = a.audit_log().await.unwrap();
        let n = log.len();
        assert_eq!(
            events(&log[n - 2..]),
            ["data-key-destroyed", "retention-deletion"]
        );
        assert_eq!(
            log[n - 1].detail,
            "migration=m1 reason=migration-failed-30d classes=analysis,output,report,staging \
             objects=4 key=destroyed"
        );
        assert!(kek.destroyed.lock().unwrap().is_empty());

        // Swept once: the next sweep does nothing more.
        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(report, airlock_store::SweepReport::default());

        // SQLite's secure_delete and the sweep's checkpoint: the destroyed key's bytes are
        // left neither in the file nor in its write-ahead log, even while the store is open.
        if let Some(path) = &h.sqlite_path {
            for open in [true, false] {
                if !open {
                    h.store.close().await;
                }
                for suffix in ["", "-wal"] {
                    let file = format!("{}{suffix}", path.display());
                    let bytes = std::fs::read(&file).unwrap_or_default();
                    assert!(
                        !bytes.windows(SECRET_KEY.len()).any(|w| w == SECRET_KEY),
                        "the wrapped key is still in {file} (store open: {open})"
                    );
                }
            }
        }
    }
}

/// A second tenant's key, inserted before the one destroyed and kept: the scans below must
/// find it (they read the data) and must not find the destroyed one.
const KEPT_KEY: &[u8] = b"\x01KEPT-WRAPPED-KEY-fedcba9876543210fedcba9876543210\x02";

fn holds(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// Issue 13: a destroyed key is overwritten with zeros of its length, then deleted (a
/// trigger logs what each statement did to the row, without the bytes); in PostgreSQL the
/// table is then rewritten, so the table's file on disk holds neither the key nor a dead
/// version of it, even where a plain VACUUM leaves one (a row inserted after another lands
/// lower in the page, where no live row is moved over it). On main the first event was
/// the delete, and the PostgreSQL heap file still held the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroyed_key_is_overwritten_then_deleted() {
    for h in harnesses("a_destroyed_key_is_overwritten_then_deleted").await {
        let (blobs, kek) = fakes(&h.store);
        seed(&h.store, "tenant-keep", KEPT_KEY).await;
        seed(&h.store, "tenant-a", SECRET_KEY).await;
        let owner = h.owner_pool().await;
        let setup: &[&str] = if h.pg.is_some() {
            &[
                "CREATE TABLE key_events (n SERIAL PRIMARY KEY, op TEXT NOT NULL, \
                 tenant_id TEXT NOT NULL, len BIGINT NOT NULL, zero BIGINT NOT NULL)",
                "CREATE FUNCTION log_key_event() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN \
                   IF TG_OP = 'UPDATE' THEN \
                     INSERT INTO key_events (op, tenant_id, len, zero) VALUES ('update', \
                       NEW.tenant_id, length(NEW.wrapped), \
                       CASE WHEN NEW.wrapped = decode(repeat('00', length(NEW.wrapped)), 'hex') \
                       THEN 1 ELSE 0 END); \
                     RETURN NEW; \
                   END IF; \
                   INSERT INTO key_events (op, tenant_id, len, zero) VALUES ('delete', \
                     OLD.tenant_id, length(OLD.wrapped), \
                     CASE WHEN OLD.wrapped = decode(repeat('00', length(OLD.wrapped)), 'hex') \
                       THEN 1 ELSE 0 END); \
                   RETURN OLD; \
                 END $$",
                "CREATE TRIGGER log_key_event BEFORE UPDATE OR DELETE ON data_keys \
                 FOR EACH ROW EXECUTE FUNCTION log_key_event()",
            ]
        } else {
            &[
                "CREATE TABLE key_events (n INTEGER PRIMARY KEY, op TEXT NOT NULL, \
                 tenant_id TEXT NOT NULL, len INTEGER NOT NULL, zero INTEGER NOT NULL)",
                "CREATE TRIGGER log_key_update BEFORE UPDATE ON data_keys BEGIN \
                 INSERT INTO key_events (op, tenant_id, len, zero) VALUES ('update', \
                   NEW.tenant_id, length(NEW.wrapped), \
                   CASE WHEN NEW.wrapped = zeroblob(length(NEW.wrapped)) THEN 1 ELSE 0 END); END",
                "CREATE TRIGGER log_key_delete BEFORE DELETE ON data_keys BEGIN \
                 INSERT INTO key_events (op, tenant_id, len, zero) VALUES ('delete', \
                   OLD.tenant_id, length(OLD.wrapped), \
                   CASE WHEN OLD.wrapped = zeroblob(length(OLD.wrapped)) THEN 1 ELSE 0 END); END",
            ]
        };
        for sql in setup {
            sqlx::query(sqlx::AssertSqlSafe(*sql))
                .execute(&owner)
                .await
                .unwrap_or_else(|e| panic!("{}: {sql}: {e}", h.backend));
        }

        let a = h.store.tenant(&t("tenant-a"));
        a.finish_migration(&m("m1"), true).await.unwrap();
        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(report.keys_destroyed, 1, "{}", h.backend);
        assert_eq!(a.data_key(&m("m1")).await.unwrap(), None);

        let rows = sqlx::query("SELECT op, tenant_id, len, zero FROM key_events ORDER BY n")
            .fetch_all(&owner)
            .await
            .unwrap();
        let events: Vec<(String, String, i64, i64)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        let len = SECRET_KEY.len() as i64;
        assert_eq!(
            events,
            [
                ("update".to_owned(), "tenant-a".to_owned(), len, 1),
                ("delete".to_owned(), "tenant-a".to_owned(), len, 1),
            ],
            "{}: zeros of the key's length written, then the zeroed row deleted",
            h.backend
        );
        // The other tenant's key is untouched.
        assert_eq!(
            h.store
                .tenant(&t("tenant-keep"))
                .data_key(&m("m1"))
                .await
                .unwrap()
                .as_deref(),
            Some(KEPT_KEY)
        );

        if h.pg.is_some() {
            // The table's file as the server wrote it (CHECKPOINT flushes the buffers).
            sqlx::query("CHECKPOINT").execute(&owner).await.unwrap();
            let (file,): (Vec<u8>,) =
                sqlx::query_as("SELECT pg_read_binary_file(pg_relation_filepath('data_keys'))")
                    .fetch_one(&owner)
                    .await
                    .unwrap();
            assert!(holds(&file, KEPT_KEY), "the scan reads the table's file");
            assert!(
                !holds(&file, SECRET_KEY),
                "the destroyed key is still in the data_keys file"
            );
        }
        owner.close().await;
    }
}

/// PostgreSQL: whether `data_keys`' file, as the server wrote it, holds `key`.
async fn pg_keys_file_holds(owner: &AnyPool, key: &[u8]) -> bool {
    // CHECKPOINT flushes the buffers to the file.
    sqlx::query("CHECKPOINT").execute(owner).await.unwrap();
    let (file,): (Vec<u8>,) =
        sqlx::query_as("SELECT pg_read_binary_file(pg_relation_filepath('data_keys'))")
            .fetch_one(owner)
            .await
            .unwrap();
    assert!(holds(&file, KEPT_KEY), "the scan reads the table's file");
    holds(&file, key)
}

/// Why `a_destroyed_key_is_overwritten_then_deleted` once failed under load: a transaction
/// of another database (here another test's), with an id assigned before the key was
/// deleted and still open, holds back the horizon VACUUM FULL keeps dead row versions for
/// (its own snapshot counts every open transaction of the server), so the rewritten file
/// still held the key. The scrub now waits until every transaction older than itself has
/// ended; if one stays open past the wait, the sweep reports the key may survive, and the
/// next sweep completes the scrub. On main the sweep returned at once and the key stayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_open_elsewhere_delays_the_scrub_until_it_ends() {
    const TEST: &str = "a_transaction_open_elsewhere_delays_the_scrub_until_it_ends";
    for h in harnesses(TEST).await {
        if h.pg.is_none() {
            continue;
        }
        let Some(elsewhere) = TestPostgres::start(TEST).await else {
            continue;
        };
        let other = AnyPoolOptions::new()
            .max_connections(1)
            .connect(elsewhere.owner_url())
            .await
            .unwrap();
        let owner = h.owner_pool().await;
        const SECOND_KEY: &[u8] = b"\x01SECOND-WRAPPED-KEY-0123456789abcdef0123456789abcd\x02";
        let (blobs, kek) = fakes(&h.store);
        seed(&h.store, "tenant-keep", KEPT_KEY).await;
        seed(&h.store, "tenant-a", SECRET_KEY).await;
        seed(&h.store, "tenant-b", SECOND_KEY).await;
        let blobs: Arc<dyn BlobSweep> = blobs;
        let kek: Arc<dyn KekShredder> = kek;

        // 1. Open during the sweep, closed within the wait: the sweep waits, then scrubs.
        let mut open = other.begin().await.unwrap();
        sqlx::query("SELECT pg_current_xact_id()::text")
            .execute(&mut *open)
            .await
            .unwrap();
        h.store
            .tenant(&t("tenant-a"))
            .finish_migration(&m("m1"), true)
            .await
            .unwrap();
        let maintenance = h.store.maintenance();
        let sweeping = tokio::spawn({
            let (blobs, kek) = (blobs.clone(), kek.clone());
            async move { maintenance.sweep(&blobs, &kek).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert!(
            !sweeping.is_finished(),
            "the scrub must wait for the transaction older than itself"
        );
        open.commit().await.unwrap();
        let report = sweeping
            .await
            .unwrap()
            .expect("the sweep completes once it ends");
        assert_eq!(report.keys_destroyed, 1);
        assert!(
            !pg_keys_file_holds(&owner, SECRET_KEY).await,
            "the destroyed key is still in the file"
        );

        // 2. Open past the wait: the key may survive, and the sweep says so; the next sweep
        // (after the transaction ends) scrubs it.
        let mut open = other.begin().await.unwrap();
        sqlx::query("SELECT pg_current_xact_id()::text")
            .execute(&mut *open)
            .await
            .unwrap();
        h.store
            .tenant(&t("tenant-b"))
            .finish_migration(&m("m1"), true)
            .await
            .unwrap();
        let maintenance = h
            .store
            .maintenance()
            .scrub_wait(std::time::Duration::from_millis(500));
        match maintenance.sweep(&blobs, &kek).await {
            Err(StoreError::KeyMaySurvive { why, .. }) => {
                assert!(why.contains("older than the sweep"), "{why}")
            }
            got => panic!("expected KeyMaySurvive, got {got:?}"),
        }
        assert!(
            pg_keys_file_holds(&owner, SECOND_KEY).await,
            "the dead version is kept while it is open"
        );
        open.commit().await.unwrap();
        let report = maintenance.sweep(&blobs, &kek).await.unwrap();
        assert_eq!(report.keys_destroyed, 0, "destroyed by the sweep before");
        assert!(
            !pg_keys_file_holds(&owner, SECOND_KEY).await,
            "the next sweep scrubs what the last one owed"
        );

        other.close().await;
        owner.close().await;
        elsewhere.drop_database().await;
    }
}

/// Issue 13: SQLite's checkpoint after a key is destroyed can be busy (a reader on an old
/// snapshot still needs the log's pages, which hold the key). That is not ignored: the
/// sweep retries, then fails saying the key may survive in the write-ahead log; the key is
/// indeed still there. Once the reader is gone, the next sweep completes the checkpoint
/// and the key is in neither file. On main the sweep succeeded and left the key in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_checkpoint_is_reported_and_retried() {
    for h in harnesses("a_busy_checkpoint_is_reported_and_retried").await {
        let Some(path) = h.sqlite_path.clone() else {
            continue;
        };
        let (blobs, kek) = fakes(&h.store);
        seed(&h.store, "tenant-a", SECRET_KEY).await;
        let a = h.store.tenant(&t("tenant-a"));
        a.finish_migration(&m("m1"), true).await.unwrap();

        // Another connection reads the keys in a transaction it keeps open.
        let reader = h.owner_pool().await;
        let mut snapshot = reader.begin().await.unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM data_keys")
            .fetch_one(&mut *snapshot)
            .await
            .unwrap();
        assert_eq!(n, 1);

        let blobs_dyn: Arc<dyn BlobSweep> = blobs.clone();
        let kek_dyn: Arc<dyn KekShredder> = kek.clone();
        let started = std::time::Instant::now();
        let err = h
            .store
            .maintenance()
            .sweep(&blobs_dyn, &kek_dyn)
            .await
            .expect_err("a busy checkpoint must not pass for a destroyed key");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(err, StoreError::KeyMaySurvive { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("may survive in the SQLite write-ahead log"),
            "{text}"
        );
        assert!(text.contains("run the sweep again"), "{text}");
        // The rest of the sweep was done: the key row and the blobs are gone.
        assert_eq!(a.data_key(&m("m1")).await.unwrap(), None);
        assert!(a.objects(&m("m1")).await.unwrap().is_empty());
        // And the error was true: the log still holds the key.
        let wal = std::fs::read(format!("{}-wal", path.display())).unwrap_or_default();
        assert!(holds(&wal, SECRET_KEY), "the log should still hold the key");

        snapshot.rollback().await.unwrap();
        reader.close().await;
        // Nothing is due any more, but the scrub is owed: this sweep checkpoints.
        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(report, airlock_store::SweepReport::default());
        for suffix in ["", "-wal"] {
            let file = format!("{}{suffix}", path.display());
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(!holds(&bytes, SECRET_KEY), "the key is still in {file}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn succeeded_migration_goes_at_the_next_sweep() {
    for h in harnesses("succeeded_migration_goes_at_the_next_sweep").await {
        let (blobs, kek) = fakes(&h.store);
        seed(&h.store, "tenant-a", b"key").await;
        let a = h.store.tenant(&t("tenant-a"));
        a.create_migration(&m("running"), Region::UsEast1, &here())
            .await
            .unwrap();
        a.put_data_key(&m("running"), b"key2").await.unwrap();
        a.finish_migration(&m("m1"), true).await.unwrap();

        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!((report.keys_destroyed, report.migrations_purged), (1, 1));
        assert_eq!(a.data_key(&m("m1")).await.unwrap(), None);
        assert!(a.objects(&m("m1")).await.unwrap().is_empty());
        let last = a.audit_log().await.unwrap().pop().unwrap();
        assert_eq!(last.event, "retention-deletion");
        assert!(
            last.detail.contains("reason=migration-succeeded"),
            "{}",
            last.detail
        );
        // A migration still going keeps everything.
        assert!(a.data_key(&m("running")).await.unwrap().is_some());
        assert_eq!(blobs.calls.lock().unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_blob_delete_is_retried() {
    for h in harnesses("a_failed_blob_delete_is_retried").await {
        let (blobs, kek) = fakes(&h.store);
        seed(&h.store, "tenant-a", b"key").await;
        let a = h.store.tenant(&t("tenant-a"));
        a.finish_migration(&m("m1"), true).await.unwrap();

        blobs.fail.store(true, Ordering::SeqCst);
        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!((report.keys_destroyed, report.blob_failures), (1, 1));
        assert_eq!(report.left.len(), 1);
        assert_eq!(
            report.left[0].why,
            LeftReason::BlobsUnreachable("bucket unavailable".into())
        );
        assert!(
            report.left[0]
                .to_string()
                .contains("the next sweep retries"),
            "{}",
            report.left[0]
        );
        let rec = a.migration(&m("m1")).await.unwrap().unwrap();
        assert!(rec.key_destroyed_at.is_some(), "the key went first");
        assert!(rec.purged_at.is_none(), "the marker for a retry");
        assert_eq!(a.objects(&m("m1")).await.unwrap().len(), 4);
        assert_eq!(
            a.audit_log().await.unwrap().pop().unwrap().event,
            "retention-deletion-failed"
        );

        blobs.fail.store(false, Ordering::SeqCst);
        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(
            (
                report.keys_destroyed,
                report.migrations_purged,
                report.blob_failures
            ),
            (0, 1, 0)
        );
        assert!(a.objects(&m("m1")).await.unwrap().is_empty());
        assert!(
            a.migration(&m("m1"))
                .await
                .unwrap()
                .unwrap()
                .purged_at
                .is_some()
        );
        assert_eq!(blobs.calls.lock().unwrap().len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_are_kept_12_months() {
    for h in harnesses("statistics_are_kept_12_months").await {
        let (blobs, kek) = fakes(&h.store);
        let a = h.store.tenant(&t("tenant-a"));
        a.create().await.unwrap();
        for id in ["m1", "m2"] {
            a.create_migration(&m(id), Region::UsEast1, &here())
                .await
                .unwrap();
        }
        a.record_stat(
            &m("m1"),
            &Stat {
                batches: 3,
                ..Stat::default()
            },
        )
        .await
        .unwrap();
        h.clock.advance_days(30 * 11 + 5);
        a.record_stat(&m("m2"), &Stat::default()).await.unwrap();
        sweep(&h, &blobs, &kek).await;
        assert_eq!(
            a.stats().await.unwrap().len(),
            2,
            "{}: at 11 months",
            h.backend
        );

        h.clock.advance_days(31);
        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(report.stats_deleted, 1);
        let left = a.stats().await.unwrap();
        assert_eq!(left.len(), 1, "only the one younger than 12 months");
        assert_eq!(left[0].1.batches, 0);
        let last = a.audit_log().await.unwrap().pop().unwrap();
        assert_eq!(
            (last.event.as_str(), last.detail.as_str()),
            ("stats-expired", "rows=1")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_goes_30_days_after_the_licence_ends() {
    for h in harnesses("metadata_goes_30_days_after_the_licence_ends").await {
        let (blobs, kek) = fakes(&h.store);
        seed(&h.store, "tenant-a", b"key-a").await;
        seed(&h.store, "tenant-b", b"key-b").await;
        let a = h.store.tenant(&t("tenant-a"));
        let b = h.store.tenant(&t("tenant-b"));
        a.start_migration(&m("m1")).await.unwrap();
        a.record_stat(&m("m1"), &Stat::default()).await.unwrap();
        a.set_licence_end(Some(h.clock_now())).await.unwrap();

        h.clock.advance_days(29);
        sweep(&h, &blobs, &kek).await;
        assert!(a.info().await.unwrap().is_some());
        assert!(a.data_key(&m("m1")).await.unwrap().is_some());
        assert!(kek.destroyed.lock().unwrap().is_empty());
        // Both migrations are still at work (an object each on day 29), so neither is
        // abandoned by day 31: the licence alone takes tenant-a's, and tenant-b's stays.
        for scope in [&a, &b] {
            scope
                .record_object(&m("m1"), "staging/late.rec", ObjectClass::Staging, 1)
                .await
                .unwrap();
        }

        h.clock.advance_days(2);
        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(report.tenants_expired, 1);
        assert_eq!(*kek.destroyed.lock().unwrap(), ["tenant-a"]);
        assert_eq!(
            *blobs.calls.lock().unwrap(),
            [("tenant-a".to_owned(), "m1".to_owned(), false)]
        );
        assert_eq!(a.info().await.unwrap(), None);
        assert!(a.migrations().await.unwrap().is_empty());
        assert_eq!(a.data_key(&m("m1")).await.unwrap(), None);
        assert!(a.objects(&m("m1")).await.unwrap().is_empty());
        assert!(a.plugin_grants(&m("m1")).await.unwrap().is_empty());
        assert!(a.stats().await.unwrap().is_empty());
        assert!(a.audit_log().await.unwrap().is_empty());
        let platform = h.store.maintenance().platform_audit_log().await.unwrap();
        assert_eq!(events(&platform), ["tenant-expired"]);
        assert_eq!(
            platform[0].detail,
            "migrations=1 audit_rows=5 kek=destroyed"
        );
        assert!(!platform[0].detail.contains("tenant-a"));

        // The other tenant is untouched, and the platform log stays.
        assert!(b.data_key(&m("m1")).await.unwrap().is_some());
        assert_eq!(b.objects(&m("m1")).await.unwrap().len(), 5);
        assert!(report.left.is_empty(), "{:?}", report.left);
        let owner = h.owner_pool().await;
        let err = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM audit_log WHERE tenant_id = '{PLATFORM_TENANT}'"
        )))
        .execute(&owner)
        .await
        .expect_err("platform rows never go");
        assert!(err.to_string().contains("append-only"), "{err}");
        owner.close().await;
    }
}

/// Issue 14: setting up a migration is all or nothing. A step that fails after the rows
/// are written (here the caller's last step, as writing the work directory's file is)
/// leaves no tenant, migration or key row, and no audit event naming them; a step the
/// store refuses (a migration id taken) leaves the existing rows as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_setup_leaves_nothing_behind() {
    for h in harnesses("a_failed_setup_leaves_nothing_behind").await {
        let b = h.backend;
        let a = h.store.tenant(&t("acme"));
        let err = a
            .set_up_migration(&m("m1"), Region::EuWest1, &here(), b"wrapped", || {
                Err("the disk is full".into())
            })
            .await
            .expect_err("the last step failed");
        assert!(
            matches!(err, StoreError::SetupFailed { .. }),
            "{b}: {err:?}"
        );
        assert!(err.to_string().contains("nothing of it was kept"), "{err}");
        assert_eq!(a.info().await.unwrap(), None, "{b}: no tenant");
        assert!(
            a.migrations().await.unwrap().is_empty(),
            "{b}: no migration"
        );
        assert_eq!(a.data_key(&m("m1")).await.unwrap(), None, "{b}: no key");
        assert!(a.audit_log().await.unwrap().is_empty(), "{b}: no event");
        let owner = h.owner_pool().await;
        for table in ["tenants", "migrations", "data_keys", "audit_log"] {
            let (n,): (i64,) =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(&owner)
                    .await
                    .unwrap();
            assert_eq!(n, 0, "{b}: {table}");
        }
        owner.close().await;

        // The same setup whose last step works: all of it is there.
        let mut ran = false;
        let rec = a
            .set_up_migration(&m("m1"), Region::EuWest1, &here(), b"wrapped", || {
                ran = true;
                Ok(())
            })
            .await
            .unwrap();
        assert!(ran);
        assert_eq!(rec.placement, Some(here()));
        assert!(a.info().await.unwrap().is_some(), "{b}");
        assert_eq!(
            a.data_key(&m("m1")).await.unwrap().as_deref(),
            Some(&b"wrapped"[..])
        );
        assert_eq!(events(&a.audit_log().await.unwrap()), ["migration-created"]);

        // A second setup of the same id fails in the store, before its last step; the
        // first migration's rows are as they were, and a second tenant was not made either.
        let again = a
            .set_up_migration(&m("m1"), Region::UsEast1, &here(), b"other", || {
                panic!("not reached")
            })
            .await;
        assert!(
            matches!(again, Err(StoreError::AlreadyExists { .. })),
            "{b}"
        );
        let rec = a.migration(&m("m1")).await.unwrap().unwrap();
        assert_eq!(rec.region, Region::EuWest1);
        assert_eq!(
            a.data_key(&m("m1")).await.unwrap().as_deref(),
            Some(&b"wrapped"[..])
        );
        assert_eq!(a.audit_log().await.unwrap().len(), 1, "{b}");
    }
}

/// Issue 14: a sweep whose blob store is not the one a migration recorded destroys the
/// migration's data key (it lives in this database) but neither deletes, marks purged,
/// audits nor counts its blobs as deleted: it reports the migration as left, saying where
/// its data is. The sweep with that store then purges it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_without_the_migrations_blob_store_leaves_it_and_says_why() {
    for h in harnesses("a_sweep_without_the_migrations_blob_store_leaves_it_and_says_why").await {
        let b = h.backend;
        let (blobs, kek) = fakes(&h.store);
        let a = h.store.tenant(&t("tenant-a"));
        a.create().await.unwrap();
        let elsewhere = Placement::new("s3:https://s3.example.com/airlock-*", FAKE_KEYS).unwrap();
        a.create_migration(&m("m1"), Region::UsEast1, &elsewhere)
            .await
            .unwrap();
        a.put_data_key(&m("m1"), b"key").await.unwrap();
        a.record_object(&m("m1"), "staging/issues.rec", ObjectClass::Staging, 9)
            .await
            .unwrap();
        a.finish_migration(&m("m1"), true).await.unwrap();

        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(
            (
                report.keys_destroyed,
                report.migrations_purged,
                report.blobs_deleted
            ),
            (1, 0, 0),
            "{b}"
        );
        assert!(
            blobs.calls.lock().unwrap().is_empty(),
            "{b}: no delete tried"
        );
        assert_eq!(report.left.len(), 1, "{b}");
        assert_eq!(
            report.left[0].why,
            LeftReason::BlobsElsewhere {
                recorded: "s3:https://s3.example.com/airlock-*".into(),
                held: FAKE_BLOBS.into()
            }
        );
        assert_eq!(
            report.left[0].to_string(),
            "tenant tenant-a migration m1: its data is in s3:https://s3.example.com/airlock-*; \
             this sweep has dir:/srv/airlock/blobs: run the sweep with that blob store"
        );
        let rec = a.migration(&m("m1")).await.unwrap().unwrap();
        assert!(rec.key_destroyed_at.is_some(), "{b}");
        assert!(rec.purged_at.is_none(), "{b}: not purged");
        assert_eq!(
            a.objects(&m("m1")).await.unwrap().len(),
            1,
            "{b}: index kept"
        );
        let log = a.audit_log().await.unwrap();
        assert_eq!(events(&log[log.len() - 1..]), ["data-key-destroyed"], "{b}");

        // Swept again with the same store: still left, nothing more counted or audited.
        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!((report.keys_destroyed, report.migrations_purged), (0, 0));
        assert_eq!(report.left.len(), 1, "{b}");
        assert_eq!(a.audit_log().await.unwrap().len(), log.len(), "{b}");

        // The sweep that holds its store purges it.
        struct There(Arc<FakeBlobs>);
        impl BlobSweep for There {
            fn location(&self) -> String {
                "s3:https://s3.example.com/airlock-*".into()
            }
            fn abort_incomplete(&self, before: time::OffsetDateTime) -> Result<u64, String> {
                self.0.abort_incomplete(before)
            }
            fn delete_migration(
                &self,
                tenant: &TenantId,
                migration: &MigrationId,
                region: Region,
            ) -> Result<u64, String> {
                self.0.delete_migration(tenant, migration, region)
            }
        }
        let there: Arc<dyn BlobSweep> = Arc::new(There(blobs.clone()));
        let kek_dyn: Arc<dyn KekShredder> = kek.clone();
        let report = h.store.maintenance().sweep(&there, &kek_dyn).await.unwrap();
        assert_eq!(
            (report.migrations_purged, report.blobs_deleted),
            (1, 4),
            "{b}"
        );
        assert!(report.left.is_empty(), "{b}");
        let last = a.audit_log().await.unwrap().pop().unwrap();
        assert_eq!(last.event, "retention-deletion", "{b}");
    }
}

/// Issue 14: a tenant whose licence ended is erased only by a sweep holding the key
/// provider its migrations recorded: another provider would "destroy" a KEK it never
/// held. The tenant is left, with the reason, and the platform log says nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_without_the_tenants_key_provider_leaves_it_and_says_why() {
    for h in harnesses("a_sweep_without_the_tenants_key_provider_leaves_it_and_says_why").await {
        let b = h.backend;
        let (blobs, kek) = fakes(&h.store);
        let a = h.store.tenant(&t("tenant-a"));
        a.create().await.unwrap();
        let other_keys = Placement::new(FAKE_BLOBS, "file:/elsewhere/keys").unwrap();
        a.create_migration(&m("m1"), Region::UsEast1, &other_keys)
            .await
            .unwrap();
        a.finish_migration(&m("m1"), true).await.unwrap();
        a.set_licence_end(Some(h.clock_now())).await.unwrap();
        h.clock.advance_days(31);

        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(report.migrations_purged, 1, "{b}: its blobs are here");
        assert_eq!(report.tenants_expired, 0, "{b}");
        assert!(kek.destroyed.lock().unwrap().is_empty(), "{b}: no KEK call");
        assert_eq!(report.left.len(), 1, "{b}");
        assert_eq!(report.left[0].migration, None);
        assert_eq!(
            report.left[0].to_string(),
            "tenant tenant-a: its key-encryption key is in file:/elsewhere/keys; this sweep \
             has file:/srv/airlock/keys: run the sweep with that key provider"
        );
        assert!(a.info().await.unwrap().is_some(), "{b}: the tenant stays");
        let platform = h.store.maintenance().platform_audit_log().await.unwrap();
        assert!(platform.is_empty(), "{b}: {platform:?}");
    }
}

/// Issue 14: a KEK destruction the provider reports as having held none is audited as
/// such (`kek=absent`), never as `kek=destroyed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kek_the_provider_does_not_hold_is_not_reported_destroyed() {
    for h in harnesses("a_kek_the_provider_does_not_hold_is_not_reported_destroyed").await {
        struct NoKek;
        impl KekShredder for NoKek {
            fn location(&self) -> String {
                FAKE_KEYS.into()
            }
            fn destroy_tenant(&self, _: &TenantId) -> Result<bool, String> {
                Ok(false)
            }
        }
        let (blobs, _) = fakes(&h.store);
        let a = h.store.tenant(&t("tenant-a"));
        a.create().await.unwrap();
        a.set_licence_end(Some(h.clock_now())).await.unwrap();
        h.clock.advance_days(31);
        let blobs: Arc<dyn BlobSweep> = blobs;
        let kek: Arc<dyn KekShredder> = Arc::new(NoKek);
        let report = h.store.maintenance().sweep(&blobs, &kek).await.unwrap();
        assert_eq!(report.tenants_expired, 1, "{}", h.backend);
        let platform = h.store.maintenance().platform_audit_log().await.unwrap();
        assert_eq!(platform[0].detail, "migrations=0 audit_rows=0 kek=absent");
    }
}

/// Issue 14: a migration left `created` or `running` with no activity for 30 days is
/// swept like a failed one; activity is its creation, its start or its last object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_migrations_go_after_30_idle_days() {
    for h in harnesses("abandoned_migrations_go_after_30_idle_days").await {
        let b = h.backend;
        let (blobs, kek) = fakes(&h.store);
        let a = h.store.tenant(&t("tenant-a"));
        a.create().await.unwrap();
        for id in ["created", "running", "busy", "late-start"] {
            a.create_migration(&m(id), Region::UsEast1, &here())
                .await
                .unwrap();
            a.put_data_key(&m(id), b"key").await.unwrap();
        }
        a.start_migration(&m("running")).await.unwrap();
        a.start_migration(&m("busy")).await.unwrap();
        h.clock.advance_days(10);
        a.start_migration(&m("late-start")).await.unwrap();
        h.clock.advance_days(19);
        a.record_object(&m("busy"), "staging/issues.rec", ObjectClass::Staging, 1)
            .await
            .unwrap();
        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(report, airlock_store::SweepReport::default(), "{b}: day 29");

        h.clock.advance_days(2);
        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(
            (report.keys_destroyed, report.migrations_purged),
            (2, 2),
            "{b}: day 31"
        );
        for id in ["created", "running"] {
            let rec = a.migration(&m(id)).await.unwrap().unwrap();
            assert!(rec.purged_at.is_some(), "{b}: {id}");
            assert_eq!(a.data_key(&m(id)).await.unwrap(), None, "{b}: {id}");
        }
        for id in ["busy", "late-start"] {
            assert!(a.data_key(&m(id)).await.unwrap().is_some(), "{b}: {id}");
        }
        let details: Vec<String> = a
            .audit_log()
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event == "retention-deletion")
            .map(|e| e.detail)
            .collect();
        assert_eq!(
            details,
            [
                "migration=created reason=migration-abandoned-30d classes=none objects=4 key=destroyed",
                "migration=running reason=migration-abandoned-30d classes=none objects=4 key=destroyed",
            ],
            "{b}"
        );
    }
}

/// Issue 14: a migration created before the store recorded its placement (a row of schema
/// migration 0002's shape) is unknown: the sweep destroys its key but leaves its blobs and
/// says so, until the operator records this sweep's stores on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_without_a_recorded_placement_is_left_until_adopted() {
    for h in harnesses("a_migration_without_a_recorded_placement_is_left_until_adopted").await {
        let b = h.backend;
        let (blobs, kek) = fakes(&h.store);
        seed(&h.store, "tenant-a", b"key").await;
        let owner = h.owner_pool().await;
        sqlx::query("UPDATE migrations SET blob_store = NULL, key_provider = NULL")
            .execute(&owner)
            .await
            .unwrap();
        owner.close().await;
        let a = h.store.tenant(&t("tenant-a"));
        assert_eq!(
            a.migration(&m("m1")).await.unwrap().unwrap().placement,
            None
        );
        a.finish_migration(&m("m1"), true).await.unwrap();

        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(
            (report.keys_destroyed, report.migrations_purged),
            (1, 0),
            "{b}"
        );
        assert!(
            matches!(report.left[0].why, LeftReason::Unrecorded { .. }),
            "{b}"
        );
        assert!(
            report.left[0]
                .to_string()
                .contains("created before Airlock recorded where"),
            "{}",
            report.left[0]
        );
        assert!(blobs.calls.lock().unwrap().is_empty(), "{b}");

        let adopted = h
            .store
            .maintenance()
            .adopt_unrecorded(&here())
            .await
            .unwrap();
        assert_eq!(adopted, 1, "{b}");
        let last = a.audit_log().await.unwrap().pop().unwrap();
        assert_eq!(
            (last.event.as_str(), last.detail.as_str()),
            ("placement-recorded", "migrations=1")
        );
        let report = sweep(&h, &blobs, &kek).await;
        assert_eq!(report.migrations_purged, 1, "{b}");
        assert!(report.left.is_empty(), "{b}");
    }
}

impl Harness {
    fn clock_now(&self) -> time::OffsetDateTime {
        use airlock_store::Clock;
        self.clock.now()
    }
}

// ---------------------------------------------------------------------------------------
// 6. Statistics

#[tokio::test]
async fn stats_table_holds_only_allow_listed_columns() {
    for h in harnesses("stats_table_holds_only_allow_listed_columns").await {
        let owner = h.owner_pool().await;
        let sql = if h.pg.is_some() {
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'stats'"
        } else {
            "SELECT name FROM pragma_table_info('stats')"
        };
        let mut actual: Vec<String> = sqlx::query_as::<_, (String,)>(sql)
            .fetch_all(&owner)
            .await
            .unwrap()
            .into_iter()
            .map(|(c,)| c)
            .collect();
        actual.sort();
        let mut allowed: Vec<String> = STAT_COLUMNS
            .iter()
            .chain(STAT_KEY_COLUMNS)
            .map(|c| c.to_string())
            .collect();
        allowed.sort();
        assert_eq!(
            actual, allowed,
            "{}: stats columns vs STAT_COLUMNS",
            h.backend
        );
        owner.close().await;
    }
}

#[test]
fn error_codes_are_validated() {
    for good in ["cloud-rate-limited", "e42", "a"] {
        assert!(ErrorCode::new(good).is_ok(), "{good}");
    }
    let long = "a".repeat(65);
    for bad in [
        "",
        "Cloud-Rate-Limited",
        "jane.doe@example.com",
        "https://jira.example.com",
        "no spaces",
        "PROJ-123 summary",
        long.as_str(),
    ] {
        assert!(ErrorCode::new(bad).is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn stats_export_has_only_allow_listed_fields() {
    for h in harnesses("stats_export_has_only_allow_listed_fields").await {
        seed(&h.store, "tenant-secretcorp", b"k").await;
        seed(&h.store, "tenant-othercorp", b"k").await;
        for tenant in ["tenant-secretcorp", "tenant-othercorp"] {
            h.store
                .tenant(&t(tenant))
                .record_stat(
                    &m("m1"),
                    &Stat {
                        records_issues: 7,
                        error_code: Some(ErrorCode::new("load-failed").unwrap()),
                        ..Stat::default()
                    },
                )
                .await
                .unwrap();
        }
        let since = h.clock_now() - time::Duration::days(1);
        let out = h
            .store
            .maintenance()
            .export_stats_jsonl(since)
            .await
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("tenant-"), "{text}");
        assert!(!text.contains("m1"), "{text}");
        assert!(!text.contains("stat_id"), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for line in lines {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let mut keys: Vec<&str> = value
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort();
            let mut allowed = STAT_COLUMNS.to_vec();
            allowed.sort();
            assert_eq!(keys, allowed);
            assert_eq!(value["records_issues"], 7);
            assert_eq!(value["error_code"], "load-failed");
        }
        let later = h.clock_now() + time::Duration::days(1);
        assert!(
            h.store
                .maintenance()
                .export_stats_jsonl(later)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_export_posts_over_https_only() {
    assert!(matches!(
        StatsExporter::new("http://127.0.0.1:9/stats", None),
        Err(StoreError::Invalid { .. })
    ));
    for h in harnesses("stats_export_posts_over_https_only").await {
        let a = h.store.tenant(&t("tenant-a"));
        a.create().await.unwrap();
        a.create_migration(&m("m1"), Region::UsEast1, &here())
            .await
            .unwrap();
        a.record_stat(
            &m("m1"),
            &Stat {
                batches: 2,
                ..Stat::default()
            },
        )
        .await
        .unwrap();
        let body = h
            .store
            .maintenance()
            .export_stats_jsonl(time::OffsetDateTime::UNIX_EPOCH)
            .await
            .unwrap();
        assert!(!body.is_empty());

        let server = https::Server::start().await;
        let exporter = StatsExporter::new(
            &format!("https://{}/stats", server.addr),
            Some(&server.ca_pem),
        )
        .unwrap();
        exporter.send(body.clone()).await.unwrap();
        let received = server.received.lock().unwrap().clone();
        assert_eq!(received.len(), 1, "{}", h.backend);
        assert_eq!(received[0].0, "/stats");
        assert_eq!(received[0].1, "application/x-ndjson");
        assert_eq!(received[0].2, body);

        // A server the exporter does not trust is refused.
        let untrusted =
            StatsExporter::new(&format!("https://{}/stats", server.addr), None).unwrap();
        assert!(matches!(
            untrusted.send(body).await,
            Err(StoreError::Export(_))
        ));
        assert_eq!(server.received.lock().unwrap().len(), 1);
    }
}

/// A local HTTPS server on 127.0.0.1 that records each request's path, content type and body.
mod https {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use http_body_util::{BodyExt, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response};

    type Received = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

    pub struct Server {
        pub addr: SocketAddr,
        pub ca_pem: String,
        pub received: Received,
    }

    impl Server {
        pub async fn start() -> Server {
            let certs = airlock_tls::test_certificates("Airlock test statistics endpoint").unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(certs.server);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let received: Received = Arc::default();
            let log = received.clone();
            tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let acceptor = acceptor.clone();
                    let log = log.clone();
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                            let log = log.clone();
                            async move {
                                let path = req.uri().path().to_owned();
                                let ctype = req
                                    .headers()
                                    .get(hyper::header::CONTENT_TYPE)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or_default()
                                    .to_owned();
                                let body = req.into_body().collect().await?.to_bytes().to_vec();
                                log.lock().unwrap().push((path, ctype, body));
                                Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::new())))
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                            .await;
                    });
                }
            });
            Server {
                addr,
                ca_pem: certs.ca_pem,
                received,
            }
        }
    }
}
