//! The cross-tenant path: the retention sweep and the statistics export. In PostgreSQL it
//! runs as the schema owner, whose `maintenance` policy is the only one that sees every
//! tenant; nothing tenant-facing reaches it.
//!
//! Retention (every step writes an audit event):
//! - A succeeded migration's sealed data goes at the next sweep: its data now lives in the
//!   cloud. A failed one's goes 30 days after it failed. "Sealed data" is every class,
//!   analysis, staging, output and report alike: reports follow the analysis results they
//!   are made from. The data key is destroyed first (crypto-shredding: the blobs are
//!   unreadable from then on), then the blobs are deleted. If the blob deletion fails, the
//!   migration keeps its `key_destroyed_at` without `purged_at` and the next sweep retries.
//! - Statistics go 12 months after they were recorded.
//! - 30 days after a tenant's licence ends, all its sealed data goes as above, its KEK is
//!   destroyed, then every row of the tenant in one transaction, its audit log included (it
//!   names the tenant, so it is the tenant's metadata). What remains is one `tenant-expired`
//!   event in the platform log, which holds counts and no tenant id.

use std::sync::Arc;

use airlock_model::{MigrationId, Region, TenantId};
use sqlx::{Any, AnyConnection, AssertSqlSafe, Transaction};
use time::{Duration, OffsetDateTime};

use crate::audit::{self, Event};
use crate::error::{StoreError, query};
use crate::tenant::ObjectClass;
use crate::{Backend, Store, stats};

/// How long a failed migration's sealed data is kept.
pub const FAILED_RETENTION: Duration = Duration::days(30);
/// How long statistics are kept (12 months).
pub const STATS_RETENTION: Duration = Duration::days(365);
/// How long a tenant's metadata is kept after its licence ends.
pub const LICENCE_GRACE: Duration = Duration::days(30);
/// The audit log of the platform itself (tenant expiry). Tenant ids cannot start with `_`.
pub const PLATFORM_TENANT: &str = "_platform";

/// The blob side of retention (implemented over `airlock-blobs`). Called from a blocking
/// thread. Deleting what is already gone must succeed: a sweep retries after failures.
pub trait BlobSweep: Send + Sync {
    /// Deletes every blob of the migration in its region; returns how many there were.
    fn delete_migration(
        &self,
        tenant: &TenantId,
        migration: &MigrationId,
        region: Region,
    ) -> Result<u64, String>;
}

/// The KEK side of tenant expiry (implemented over `airlock-vault`). Called from a blocking
/// thread; destroying an already destroyed KEK must succeed.
pub trait KekShredder: Send + Sync {
    fn destroy_tenant(&self, tenant: &TenantId) -> Result<(), String>;
}

/// What one sweep did. Failures are counted, logged and retried by the next sweep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub keys_destroyed: u64,
    pub migrations_purged: u64,
    pub blobs_deleted: u64,
    pub blob_failures: u64,
    pub stats_deleted: u64,
    pub tenants_expired: u64,
    pub kek_failures: u64,
}

/// See [`Store::maintenance`].
pub struct Maintenance {
    store: Store,
}

/// Why a migration's sealed data goes.
#[derive(Clone, Copy)]
enum Reason {
    Succeeded,
    Failed,
    TenantExpired,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Succeeded => "migration-succeeded",
            Reason::Failed => "migration-failed-30d",
            Reason::TenantExpired => "tenant-expired",
        }
    }
}

impl Maintenance {
    pub(crate) fn new(store: Store) -> Maintenance {
        Maintenance { store }
    }

    async fn begin(&self) -> Result<Transaction<'static, Any>, StoreError> {
        self.store
            .inner
            .owner
            .begin()
            .await
            .map_err(query("connection"))
    }

    async fn audit(
        &self,
        conn: &mut AnyConnection,
        tenant: &str,
        event: Event,
    ) -> Result<(), StoreError> {
        audit::append(conn, self.store.backend(), tenant, self.store.now(), event).await
    }

    /// Every tenant's statistics recorded at or after `since`, as JSON lines of
    /// [`crate::STAT_COLUMNS`] only.
    pub async fn export_stats_jsonl(&self, since: OffsetDateTime) -> Result<Vec<u8>, StoreError> {
        let mut tx = self.begin().await?;
        let out = stats::export_jsonl(&mut tx, since.unix_timestamp()).await?;
        tx.commit().await.map_err(query("stats"))?;
        Ok(out)
    }

    /// The platform's own audit log (tenant expiries).
    pub async fn platform_audit_log(&self) -> Result<Vec<crate::AuditEntry>, StoreError> {
        let mut tx = self.begin().await?;
        let rows = audit::read(&mut tx, PLATFORM_TENANT).await?;
        tx.commit().await.map_err(query("audit_log"))?;
        Ok(rows)
    }

    /// Applies every retention rule once, at the store clock's time.
    pub async fn sweep(
        &self,
        blobs: &Arc<dyn BlobSweep>,
        kek: &Arc<dyn KekShredder>,
    ) -> Result<SweepReport, StoreError> {
        let now = self.store.now();
        let mut report = SweepReport::default();

        // Finished migrations whose sealed data is due.
        let failed_before = now - FAILED_RETENTION.whole_seconds();
        let due: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT tenant_id, migration_id, region, status FROM migrations \
             WHERE purged_at IS NULL AND (status = 'succeeded' \
                OR (status = 'failed' AND finished_at <= $1)) \
             ORDER BY tenant_id, migration_id",
        )
        .bind(failed_before)
        .fetch_all(&self.store.inner.owner)
        .await
        .map_err(query("migrations"))?;
        for (tenant, migration, region, status) in due {
            let reason = if status == "succeeded" {
                Reason::Succeeded
            } else {
                Reason::Failed
            };
            let region = parse_region(&region)?;
            self.purge_migration(&tenant, &migration, region, reason, blobs, &mut report)
                .await?;
        }

        self.expire_stats(now - STATS_RETENTION.whole_seconds(), &mut report)
            .await?;

        let expired: Vec<(String,)> = sqlx::query_as(
            "SELECT tenant_id FROM tenants \
             WHERE licence_ends_at IS NOT NULL AND licence_ends_at <= $1 ORDER BY tenant_id",
        )
        .bind(now - LICENCE_GRACE.whole_seconds())
        .fetch_all(&self.store.inner.owner)
        .await
        .map_err(query("tenants"))?;
        for (tenant,) in expired {
            self.expire_tenant(&tenant, blobs, kek, &mut report).await?;
        }

        // In SQLite, what a destroyed key's rows were still lingers in the write-ahead log
        // until a checkpoint: copy the log into the file (where secure_delete zeroed them)
        // and empty it.
        if self.store.backend() == Backend::Sqlite
            && report.keys_destroyed + report.tenants_expired > 0
        {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.store.inner.owner)
                .await
                .map_err(query("wal_checkpoint"))?;
        }
        tracing::info!(
            keys_destroyed = report.keys_destroyed,
            migrations_purged = report.migrations_purged,
            blobs_deleted = report.blobs_deleted,
            blob_failures = report.blob_failures,
            stats_deleted = report.stats_deleted,
            tenants_expired = report.tenants_expired,
            kek_failures = report.kek_failures,
            "retention sweep done"
        );
        Ok(report)
    }

    /// Destroys the key, then deletes the blobs. Returns whether the migration is purged.
    async fn purge_migration(
        &self,
        tenant: &str,
        migration: &str,
        region: Region,
        reason: Reason,
        blobs: &Arc<dyn BlobSweep>,
        report: &mut SweepReport,
    ) -> Result<bool, StoreError> {
        let now = self.store.now();

        // 1. The key, in its own committed transaction before any blob is touched.
        let mut tx = self.begin().await?;
        let gone = sqlx::query("DELETE FROM data_keys WHERE tenant_id = $1 AND migration_id = $2")
            .bind(tenant)
            .bind(migration)
            .execute(&mut *tx)
            .await
            .map_err(query("data_keys"))?
            .rows_affected();
        sqlx::query(
            "UPDATE migrations SET key_destroyed_at = COALESCE(key_destroyed_at, $3) \
             WHERE tenant_id = $1 AND migration_id = $2",
        )
        .bind(tenant)
        .bind(migration)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(query("migrations"))?;
        if gone > 0 {
            let detail = format!("migration={migration} reason={}", reason.as_str());
            self.audit(
                &mut tx,
                tenant,
                Event::new("data-key-destroyed", "retention", detail),
            )
            .await?;
            report.keys_destroyed += 1;
        }
        tx.commit().await.map_err(query("data_keys"))?;

        // 2. The blobs.
        let deleted = {
            let blobs = blobs.clone();
            let (t, m) = (TenantId::new(tenant), MigrationId::new(migration));
            tokio::task::spawn_blocking(move || blobs.delete_migration(&t, &m, region))
                .await
                .map_err(|e| StoreError::Retention(format!("blob deletion task: {e}")))?
        };
        let count = match deleted {
            Ok(count) => count,
            Err(e) => {
                // The error text is the blob store's; it may name buckets, so it stays in
                // the log and out of the audit detail.
                tracing::warn!(%migration, error = %e, "blob deletion failed; next sweep retries");
                report.blob_failures += 1;
                let mut tx = self.begin().await?;
                let detail = format!("migration={migration} reason={}", reason.as_str());
                self.audit(
                    &mut tx,
                    tenant,
                    Event::new("retention-deletion-failed", "retention", detail),
                )
                .await?;
                tx.commit().await.map_err(query("audit_log"))?;
                return Ok(false);
            }
        };

        // 3. The index and the marker.
        let mut tx = self.begin().await?;
        let classes: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT class FROM objects WHERE tenant_id = $1 AND migration_id = $2 \
             ORDER BY class",
        )
        .bind(tenant)
        .bind(migration)
        .fetch_all(&mut *tx)
        .await
        .map_err(query("objects"))?;
        sqlx::query("DELETE FROM objects WHERE tenant_id = $1 AND migration_id = $2")
            .bind(tenant)
            .bind(migration)
            .execute(&mut *tx)
            .await
            .map_err(query("objects"))?;
        sqlx::query(
            "UPDATE migrations SET purged_at = $3 WHERE tenant_id = $1 AND migration_id = $2",
        )
        .bind(tenant)
        .bind(migration)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(query("migrations"))?;
        let classes = classes
            .iter()
            .filter_map(|(c,)| ObjectClass::parse(c).map(ObjectClass::as_str))
            .collect::<Vec<_>>()
            .join(",");
        let detail = format!(
            "migration={migration} reason={} classes={} objects={count} key=destroyed",
            reason.as_str(),
            if classes.is_empty() { "none" } else { &classes },
        );
        self.audit(
            &mut tx,
            tenant,
            Event::new("retention-deletion", "retention", detail),
        )
        .await?;
        tx.commit().await.map_err(query("objects"))?;
        report.migrations_purged += 1;
        report.blobs_deleted += count;
        Ok(true)
    }

    async fn expire_stats(&self, before: i64, report: &mut SweepReport) -> Result<(), StoreError> {
        let per_tenant: Vec<(String, i64)> = sqlx::query_as(
            "SELECT tenant_id, COUNT(*) FROM stats WHERE recorded_at < $1 \
             GROUP BY tenant_id ORDER BY tenant_id",
        )
        .bind(before)
        .fetch_all(&self.store.inner.owner)
        .await
        .map_err(query("stats"))?;
        for (tenant, _) in per_tenant {
            let mut tx = self.begin().await?;
            let rows = sqlx::query("DELETE FROM stats WHERE tenant_id = $1 AND recorded_at < $2")
                .bind(&tenant)
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(query("stats"))?
                .rows_affected();
            self.audit(
                &mut tx,
                &tenant,
                Event::new("stats-expired", "retention", format!("rows={rows}")),
            )
            .await?;
            tx.commit().await.map_err(query("stats"))?;
            report.stats_deleted += rows;
        }
        Ok(())
    }

    async fn expire_tenant(
        &self,
        tenant: &str,
        blobs: &Arc<dyn BlobSweep>,
        kek: &Arc<dyn KekShredder>,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        let pending: Vec<(String, String)> = sqlx::query_as(
            "SELECT migration_id, region FROM migrations \
             WHERE tenant_id = $1 AND purged_at IS NULL ORDER BY migration_id",
        )
        .bind(tenant)
        .fetch_all(&self.store.inner.owner)
        .await
        .map_err(query("migrations"))?;
        let mut all_purged = true;
        for (migration, region) in pending {
            let region = parse_region(&region)?;
            all_purged &= self
                .purge_migration(
                    tenant,
                    &migration,
                    region,
                    Reason::TenantExpired,
                    blobs,
                    report,
                )
                .await?;
        }
        if !all_purged {
            // The rows are the marker: keep them until every blob is gone.
            return Ok(());
        }

        let destroyed = {
            let kek = kek.clone();
            let t = TenantId::new(tenant);
            tokio::task::spawn_blocking(move || kek.destroy_tenant(&t))
                .await
                .map_err(|e| StoreError::Retention(format!("KEK destruction task: {e}")))?
        };
        if let Err(e) = destroyed {
            tracing::warn!(error = %e, "KEK destruction failed; next sweep retries");
            report.kek_failures += 1;
            return Ok(());
        }

        let mut tx = self.begin().await?;
        let mut migrations = 0;
        for table in [
            "plugin_grants",
            "objects",
            "data_keys",
            "migrations",
            "stats",
            "tenants",
        ] {
            // `table` is one of the constants above.
            let rows = sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1"
            )))
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .map_err(query(table))?
            .rows_affected();
            if table == "migrations" {
                migrations = rows;
            }
        }
        // The audit trigger lets these rows go only now that the tenant row is gone (and,
        // in PostgreSQL, only in a transaction marked as tenant expiry).
        if self.store.backend() == Backend::Postgres {
            sqlx::query("SELECT set_config('airlock.retention', 'tenant-expiry', true)")
                .execute(&mut *tx)
                .await
                .map_err(query("set_config"))?;
        }
        let audit_rows = sqlx::query("DELETE FROM audit_log WHERE tenant_id = $1")
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .map_err(query("audit_log"))?
            .rows_affected();
        self.audit(
            &mut tx,
            PLATFORM_TENANT,
            Event::new(
                "tenant-expired",
                "retention",
                format!("migrations={migrations} audit_rows={audit_rows} kek=destroyed"),
            ),
        )
        .await?;
        tx.commit().await.map_err(query("tenants"))?;
        report.tenants_expired += 1;
        Ok(())
    }
}

fn parse_region(s: &str) -> Result<Region, StoreError> {
    Region::parse(s).map_err(|_| StoreError::Invalid {
        what: "migrations.region",
        why: "the stored value is not one this version knows".into(),
    })
}
