//! [`TenantScope`]: everything one tenant may read or write. Every query filters by the
//! scope's tenant; in PostgreSQL row-level security enforces the same again.

use airlock_model::{AppKey, DataScope, MigrationId, Namespace, Region, TenantId};
use sqlx::{Any, AnyConnection, AssertSqlSafe, Transaction};
use time::OffsetDateTime;

use crate::audit::{self, AuditEntry, Event};
use crate::error::{StoreError, query};
use crate::placement::Placement;
use crate::stats::{self, Stat};
use crate::{Backend, Store, from_unix};

/// Where a migration is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MigrationStatus {
    Created,
    Running,
    Succeeded,
    Failed,
}

impl MigrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationStatus::Created => "created",
            MigrationStatus::Running => "running",
            MigrationStatus::Succeeded => "succeeded",
            MigrationStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<MigrationStatus> {
        [
            MigrationStatus::Created,
            MigrationStatus::Running,
            MigrationStatus::Succeeded,
            MigrationStatus::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// What a sealed object holds; retention decides by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectClass {
    /// Results of the analysis phase.
    Analysis,
    /// Records extracted from the backup, between phases.
    Staging,
    /// What the load phase writes to the target.
    Output,
    /// Reports for the operator. Retention treats them like analysis results.
    Report,
}

impl ObjectClass {
    pub const ALL: [ObjectClass; 4] = [
        ObjectClass::Analysis,
        ObjectClass::Staging,
        ObjectClass::Output,
        ObjectClass::Report,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectClass::Analysis => "analysis",
            ObjectClass::Staging => "staging",
            ObjectClass::Output => "output",
            ObjectClass::Report => "report",
        }
    }

    pub fn parse(s: &str) -> Option<ObjectClass> {
        ObjectClass::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRecord {
    pub tenant: TenantId,
    pub created_at: OffsetDateTime,
    pub licence_ends_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationRecord {
    pub migration: MigrationId,
    pub region: Region,
    pub status: MigrationStatus,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    /// Set by retention when the data key was destroyed.
    pub key_destroyed_at: Option<OffsetDateTime>,
    /// Set by retention once the sealed blobs are deleted too.
    pub purged_at: Option<OffsetDateTime>,
    /// Which blob store and key provider hold its data; `None` for a migration created
    /// before the store recorded it (schema migration 0003).
    pub placement: Option<Placement>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRecord {
    pub name: String,
    pub class: ObjectClass,
    pub bytes: u64,
    pub created_at: OffsetDateTime,
}

/// The operator's consent for one app in one migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginGrant {
    pub app_key: AppKey,
    pub scopes: Vec<DataScope>,
    pub namespaces: Vec<Namespace>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    pub grant: PluginGrant,
    pub granted_at: OffsetDateTime,
}

/// One tenant's view of the store; see [`Store::tenant`].
#[derive(Clone)]
pub struct TenantScope {
    store: Store,
    tenant: TenantId,
}

type MigrationRow = (
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

const MIGRATION_COLUMNS: &str = "migration_id, region, status, created_at, started_at, \
     finished_at, key_destroyed_at, purged_at, blob_store, key_provider";

impl TenantScope {
    pub(crate) fn new(store: Store, tenant: TenantId) -> TenantScope {
        TenantScope { store, tenant }
    }

    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant
    }

    /// A transaction in this tenant's context: in PostgreSQL `airlock.tenant` is set for
    /// this transaction only, so a pooled connection never carries it to another tenant.
    ///
    /// A scope whose id no tenant can have (empty, or `_platform`'s reserved form) is
    /// refused here, before any query: in PostgreSQL an empty setting matches no row anyway
    /// (migration 0002), and in SQLite this is the only guard.
    async fn begin(&self) -> Result<Transaction<'static, Any>, StoreError> {
        check_id("tenant id", self.tenant.as_str())?;
        let mut tx = begin(&self.store.inner.app, self.store.backend()).await?;
        if self.store.backend() == Backend::Postgres {
            sqlx::query("SELECT set_config('airlock.tenant', $1, true)")
                .bind(self.tenant.as_str())
                .execute(&mut *tx)
                .await
                .map_err(query("set_config"))?;
        }
        Ok(tx)
    }

    async fn audit(&self, conn: &mut AnyConnection, event: Event) -> Result<(), StoreError> {
        audit::append(
            conn,
            self.store.backend(),
            self.tenant.as_str(),
            self.store.now(),
            event,
        )
        .await
    }

    /// Registers the tenant. Ids are letters, digits, `.`, `_`, `-` and start with a letter
    /// or digit (ids starting with `_` are reserved for the platform).
    pub async fn create(&self) -> Result<(), StoreError> {
        check_id("tenant id", self.tenant.as_str())?;
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO tenants (tenant_id, created_at) VALUES ($1, $2)")
            .bind(self.tenant.as_str())
            .bind(self.store.now())
            .execute(&mut *tx)
            .await
            .map_err(query("tenants"))?;
        tx.commit().await.map_err(query("tenants"))?;
        Ok(())
    }

    pub async fn info(&self) -> Result<Option<TenantRecord>, StoreError> {
        let mut tx = self.begin().await?;
        let row: Option<(i64, Option<i64>)> =
            sqlx::query_as("SELECT created_at, licence_ends_at FROM tenants WHERE tenant_id = $1")
                .bind(self.tenant.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(query("tenants"))?;
        tx.commit().await.map_err(query("tenants"))?;
        Ok(row.map(|(created, ends)| TenantRecord {
            tenant: self.tenant.clone(),
            created_at: from_unix(created),
            licence_ends_at: ends.map(from_unix),
        }))
    }

    /// Records when the licence ends (or that it no longer does); metadata goes 30 days after.
    pub async fn set_licence_end(&self, at: Option<OffsetDateTime>) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE tenants SET licence_ends_at = $2 WHERE tenant_id = $1")
            .bind(self.tenant.as_str())
            .bind(at.map(OffsetDateTime::unix_timestamp))
            .execute(&mut *tx)
            .await
            .map_err(query("tenants"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "tenant" });
        }
        tx.commit().await.map_err(query("tenants"))?;
        Ok(())
    }

    /// Creates a migration of an existing tenant, recording where its data will live.
    /// [`TenantScope::set_up_migration`] does this, the tenant and the data key at once.
    pub async fn create_migration(
        &self,
        migration: &MigrationId,
        region: Region,
        placement: &Placement,
    ) -> Result<MigrationRecord, StoreError> {
        check_id("migration id", migration.as_str())?;
        let mut tx = self.begin().await?;
        let record = self
            .insert_migration(&mut tx, migration, region, placement)
            .await?;
        tx.commit().await.map_err(query("migrations"))?;
        Ok(record)
    }

    /// Sets up a new migration all at once: the tenant (if new), the migration with its
    /// region and placement, its wrapped data key, then `last_step` (the caller's own, e.g.
    /// writing the work directory's migration file), in one transaction. If any of them
    /// fails, nothing is committed: no tenant, migration or key row remains, and no audit
    /// event (they roll back with the rows they describe, so the log never names a
    /// migration that does not exist). If the commit itself fails, undoing `last_step` is
    /// the caller's part.
    pub async fn set_up_migration<F>(
        &self,
        migration: &MigrationId,
        region: Region,
        placement: &Placement,
        wrapped_key: &[u8],
        last_step: F,
    ) -> Result<MigrationRecord, StoreError>
    where
        F: FnOnce() -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
    {
        check_id("tenant id", self.tenant.as_str())?;
        check_id("migration id", migration.as_str())?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO tenants (tenant_id, created_at) VALUES ($1, $2) \
             ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(self.tenant.as_str())
        .bind(self.store.now())
        .execute(&mut *tx)
        .await
        .map_err(query("tenants"))?;
        let record = self
            .insert_migration(&mut tx, migration, region, placement)
            .await?;
        self.insert_data_key(&mut tx, migration, wrapped_key)
            .await?;
        last_step().map_err(|source| StoreError::SetupFailed { source })?;
        tx.commit().await.map_err(query("migrations"))?;
        Ok(record)
    }

    async fn insert_migration(
        &self,
        conn: &mut AnyConnection,
        migration: &MigrationId,
        region: Region,
        placement: &Placement,
    ) -> Result<MigrationRecord, StoreError> {
        let now = self.store.now();
        sqlx::query(
            "INSERT INTO migrations \
             (tenant_id, migration_id, region, status, created_at, blob_store, key_provider) \
             VALUES ($1, $2, $3, 'created', $4, $5, $6)",
        )
        .bind(self.tenant.as_str())
        .bind(migration.as_str())
        .bind(region.as_str())
        .bind(now)
        .bind(placement.blob_store())
        .bind(placement.key_provider())
        .execute(&mut *conn)
        .await
        .map_err(|e| match query("migrations")(e) {
            // The tenant must exist first; a foreign key error says only that.
            StoreError::Query { source, .. }
                if source
                    .as_database_error()
                    .is_some_and(|d| d.is_foreign_key_violation()) =>
            {
                StoreError::NotFound { what: "tenant" }
            }
            other => other,
        })?;
        // The locations stay out of the audit detail: it holds codes, counts and ids.
        self.audit(
            conn,
            Event::new(
                "migration-created",
                "engine",
                format!("migration={migration} region={region}"),
            ),
        )
        .await?;
        Ok(MigrationRecord {
            migration: migration.clone(),
            region,
            status: MigrationStatus::Created,
            created_at: from_unix(now),
            started_at: None,
            finished_at: None,
            key_destroyed_at: None,
            purged_at: None,
            placement: Some(placement.clone()),
        })
    }

    pub async fn migration(
        &self,
        migration: &MigrationId,
    ) -> Result<Option<MigrationRecord>, StoreError> {
        let mut tx = self.begin().await?;
        let row: Option<MigrationRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {MIGRATION_COLUMNS} FROM migrations WHERE tenant_id = $1 AND migration_id = $2"
        )))
        .bind(self.tenant.as_str())
        .bind(migration.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(query("migrations"))?;
        tx.commit().await.map_err(query("migrations"))?;
        row.map(migration_record).transpose()
    }

    pub async fn migrations(&self) -> Result<Vec<MigrationRecord>, StoreError> {
        let mut tx = self.begin().await?;
        let rows: Vec<MigrationRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {MIGRATION_COLUMNS} FROM migrations WHERE tenant_id = $1 ORDER BY migration_id"
        )))
        .bind(self.tenant.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(query("migrations"))?;
        tx.commit().await.map_err(query("migrations"))?;
        rows.into_iter().map(migration_record).collect()
    }

    /// `created` → `running`, or `failed` → `running` when the operator retries (which
    /// stops the failed migration's retention clock; a migration whose key retention has
    /// destroyed cannot be retried, as nothing of it can be read).
    pub async fn start_migration(&self, migration: &MigrationId) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let status = self.status(&mut tx, migration).await?;
        if !matches!(status, MigrationStatus::Created | MigrationStatus::Failed) {
            return Err(StoreError::WrongStatus {
                status: status.as_str(),
                action: "start",
            });
        }
        sqlx::query(
            "UPDATE migrations SET status = 'running', started_at = $3, finished_at = NULL \
             WHERE tenant_id = $1 AND migration_id = $2 AND key_destroyed_at IS NULL",
        )
        .bind(self.tenant.as_str())
        .bind(migration.as_str())
        .bind(self.store.now())
        .execute(&mut *tx)
        .await
        .map_err(query("migrations"))?;
        self.audit(
            &mut tx,
            Event::new(
                "migration-started",
                "engine",
                format!("migration={migration}"),
            ),
        )
        .await?;
        tx.commit().await.map_err(query("migrations"))?;
        Ok(())
    }

    /// `created` or `running` → `succeeded` / `failed`; starts the retention clock.
    pub async fn finish_migration(
        &self,
        migration: &MigrationId,
        succeeded: bool,
    ) -> Result<(), StoreError> {
        let to = if succeeded {
            MigrationStatus::Succeeded
        } else {
            MigrationStatus::Failed
        };
        let mut tx = self.begin().await?;
        let status = self.status(&mut tx, migration).await?;
        if matches!(status, MigrationStatus::Succeeded | MigrationStatus::Failed) {
            return Err(StoreError::WrongStatus {
                status: status.as_str(),
                action: "finish",
            });
        }
        sqlx::query(
            "UPDATE migrations SET status = $3, finished_at = $4 \
             WHERE tenant_id = $1 AND migration_id = $2",
        )
        .bind(self.tenant.as_str())
        .bind(migration.as_str())
        .bind(to.as_str())
        .bind(self.store.now())
        .execute(&mut *tx)
        .await
        .map_err(query("migrations"))?;
        self.audit(
            &mut tx,
            Event::new(
                "migration-finished",
                "engine",
                format!("migration={migration} status={}", to.as_str()),
            ),
        )
        .await?;
        tx.commit().await.map_err(query("migrations"))?;
        Ok(())
    }

    async fn status(
        &self,
        conn: &mut AnyConnection,
        migration: &MigrationId,
    ) -> Result<MigrationStatus, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT status FROM migrations WHERE tenant_id = $1 AND migration_id = $2",
        )
        .bind(self.tenant.as_str())
        .bind(migration.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(query("migrations"))?;
        let (status,) = row.ok_or(StoreError::NotFound { what: "migration" })?;
        MigrationStatus::parse(&status).ok_or_else(|| bad_row("migrations.status"))
    }

    /// Stores the migration's wrapped data key (opaque bytes from the vault); one per
    /// migration, never replaced.
    pub async fn put_data_key(
        &self,
        migration: &MigrationId,
        wrapped: &[u8],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        self.status(&mut tx, migration).await?;
        self.insert_data_key(&mut tx, migration, wrapped).await?;
        tx.commit().await.map_err(query("data_keys"))?;
        Ok(())
    }

    async fn insert_data_key(
        &self,
        conn: &mut AnyConnection,
        migration: &MigrationId,
        wrapped: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO data_keys (tenant_id, migration_id, wrapped, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(self.tenant.as_str())
        .bind(migration.as_str())
        .bind(wrapped.to_vec())
        .bind(self.store.now())
        .execute(&mut *conn)
        .await
        .map_err(query("data_keys"))?;
        Ok(())
    }

    /// The wrapped data key, or `None` once destroyed.
    pub async fn data_key(&self, migration: &MigrationId) -> Result<Option<Vec<u8>>, StoreError> {
        let mut tx = self.begin().await?;
        let row: Option<(Vec<u8>,)> = sqlx::query_as(
            "SELECT wrapped FROM data_keys WHERE tenant_id = $1 AND migration_id = $2",
        )
        .bind(self.tenant.as_str())
        .bind(migration.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(query("data_keys"))?;
        tx.commit().await.map_err(query("data_keys"))?;
        Ok(row.map(|(k,)| k))
    }

    /// Adds a sealed blob to the index. Names are Airlock's own (`staging/issues.rec`):
    /// letters, digits, `.`, `_`, `-`, `/`.
    pub async fn record_object(
        &self,
        migration: &MigrationId,
        name: &str,
        class: ObjectClass,
        bytes: u64,
    ) -> Result<(), StoreError> {
        check_object_name(name)?;
        let bytes = to_i64("object size", bytes)?;
        let mut tx = self.begin().await?;
        self.status(&mut tx, migration).await?;
        sqlx::query(
            "INSERT INTO objects (tenant_id, migration_id, name, class, bytes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(self.tenant.as_str())
        .bind(migration.as_str())
        .bind(name)
        .bind(class.as_str())
        .bind(bytes)
        .bind(self.store.now())
        .execute(&mut *tx)
        .await
        .map_err(query("objects"))?;
        tx.commit().await.map_err(query("objects"))?;
        Ok(())
    }

    pub async fn objects(&self, migration: &MigrationId) -> Result<Vec<ObjectRecord>, StoreError> {
        let mut tx = self.begin().await?;
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT name, class, bytes, created_at FROM objects \
             WHERE tenant_id = $1 AND migration_id = $2 ORDER BY name",
        )
        .bind(self.tenant.as_str())
        .bind(migration.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(query("objects"))?;
        tx.commit().await.map_err(query("objects"))?;
        rows.into_iter()
            .map(|(name, class, bytes, created)| {
                Ok(ObjectRecord {
                    name,
                    class: ObjectClass::parse(&class).ok_or_else(|| bad_row("objects.class"))?,
                    bytes: u64::try_from(bytes).map_err(|_| bad_row("objects.bytes"))?,
                    created_at: from_unix(created),
                })
            })
            .collect()
    }

    /// Records the operator's consent for an app, and audits it.
    pub async fn grant_plugin(
        &self,
        migration: &MigrationId,
        grant: &PluginGrant,
    ) -> Result<(), StoreError> {
        let scopes = join(grant.scopes.iter().map(|s| s.as_str()));
        let namespaces = join(grant.namespaces.iter().map(|n| n.as_str()));
        let mut tx = self.begin().await?;
        self.status(&mut tx, migration).await?;
        sqlx::query(
            "INSERT INTO plugin_grants \
             (tenant_id, migration_id, app_key, scopes, namespaces, granted_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(self.tenant.as_str())
        .bind(migration.as_str())
        .bind(grant.app_key.as_str())
        .bind(&scopes)
        .bind(&namespaces)
        .bind(self.store.now())
        .execute(&mut *tx)
        .await
        .map_err(query("plugin_grants"))?;
        self.audit(
            &mut tx,
            Event::new(
                "plugin-enabled",
                "operator",
                format!(
                    "migration={migration} app={} scopes={scopes} namespaces={namespaces}",
                    grant.app_key.as_str()
                ),
            ),
        )
        .await?;
        tx.commit().await.map_err(query("plugin_grants"))?;
        Ok(())
    }

    /// Audits how a plugin about to run was reviewed: `reviewer` is the hex public key of
    /// the trusted reviewer whose approval binds `sha256` (`plugin-approved`), or `None`
    /// when the operator ran it without one (`plugin-unreviewed`).
    pub async fn record_plugin_review(
        &self,
        migration: &MigrationId,
        app_key: &AppKey,
        sha256: &str,
        reviewer: Option<&str>,
    ) -> Result<(), StoreError> {
        // Only hex reaches the log (hashes and public keys), never free text.
        for (what, value) in [
            ("plugin hash", sha256),
            ("reviewer key", reviewer.unwrap_or("0")),
        ] {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(StoreError::Invalid {
                    what,
                    why: "not hex".into(),
                });
            }
        }
        let mut tx = self.begin().await?;
        self.status(&mut tx, migration).await?;
        let app = app_key.as_str();
        let event = match reviewer {
            Some(reviewer) => Event::new(
                "plugin-approved",
                "operator",
                format!("migration={migration} app={app} sha256={sha256} reviewer={reviewer}"),
            ),
            None => Event::new(
                "plugin-unreviewed",
                "operator",
                format!("migration={migration} app={app} sha256={sha256}"),
            ),
        };
        self.audit(&mut tx, event).await?;
        tx.commit().await.map_err(query("audit_log"))?;
        Ok(())
    }

    pub async fn plugin_grants(
        &self,
        migration: &MigrationId,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        let mut tx = self.begin().await?;
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT app_key, scopes, namespaces, granted_at FROM plugin_grants \
             WHERE tenant_id = $1 AND migration_id = $2 ORDER BY app_key",
        )
        .bind(self.tenant.as_str())
        .bind(migration.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(query("plugin_grants"))?;
        tx.commit().await.map_err(query("plugin_grants"))?;
        rows.into_iter()
            .map(|(app, scopes, namespaces, at)| {
                let scopes = split(&scopes)
                    .map(|s| s.parse::<DataScope>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad_row("plugin_grants.scopes"))?;
                let namespaces = split(&namespaces)
                    .map(Namespace::parse)
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad_row("plugin_grants.namespaces"))?;
                Ok(GrantRecord {
                    grant: PluginGrant {
                        app_key: AppKey::new(app),
                        scopes,
                        namespaces,
                    },
                    granted_at: from_unix(at),
                })
            })
            .collect()
    }

    /// Audits that a worker decrypted one batch of a sealed object.
    pub async fn record_batch_decrypted(
        &self,
        migration: &MigrationId,
        object: &str,
        worker: &str,
    ) -> Result<(), StoreError> {
        check_object_name(object)?;
        crate::stats::ErrorCode::check("worker id", worker)?;
        let mut tx = self.begin().await?;
        self.status(&mut tx, migration).await?;
        self.audit(
            &mut tx,
            Event::new(
                "batch-decrypted",
                "worker",
                format!("migration={migration} object={object} worker={worker}"),
            ),
        )
        .await?;
        tx.commit().await.map_err(query("audit_log"))?;
        Ok(())
    }

    /// Audits that a phase of a migration ran (`phase`: a code such as `check` or `load`;
    /// `outcome`: `done` or `failed`).
    pub async fn record_phase(
        &self,
        migration: &MigrationId,
        phase: &str,
        outcome: &str,
    ) -> Result<(), StoreError> {
        crate::stats::ErrorCode::check("phase", phase)?;
        crate::stats::ErrorCode::check("phase outcome", outcome)?;
        let mut tx = self.begin().await?;
        self.status(&mut tx, migration).await?;
        self.audit(
            &mut tx,
            Event::new(
                "phase-run",
                "engine",
                format!("migration={migration} phase={phase} outcome={outcome}"),
            ),
        )
        .await?;
        tx.commit().await.map_err(query("audit_log"))?;
        Ok(())
    }

    /// Records one migration's anonymized statistics, stamped with the store's clock: one
    /// row per migration, so a rerun replaces what an earlier run recorded (and restarts
    /// its 12 months).
    pub async fn record_stat(
        &self,
        migration: &MigrationId,
        stat: &Stat,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        self.status(&mut tx, migration).await?;
        stats::upsert(
            &mut tx,
            self.store.backend(),
            self.tenant.as_str(),
            migration.as_str(),
            self.store.now(),
            stat,
        )
        .await?;
        tx.commit().await.map_err(query("stats"))?;
        Ok(())
    }

    /// This tenant's statistics, oldest first, with when each was recorded.
    pub async fn stats(&self) -> Result<Vec<(OffsetDateTime, Stat)>, StoreError> {
        let mut tx = self.begin().await?;
        let rows = stats::read(&mut tx, self.tenant.as_str()).await?;
        tx.commit().await.map_err(query("stats"))?;
        Ok(rows)
    }

    /// This tenant's audit log, in order.
    pub async fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let mut tx = self.begin().await?;
        let rows = audit::read(&mut tx, self.tenant.as_str()).await?;
        tx.commit().await.map_err(query("audit_log"))?;
        Ok(rows)
    }
}

fn migration_record(row: MigrationRow) -> Result<MigrationRecord, StoreError> {
    let (id, region, status, created, started, finished, key_destroyed, purged, blobs, keys) = row;
    let placement = match (blobs, keys) {
        (Some(blobs), Some(keys)) => {
            Some(Placement::new(blobs, keys).map_err(|_| bad_row("migrations.blob_store"))?)
        }
        _ => None,
    };
    Ok(MigrationRecord {
        migration: MigrationId::new(id),
        region: Region::parse(&region).map_err(|_| bad_row("migrations.region"))?,
        status: MigrationStatus::parse(&status).ok_or_else(|| bad_row("migrations.status"))?,
        created_at: from_unix(created),
        started_at: started.map(from_unix),
        finished_at: finished.map(from_unix),
        key_destroyed_at: key_destroyed.map(from_unix),
        purged_at: purged.map(from_unix),
        placement,
    })
}

fn bad_row(column: &'static str) -> StoreError {
    StoreError::Invalid {
        what: column,
        why: "the stored value is not one this version knows; is the schema newer?".into(),
    }
}

pub(crate) fn to_i64(what: &'static str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Invalid {
        what,
        why: "too large".into(),
    })
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(",")
}

fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').filter(|p| !p.is_empty())
}

/// Tenant and migration ids: they appear in audit details, so no spaces or `=`.
fn check_id(what: &'static str, id: &str) -> Result<(), StoreError> {
    let ok = (1..=128).contains(&id.len())
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            what,
            why: "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
                .into(),
        })
    }
}

/// Object names are Airlock's own; this keeps anything else (a file name from a backup, a
/// summary) out of the index and the audit log.
fn check_object_name(name: &str) -> Result<(), StoreError> {
    let ok = (1..=200).contains(&name.len())
        && !name.starts_with('/')
        && !name.split('/').any(|part| part.is_empty() || part == "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            what: "object name",
            why: "use Airlock's object names: letters, digits, '.', '_', '-', '/' (no empty or '..' parts)"
                .into(),
        })
    }
}

/// Begins a transaction. In SQLite it takes the write lock at once (`BEGIN IMMEDIATE`):
/// a deferred transaction that reads and then writes fails with "database is locked" the
/// moment another connection has written, without waiting for the busy timeout, and an
/// audit event would be lost. Waiting for the lock up front lets the busy timeout work.
pub(crate) async fn begin(
    pool: &sqlx::AnyPool,
    backend: Backend,
) -> Result<Transaction<'static, Any>, StoreError> {
    match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => pool.begin().await,
    }
    .map_err(query("connection"))
}
