//! The metadata store: tenants, migrations, wrapped data keys, the index of sealed objects,
//! plugin grants, anonymized statistics and the audit log, in SQLite (embedded default) or
//! PostgreSQL (production), behind one API.
//!
//! Every call is made in a tenant's context through [`Store::tenant`]; its queries all filter
//! by that tenant. In PostgreSQL the database enforces the same: row-level security on every
//! table, the tenant set per transaction (`airlock.tenant`), and the application connecting
//! as `airlock_app`, which owns nothing and cannot bypass the policies. A connection that has
//! not set the tenant (or set it empty) matches no row, and no table accepts an empty
//! `tenant_id` (migration 0002, in both backends). The one cross-tenant
//! path is [`Store::maintenance`] (retention sweep, statistics export), which connects as
//! the schema owner.
//!
//! Architecture invariant: this crate stores no customer data. Keys are stored wrapped
//! (opaque bytes from the vault), object names are Airlock's own, statistics are counts and
//! error codes, audit details are codes, counts and ids.
//!
//! Queries are checked at run time (no database at build time) and go through sqlx's `Any`
//! driver, so one SQL text serves both backends (`$1` placeholders work in both).
//!
//! With the `testing` feature, `testing::TestPostgres` gives each test a fresh PostgreSQL
//! database, for this crate's tests and the crates above it.

mod audit;
mod clock;
mod error;
mod maintenance;
mod placement;
mod stats;
mod tenant;
#[cfg(feature = "testing")]
pub mod testing;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use airlock_model::TenantId;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use audit::AuditEntry;
pub use clock::{Clock, SimClock, SystemClock};
pub use error::StoreError;
pub use maintenance::{
    ABANDONED_AFTER, BlobSweep, CHECKPOINT_ATTEMPTS, FAILED_RETENTION, INCOMPLETE_UPLOAD_AGE,
    KekShredder, LICENCE_GRACE, LeftBehind, LeftReason, Maintenance, PLATFORM_TENANT, SCRUB_WAIT,
    STATS_RETENTION, SweepReport,
};
pub use placement::Placement;
pub use stats::{ErrorCode, STAT_COLUMNS, STAT_KEY_COLUMNS, Stat, StatsExporter};
pub use tenant::{
    GrantRecord, MigrationRecord, MigrationStatus, ObjectClass, ObjectRecord, PluginGrant,
    TenantRecord, TenantScope,
};

/// The application role in PostgreSQL: not the owner, not superuser, no BYPASSRLS.
pub const APP_ROLE: &str = "airlock_app";

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Which database a [`Store`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The metadata store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// Tenant-scoped work. In PostgreSQL: connected as `airlock_app`.
    app: AnyPool,
    /// Schema migrations and maintenance. In PostgreSQL: connected as the owner. In SQLite
    /// the same pool as `app`.
    owner: AnyPool,
    clock: Arc<dyn Clock>,
    /// A retention sweep destroyed keys but could not scrub what the database keeps of
    /// them (a busy checkpoint, a failed VACUUM): the next sweep tries again.
    scrub_owed: AtomicBool,
}

impl Store {
    /// Opens (creating if missing) a SQLite store in `path` and applies the migrations.
    pub async fn open_sqlite(path: &Path, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        install_default_drivers();
        let path = path.to_str().ok_or_else(|| StoreError::Invalid {
            what: "SQLite path",
            why: "it must be UTF-8".into(),
        })?;
        let url = format!("sqlite://{path}?mode=rwc");
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            // Per connection: a destroyed data key's bytes are overwritten, not just freed.
            // Write-ahead logging: a commit is one append and one fsync (a rollback journal
            // costs three, ~4 ms here, and a migration audits every object it opens);
            // synchronous stays FULL, so a commit survives power loss.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA secure_delete = ON").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|source| StoreError::Open {
                backend: "sqlite",
                source,
            })?;
        SQLITE_MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                backend: "sqlite",
                source,
            })?;
        tracing::debug!(backend = "sqlite", "metadata store open");
        Ok(Store {
            inner: Arc::new(Inner {
                backend: Backend::Sqlite,
                app: pool.clone(),
                owner: pool,
                clock,
                scrub_owed: AtomicBool::new(false),
            }),
        })
    }

    /// Opens a PostgreSQL store: applies the migrations over `owner_url` (the schema owner,
    /// kept for [`Store::maintenance`]) and serves tenants over `app_url`, which must log in
    /// as [`APP_ROLE`]. Refuses an `app_url` whose role could bypass row-level security.
    pub async fn open_postgres(
        app_url: &str,
        owner_url: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Store, StoreError> {
        install_default_drivers();
        let open = |source| StoreError::Open {
            backend: "postgres",
            source,
        };
        let owner = AnyPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect(owner_url)
            .await
            .map_err(open)?;
        POSTGRES_MIGRATOR
            .run(&owner)
            .await
            .map_err(|source| StoreError::Migrate {
                backend: "postgres",
                source,
            })?;
        let app = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(app_url)
            .await
            .map_err(open)?;
        let (role, unsafe_role): (String, i64) = sqlx::query_as(
            "SELECT current_user::text, COUNT(*) FROM pg_roles \
             WHERE rolname = current_user AND (rolsuper OR rolbypassrls)",
        )
        .fetch_one(&app)
        .await
        .map_err(error::query("pg_roles"))?;
        if role != APP_ROLE || unsafe_role != 0 {
            return Err(StoreError::Invalid {
                what: "application connection",
                why: format!(
                    "it must log in as {APP_ROLE} (not superuser, no BYPASSRLS), not as {role:?}"
                ),
            });
        }
        tracing::debug!(backend = "postgres", "metadata store open");
        Ok(Store {
            inner: Arc::new(Inner {
                backend: Backend::Postgres,
                app,
                owner,
                clock,
                scrub_owed: AtomicBool::new(false),
            }),
        })
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Everything one tenant may do; every query it runs filters by `tenant`.
    pub fn tenant(&self, tenant: &TenantId) -> TenantScope {
        TenantScope::new(self.clone(), tenant.clone())
    }

    /// The only cross-tenant path: retention and the statistics export. It runs as the
    /// schema owner in PostgreSQL; nothing tenant-facing may call it.
    pub fn maintenance(&self) -> Maintenance {
        Maintenance::new(self.clone())
    }

    /// Applies the migrations again (a no-op when they are all applied) and returns the
    /// versions recorded in the version table (`_sqlx_migrations`).
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        let backend = self.backend().as_str();
        let migrator = match self.backend() {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator
            .run(&self.inner.owner)
            .await
            .map_err(|source| StoreError::Migrate { backend, source })?;
        let versions: Vec<(i64,)> =
            sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(&self.inner.owner)
                .await
                .map_err(error::query("_sqlx_migrations"))?;
        Ok(versions.into_iter().map(|(v,)| v).collect())
    }

    /// Closes both pools, waiting for connections in use.
    pub async fn close(&self) {
        self.inner.app.close().await;
        self.inner.owner.close().await;
    }

    fn now(&self) -> i64 {
        self.inner.clock.now().unix_timestamp()
    }
}

/// Unix seconds to a time; out-of-range values (which the store never writes) clamp to the
/// epoch rather than fail a read.
fn from_unix(secs: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}
