//! Where a migration keeps what it persists: the metadata store (SQLite in the work
//! directory, or PostgreSQL), the tenant's key-encryption keys (a 0600 key file per tenant,
//! or a KMS later), and the region's blob store (a directory, or S3). Every customer byte
//! goes through the migration's [`Sealer`] on its way to a blob.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{PipelineError, Result};
use airlock_blobs::{BlobStore, LocalDirBlobs, RegionalBlobs, S3Blobs, S3Config};
use airlock_model::{MigrationId, Region, TenantId};
use airlock_staging::{SealedStaging, Staging};
use airlock_store::{
    MigrationStatus, ObjectClass, Placement, PluginGrant, Store, StoreError, SystemClock,
    TenantScope,
};
use airlock_vault::{KeyProvider, LocalKeyFile, Sealer, WrappedKey};

/// Where the storage lives; the defaults keep everything in the work directory.
#[derive(Clone, Debug, Default)]
pub struct StorageOptions {
    /// The operator's tenant; `None`: `local`. A work directory of another tenant's
    /// migration is refused.
    pub tenant: Option<String>,
    /// Chosen when the migration is created; `None`: us-east-1 (or the migration's own).
    pub region: Option<Region>,
    /// `postgres://…` (the application role), or `None` for `<work>/airlock.db`.
    pub store: Option<String>,
    /// The schema owner's `postgres://…` URL, which applies the schema migrations (with a
    /// PostgreSQL store).
    pub store_owner: Option<String>,
    /// `s3:https://endpoint` or `s3:aws` (credentials from the environment), or `None` for
    /// `<work>/blobs`.
    pub blobs: Option<String>,
    /// Key-encryption keys: `None` for `<work>/keys`.
    pub keys: Option<PathBuf>,
    /// S3 buckets are named `PREFIX-REGION`; `None`: `airlock`.
    pub s3_bucket_prefix: Option<String>,
    /// An extra root certificate (PEM) the S3 endpoint's certificate may chain to.
    pub s3_ca_pem: Option<String>,
    /// S3's access key; `None`: the AWS environment variables, read when the store opens.
    pub s3_credentials: Option<airlock_blobs::S3Credentials>,
}

/// The migration's persistent storage, open.
pub struct Storage {
    rt: tokio::runtime::Runtime,
    scope: TenantScope,
    migration: MigrationId,
    region: Region,
    sealer: Arc<Sealer>,
    blobs: Arc<dyn BlobStore>,
    /// Whether [`Storage::open`] created the migration.
    created: bool,
    /// Sealed objects opened (each one a decryption the audit log must hold).
    decryptions: Arc<std::sync::atomic::AtomicU64>,
}

/// The file in a work directory naming the migration it holds (ids only). Not trusted:
/// [`Storage::open`] checks it against the operator's tenant and the metadata store.
pub const MIGRATION_FILE: &str = "migration.json";

/// The tenant when the operator names none.
const DEFAULT_TENANT: &str = "local";

#[derive(serde::Serialize, serde::Deserialize)]
struct MigrationFile {
    tenant: TenantId,
    migration: MigrationId,
    region: Region,
}

impl Storage {
    /// Opens the storage of the migration in `work`, creating the migration (its id, its
    /// region and a fresh data key wrapped by the tenant's key) on first use.
    pub fn open(work: &Path, options: &StorageOptions) -> Result<Storage> {
        // One worker thread drives the store's I/O, so engine threads can wait on it too.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| PipelineError::io("cannot start the storage runtime in", work, e))?;
        let store = rt.block_on(open_store(work, options))?;
        let keys = LocalKeyFile::open(options.keys.clone().unwrap_or_else(|| work.join("keys")))?;
        let regional = open_blobs(work, options)?;
        let known: Option<MigrationFile> = match std::fs::read(work.join(MIGRATION_FILE)) {
            Ok(bytes) => {
                Some(
                    serde_json::from_slice(&bytes).map_err(|source| PipelineError::Json {
                        what: format!("{} is damaged", work.join(MIGRATION_FILE).display()),
                        source,
                    })?,
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(PipelineError::io("cannot read", work, e)),
        };
        let created = known.is_none();
        // The tenant is the operator's (--tenant, AIRLOCK_TENANT), never the work
        // directory's: migration.json is a plain file anyone who can write the directory
        // can edit, so it only names which of this tenant's migrations the directory holds,
        // and the metadata store must know that migration for this tenant.
        let tenant = TenantId::new(
            options
                .tenant
                .clone()
                .unwrap_or_else(|| DEFAULT_TENANT.into()),
        );
        let scope = store.tenant(&tenant);
        let (migration, region, sealer) = match known {
            Some(file) => {
                if file.tenant != tenant {
                    return Err(PipelineError::Refused(format!(
                        "the work directory {} holds a migration of tenant {:?}, not of tenant {:?} this command runs as (--tenant or AIRLOCK_TENANT; {DEFAULT_TENANT:?} when unset): run it as that tenant, or use another work directory",
                        work.display(),
                        file.tenant.as_str(),
                        tenant.as_str(),
                    )));
                }
                let record = rt
                    .block_on(scope.migration(&file.migration))?
                    .ok_or_else(|| PipelineError::Refused({
                        format!(
                            "the work directory {} names migration {:?}, which tenant {:?} does not have in the metadata store: it was not made by this tenant's migrations here (or the tenant was erased); start again in a new work directory",
                            work.display(),
                            file.migration.as_str(),
                            tenant.as_str(),
                        )
                    }))?;
                if record.region != file.region {
                    return Err(PipelineError::Refused(format!(
                        "{} says region {}, but the metadata store created migration {} in region {}: the file was changed; start again in a new work directory",
                        work.join(MIGRATION_FILE).display(),
                        file.region,
                        file.migration,
                        record.region
                    )));
                }
                // Its data stays where it began: a command with other stores would split it.
                let here = Placement::new(regional.location(), keys.location())?;
                if let Some(recorded) = &record.placement
                    && *recorded != here
                {
                    return Err(PipelineError::Refused(format!(
                        "the migration in {} keeps its data in {} with keys in {}; this command has {} and {}: run it with the migration's blob store and keys (--blobs, --keys)",
                        work.display(),
                        recorded.blob_store(),
                        recorded.key_provider(),
                        here.blob_store(),
                        here.key_provider()
                    )));
                }
                if let Some(region) = options.region
                    && region != record.region
                {
                    return Err(PipelineError::Refused(format!(
                        "the migration in {} was created in region {}; its data stays there (a new migration can choose {region})",
                        work.display(),
                        record.region
                    )));
                }
                let wrapped = rt
                    .block_on(scope.data_key(&file.migration))?
                    .ok_or_else(|| PipelineError::Refused({
                        format!(
                            "the data key of migration {} was destroyed (retention): its staged data cannot be read; start a new migration in a new work directory",
                            file.migration
                        )
                    }))?;
                let sealer = Sealer::unwrap(
                    &keys,
                    tenant.clone(),
                    file.migration.clone(),
                    &WrappedKey::from_bytes(&wrapped),
                )?;
                (file.migration, record.region, sealer)
            }
            None => {
                let migration = MigrationId::new(new_id());
                let region = options.region.unwrap_or_default();
                // Recorded with the migration: the retention sweep deletes only from these.
                let placement = Placement::new(regional.location(), keys.location())?;
                let (sealer, wrapped) = Sealer::create(&keys, tenant.clone(), migration.clone())?;
                crate::private::private_dir(work)?;
                let file = MigrationFile {
                    tenant: tenant.clone(),
                    migration: migration.clone(),
                    region,
                };
                let path = work.join(MIGRATION_FILE);
                // Tenant (if new), migration, data key and this file, all or nothing: the
                // file is the transaction's last step, and removed (whole or in part) if
                // it or the commit fails.
                let attempted = std::cell::Cell::new(false);
                let set_up = rt.block_on(scope.set_up_migration(
                    &migration,
                    region,
                    &placement,
                    wrapped.as_bytes(),
                    || {
                        attempted.set(true);
                        Ok(std::fs::write(&path, serde_json::to_vec_pretty(&file)?)?)
                    },
                ));
                if let Err(e) = set_up {
                    if attempted.get() {
                        let _ = std::fs::remove_file(&path);
                    }
                    return Err(e.into());
                }
                (migration, region, sealer)
            }
        };
        let blobs = regional.store(region)?;
        Ok(Storage {
            rt,
            scope,
            migration,
            region,
            sealer: Arc::new(sealer),
            blobs,
            created,
            decryptions: Arc::default(),
        })
    }

    pub fn tenant(&self) -> &TenantId {
        self.sealer.tenant()
    }

    pub fn migration(&self) -> &MigrationId {
        &self.migration
    }

    pub fn region(&self) -> Region {
        self.region
    }

    pub fn sealer(&self) -> &Arc<Sealer> {
        &self.sealer
    }

    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// The migration's staged records and reports. Every object opened is audited as
    /// decrypted by this worker.
    pub fn staging(&self) -> SealedStaging {
        let (handle, scope, migration) = (
            self.rt.handle().clone(),
            self.scope.clone(),
            self.migration.clone(),
        );
        let worker = format!("airlock-{}", std::process::id());
        let decryptions = self.decryptions.clone();
        SealedStaging::new(self.sealer.clone(), self.blobs.clone()).on_open(Arc::new(
            move |object: &str| {
                // Counted before the audit write: an open whose audit fails is refused,
                // so in a run that succeeds the count equals the audited decryptions.
                decryptions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                handle
                    .block_on(scope.record_batch_decrypted(&migration, object, &worker))
                    .map_err(|e| e.to_string())
            },
        ))
    }

    /// Sealed objects opened through [`Storage::staging`] so far.
    pub fn decryptions(&self) -> u64 {
        self.decryptions.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Audits that a phase ran; a phase whose audit cannot be written fails.
    pub fn record_phase(&self, phase: &str, outcome: &str) -> Result<()> {
        self.rt
            .block_on(self.scope.record_phase(&self.migration, phase, outcome))?;
        Ok(())
    }

    /// The tenant's audit log (the operator's own).
    pub fn audit_log(&self) -> Result<Vec<airlock_store::AuditEntry>> {
        Ok(self.rt.block_on(self.scope.audit_log())?)
    }

    /// Seals and stores a report (findings, plan, verification, the HTML page).
    pub fn put_report(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let staging = self.staging();
        let object = format!("reports/{name}");
        let mut out = staging.create(&object)?;
        std::io::Write::write_all(&mut out, bytes)
            .map_err(|e| PipelineError::io("cannot seal the report", name, e))?;
        let size = out.finish()?;
        let class = report_class(name);
        match self.rt.block_on(
            self.scope
                .record_object(&self.migration, &object, class, size),
        ) {
            // A rerun rewrites a report the index already holds.
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A report stored by [`Storage::put_report`], opened; `None` if there is none.
    pub fn get_report(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let staging = self.staging();
        let object = format!("reports/{name}");
        if !staging.exists(&object)? {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut staging.open(&object)?, &mut bytes)
            .map_err(|e| PipelineError::io("cannot open the report", name, e))?;
        Ok(Some(bytes))
    }

    /// Records the operator's consent to a plugin's scopes and namespaces (audited as
    /// "plugin enabled").
    pub fn record_grant(
        &self,
        manifest: &airlock_runtime::Manifest,
        grant: &airlock_runtime::Grant,
    ) -> Result<()> {
        let known = self
            .rt
            .block_on(self.scope.plugin_grants(&self.migration))?
            .into_iter()
            .any(|g| g.grant.app_key == manifest.app_key);
        if !known {
            self.rt.block_on(self.scope.grant_plugin(
                &self.migration,
                &PluginGrant {
                    app_key: manifest.app_key.clone(),
                    scopes: grant.scopes.iter().copied().collect(),
                    namespaces: grant.namespaces.iter().copied().collect(),
                },
            ))?;
        }
        Ok(())
    }

    /// Audits how a plugin about to run was reviewed: approved by `reviewer` (hex public
    /// key) or, with `None`, run unreviewed.
    pub fn record_review(
        &self,
        manifest: &airlock_runtime::Manifest,
        sha256: &str,
        reviewer: Option<&str>,
    ) -> Result<()> {
        Ok(self.rt.block_on(self.scope.record_plugin_review(
            &self.migration,
            &manifest.app_key,
            sha256,
            reviewer,
        ))?)
    }

    /// Marks the migration finished: a success starts the end of its sealed data (the
    /// next retention sweep shreds it), a failure the 30-day clock.
    /// Also records the run's anonymized statistics (durations, counts, bytes, fuel, an
    /// error code; nothing that names the customer's data), once per migration: a rerun
    /// replaces them.
    pub fn finish(&self, succeeded: bool, stat: &airlock_store::Stat) -> Result<()> {
        self.rt
            .block_on(self.scope.record_stat(&self.migration, stat))?;
        if self.status()? == Some(MigrationStatus::Running) {
            self.rt
                .block_on(self.scope.finish_migration(&self.migration, succeeded))?;
        }
        Ok(())
    }

    /// Whether this run created the migration (it has no earlier work).
    pub fn created_by_this_run(&self) -> bool {
        self.created
    }

    /// Marks a migration that never started as failed (its backup could not be read), with
    /// its statistics: the store keeps that it was tried, and retention ends it like any
    /// failed migration.
    pub fn abandon(&self, stat: &airlock_store::Stat) -> Result<()> {
        self.rt
            .block_on(self.scope.record_stat(&self.migration, stat))?;
        if self.status()? == Some(MigrationStatus::Created) {
            self.rt
                .block_on(self.scope.finish_migration(&self.migration, false))?;
        }
        Ok(())
    }

    /// Marks the migration running: on its first load, or again when the operator retries
    /// a failed one (a rerun of a running one, after a crash, changes nothing).
    pub fn start(&self) -> Result<()> {
        if matches!(
            self.status()?,
            Some(MigrationStatus::Created | MigrationStatus::Failed)
        ) {
            self.rt
                .block_on(self.scope.start_migration(&self.migration))?;
        }
        Ok(())
    }

    fn status(&self) -> Result<Option<MigrationStatus>> {
        Ok(self
            .rt
            .block_on(self.scope.migration(&self.migration))?
            .map(|m| m.status))
    }
}

/// Analysis results end with the migration (or 30 days after a failure); the verification
/// and the page are reports.
fn report_class(name: &str) -> ObjectClass {
    match name {
        "integrity.json" | "plan.json" => ObjectClass::Analysis,
        _ => ObjectClass::Report,
    }
}

/// A random id: 16 bytes of the OS's randomness, hex.
fn new_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    hex::encode(bytes)
}

pub async fn open_store(work: &Path, options: &StorageOptions) -> Result<Store> {
    let clock = Arc::new(SystemClock);
    match &options.store {
        None => {
            crate::private::private_dir(work)?;
            Ok(Store::open_sqlite(&work.join("airlock.db"), clock).await?)
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let owner = options.store_owner.as_deref().ok_or_else(|| PipelineError::Input(
                "set AIRLOCK_STORE_OWNER_URL to the schema owner's postgres:// URL (it applies the schema migrations)".into(),
            ))?;
            Ok(Store::open_postgres(url, owner, clock).await?)
        }
        Some(other) => Err(PipelineError::Input(format!(
            "unknown store {other:?}: use postgres://… or leave it out for SQLite in the work directory"
        ))),
    }
}

pub fn open_blobs(work: &Path, options: &StorageOptions) -> Result<Box<dyn RegionalBlobs>> {
    match options.blobs.as_deref() {
        None => Ok(Box::new(LocalDirBlobs::new(work.join("blobs"))?)),
        Some(spec) => {
            let Some(rest) = spec.strip_prefix("s3:") else {
                return Err(PipelineError::Input(format!(
                    "unknown blob store {spec:?}: use s3:https://ENDPOINT, s3:aws, or leave it out for a directory in the work directory"
                )));
            };
            let prefix = options
                .s3_bucket_prefix
                .clone()
                .unwrap_or_else(|| "airlock".into());
            let mut config = S3Config::new(prefix);
            if rest != "aws" {
                config.endpoint = Some(rest.to_owned());
                config.path_style = true;
            }
            config.extra_ca_pem = options.s3_ca_pem.clone();
            if let Some(credentials) = &options.s3_credentials {
                config.credentials = credentials.clone();
            }
            Ok(Box::new(S3Blobs::new(config)?))
        }
    }
}
