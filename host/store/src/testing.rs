//! [`TestPostgres`]: a fresh PostgreSQL database per test, for the tests of this crate and
//! of the crates above it (`airlock-store = { workspace = true, features = ["testing"] }`
//! as a dev-dependency).
//!
//! The server is found at `AIRLOCK_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`: a superuser, trust auth on loopback). Each
//! database gets a random name, the schema migrated as the owner (that superuser) and the
//! `airlock_app` role (cluster-wide, created if missing), so a store opened on it runs
//! exactly as in production: tenant queries as `airlock_app` under row-level security.
//!
//! When the server is not reachable, [`TestPostgres::start`] prints one loud `SKIPPED` line
//! on stderr and returns `None`, so the test runs its other backends only; unless
//! PostgreSQL is required ([`postgres_required`]: `CI` set, or
//! `AIRLOCK_REQUIRE_POSTGRES=1`), in which case it panics with how to start the server.
//! A silent skip would let a CI run pass without ever touching PostgreSQL.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, AssertSqlSafe, Connection};

use crate::{APP_ROLE, Clock, POSTGRES_MIGRATOR, Store, StoreError};

/// The admin connection used when `AIRLOCK_TEST_POSTGRES` is not set.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How to start the server of this workspace's development container.
pub const HOW_TO_START: &str =
    "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

/// Whether a test must fail, rather than skip, when PostgreSQL is unreachable: in CI (`CI`
/// set) or when `AIRLOCK_REQUIRE_POSTGRES=1`.
pub fn postgres_required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("AIRLOCK_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// A throwaway database with the schema applied. Dropped (best effort, `WITH (FORCE)`) by
/// [`drop_database`](TestPostgres::drop_database) or, failing that, when dropped.
#[derive(Debug)]
pub struct TestPostgres {
    admin_url: String,
    name: String,
    owner_url: String,
    app_url: String,
    /// Set once the database is gone, so `Drop` does not try again.
    dropped: bool,
}

impl TestPostgres {
    /// A fresh database with the schema applied and the app role ready. `None` when the
    /// server is unreachable and not required (after a `SKIPPED` line on stderr naming
    /// `test`).
    ///
    /// # Panics
    /// When PostgreSQL is required but unreachable (with the hint to start it), or when the
    /// server is reachable but the role, the database or the schema cannot be created.
    pub async fn start(test: &str) -> Option<TestPostgres> {
        let admin_url =
            std::env::var("AIRLOCK_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_ADMIN_URL.into());
        let admin = match admin_pool(&admin_url).await {
            Ok(pool) => pool,
            Err(e) => {
                if postgres_required() {
                    panic!(
                        "PostgreSQL is required (CI or AIRLOCK_REQUIRE_POSTGRES=1) but \
                         {admin_url} is not reachable: {e}; {HOW_TO_START}"
                    );
                }
                // Straight to stderr: libtest captures eprintln! of a passing test.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** SKIPPED: {test} ran without PostgreSQL: {admin_url} is not \
                     reachable ({e}); {HOW_TO_START} ***\n"
                );
                return None;
            }
        };
        // Roles are cluster-wide: create it if missing; another test may be doing the same.
        sqlx::query(AssertSqlSafe(format!(
            "DO $$ BEGIN \
               CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; \
             END $$"
        )))
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("create role {APP_ROLE} at {admin_url}: {e}"));
        let name = unique_name();
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&admin)
            .await
            .unwrap_or_else(|e| panic!("create test database {name} at {admin_url}: {e}"));
        admin.close().await;

        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("AIRLOCK_TEST_POSTGRES must name a database: postgres://user@host:port/db");
        let (_, host) = base
            .rsplit_once('@')
            .expect("AIRLOCK_TEST_POSTGRES must name a user: postgres://user@host:port/db");
        let db = TestPostgres {
            owner_url: format!("{base}/{name}"),
            app_url: format!("postgres://{APP_ROLE}@{host}/{name}"),
            admin_url,
            name,
            dropped: false,
        };
        // From here on a panic drops `db`, and with it the database.
        let owner = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&db.owner_url)
            .await
            .unwrap_or_else(|e| panic!("connect to test database {}: {e}", db.name));
        POSTGRES_MIGRATOR
            .run(&owner)
            .await
            .unwrap_or_else(|e| panic!("migrate test database {}: {e}", db.name));
        owner.close().await;
        Some(db)
    }

    /// [`start`](TestPostgres::start) for synchronous tests (and safe inside a runtime): it
    /// runs on a thread with a runtime of its own.
    pub fn start_blocking(test: &str) -> Option<TestPostgres> {
        let test = test.to_owned();
        block_on_own_thread(async move { TestPostgres::start(&test).await })
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// The server's superuser connection (`AIRLOCK_TEST_POSTGRES`), on its admin database.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The database's name (`airlock_test_…`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `postgres://airlock_app@<host>/<db>`: what the application connects with.
    pub fn app_url(&self) -> &str {
        &self.app_url
    }

    /// `postgres://<admin user>@<host>/<db>`: the schema owner, for migrations and maintenance.
    pub fn owner_url(&self) -> &str {
        &self.owner_url
    }

    /// A store on this database, as production opens one (app and owner connections).
    pub async fn store(&self, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        Store::open_postgres(&self.app_url, &self.owner_url, clock).await
    }

    /// Drops the database now (best effort: connections still open are terminated).
    pub async fn drop_database(mut self) {
        drop_database(&self.admin_url, &self.name).await;
        self.dropped = true;
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime, where blocking on it would panic: a thread with a
        // runtime of its own does the DROP DATABASE.
        let _ = block_on_own_thread(async move { drop_database(&admin_url, &name).await });
    }
}

/// Runs `future` to completion on a new thread with a current-thread runtime; the panic
/// payload if it panicked (or the runtime could not start).
fn block_on_own_thread<T: Send + 'static>(
    future: impl Future<Output = T> + Send + 'static,
) -> std::thread::Result<T> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime for the test database")
            .block_on(future)
    })
    .join()
}

async fn drop_database(admin_url: &str, name: &str) {
    let Ok(admin) = admin_pool(admin_url).await else {
        return;
    };
    let dropped = sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
    if let Err(e) = dropped {
        tracing::warn!(database = name, error = %e, "could not drop a test database");
    }
    admin.close().await;
}

/// One connection, probed first: a refused connection reports as such, not as a pool
/// timeout.
async fn admin_pool(url: &str) -> Result<AnyPool, sqlx::Error> {
    install_default_drivers();
    let probe = tokio::time::timeout(Duration::from_secs(3), sqlx::AnyConnection::connect(url))
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    probe.close().await?;
    AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .connect(url)
        .await
}

/// Unique across the tests of a process and, by pid and time, across processes.
fn unique_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "airlock_test_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
