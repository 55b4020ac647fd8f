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
//!   See [How a data key is destroyed](#how-a-data-key-is-destroyed) for what "destroyed"
//!   means on disk.
//! - A migration left `created` or `running` with no activity for 30 days (a crash, a
//!   refused check, a failed setup) is abandoned: its data goes like a failed one's.
//!   Activity is the latest of its creation, its start and the last object it recorded.
//! - A sweep deletes, marks purged, audits and counts as deleted only what lives in the
//!   stores it holds: each migration records its blob store and key provider
//!   ([`crate::Placement`]), and a migration whose blobs are elsewhere (or unreachable)
//!   keeps its blobs, is not marked purged and is reported in [`SweepReport::left`] with
//!   the reason. Its data key is still destroyed when due: the key lives in this database,
//!   which every sweep holds, and destroying it first is what makes the blobs unreadable.
//!   Migrations created before the placement was recorded are treated as unknown: their
//!   blobs are left and reported, never guessed to be in this sweep's store (guessing is
//!   how a sweep once reported blobs deleted that stayed in their bucket).
//! - Writes never finished (S3 incomplete multipart uploads, a directory's temporary
//!   files) older than [`INCOMPLETE_UPLOAD_AGE`] are aborted, in every region; a
//!   migration's purge aborts those under its prefix whatever their age.
//! - Statistics go 12 months after they were recorded.
//! - 30 days after a tenant's licence ends, all its sealed data goes as above, its KEK is
//!   destroyed (only by the key provider its migrations recorded; the platform log says
//!   `kek=destroyed` only when that provider held one), then every row of the tenant in one
//!   transaction, its audit log included (it names the tenant, so it is the tenant's
//!   metadata). What remains is one `tenant-expired`
//!   event in the platform log, which holds counts and no tenant id.
//!
//! # How a data key is destroyed
//!
//! Deleting a row only unlinks it: both databases keep the bytes of old row versions for a
//! while. So a key is destroyed in steps (`shred_keys`, then [`Maintenance::sweep`]'s
//! scrub), and a step that cannot be completed is an error, never ignored:
//!
//! 1. In the transaction that deletes it, the wrapped key is first overwritten with zeros
//!    of the same length (`UPDATE`), then the row is deleted.
//! 2. SQLite: the connection has `secure_delete` on, so the freed cell is zeroed in its
//!    page; but the write-ahead log still holds the page images written before (the
//!    insert's). After the sweep, `PRAGMA wal_checkpoint(TRUNCATE)` copies the log into the
//!    file and empties it. A reader holding an old snapshot makes the checkpoint busy: it
//!    is retried [`CHECKPOINT_ATTEMPTS`] times, then the sweep fails with
//!    [`StoreError::KeyMaySurvive`] (and the next sweep of this process tries again). What
//!    SQLite cannot promise: blocks the file system freed (a truncated log, a copy-on-write
//!    or journaling file system, an SSD's remapped sectors) and any copy or backup of the
//!    file taken before.
//! 3. PostgreSQL: an `UPDATE` or `DELETE` writes a new row version and leaves the old one
//!    (the key) in the table's pages until vacuumed, and a plain `VACUUM` only marks that
//!    space free: the bytes stay until another row lands on them. After the sweep,
//!    `VACUUM (FULL) data_keys` rewrites the table (a small one: a row per live migration)
//!    into new files without the dead versions and drops the old files. It runs as the
//!    schema owner (the maintenance connection; VACUUM needs table ownership, which
//!    `airlock_app` never has) outside any transaction, with a lock timeout, since it
//!    locks the table for the few milliseconds it takes. What PostgreSQL cannot promise,
//!    and Airlock cannot reach: the write-ahead log segments still hold the insert of the
//!    key until the server recycles them (and forever in a WAL archive, a base backup, a
//!    replica or a point-in-time-recovery copy); and freed file-system blocks.
//!    `VACUUM FULL` copies a dead row version instead of dropping it while any
//!    transaction might still see it: a transaction open *anywhere on the server* with an
//!    id older than the delete (the VACUUM's own snapshot counts it: another database's
//!    transaction is enough, which is how a test once found the key still in the file
//!    under load), a snapshot taken before the delete by a session of this database
//!    (autovacuum's ANALYZE, another connection), or a replication slot's horizon. So the
//!    scrub first waits, up to [`SCRUB_WAIT`], until none older than the scrub itself is
//!    left (`pg_current_snapshot()`, `pg_stat_activity`, `pg_replication_slots`, all
//!    readable without privileges); once they are gone no new one can be older, so the
//!    rewrite that follows drops the keys. If one stays open the sweep fails with
//!    [`StoreError::KeyMaySurvive`] without rewriting, and the next sweep tries again.
//!    The write-ahead log and backup copies stay wrapped: they are useless without the
//!    tenant's key-encryption key, which lives outside the database (the `KeyProvider`)
//!    and is destroyed when the tenant expires. Until then, destroying a single
//!    migration's key in PostgreSQL is only as strong as the operator's retention of WAL
//!    archives and backups.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use std::fmt;

use airlock_model::{MigrationId, Region, TenantId};
use sqlx::{Any, AnyConnection, AssertSqlSafe, Executor, Row, Transaction};
use time::{Duration, OffsetDateTime};

use crate::audit::{self, Event};
use crate::error::{StoreError, query};
use crate::placement::Placement;
use crate::tenant::ObjectClass;
use crate::{Backend, Store, stats};

/// How long a failed migration's sealed data is kept.
pub const FAILED_RETENTION: Duration = Duration::days(30);
/// How long statistics are kept (12 months).
pub const STATS_RETENTION: Duration = Duration::days(365);
/// How long a tenant's metadata is kept after its licence ends.
pub const LICENCE_GRACE: Duration = Duration::days(30);
/// A migration `created` or `running` with no activity for this long is abandoned.
pub const ABANDONED_AFTER: Duration = Duration::days(30);
/// An unfinished write (an S3 multipart upload, a temporary file) older than this is
/// abandoned: no blob takes a day to write.
pub const INCOMPLETE_UPLOAD_AGE: Duration = Duration::days(1);
/// The audit log of the platform itself (tenant expiry). Tenant ids cannot start with `_`.
pub const PLATFORM_TENANT: &str = "_platform";

/// How often the sweep tries SQLite's `wal_checkpoint(TRUNCATE)` before it reports that a
/// destroyed key may survive in the write-ahead log.
pub const CHECKPOINT_ATTEMPTS: u32 = 4;
/// How long one checkpoint attempt waits for readers (SQLite's busy timeout).
const CHECKPOINT_BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 500";
/// How long `VACUUM (FULL) data_keys` may wait for its lock in PostgreSQL.
const VACUUM_LOCK_TIMEOUT: &str = "SET lock_timeout = '5s'";
/// How long the PostgreSQL scrub waits for transactions and snapshots older than itself to
/// end before it reports that destroyed keys may survive (module docs, step 3).
pub const SCRUB_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// Transactions and snapshots older than the scrub (`$1`: the first transaction id not yet
/// assigned when it started) that would keep a dead row version through `VACUUM FULL`:
/// transactions open anywhere on the server (they are in every new snapshot, the
/// VACUUM's own included), snapshots held by other sessions of this database or by a
/// standby's feedback (a walsender), and replication slots' horizons.
const OLDER_THAN_SCRUB: &str = "SELECT \
    CASE WHEN pg_snapshot_xmin(pg_current_snapshot())::text::bigint < $1 THEN 1 ELSE 0 END::bigint, \
    (SELECT COUNT(*) FROM pg_stat_activity \
      WHERE pid <> pg_backend_pid() AND backend_xmin IS NOT NULL \
        AND (datname = current_database() OR backend_type = 'walsender') \
        AND age(backend_xmin) > age(xid($1::text::xid8))), \
    (SELECT COUNT(*) FROM pg_replication_slots \
      WHERE xmin IS NOT NULL AND age(xmin) > age(xid($1::text::xid8)))";

/// The blob side of retention (implemented over `airlock-blobs`). Called from a blocking
/// thread. Deleting what is already gone must succeed: a sweep retries after failures.
pub trait BlobSweep: Send + Sync {
    /// This sweep's blob store as a location (`dir:/abs/path`, `s3:https://host/prefix-*`),
    /// compared with the one each migration recorded ([`crate::Placement::blob_store`]).
    fn location(&self) -> String;

    /// Deletes every blob of the migration in its region (and aborts its unfinished
    /// writes); returns how many blobs there were.
    fn delete_migration(
        &self,
        tenant: &TenantId,
        migration: &MigrationId,
        region: Region,
    ) -> Result<u64, String>;

    /// Aborts the writes, in every region, that started before `started_before` and were
    /// never finished (S3 incomplete multipart uploads, a directory's temporary files);
    /// returns how many.
    fn abort_incomplete(&self, started_before: OffsetDateTime) -> Result<u64, String>;
}

/// The KEK side of tenant expiry (implemented over `airlock-vault`). Called from a blocking
/// thread.
pub trait KekShredder: Send + Sync {
    /// This sweep's key provider as a location (`file:/abs/path`), compared with the one
    /// each migration recorded ([`crate::Placement::key_provider`]).
    fn location(&self) -> String;

    /// Destroys the tenant's KEK: `Ok(true)` if this provider held one, `Ok(false)` if it
    /// held none (destroyed before, or never made here). Never an error for "none".
    fn destroy_tenant(&self, tenant: &TenantId) -> Result<bool, String>;
}

/// What one sweep did. Failures are counted, logged and retried by the next sweep; what
/// it could not do is in `left`, with the reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub keys_destroyed: u64,
    pub migrations_purged: u64,
    pub blobs_deleted: u64,
    pub blob_failures: u64,
    pub stats_deleted: u64,
    pub tenants_expired: u64,
    pub kek_failures: u64,
    /// Unfinished writes aborted (S3 multipart uploads, temporary files).
    pub uploads_aborted: u64,
    pub upload_failures: u64,
    /// Migrations (and tenants) whose data was due but is not all gone, and why.
    pub left: Vec<LeftBehind>,
}

/// A migration (or a tenant) whose data was due and is still there after the sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftBehind {
    pub tenant: TenantId,
    /// `None`: the tenant itself (its KEK and metadata).
    pub migration: Option<MigrationId>,
    pub why: LeftReason,
}

/// Why a sweep left data that was due.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeftReason {
    /// The blobs are in another blob store than this sweep's.
    BlobsElsewhere { recorded: String, held: String },
    /// The tenant's KEK is in another key provider than this sweep's.
    KeysElsewhere { recorded: String, held: String },
    /// Created before the store recorded where a migration's data lives.
    Unrecorded { held: String },
    /// The blob store failed (its error: it may name buckets, never data).
    BlobsUnreachable(String),
    /// The key provider failed.
    KeysUnreachable(String),
    /// The tenant waits for its migrations' data (listed on their own).
    MigrationsLeft,
}

impl LeftReason {
    /// A stable code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            LeftReason::BlobsElsewhere { .. } => "blobs-elsewhere",
            LeftReason::KeysElsewhere { .. } => "keys-elsewhere",
            LeftReason::Unrecorded { .. } => "placement-unrecorded",
            LeftReason::BlobsUnreachable(_) => "blobs-unreachable",
            LeftReason::KeysUnreachable(_) => "keys-unreachable",
            LeftReason::MigrationsLeft => "migrations-left",
        }
    }
}

impl fmt::Display for LeftBehind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.migration {
            Some(m) => write!(f, "tenant {} migration {m}: ", self.tenant)?,
            None => write!(f, "tenant {}: ", self.tenant)?,
        }
        match &self.why {
            LeftReason::BlobsElsewhere { recorded, held } => write!(
                f,
                "its data is in {recorded}; this sweep has {held}: run the sweep with that blob store"
            ),
            LeftReason::KeysElsewhere { recorded, held } => write!(
                f,
                "its key-encryption key is in {recorded}; this sweep has {held}: run the sweep with that key provider"
            ),
            LeftReason::Unrecorded { held } => write!(
                f,
                "it was created before Airlock recorded where a migration's data lives, so this sweep ({held}) cannot tell its stores are the ones: its data key is destroyed, its blobs and key-encryption key are left; delete them where it ran"
            ),
            LeftReason::BlobsUnreachable(e) => {
                write!(
                    f,
                    "its blobs could not be deleted ({e}); the next sweep retries"
                )
            }
            LeftReason::KeysUnreachable(e) => write!(
                f,
                "its key-encryption key could not be destroyed ({e}); the next sweep retries"
            ),
            LeftReason::MigrationsLeft => {
                f.write_str("it expires once its migrations' data is gone (listed above)")
            }
        }
    }
}

/// See [`Store::maintenance`].
pub struct Maintenance {
    store: Store,
    scrub_wait: std::time::Duration,
}

/// Why a migration's sealed data goes.
#[derive(Clone, Copy)]
enum Reason {
    Succeeded,
    Failed,
    Abandoned,
    TenantExpired,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Succeeded => "migration-succeeded",
            Reason::Failed => "migration-failed-30d",
            Reason::Abandoned => "migration-abandoned-30d",
            Reason::TenantExpired => "tenant-expired",
        }
    }
}

impl Maintenance {
    pub(crate) fn new(store: Store) -> Maintenance {
        Maintenance {
            store,
            scrub_wait: SCRUB_WAIT,
        }
    }

    /// How long the PostgreSQL scrub waits for older transactions to end ([`SCRUB_WAIT`]
    /// unless set).
    pub fn scrub_wait(mut self, wait: std::time::Duration) -> Maintenance {
        self.scrub_wait = wait;
        self
    }

    async fn begin(&self) -> Result<Transaction<'static, Any>, StoreError> {
        crate::tenant::begin(&self.store.inner.owner, self.store.backend()).await
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

    /// Records `placement` on every migration created before the store recorded where a
    /// migration's data lives (schema migration 0003), audited per tenant
    /// (`placement-recorded`); returns how many. For the operator who knows these are the
    /// stores those migrations used: the sweep never assumes it on its own.
    pub async fn adopt_unrecorded(&self, placement: &Placement) -> Result<u64, StoreError> {
        let tenants: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT tenant_id FROM migrations \
             WHERE blob_store IS NULL OR key_provider IS NULL ORDER BY tenant_id",
        )
        .fetch_all(&self.store.inner.owner)
        .await
        .map_err(query("migrations"))?;
        let mut total = 0;
        for (tenant,) in tenants {
            let mut tx = self.begin().await?;
            let n = sqlx::query(
                "UPDATE migrations SET blob_store = COALESCE(blob_store, $2), \
                    key_provider = COALESCE(key_provider, $3) \
                 WHERE tenant_id = $1 AND (blob_store IS NULL OR key_provider IS NULL)",
            )
            .bind(&tenant)
            .bind(placement.blob_store())
            .bind(placement.key_provider())
            .execute(&mut *tx)
            .await
            .map_err(query("migrations"))?
            .rows_affected();
            self.audit(
                &mut tx,
                &tenant,
                Event::new("placement-recorded", "operator", format!("migrations={n}")),
            )
            .await?;
            tx.commit().await.map_err(query("migrations"))?;
            total += n;
        }
        Ok(total)
    }

    /// Applies every retention rule once, at the store clock's time.
    ///
    /// When it destroyed keys (or an earlier sweep of this process could not finish
    /// scrubbing them), it then scrubs what the database keeps of them: see the module
    /// docs. It does so even when a rule failed half-way, and fails with
    /// [`StoreError::KeyMaySurvive`] when the scrub cannot complete.
    pub async fn sweep(
        &self,
        blobs: &Arc<dyn BlobSweep>,
        kek: &Arc<dyn KekShredder>,
    ) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        let swept = self.apply_rules(blobs, kek, &mut report).await;
        let owed = &self.store.inner.scrub_owed;
        if report.keys_destroyed + report.tenants_expired > 0 {
            owed.store(true, Ordering::SeqCst);
        }
        let scrubbed = if owed.load(Ordering::SeqCst) {
            let scrubbed = self.scrub_destroyed_keys().await;
            if scrubbed.is_ok() {
                owed.store(false, Ordering::SeqCst);
            }
            scrubbed
        } else {
            Ok(())
        };
        tracing::info!(
            keys_destroyed = report.keys_destroyed,
            migrations_purged = report.migrations_purged,
            blobs_deleted = report.blobs_deleted,
            blob_failures = report.blob_failures,
            stats_deleted = report.stats_deleted,
            tenants_expired = report.tenants_expired,
            kek_failures = report.kek_failures,
            scrubbed = scrubbed.is_ok(),
            "retention sweep done"
        );
        match (swept, scrubbed) {
            (Ok(()), Ok(())) => Ok(report),
            (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
            (Err(e), Err(scrub)) => {
                tracing::error!(error = %scrub, "scrubbing destroyed keys failed too");
                Err(e)
            }
        }
    }

    async fn apply_rules(
        &self,
        blobs: &Arc<dyn BlobSweep>,
        kek: &Arc<dyn KekShredder>,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        let now = self.store.now();

        // Finished migrations whose sealed data is due.
        let failed_before = now - FAILED_RETENTION.whole_seconds();
        let due: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT tenant_id, migration_id, region, status, blob_store FROM migrations \
             WHERE purged_at IS NULL AND (status = 'succeeded' \
                OR (status = 'failed' AND finished_at <= $1)) \
             ORDER BY tenant_id, migration_id",
        )
        .bind(failed_before)
        .fetch_all(&self.store.inner.owner)
        .await
        .map_err(query("migrations"))?;
        for (tenant, migration, region, status, blob_store) in due {
            let reason = if status == "succeeded" {
                Reason::Succeeded
            } else {
                Reason::Failed
            };
            let region = parse_region(&region)?;
            let m = Due {
                tenant: &tenant,
                migration: &migration,
                region,
                blob_store: blob_store.as_deref(),
            };
            self.purge_migration(m, reason, blobs, report).await?;
        }

        // Abandoned ones: `created` or `running`, idle for 30 days. Created that long ago is
        // necessary, so the database narrows by it; the latest activity is compared here.
        let idle_before = now - ABANDONED_AFTER.whole_seconds();
        type Idle = (
            String,
            String,
            String,
            Option<String>,
            i64,
            Option<i64>,
            Option<i64>,
        );
        let idle: Vec<Idle> = sqlx::query_as(
            "SELECT m.tenant_id, m.migration_id, m.region, m.blob_store, m.created_at, \
                m.started_at, (SELECT MAX(o.created_at) FROM objects o \
                    WHERE o.tenant_id = m.tenant_id AND o.migration_id = m.migration_id) \
             FROM migrations m \
             WHERE m.purged_at IS NULL AND m.status IN ('created', 'running') \
                AND m.created_at <= $1 \
             ORDER BY m.tenant_id, m.migration_id",
        )
        .bind(idle_before)
        .fetch_all(&self.store.inner.owner)
        .await
        .map_err(query("migrations"))?;
        for (tenant, migration, region, blob_store, created, started, last_object) in idle {
            let active = created
                .max(started.unwrap_or(0))
                .max(last_object.unwrap_or(0));
            if active > idle_before {
                continue;
            }
            let region = parse_region(&region)?;
            let m = Due {
                tenant: &tenant,
                migration: &migration,
                region,
                blob_store: blob_store.as_deref(),
            };
            self.purge_migration(m, Reason::Abandoned, blobs, report)
                .await?;
        }

        self.expire_stats(now - STATS_RETENTION.whole_seconds(), report)
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
            self.expire_tenant(&tenant, blobs, kek, report).await?;
        }

        self.abort_incomplete(now - INCOMPLETE_UPLOAD_AGE.whole_seconds(), blobs, report)
            .await
    }

    /// Unfinished writes older than the bound, in every region of this sweep's blob store.
    /// A failure is counted and logged, and the next sweep tries again.
    async fn abort_incomplete(
        &self,
        before: i64,
        blobs: &Arc<dyn BlobSweep>,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        let blobs = blobs.clone();
        let before = crate::from_unix(before);
        let aborted = tokio::task::spawn_blocking(move || blobs.abort_incomplete(before))
            .await
            .map_err(|e| StoreError::Retention(format!("upload abort task: {e}")))?;
        match aborted {
            Ok(n) => report.uploads_aborted += n,
            Err(e) => {
                tracing::warn!(error = %e, "aborting unfinished uploads failed; next sweep retries");
                report.upload_failures += 1;
            }
        }
        Ok(())
    }

    /// What the database keeps of deleted keys beyond the rows, removed (module docs, steps
    /// 2 and 3).
    async fn scrub_destroyed_keys(&self) -> Result<(), StoreError> {
        match self.store.backend() {
            Backend::Sqlite => self.truncate_wal().await,
            Backend::Postgres => self.rewrite_keys_table().await,
        }
    }

    /// An owner connection closed when dropped, for settings no pooled connection should
    /// keep.
    async fn throwaway_connection(&self) -> Result<sqlx::pool::PoolConnection<Any>, StoreError> {
        let mut pooled = self
            .store
            .inner
            .owner
            .acquire()
            .await
            .map_err(query("connection"))?;
        pooled.close_on_drop();
        Ok(pooled)
    }

    /// SQLite: copies the write-ahead log into the file (where `secure_delete` zeroed the
    /// keys) and empties it; a busy checkpoint (a reader on an old snapshot, which may still
    /// need the log's old pages) is retried, then reported.
    async fn truncate_wal(&self) -> Result<(), StoreError> {
        // Its busy timeout changes below: the connection is not returned to the pool.
        let mut pooled = self.throwaway_connection().await?;
        let conn: &mut AnyConnection = &mut pooled;
        conn.execute(CHECKPOINT_BUSY_TIMEOUT)
            .await
            .map_err(query("wal_checkpoint"))?;
        for attempt in 1..=CHECKPOINT_ATTEMPTS {
            // (busy, frames in the log, frames checkpointed); busy = 1: not completed.
            let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&mut *conn)
                .await
                .map_err(query("wal_checkpoint"))?;
            let busy: i64 = row.try_get(0).map_err(query("wal_checkpoint"))?;
            if busy == 0 {
                return Ok(());
            }
            tracing::warn!(attempt, "write-ahead log checkpoint busy; retrying");
            if attempt < CHECKPOINT_ATTEMPTS {
                tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                    .await;
            }
        }
        Err(StoreError::KeyMaySurvive {
            place: "the SQLite write-ahead log",
            why: format!(
                "its checkpoint stayed busy after {CHECKPOINT_ATTEMPTS} attempts (another \
                 connection holds a read transaction open)"
            ),
        })
    }

    /// PostgreSQL: rewrites `data_keys` without the dead row versions that still hold the
    /// destroyed keys (a plain VACUUM would leave their bytes in the pages' free space),
    /// once nothing older than the scrub can keep them (module docs, step 3).
    /// VACUUM cannot run in a transaction: it goes on a connection of its own, as the
    /// schema owner, with a lock timeout so that a long transaction on the table makes the
    /// sweep fail (and retry next time) rather than queue every tenant behind it.
    async fn rewrite_keys_table(&self) -> Result<(), StoreError> {
        // Its lock timeout changes below: the connection is not returned to the pool.
        let mut pooled = self.throwaway_connection().await?;
        let conn: &mut AnyConnection = &mut pooled;
        self.wait_for_older_transactions(conn).await?;
        let vacuumed = async {
            conn.execute(VACUUM_LOCK_TIMEOUT).await?;
            conn.execute("VACUUM (FULL) data_keys").await
        }
        .await;
        vacuumed.map(|_| ()).map_err(|e| StoreError::KeyMaySurvive {
            place: "the old row versions in PostgreSQL's data_keys table",
            why: format!("VACUUM (FULL) data_keys failed: {e}"),
        })
    }

    /// PostgreSQL: waits until no transaction, snapshot or replication slot older than
    /// this call is left (the keys were deleted before it), polling with a growing pause
    /// up to `scrub_wait`. None can appear later: new transactions get newer ids, and new
    /// snapshots start after every older transaction ended.
    async fn wait_for_older_transactions(
        &self,
        conn: &mut AnyConnection,
    ) -> Result<(), StoreError> {
        let (started,): (i64,) =
            sqlx::query_as("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
                .fetch_one(&mut *conn)
                .await
                .map_err(query("pg_current_snapshot"))?;
        let deadline = tokio::time::Instant::now() + self.scrub_wait;
        let mut pause = std::time::Duration::from_millis(20);
        loop {
            let (transactions, snapshots, slots): (i64, i64, i64) =
                sqlx::query_as(OLDER_THAN_SCRUB)
                    .bind(started)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(query("pg_stat_activity"))?;
            if transactions + snapshots + slots == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() + pause > deadline {
                return Err(StoreError::KeyMaySurvive {
                    place: "the old row versions in PostgreSQL's data_keys table",
                    why: format!(
                        "after {:?}, transactions or snapshots older than the sweep were still \
                         open (a transaction on the server: {}, sessions of this database or \
                         standbys: {snapshots}, replication slots: {slots}), and VACUUM FULL \
                         keeps the row versions they may see",
                        self.scrub_wait,
                        if transactions > 0 { "yes" } else { "no" },
                    ),
                });
            }
            tracing::debug!(
                transactions,
                snapshots,
                slots,
                "waiting for older transactions"
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(1));
        }
    }

    /// Destroys the key, then deletes the blobs if they are in this sweep's blob store.
    /// Returns whether the migration is purged; when not, `report.left` says why.
    async fn purge_migration(
        &self,
        due: Due<'_>,
        reason: Reason,
        blobs: &Arc<dyn BlobSweep>,
        report: &mut SweepReport,
    ) -> Result<bool, StoreError> {
        let Due {
            tenant,
            migration,
            region,
            blob_store,
        } = due;
        let now = self.store.now();

        // 1. The key, in its own committed transaction before any blob is touched. It lives
        // in this database, so every sweep can destroy it, wherever the blobs are.
        let mut tx = self.begin().await?;
        let gone = shred_keys(&mut tx, self.store.backend(), tenant, Some(migration)).await?;
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

        // Only the blob store the migration recorded may be said to hold its blobs.
        let held = blobs.location();
        let elsewhere = match blob_store {
            None => Some(LeftReason::Unrecorded { held }),
            Some(recorded) if recorded != held => Some(LeftReason::BlobsElsewhere {
                recorded: recorded.to_owned(),
                held,
            }),
            Some(_) => None,
        };
        if let Some(why) = elsewhere {
            tracing::warn!(
                %tenant, %migration, reason = why.code(),
                "migration's blobs are not in this sweep's blob store; left"
            );
            report.left.push(LeftBehind {
                tenant: TenantId::new(tenant),
                migration: Some(MigrationId::new(migration)),
                why,
            });
            return Ok(false);
        }

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
                report.left.push(LeftBehind {
                    tenant: TenantId::new(tenant),
                    migration: Some(MigrationId::new(migration)),
                    why: LeftReason::BlobsUnreachable(e),
                });
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
        let pending: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT migration_id, region, blob_store FROM migrations \
             WHERE tenant_id = $1 AND purged_at IS NULL ORDER BY migration_id",
        )
        .bind(tenant)
        .fetch_all(&self.store.inner.owner)
        .await
        .map_err(query("migrations"))?;
        let mut all_purged = true;
        for (migration, region, blob_store) in pending {
            // Tried earlier in this sweep (due on its own) and left: once is enough.
            let tried = report.left.iter().any(|l| {
                l.tenant.as_str() == tenant
                    && l.migration
                        .as_ref()
                        .is_some_and(|m| m.as_str() == migration)
            });
            if tried {
                all_purged = false;
                continue;
            }
            let region = parse_region(&region)?;
            let due = Due {
                tenant,
                migration: &migration,
                region,
                blob_store: blob_store.as_deref(),
            };
            all_purged &= self
                .purge_migration(due, Reason::TenantExpired, blobs, report)
                .await?;
        }
        let left = |why| LeftBehind {
            tenant: TenantId::new(tenant),
            migration: None,
            why,
        };
        if !all_purged {
            // The rows are the marker: keep them until every blob is gone.
            report.left.push(left(LeftReason::MigrationsLeft));
            return Ok(());
        }

        // Only the key provider the tenant's migrations recorded may destroy its KEK.
        let providers: Vec<(Option<String>,)> =
            sqlx::query_as("SELECT DISTINCT key_provider FROM migrations WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_all(&self.store.inner.owner)
                .await
                .map_err(query("migrations"))?;
        let held = kek.location();
        let elsewhere = providers
            .into_iter()
            .find_map(|(recorded,)| match recorded {
                None => Some(LeftReason::Unrecorded { held: held.clone() }),
                Some(recorded) if recorded != held => Some(LeftReason::KeysElsewhere {
                    recorded,
                    held: held.clone(),
                }),
                Some(_) => None,
            });
        if let Some(why) = elsewhere {
            tracing::warn!(
                reason = why.code(),
                "tenant's KEK is not in this sweep's key provider; left"
            );
            report.left.push(left(why));
            return Ok(());
        }

        let destroyed = {
            let kek = kek.clone();
            let t = TenantId::new(tenant);
            tokio::task::spawn_blocking(move || kek.destroy_tenant(&t))
                .await
                .map_err(|e| StoreError::Retention(format!("KEK destruction task: {e}")))?
        };
        let kek_state = match destroyed {
            Ok(true) => "destroyed",
            // Its migrations' provider holds none: destroyed by an earlier sweep whose
            // transaction below did not commit, or never made.
            Ok(false) => "absent",
            Err(e) => {
                tracing::warn!(error = %e, "KEK destruction failed; next sweep retries");
                report.kek_failures += 1;
                report.left.push(left(LeftReason::KeysUnreachable(e)));
                return Ok(());
            }
        };

        let mut tx = self.begin().await?;
        let mut migrations = 0;
        // Every key is gone with its migration's purge; any left is shredded the same way.
        let keys = shred_keys(&mut tx, self.store.backend(), tenant, None).await?;
        report.keys_destroyed += keys;
        for table in ["plugin_grants", "objects", "migrations", "stats", "tenants"] {
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
                format!("migrations={migrations} audit_rows={audit_rows} kek={kek_state}"),
            ),
        )
        .await?;
        tx.commit().await.map_err(query("tenants"))?;
        report.tenants_expired += 1;
        Ok(())
    }
}

/// Destroys the wrapped data keys of `tenant` (of one migration, or all of them): each is
/// overwritten with zeros of its length, then deleted, in `conn`'s transaction. Returns how
/// many there were. See the module docs for what remains of them and where.
async fn shred_keys(
    conn: &mut AnyConnection,
    backend: Backend,
    tenant: &str,
    migration: Option<&str>,
) -> Result<u64, StoreError> {
    let zeros = match backend {
        // Also on for every connection of the pool; this makes it hold whoever opened it.
        Backend::Sqlite => {
            conn.execute("PRAGMA secure_delete = ON")
                .await
                .map_err(query("data_keys"))?;
            "zeroblob(length(wrapped))"
        }
        Backend::Postgres => "decode(repeat('00', length(wrapped)), 'hex')",
    };
    let filter = if migration.is_some() {
        "tenant_id = $1 AND migration_id = $2"
    } else {
        "tenant_id = $1"
    };
    // `zeros` and `filter` are constants above.
    let overwrite = format!("UPDATE data_keys SET wrapped = {zeros} WHERE {filter}");
    let delete = format!("DELETE FROM data_keys WHERE {filter}");
    let mut overwrite = sqlx::query(AssertSqlSafe(overwrite)).bind(tenant);
    let mut delete = sqlx::query(AssertSqlSafe(delete)).bind(tenant);
    if let Some(migration) = migration {
        overwrite = overwrite.bind(migration);
        delete = delete.bind(migration);
    }
    overwrite
        .execute(&mut *conn)
        .await
        .map_err(query("data_keys"))?;
    let gone = delete
        .execute(&mut *conn)
        .await
        .map_err(query("data_keys"))?
        .rows_affected();
    Ok(gone)
}

/// A migration whose data is due, as the sweep found it.
#[derive(Clone, Copy)]
struct Due<'a> {
    tenant: &'a str,
    migration: &'a str,
    region: Region,
    /// The blob store it recorded; `None` before the store recorded it.
    blob_store: Option<&'a str>,
}

fn parse_region(s: &str) -> Result<Region, StoreError> {
    Region::parse(s).map_err(|_| StoreError::Invalid {
        what: "migrations.region",
        why: "the stored value is not one this version knows".into(),
    })
}
