//! Staging: the named objects a migration keeps between its phases (extracted records,
//! app tables, reports), behind [`Staging`].
//!
//! [`SealedStaging`] is the one implementation: every object is sealed by the vault
//! (AES-256-GCM under the migration's data key, bound to tenant, migration and name) and
//! kept in the migration's region's blob store. There is no plaintext implementation:
//! nothing else in Airlock writes customer data to disk, so this covers every byte.

use airlock_blobs::{BlobError, BlobStore, BlobWrite, RegionalBlobs};
use airlock_vault::{OpenReader, SealWriter, Sealer, VaultError};
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a staged object could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StagingError {
    #[error("staged object {name:?} does not exist")]
    Missing { name: String },
    #[error("staged object name {name:?} is not allowed (letters, digits, '-', '_', '.', '/')")]
    BadName { name: String },
    #[error("staged object {name:?}: {source}")]
    Blob {
        name: String,
        #[source]
        source: BlobError,
    },
    #[error("staged object {name:?}: {source}")]
    Io {
        name: String,
        #[source]
        source: io::Error,
    },
    /// The open could not be recorded in the audit log: nothing is decrypted unrecorded.
    #[error(
        "staged object {name:?} was not opened: its decryption could not be audited ({reason})"
    )]
    NotAudited { name: String, reason: String },
}

/// A staged object being written. Nothing is visible under its name until [`finish`]:
/// a crash mid-write leaves the previous object (or none), never half of one.
///
/// [`finish`]: StagedWrite::finish
pub trait StagedWrite: Write + Send {
    fn finish(self: Box<Self>) -> Result<u64, StagingError>;
}

/// Named objects of one migration.
pub trait Staging: Send + Sync {
    /// Starts writing `name`, replacing it once finished.
    fn create(&self, name: &str) -> Result<Box<dyn StagedWrite>, StagingError>;
    /// Reads `name` from the start. A sealed object that fails to open (altered, truncated,
    /// sealed for another tenant or name) surfaces as an `io::Error` from `read`, carrying
    /// the vault's error.
    fn open(&self, name: &str) -> Result<Box<dyn Read + Send>, StagingError>;
    fn exists(&self, name: &str) -> Result<bool, StagingError>;
    /// Removes `name`; removing a missing object is not an error.
    fn remove(&self, name: &str) -> Result<(), StagingError>;
}

/// Staged objects sealed by the vault, in a blob store under
/// `<tenant>/<migration>/staging/<name>`.
pub struct SealedStaging {
    sealer: Arc<Sealer>,
    blobs: Arc<dyn BlobStore>,
    prefix: String,
    on_open: Option<OpenHook>,
    /// Sealed bytes written through this staging (for the anonymized statistics).
    written: Arc<AtomicU64>,
}

/// Told the sealed name of every object opened for reading (the audit log records which
/// worker decrypted what); an error refuses the open.
pub type OpenHook = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

impl SealedStaging {
    /// Staging of the migration `sealer` belongs to, in `blobs` (its region's store).
    pub fn new(sealer: Arc<Sealer>, blobs: Arc<dyn BlobStore>) -> SealedStaging {
        let prefix = format!(
            "{}/{}/staging/",
            sealer.tenant().as_str(),
            sealer.migration().as_str()
        );
        SealedStaging {
            sealer,
            blobs,
            prefix,
            on_open: None,
            written: Arc::default(),
        }
    }

    /// Sealed bytes written through this staging (and its clones) so far.
    pub fn bytes_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Calls `hook` with the sealed name of each object before it is opened; if it fails,
    /// the object is not opened.
    pub fn on_open(mut self, hook: OpenHook) -> SealedStaging {
        self.on_open = Some(hook);
        self
    }

    /// Staging whose data key lives only in this process, over a local directory: what
    /// it writes can never be read once the process ends. For tests and one-shot runs
    /// that keep nothing (a migration's staging uses its stored, wrapped key).
    pub fn ephemeral(dir: impl Into<std::path::PathBuf>) -> Result<SealedStaging, StagingError> {
        let dir = dir.into();
        let name = dir.display().to_string();
        let blobs = airlock_blobs::LocalDirBlobs::new(dir)
            .and_then(|dirs| dirs.store(airlock_model::Region::default()))
            .map_err(|source| StagingError::Blob {
                name: name.clone(),
                source,
            })?;
        let key = airlock_vault::DataKey::generate().map_err(|e| StagingError::Io {
            name,
            source: io::Error::other(e),
        })?;
        let sealer = Sealer::new(
            airlock_model::TenantId::new("ephemeral"),
            airlock_model::MigrationId::new("ephemeral"),
            key,
        );
        Ok(SealedStaging::new(Arc::new(sealer), blobs))
    }

    /// The blob key of `name`, after checking the name cannot leave the migration's prefix.
    fn key(&self, name: &str) -> Result<String, StagingError> {
        let ok = !name.is_empty()
            && name.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            });
        if !ok {
            return Err(StagingError::BadName {
                name: name.to_owned(),
            });
        }
        Ok(format!("{}{name}", self.prefix))
    }

    /// The name the seal binds: the same object under another name does not open.
    fn sealed_name(name: &str) -> String {
        format!("staging/{name}")
    }

    fn blob_error(name: &str) -> impl FnOnce(BlobError) -> StagingError + '_ {
        move |source| StagingError::from_blob(name, source)
    }
}

impl StagingError {
    /// The blob store's error about staged object `name` (a missing blob is a missing
    /// object).
    pub fn from_blob(name: &str, source: BlobError) -> StagingError {
        match source {
            BlobError::Missing { .. } => StagingError::Missing {
                name: name.to_owned(),
            },
            source => StagingError::Blob {
                name: name.to_owned(),
                source,
            },
        }
    }
}

struct SealedWrite {
    name: String,
    out: SealWriter<Box<dyn BlobWrite>>,
    written: Arc<AtomicU64>,
}

impl Write for SealedWrite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl StagedWrite for SealedWrite {
    fn finish(self: Box<Self>) -> Result<u64, StagingError> {
        let SealedWrite { name, out, written } = *self;
        let blob = out.finish().map_err(|source| StagingError::Io {
            name: name.clone(),
            source,
        })?;
        let size = blob
            .finish()
            .map_err(|source| StagingError::Blob { name, source })?;
        written.fetch_add(size, Ordering::Relaxed);
        Ok(size)
    }
}

impl Staging for SealedStaging {
    fn create(&self, name: &str) -> Result<Box<dyn StagedWrite>, StagingError> {
        let key = self.key(name)?;
        let blob = self.blobs.create(&key).map_err(Self::blob_error(name))?;
        Ok(Box::new(SealedWrite {
            name: name.to_owned(),
            out: self.sealer.seal_writer(&Self::sealed_name(name), blob),
            written: self.written.clone(),
        }))
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + Send>, StagingError> {
        let key = self.key(name)?;
        let blob = self.blobs.open(&key).map_err(Self::blob_error(name))?;
        let sealed_name = Self::sealed_name(name);
        if let Some(hook) = &self.on_open {
            hook(&sealed_name).map_err(|reason| StagingError::NotAudited {
                name: name.to_owned(),
                reason,
            })?;
        }
        let reader: OpenReader<Box<dyn Read + Send>> = self.sealer.open_reader(&sealed_name, blob);
        Ok(Box::new(reader))
    }

    fn exists(&self, name: &str) -> Result<bool, StagingError> {
        let key = self.key(name)?;
        self.blobs.exists(&key).map_err(Self::blob_error(name))
    }

    fn remove(&self, name: &str) -> Result<(), StagingError> {
        let key = self.key(name)?;
        self.blobs.delete(&key).map_err(Self::blob_error(name))
    }
}

/// Whether an error from reading a staged object is the vault refusing to open it
/// (altered, truncated or sealed for another tenant, migration or name).
pub fn is_tampered(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<VaultError>().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_blobs::LocalDirBlobs;
    use airlock_model::{MigrationId, TenantId};
    use airlock_vault::DataKey;

    fn staging(dir: &std::path::Path) -> (SealedStaging, Arc<dyn BlobStore>) {
        let blobs = LocalDirBlobs::new(dir)
            .unwrap()
            .store(airlock_model::Region::default())
            .unwrap();
        let sealer = Sealer::new(
            TenantId::new("t1"),
            MigrationId::new("m1"),
            DataKey::generate().unwrap(),
        );
        (SealedStaging::new(Arc::new(sealer), blobs.clone()), blobs)
    }

    #[test]
    fn an_object_appears_only_when_finished_reads_back_and_is_sealed_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (staging, blobs) = staging(dir.path());
        let mut w = staging.create("core/issue.rec").unwrap();
        w.write_all(b"hello, canary").unwrap();
        assert!(!staging.exists("core/issue.rec").unwrap());
        w.finish().unwrap();
        let mut text = String::new();
        staging
            .open("core/issue.rec")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "hello, canary");
        let mut raw = Vec::new();
        blobs
            .open("t1/m1/staging/core/issue.rec")
            .unwrap()
            .read_to_end(&mut raw)
            .unwrap();
        assert!(!raw.windows(6).any(|w| w == b"canary"));
        staging.remove("core/issue.rec").unwrap();
        staging.remove("core/issue.rec").unwrap();
        assert!(matches!(
            staging.open("core/issue.rec"),
            Err(StagingError::Missing { .. })
        ));
    }

    #[test]
    fn an_object_copied_to_another_name_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let (staging, blobs) = staging(dir.path());
        let mut w = staging.create("a.rec").unwrap();
        w.write_all(b"data").unwrap();
        w.finish().unwrap();
        let mut raw = Vec::new();
        blobs
            .open("t1/m1/staging/a.rec")
            .unwrap()
            .read_to_end(&mut raw)
            .unwrap();
        let mut copy = blobs.create("t1/m1/staging/b.rec").unwrap();
        copy.write_all(&raw).unwrap();
        copy.finish().unwrap();
        let err = staging
            .open("b.rec")
            .unwrap()
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(is_tampered(&err), "{err}");
    }

    /// Tenant A's staging, over the same blob store as tenant B's: B's objects are not
    /// there for A (another prefix), names cannot climb to them, and B's bytes copied under
    /// A's name do not open (another key, another tenant in every seal).
    #[test]
    fn a_tenant_reads_nothing_of_another_tenants_objects() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = LocalDirBlobs::new(dir.path())
            .unwrap()
            .store(airlock_model::Region::default())
            .unwrap();
        let staging_of = |tenant: &str| {
            SealedStaging::new(
                Arc::new(Sealer::new(
                    TenantId::new(tenant),
                    MigrationId::new("m1"),
                    DataKey::generate().unwrap(),
                )),
                blobs.clone(),
            )
        };
        let (a, b) = (staging_of("tenant-a"), staging_of("tenant-b"));
        let mut w = b.create("core/issue.rec").unwrap();
        w.write_all(b"tenant b's issues").unwrap();
        w.finish().unwrap();

        assert!(!a.exists("core/issue.rec").unwrap());
        assert!(matches!(
            a.open("core/issue.rec"),
            Err(StagingError::Missing { .. })
        ));
        for climb in ["../../tenant-b/m1/staging/core/issue.rec", "../tenant-b"] {
            assert!(matches!(a.open(climb), Err(StagingError::BadName { .. })));
        }
        let mut raw = Vec::new();
        blobs
            .open("tenant-b/m1/staging/core/issue.rec")
            .unwrap()
            .read_to_end(&mut raw)
            .unwrap();
        let mut copy = blobs.create("tenant-a/m1/staging/core/issue.rec").unwrap();
        copy.write_all(&raw).unwrap();
        copy.finish().unwrap();
        let err = a
            .open("core/issue.rec")
            .unwrap()
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(is_tampered(&err), "{err}");
    }

    #[test]
    fn names_cannot_escape_the_migration() {
        let dir = tempfile::tempdir().unwrap();
        let (staging, _) = staging(dir.path());
        for name in ["../x", "/etc/passwd", "a//b", "", "a/./b", "a b"] {
            assert!(
                matches!(staging.create(name), Err(StagingError::BadName { .. })),
                "{name}"
            );
        }
    }
}
