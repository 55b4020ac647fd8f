//! # airlock-retention: the retention sweep over the real blob stores and key provider
//!
//! The rules and their bookkeeping live in `airlock-store`
//! ([`Maintenance::sweep`](airlock_store::Maintenance::sweep)), which knows blobs and keys
//! only through two small traits. This crate implements them over `airlock-blobs`
//! ([`BlobsSweep`]) and `airlock-vault` ([`KeysShredder`]), and [`sweep_now`] runs one
//! sweep with them.
//!
//! What a sweep promises, at the store clock's time (each step is audited):
//!
//! - A **succeeded** migration's sealed data goes at the next sweep (its data now lives in
//!   the cloud); a **failed** one's 30 days after it failed. Every class goes: analysis,
//!   staging, output and reports.
//! - The order is crypto-shredding first: the migration's wrapped **data key is destroyed**
//!   (committed) before any blob is touched, so from that moment nothing of the migration
//!   can be decrypted, even from a copy of the blobs. **Then the blobs** under
//!   `<tenant>/<migration>/` in the migration's region are deleted. A failed deletion is
//!   retried by the next sweep.
//! - **Destroyed** means the wrapped key is overwritten with zeros, then deleted, and then
//!   what the database keeps of deleted rows is scrubbed (SQLite: the write-ahead log is
//!   checkpointed and emptied; PostgreSQL: the keys table is rewritten by `VACUUM FULL`).
//!   A scrub that cannot complete fails the sweep with [`StoreError::KeyMaySurvive`]; the
//!   next sweep tries again. What no sweep can reach (PostgreSQL's WAL archives, backups
//!   and replicas, freed disk blocks) is listed in `airlock_store`'s maintenance docs.
//! - A migration left **`created` or `running` with no activity for 30 days** (a crash, a
//!   refused check) is abandoned and goes like a failed one.
//! - Only what lives in **this sweep's stores** is deleted, marked purged and reported as
//!   deleted: each migration records its blob store and key provider ([`placement`]), and
//!   one whose data is elsewhere, unrecorded or unreachable is listed in
//!   [`SweepReport::left`] with the reason (its data key, in the database, is destroyed
//!   all the same).
//! - **Unfinished writes** (S3 incomplete multipart uploads, a directory's temporary
//!   files) older than a day are aborted in every region, and a purged migration's
//!   whatever their age.
//! - **Statistics** go 12 months after they were recorded.
//! - **30 days after a tenant's licence ends**, its remaining sealed data goes as above,
//!   then its key-encryption key (KEK) is destroyed (every data key it ever wrapped becomes
//!   useless; only by the key provider its migrations recorded, and reported `destroyed`
//!   only if that provider held one), then all of its metadata.
//!
//! Nothing here runs on its own: a scheduler (or an operator) calls [`sweep_now`]; the
//! sweep is idempotent, so calling it often is safe.
//!
//! Architecture invariant: a sweep deletes only under one migration's prefix
//! (`<tenant>/<migration>/`) and destroys only the KEK of an expired tenant; it never
//! deletes by a wider prefix.

use std::sync::Arc;

use airlock_blobs::RegionalBlobs;
use airlock_model::{MigrationId, Region, TenantId};
use std::time::SystemTime;

use airlock_store::{BlobSweep, KekShredder, Placement, Store, StoreError, SweepReport};
use airlock_vault::KeyProvider;
use time::OffsetDateTime;

pub use airlock_store::{
    ABANDONED_AFTER, FAILED_RETENTION, INCOMPLETE_UPLOAD_AGE, LICENCE_GRACE, STATS_RETENTION,
};

/// Deletes a migration's blobs from its region's store: [`BlobSweep`] over
/// [`RegionalBlobs`].
pub struct BlobsSweep {
    blobs: Arc<dyn RegionalBlobs>,
}

impl BlobsSweep {
    pub fn new(blobs: Arc<dyn RegionalBlobs>) -> BlobsSweep {
        BlobsSweep { blobs }
    }
}

impl BlobSweep for BlobsSweep {
    fn location(&self) -> String {
        self.blobs.location()
    }

    fn abort_incomplete(&self, started_before: OffsetDateTime) -> Result<u64, String> {
        let at = SystemTime::UNIX_EPOCH
            + std::time::Duration::from_secs(
                u64::try_from(started_before.unix_timestamp()).unwrap_or(0),
            );
        self.blobs.abort_incomplete(at).map_err(|e| e.to_string())
    }

    /// Deletes every blob under `<tenant>/<migration>/` in `region`'s store, and aborts its
    /// unfinished writes; a prefix with nothing left under it deletes 0, so a retried sweep
    /// succeeds.
    fn delete_migration(
        &self,
        tenant: &TenantId,
        migration: &MigrationId,
        region: Region,
    ) -> Result<u64, String> {
        let prefix = migration_prefix(tenant, migration)?;
        let store = self.blobs.store(region).map_err(|e| e.to_string())?;
        let deleted = store.delete_prefix(&prefix).map_err(|e| e.to_string())?;
        tracing::info!(%tenant, %migration, %region, deleted, "migration blobs deleted");
        Ok(deleted)
    }
}

/// `<tenant>/<migration>/`, refusing ids that would make it reach past one migration (an
/// empty id, or one with a `/`). The store never issues such ids; this is the last guard
/// before a delete by prefix.
fn migration_prefix(tenant: &TenantId, migration: &MigrationId) -> Result<String, String> {
    for (what, id) in [
        ("tenant", tenant.as_str()),
        ("migration", migration.as_str()),
    ] {
        if id.is_empty() || id.contains('/') || id == "." || id == ".." {
            return Err(format!(
                "refusing to delete blobs: the {what} id is not one segment"
            ));
        }
    }
    Ok(format!("{tenant}/{migration}/"))
}

/// Destroys a tenant's key-encryption key: [`KekShredder`] over a [`KeyProvider`].
pub struct KeysShredder {
    keys: Arc<dyn KeyProvider>,
}

impl KeysShredder {
    pub fn new(keys: Arc<dyn KeyProvider>) -> KeysShredder {
        KeysShredder { keys }
    }
}

impl KekShredder for KeysShredder {
    fn location(&self) -> String {
        self.keys.location()
    }

    /// Idempotent, as [`KeyProvider::destroy_tenant`] is; says whether there was a KEK.
    fn destroy_tenant(&self, tenant: &TenantId) -> Result<bool, String> {
        let held = self.keys.holds_tenant(tenant).map_err(|e| e.to_string())?;
        self.keys
            .destroy_tenant(tenant)
            .map_err(|e| e.to_string())?;
        Ok(held)
    }
}

/// Where a migration created with these stores keeps its data: recorded when it is created
/// ([`airlock_store::TenantScope::set_up_migration`]), compared by every sweep.
pub fn placement(
    blobs: &dyn RegionalBlobs,
    keys: &dyn KeyProvider,
) -> Result<Placement, StoreError> {
    Placement::new(blobs.location(), keys.location())
}

/// Runs one retention sweep now (at `store`'s clock) over these blob stores and keys.
///
/// Must run inside a tokio runtime: the blob and key work runs on its blocking threads
/// (where the S3 store may block on its own runtime).
pub async fn sweep_now(
    store: &Store,
    blobs: Arc<dyn RegionalBlobs>,
    keys: Arc<dyn KeyProvider>,
) -> Result<SweepReport, StoreError> {
    let blobs: Arc<dyn BlobSweep> = Arc::new(BlobsSweep::new(blobs));
    let keys: Arc<dyn KekShredder> = Arc::new(KeysShredder::new(keys));
    store.maintenance().sweep(&blobs, &keys).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_exactly_one_migration() {
        let p = migration_prefix(&TenantId::new("acme"), &MigrationId::new("m1"));
        assert_eq!(p.as_deref(), Ok("acme/m1/"));
        for (t, m) in [
            ("", "m1"),
            ("acme", ""),
            ("a/b", "m1"),
            ("acme", ".."),
            ("acme", "m/1"),
        ] {
            assert!(
                migration_prefix(&TenantId::new(t), &MigrationId::new(m)).is_err(),
                "{t:?} {m:?}"
            );
        }
    }
}
