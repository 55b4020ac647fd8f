//! The README's production guide, run: its PostgreSQL roles and grants (the SQL block
//! between the `production-sql` fences) applied as written to a fresh database, then the
//! store opened with those roles exactly as production does: the schema owner (not a
//! superuser) applies the migrations and sweeps, `airlock_app` connects, and row-level
//! security holds. A guide whose SQL does not run, or gives roles the store refuses, fails
//! here rather than at an operator's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use airlock_model::{MigrationId, Region, TenantId};
use airlock_store::testing::TestPostgres;
use airlock_store::{
    BlobSweep, KekShredder, Maintenance, Placement, SimClock, Store, StoreError, SweepReport,
};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe};
use time::macros::datetime;

const BEGIN_FENCE: &str = "<!-- production-sql: begin";
const END_FENCE: &str = "<!-- production-sql: end -->";

/// The SQL block between the README's fences.
fn readme_sql() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let start = readme.find(BEGIN_FENCE).expect("the README's begin fence");
    let end = readme[start..]
        .find(END_FENCE)
        .expect("the README's end fence")
        + start;
    let fenced = &readme[start..end];
    let code = fenced
        .split_once("```sql\n")
        .expect("a ```sql block between the fences")
        .1;
    code.rsplit_once("```")
        .expect("the block's closing ```")
        .0
        .to_owned()
}

/// What the guide runs, in order: SQL statements, and psql's `\connect`.
#[derive(Debug, PartialEq)]
enum Step {
    Sql(String),
    Connect(String),
}

/// Splits the block into statements (each ends with `;` at the end of a line; the guide
/// has no function bodies) and psql meta-commands; `\password` prompts, so it is left out
/// (the test server trusts loopback). Comments stay: the server ignores them.
fn steps(sql: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut statement = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if let Some(meta) = trimmed.strip_prefix('\\') {
            let mut words = meta.split_whitespace();
            match (words.next(), words.next()) {
                (Some("connect" | "c"), Some(db)) => steps.push(Step::Connect(db.to_owned())),
                (Some("password"), Some(_)) => {}
                other => panic!("the guide's psql command {other:?} is not understood here"),
            }
            continue;
        }
        statement.push_str(line);
        statement.push('\n');
        if trimmed.ends_with(';') {
            steps.push(Step::Sql(std::mem::take(&mut statement)));
        }
    }
    assert!(
        statement
            .lines()
            .all(|l| l.trim().is_empty() || l.trim().starts_with("--")),
        "a statement without its closing semicolon: {statement}"
    );
    steps
}

/// `text` with every identifier token `from` (a whole word: letters, digits and `_`)
/// replaced by `to`, so the guide's names can be made unique for this run.
fn rename(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(if word == from { to } else { word });
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

async fn pool(url: &str) -> AnyPool {
    AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// `postgres://user@host:port/db` from the admin URL's host.
fn url(admin_url: &str, user: &str, db: &str) -> String {
    let base = admin_url
        .rsplit_once('/')
        .expect("admin URL names a database")
        .0;
    let host = base.rsplit_once('@').expect("admin URL names a user").1;
    format!("postgres://{user}@{host}/{db}")
}

/// The test's own names for the guide's role and database: roles are cluster-wide, and
/// tests (and runs) share the server.
fn unique(stem: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{stem}_guide_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

struct NoBlobs;

impl BlobSweep for NoBlobs {
    fn location(&self) -> String {
        "dir:/srv/airlock/blobs".into()
    }
    fn delete_migration(&self, _: &TenantId, _: &MigrationId, _: Region) -> Result<u64, String> {
        Ok(0)
    }
    fn abort_incomplete(&self, _: time::OffsetDateTime) -> Result<u64, String> {
        Ok(0)
    }
}

struct NoKek;

impl KekShredder for NoKek {
    fn location(&self) -> String {
        "file:/srv/airlock/keys".into()
    }
    fn destroy_tenant(&self, _: &TenantId) -> Result<bool, String> {
        Ok(false)
    }
}

async fn sweep(maintenance: Maintenance) -> Result<SweepReport, StoreError> {
    let blobs: Arc<dyn BlobSweep> = Arc::new(NoBlobs);
    let kek: Arc<dyn KekShredder> = Arc::new(NoKek);
    maintenance.sweep(&blobs, &kek).await
}

#[test]
fn the_guide_splits_into_its_statements() {
    let steps = steps(&readme_sql());
    assert!(
        steps
            .iter()
            .any(|s| matches!(s, Step::Connect(db) if db == "airlock"))
    );
    let sql: Vec<&str> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Sql(sql) => Some(sql.as_str()),
            Step::Connect(_) => None,
        })
        .collect();
    for needle in [
        "CREATE ROLE airlock_owner LOGIN NOSUPERUSER NOBYPASSRLS",
        "CREATE ROLE airlock_app LOGIN NOSUPERUSER NOBYPASSRLS",
        "CREATE DATABASE airlock OWNER airlock_owner",
    ] {
        assert!(sql.iter().any(|s| s.contains(needle)), "{needle}");
    }
    assert_eq!(
        rename(
            "GRANT CONNECT ON DATABASE airlock TO airlock_app;",
            "airlock",
            "db1"
        ),
        "GRANT CONNECT ON DATABASE db1 TO airlock_app;"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_roles_and_grants_run_and_hold() {
    // For the server and its skip-or-require rule; the guide makes its own database.
    let Some(server) = TestPostgres::start("the_readme_roles_and_grants_run_and_hold").await else {
        return;
    };
    let admin_url = server.admin_url().to_owned();
    let (owner_role, db) = (unique("airlock_owner"), unique("airlock"));
    let guide = rename(
        &rename(&readme_sql(), "airlock_owner", &owner_role),
        "airlock",
        &db,
    );

    // 1. The guide, statement by statement, as a superuser.
    let mut conn = pool(&admin_url).await;
    for step in steps(&guide) {
        match step {
            Step::Connect(to) => {
                conn.close().await;
                // The same superuser, in the database the guide moves into.
                let server = admin_url
                    .rsplit_once('/')
                    .expect("admin URL names a database")
                    .0;
                conn = pool(&format!("{server}/{to}")).await;
            }
            Step::Sql(sql) => {
                let run = sqlx::query(AssertSqlSafe(sql.clone())).execute(&conn).await;
                match run {
                    Ok(_) => {}
                    // airlock_app is cluster-wide and the other tests' too: where it
                    // exists, the guide's attributes are applied to it instead.
                    Err(e) if sql.contains("CREATE ROLE airlock_app") && is_duplicate(&e) => {
                        let alter = sql.replace("CREATE ROLE", "ALTER ROLE");
                        sqlx::query(AssertSqlSafe(alter))
                            .execute(&conn)
                            .await
                            .unwrap_or_else(|e| panic!("{sql}: {e}"));
                    }
                    Err(e) => panic!("the guide's SQL fails: {sql}: {e}"),
                }
            }
        }
    }
    conn.close().await;

    // 2. The store, as production opens it: the owner (no superuser) migrates.
    let owner_url = url(&admin_url, &owner_role, &db);
    let app_url = url(&admin_url, "airlock_app", &db);
    let clock = Arc::new(SimClock::new(datetime!(2026-01-01 0:00 UTC)));
    let store = Store::open_postgres(&app_url, &owner_url, clock.clone())
        .await
        .expect("the store opens with the guide's roles");
    let owner = pool(&owner_url).await;
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&owner)
            .await
            .unwrap();
    assert!(
        !superuser && !bypass,
        "the owner the guide makes is neither"
    );
    assert_eq!(store.migrate().await.unwrap(), [1, 2, 3], "all applied");

    let placement = Placement::new("dir:/srv/airlock/blobs", "file:/srv/airlock/keys").unwrap();
    let m1 = MigrationId::new("m1");
    for tenant in ["tenant-a", "tenant-b"] {
        let scope = store.tenant(&TenantId::new(tenant));
        scope.create().await.unwrap();
        scope
            .create_migration(&m1, Region::EuCentral1, &placement)
            .await
            .unwrap();
        scope.put_data_key(&m1, tenant.as_bytes()).await.unwrap();
    }

    // 3. Row-level security, as airlock_app: one tenant's transaction sees its rows only,
    // none without a tenant, and the audit log cannot be rewritten.
    let app = pool(&app_url).await;
    let count = |tenant: Option<&'static str>, table: &'static str| {
        let app = app.clone();
        async move {
            let mut tx = app.begin().await.unwrap();
            if let Some(tenant) = tenant {
                sqlx::query("SELECT set_config('airlock.tenant', $1, true)")
                    .bind(tenant)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            let (n,): (i64,) = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {table} WHERE tenant_id = 'tenant-a'"
            )))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            tx.rollback().await.unwrap();
            n
        }
    };
    for table in ["tenants", "migrations", "data_keys", "audit_log"] {
        assert!(
            count(Some("tenant-a"), table).await > 0,
            "{table}: own rows"
        );
        assert_eq!(count(Some("tenant-b"), table).await, 0, "{table}: other's");
        assert_eq!(count(None, table).await, 0, "{table}: no tenant set");
    }
    for sql in [
        "UPDATE audit_log SET detail = 'rewritten'",
        "DELETE FROM audit_log",
        "DELETE FROM migrations",
        "CREATE TABLE sneaky (x INT)",
    ] {
        let mut tx = app.begin().await.unwrap();
        sqlx::query("SELECT set_config('airlock.tenant', 'tenant-a', true)")
            .execute(&mut *tx)
            .await
            .unwrap();
        let err = sqlx::query(AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .expect_err(sql);
        let code = err.as_database_error().and_then(|e| e.code());
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: {err}");
    }
    app.close().await;

    // 4. The maintenance path as that owner: the sweep destroys a key and rewrites the
    // table (VACUUM FULL needs ownership), reading the server's activity unprivileged.
    store
        .tenant(&TenantId::new("tenant-a"))
        .finish_migration(&m1, true)
        .await
        .unwrap();
    let report = sweep(store.maintenance())
        .await
        .expect("the owner can sweep");
    assert_eq!(report.keys_destroyed, 1);
    assert_eq!(
        store
            .tenant(&TenantId::new("tenant-b"))
            .data_key(&m1)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"tenant-b"[..])
    );

    owner.close().await;
    store.close().await;
    let admin = pool(&admin_url).await;
    for sql in [
        format!("DROP DATABASE \"{db}\" WITH (FORCE)"),
        format!("DROP ROLE \"{owner_role}\""),
    ] {
        sqlx::query(AssertSqlSafe(sql.clone()))
            .execute(&admin)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    admin.close().await;
    server.drop_database().await;
}

fn is_duplicate(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == "42710")
}
